package dashboards

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/loadd/loadd/alerts"
	"github.com/loadd/loadd/exporter"
)

// Series Prometheus itself provides.
var prometheusSeries = []string{"up", "ALERTS", "ALERTS_FOR_STATE"}

// capture records the collectors exporter.New registers.
type capture struct {
	prometheus.Registerer
	cs []prometheus.Collector
}

func (c *capture) Register(col prometheus.Collector) error {
	c.cs = append(c.cs, col)
	return c.Registerer.Register(col)
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// exportedNames returns every series name a fresh loadd exposes: the
// metrics exporter.New defines (with _bucket/_sum/_count for histograms)
// and those of the Go and process collectors cmd/loadd registers.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := &capture{Registerer: reg}
	if _, err := exporter.New(c, exporter.Options{}); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, col := range c.cs {
		ch := make(chan *prometheus.Desc, 64)
		go func() { col.Describe(ch); close(ch) }()
		_, hist := col.(*prometheus.HistogramVec)
		for d := range ch {
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read the name of %s", d)
			}
			names[m[1]] = true
			if hist {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[m[1]+s] = true
				}
			}
		}
	}
	runtime := prometheus.NewRegistry()
	runtime.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mfs, err := runtime.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		if mf.GetType().String() == "SUMMARY" || mf.GetType().String() == "HISTOGRAM" {
			names[mf.GetName()+"_sum"] = true
			names[mf.GetName()+"_count"] = true
		}
	}
	for _, n := range prometheusSeries {
		names[n] = true
	}
	return names
}

// ruleFiles parses the shipped rule files of alerts/.
func ruleFiles(t *testing.T) map[string]*rulefmt.RuleGroups {
	t.Helper()
	files, err := filepath.Glob("../alerts/loadd-*.rules.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in ../alerts (%v)", err)
	}
	out := map[string]*rulefmt.RuleGroups{}
	for _, f := range files {
		out[f] = parseRuleFile(t, f)
	}
	return out
}

func parseRuleFile(t *testing.T, f string) *rulefmt.RuleGroups {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	rgs, errs := rulefmt.Parse(b, false, model.UTF8Validation, parser.NewParser(parser.Options{}), logger)
	if len(errs) > 0 {
		t.Fatalf("%s: %v", f, errs)
	}
	return rgs
}

// metricNames returns the metric names an expression selects. A regex on
// __name__ must be a plain alternation of names (a|b|c).
func metricNames(t *testing.T, where, expr string) []string {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, expr)
		return nil
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name != "" {
			out = append(out, vs.Name)
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != model.MetricNameLabel || m.Value == vs.Name {
				continue
			}
			switch m.Type {
			case labels.MatchEqual:
				out = append(out, m.Value)
			case labels.MatchRegexp:
				out = append(out, strings.Split(m.Value, "|")...)
			default:
				t.Errorf("%s: unsupported metric name matcher %s", where, m)
			}
		}
		return nil
	})
	return out
}

// TestEveryMetricExists is the contract between exporter/ and the shipped
// rules and dashboards: every series they select is either defined by
// exporter.New (or the Go/process collectors), recorded by a shipped
// recording rule, or provided by Prometheus.
func TestEveryMetricExists(t *testing.T) {
	known := exportedNames(t)
	rules := ruleFiles(t)
	recorded := map[string]bool{}
	for _, rgs := range rules {
		for _, g := range rgs.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					recorded[r.Record] = true
				}
			}
		}
	}
	used := map[string]bool{}
	check := func(where, expr string) {
		for _, n := range metricNames(t, where, expr) {
			used[n] = true
			if !known[n] && !recorded[n] {
				t.Errorf("%s: selects %q, which neither exporter.New nor a recording rule defines", where, n)
			}
		}
	}
	for f, rgs := range rules {
		for _, g := range rgs.Groups {
			for _, r := range g.Rules {
				check(f+": "+r.Record+r.Alert, r.Expr)
			}
		}
	}
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	for _, qu := range qs {
		check(qu.Board+": "+qu.Panel, Expand(qu.Expr, "1m", "1h", nil))
	}
	checkExplicit(t, check)

	for r := range recorded {
		if !used[r] {
			t.Errorf("recording rule %s is used by no rule and no dashboard", r)
		}
	}
	for n := range known {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
		if strings.HasPrefix(n, exporter.Namespace+"_") && !used[n] && !used[base+"_bucket"] && !used[base+"_count"] && !used[base] {
			t.Errorf("loadd metric %s is shown by no dashboard and used by no rule", n)
		}
	}
}

// checkExplicit runs check over the rules `loadd rules` generates.
func checkExplicit(t *testing.T, check func(where, expr string)) {
	t.Helper()
	out, err := alerts.Explicit([]alerts.Objective{
		{Scenario: "api", Task: "list", Quantile: 0.95, Latency: time.Second, ErrorRatio: 0.01},
		{Scenario: "ws", Signal: alerts.SignalWebSocketRTT, Quantile: 0.99, Latency: time.Second},
		{Scenario: "asr", Signal: alerts.SignalTranscriptionFinal, Quantile: 0.5, Latency: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "explicit.rules.yml")
	if err := os.WriteFile(f, out, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, g := range parseRuleFile(t, f).Groups {
		for _, r := range g.Rules {
			check("Explicit: "+r.Alert, r.Expr)
		}
	}
}

// TestContractCatchesUnknownNames makes sure the contract test would fail.
func TestContractCatchesUnknownNames(t *testing.T) {
	known := exportedNames(t)
	for _, n := range []string{"loadd_requests_total", "loadd_request_duration_seconds_bucket", "loadd_build_info",
		"process_cpu_seconds_total", "go_goroutines", "go_gc_duration_seconds_count", "up"} {
		if !known[n] {
			t.Errorf("%s should be known", n)
		}
	}
	for _, n := range []string{"loadd_request_total", "loadd_requests_total_bucket", "loadd_target_rate_count"} {
		if known[n] {
			t.Errorf("%s should not be known", n)
		}
	}
	got := metricNames(t, "test", `sum(rate(a_total{x="1"}[5m])) / on() group_left {__name__=~"b|c",y="2"}`)
	if !slices.Equal(got, []string{"a_total", "b", "c"}) {
		t.Errorf("metricNames = %v, want [a_total b c]", got)
	}
}
