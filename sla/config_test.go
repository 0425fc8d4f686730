package sla

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gopkg.in/yaml.v3"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
)

var testScenarios = map[string][]string{
	"api":           {"list_encounters", "view_encounter"},
	"notifications": {"session"},
	"transcription": {"stream"},
}

func decodeYAML(t *testing.T, src string) (List, *config.Problems) {
	t.Helper()
	var raw []map[string]any
	if err := yaml.Unmarshal([]byte(src), &raw); err != nil {
		t.Fatalf("test YAML: %v", err)
	}
	p := &config.Problems{}
	return Decode("slas", raw, testScenarios, p), p
}

func TestDecodeValid(t *testing.T) {
	l, p := decodeYAML(t, `
- {scenario: api, latency: {p95: 100ms, p99: 300ms, p99.9: 1s}, error_ratio: 1%}
- {name: view, scenario: api, task: view_encounter, latency: {p50: 20ms}}
- {scenario: notifications, rtt: {p95: 50ms}, connect_failure_ratio: 0.5%}
- {scenario: transcription, final_latency: {p95: 2s}, realtime_factor: {p95: 0.5}}
`)
	if p.Len() > 0 {
		t.Fatalf("unexpected problems:\n%v", p.Error())
	}
	if len(l) != 4 {
		t.Fatalf("got %d SLAs, want 4", len(l))
	}
	if l[0].Name != "api/*" || l[0].Task != AllTasks || l[1].Name != "view" {
		t.Errorf("defaults: got names %q %q, task %q", l[0].Name, l[1].Name, l[0].Task)
	}
	got := []string{}
	for _, c := range l {
		for _, o := range c.Objectives() {
			got = append(got, o.String())
		}
	}
	want := "latency p95 <= 100ms|latency p99 <= 300ms|latency p99.9 <= 1s|error_ratio <= 1%|latency p50 <= 20ms|" +
		"rtt p95 <= 50ms|connect_failure_ratio <= 0.5%|final_latency p95 <= 2s|realtime_factor p95 <= 0.5"
	if g := strings.Join(got, "|"); g != want {
		t.Errorf("objectives:\n got %s\nwant %s", g, want)
	}
	if s := l.String(); !strings.Contains(s, "api/*") || !strings.Contains(s, "latency p95 <= 100ms") {
		t.Errorf("String() = %q", s)
	}
}

func TestDecodeProblems(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown key", `[{scenario: api, latancy: {p95: 1s}}]`, `slas[0].latancy: unknown key "latancy"`},
		{"bad quantile", `[{scenario: api, latency: {p96: 1s}}]`, `slas[0].latency.p96: unknown quantile "p96" (want one of p50, p90, p95, p99, p99.9)`},
		{"unknown scenario", `[{scenario: apx, error_ratio: 1%}]`, `slas[0].scenario: unknown scenario "apx" (have api, notifications, transcription)`},
		{"missing scenario", `[{error_ratio: 1%}]`, `slas[0].scenario: required`},
		{"unknown task", `[{scenario: api, task: nope, error_ratio: 1%}]`, `slas[0].task: scenario "api" has no task "nope" (have list_encounters, view_encounter, or "*" for all)`},
		{"no objective", `[{scenario: api}]`, `slas[0]: no objective`},
		{"ratio above 100%", `[{scenario: api, error_ratio: 120%}]`, `slas[0].error_ratio`},
		{"bad duration", `[{scenario: api, latency: {p95: fast}}]`, `slas[0].latency.p95`},
		{"zero latency", `[{scenario: api, latency: {p95: 0}}]`, `slas[0].latency.p95: must be a positive duration`},
		{"bad factor", `[{scenario: transcription, realtime_factor: {p95: -1}}]`, `slas[0].realtime_factor.p95: must be a positive factor`},
		{"figure with task", `[{scenario: api, task: view_encounter, rtt: {p95: 1s}}]`, `slas[0].task: rtt, connect_failure_ratio`},
		{"duplicate name", `[{name: a, scenario: api, error_ratio: 1%}, {name: a, scenario: api, error_ratio: 2%}]`, `slas[1].name: duplicate SLA name "a" (first at slas[0])`},
		{"second entry index kept", `[{scenario: api, bogus: 1}, {scenario: zzz, error_ratio: 1%}]`, `slas[1].scenario: unknown scenario "zzz"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, p := decodeYAML(t, tc.yaml)
			if p.Len() == 0 {
				t.Fatalf("no problem reported, want %q", tc.want)
			}
			if !strings.Contains(p.Error(), tc.want) {
				t.Errorf("problems:\n%s\nwant one containing %q", p.Error(), tc.want)
			}
		})
	}
}

func TestExport(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := exporter.New(reg, exporter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, p := decodeYAML(t, `
- {scenario: api, latency: {p95: 100ms, p99.9: 1s}, error_ratio: 1%}
- {scenario: api, task: view_encounter, latency: {p50: 20ms}}
- {scenario: notifications, rtt: {p95: 50ms}, connect_failure_ratio: 1%}
- {scenario: transcription, final_latency: {p99: 2s}, realtime_factor: {p95: 0.5}}
`)
	if p.Len() > 0 {
		t.Fatal(p.Error())
	}
	m.SetErrorRatioObjective("old", "*", 0.5) // removed by Export
	Export(m, l)
	want := `
# HELP loadd_sla_error_ratio_objective Error-ratio SLA objective per scenario and task.
# TYPE loadd_sla_error_ratio_objective gauge
loadd_sla_error_ratio_objective{scenario="api",task="*"} 0.01
# HELP loadd_sla_latency_objective_seconds Latency SLA objective per scenario, task and quantile.
# TYPE loadd_sla_latency_objective_seconds gauge
loadd_sla_latency_objective_seconds{quantile="0.5",scenario="api",task="view_encounter"} 0.02
loadd_sla_latency_objective_seconds{quantile="0.95",scenario="api",task="*"} 0.1
loadd_sla_latency_objective_seconds{quantile="0.999",scenario="api",task="*"} 1
# HELP loadd_sla_rtt_objective_seconds WebSocket message round-trip SLA objective per scenario and quantile.
# TYPE loadd_sla_rtt_objective_seconds gauge
loadd_sla_rtt_objective_seconds{quantile="0.95",scenario="notifications"} 0.05
# HELP loadd_sla_final_latency_objective_seconds Transcription final-result latency SLA objective per scenario and quantile.
# TYPE loadd_sla_final_latency_objective_seconds gauge
loadd_sla_final_latency_objective_seconds{quantile="0.99",scenario="transcription"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"loadd_sla_error_ratio_objective", "loadd_sla_latency_objective_seconds",
		"loadd_sla_rtt_objective_seconds", "loadd_sla_final_latency_objective_seconds"); err != nil {
		t.Error(err)
	}
}
