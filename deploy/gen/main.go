// Command gen writes deploy/kubernetes/prometheusrule.yaml from the rule
// files in alerts/. Run it from the repository root: go run ./deploy/gen
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/loadd/loadd/deploy"
)

func main() { os.Exit(run()) }

func run() int {
	alerts := flag.String("alerts", "alerts", "directory of the rule files")
	out := flag.String("out", "deploy/kubernetes/prometheusrule.yaml", "file to write")
	flag.Parse()
	b, err := deploy.PrometheusRule(*alerts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		return 1
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		return 1
	}
	return 0
}
