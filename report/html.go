package report

import (
	"fmt"
	"html/template"
	"io"
	"strconv"
	"time"

	"github.com/loadd/loadd/sla"
)

// htmlScenario is one scenario section of the HTML report.
type htmlScenario struct {
	Summary ScenarioSummary
	Charts  []template.HTML
}

type htmlData struct {
	Summary   Summary
	Scenarios []htmlScenario
	Generated string
}

var funcs = template.FuncMap{
	"ms":  func(sec float64) string { return strconv.FormatFloat(finite(sec)*1000, 'f', 1, 64) },
	"pct": func(r float64) string { return strconv.FormatFloat(finite(r)*100, 'f', 2, 64) + "%" },
	"num": func(v float64) string { return strconv.FormatFloat(finite(v), 'f', 1, 64) },
	"dur": func(sec float64) string { return time.Duration(sec * float64(time.Second)).Round(time.Second).String() },
	"ts":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"observed": func(c sla.Check) string {
		if c.Samples == 0 {
			return "no data"
		}
		return c.Objective.Format(c.Observed)
	},
	"objective": func(c sla.Check) string { return c.Objective.Format(c.Objective.Max) },
	"what": func(c sla.Check) string {
		if c.Objective.Quantile != "" {
			return string(c.Objective.Figure) + " " + c.Objective.Quantile
		}
		return string(c.Objective.Figure)
	},
}

var page = template.Must(template.New("report").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>loadd run {{.Summary.Name}} {{.Summary.ID}}: {{.Summary.Result}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; width: 100%; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
th { background: #f4f4f4; }
.badge { display: inline-block; padding: .2em .7em; border-radius: .3em; color: #fff; font-weight: bold; text-transform: uppercase; }
.passed { background: #2c8a2c; } .failed, .invalid { background: #c62828; } .interrupted { background: #b26a00; }
.ok { color: #2c8a2c; font-weight: bold; } .bad { color: #c62828; font-weight: bold; }
.note { background: #fff4e5; border-left: 4px solid #b26a00; padding: .5em 1em; }
svg.chart { width: 100%; height: auto; display: block; margin: 1em 0; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; } dt { font-weight: bold; }
</style>
</head>
<body>
{{with .Summary}}
<h1>loadd run <code>{{.Name}}</code> <span id="result" class="badge {{.Result}}">{{.Result}}</span></h1>
<dl>
<dt>Run</dt><dd>{{.ID}}</dd>
<dt>Started</dt><dd>{{ts .Start}}</dd>
<dt>Ended</dt><dd>{{ts .End}}</dd>
<dt>Duration</dt><dd>{{dur .DurationSeconds}} of {{dur .PlannedSeconds}} planned</dd>
</dl>
{{if .Interrupted}}<p class="note" id="interrupted">This run was <b>interrupted</b> before its planned end: the figures cover a partial run.</p>{{end}}
{{if not .Valid}}<div class="note" id="invalid"><b>Invalid run:</b> the load was not delivered, so the SLAs cannot be judged.<ul>{{range .Invalid}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
<h2>SLA objectives</h2>
{{if .Checks}}<table id="slas">
<tr><th>SLA</th><th>Objective</th><th>Observed</th><th>Bound</th><th>Samples</th><th>Verdict</th></tr>
{{range .Checks}}<tr><td>{{.SLA}}</td><td class="text">{{what .}}</td><td>{{observed .}}</td><td>≤ {{objective .}}</td><td>{{.Samples}}</td>
<td class="text">{{if .Passed}}<span class="ok">pass</span>{{else}}<span class="bad">FAIL</span>{{end}}</td></tr>
{{end}}</table>{{else}}<p>No SLA is configured.</p>{{end}}
{{end}}
{{range .Scenarios}}{{with .Summary}}
<h2>Scenario <code>{{.Name}}</code></h2>
{{with .Delivery}}<p>Load: completed {{.Completed}} of {{printf "%.0f" .Expected}} arrivals asked for{{if .Dropped}}, <span class="bad">{{.Dropped}} dropped</span>{{end}}{{if .Err}}, <span class="bad">error: {{.Err}}</span>{{end}}.</p>{{end}}
<table class="tasks">
<tr><th>Task</th><th>Requests</th><th>Failures</th><th>Dropped</th><th>Error ratio</th><th>Requests/s</th><th>Median (ms)</th><th>p95 (ms)</th><th>p99 (ms)</th><th>Max (ms)</th></tr>
{{range .Tasks}}<tr><td>{{.Task}}</td><td>{{.Requests}}</td><td>{{.Failures}}</td><td>{{.Dropped}}</td><td>{{pct .ErrorRatio}}</td><td>{{num .RPS}}</td><td>{{ms .Latency.P50}}</td><td>{{ms .Latency.P95}}</td><td>{{ms .Latency.P99}}</td><td>{{ms .Latency.Max}}</td></tr>
{{end}}{{with .Total}}<tr><th>all tasks</th><th>{{.Requests}}</th><th>{{.Failures}}</th><th>{{.Dropped}}</th><th>{{pct .ErrorRatio}}</th><th>{{num .RPS}}</th><th>{{ms .Latency.P50}}</th><th>{{ms .Latency.P95}}</th><th>{{ms .Latency.P99}}</th><th>{{ms .Latency.Max}}</th></tr>{{end}}
</table>
{{with .RTT}}<p>WebSocket message RTT: p50 {{ms .P50}} ms, p95 {{ms .P95}} ms, p99 {{ms .P99}} ms ({{.Count}} messages).</p>{{end}}
{{if .Connects}}<p>WebSocket connections: {{.Connects}} attempts, {{.ConnectFails}} failed.</p>{{end}}
{{with .FinalLatency}}<p>Transcription final latency: p50 {{ms .P50}} ms, p95 {{ms .P95}} ms, p99 {{ms .P99}} ms ({{.Count}} jobs).</p>{{end}}
{{with .RealtimeFactor}}<p>Real-time factor: p50 {{printf "%.3f" .P50}}, p95 {{printf "%.3f" .P95}}, max {{printf "%.3f" .Max}}.</p>{{end}}
{{end}}
{{if .Charts}}{{range .Charts}}{{.}}{{end}}{{else}}<p>Too few measurements for charts.</p>{{end}}
{{end}}
<p><small>Generated by loadd at {{.Generated}}. Files: <a href="summary.json">summary.json</a>, <a href="junit.xml">junit.xml</a>, <a href="stats.csv">stats.csv</a>.</small></p>
</body>
</html>
`))

// WriteHTML writes the self-contained HTML report: verdict, SLA table, and
// per scenario a task table and charts of rate, latency and errors over
// time (inline SVG drawn with gonum/plot; no scripts, no external files).
func WriteHTML(w io.Writer, r *Run) error {
	d := htmlData{Summary: NewSummary(r), Generated: time.Now().UTC().Format(time.RFC3339)}
	for i, sc := range r.Snapshot.Scenarios {
		charts, err := scenarioCharts(sc, r.SLAs)
		if err != nil {
			return err
		}
		d.Scenarios = append(d.Scenarios, htmlScenario{Summary: d.Summary.Scenarios[i], Charts: charts})
	}
	if err := page.Execute(w, d); err != nil {
		return fmt.Errorf("render HTML report: %w", err)
	}
	return nil
}
