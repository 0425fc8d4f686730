package report

import (
	"html/template"
	"net/http"
	"strings"
)

var index = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>loadd run reports</title>
<style>body{font-family:system-ui,sans-serif;margin:2em} td,th{padding:.2em .8em;text-align:left}</style></head>
<body><h1>loadd run reports</h1>
{{if .}}<table><tr><th>Run</th><th>Schedule</th><th>Result</th><th>Files</th></tr>
{{range .}}<tr><td><a href="{{.ID}}/report.html">{{.ID}}</a></td><td>{{.Name}}</td><td>{{.Result}}</td>
<td><a href="{{.ID}}/summary.json">summary.json</a> <a href="{{.ID}}/junit.xml">junit.xml</a> <a href="{{.ID}}/stats.csv">stats.csv</a></td></tr>
{{end}}</table>{{else}}<p>No run has finished yet.</p>{{end}}
</body></html>
`))

// Handler serves the reports under dir read-only: "/" lists the newest
// runs, "/<run>/<file>" serves a run's files. Hidden entries (runs being
// written) are not served. Mount it with http.StripPrefix.
func Handler(dir string, newest int) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := strings.TrimPrefix(r.URL.Path, "/")
		if p == "" {
			runs, err := Recent(dir, newest)
			if err != nil {
				http.Error(w, "cannot list reports", http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_ = index.Execute(w, runs)
			return
		}
		parts := strings.Split(p, "/")
		if len(parts) != 2 || parts[1] == "" {
			http.NotFound(w, r)
			return
		}
		for _, s := range parts {
			if strings.HasPrefix(s, ".") {
				http.NotFound(w, r)
				return
			}
		}
		files.ServeHTTP(w, r)
	})
}
