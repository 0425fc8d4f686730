// Command gen writes loadd's Grafana dashboards as JSON files into the
// dashboards directory: -out, or ./dashboards when run from the repository
// root (`go run ./dashboards/gen`, `make dashboards`), or the current
// directory otherwise (`go generate ./dashboards`).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/loadd/loadd/dashboards"
)

func main() { os.Exit(run()) }

func run() int {
	out := flag.String("out", defaultOut(), "directory to write the dashboards' JSON files to")
	flag.Parse()
	files, err := dashboards.Generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate dashboards:", err)
		return 1
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(*out, name)
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "write dashboard:", err)
			return 1
		}
		fmt.Println("wrote", path)
	}
	return 0
}

// defaultOut is ./dashboards from the repository root, else ".".
func defaultOut() string {
	if _, err := os.Stat(filepath.Join("dashboards", "gen", "main.go")); err == nil {
		return "dashboards"
	}
	return "."
}
