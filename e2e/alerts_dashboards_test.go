package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/loadd/loadd/dashboards"
)

// everythingConfig drives the demo target at addr with every kind of
// scenario the dashboards show: an open-model and a closed-model (user
// classes) HTTP scenario, WebSocket sessions with correlated messages, a
// streaming transcription, a schedule, and SLAs of every figure. The
// transcription objective of 1ms cannot be met, so one alert fires and the
// panels on ALERTS have something to show.
func everythingConfig(addr string) string {
	return fmt.Sprintf(`
targets:
  demo:
    base_url: http://%[1]s
    auth: {kind: password, token_url: /auth/token, username: physician, password: physician-password}
  asr:
    base_url: http://%[1]s
scenarios:
  api:
    kind: http
    target: demo
    rate: 20/s
    max_in_flight: 200
    tasks:
      - {name: list_encounters, weight: 1, get: /encounters, query: {page: "1"}, capture: {ids: "$.items[*].id"}}
      - {name: view_encounter, weight: 1, get: "/encounters/{{ pick .ids }}"}
  clinicians:
    kind: http
    target: demo
    users: 4
    spawn_rate: 10/s
    user_classes:
      - {name: normal, weight: 3, think_time: 100ms..300ms}
      - {name: high_volume, weight: 1, think_time: 50ms..100ms}
    tasks:
      - {name: dashboard_metrics, weight: 1, get: /dashboard/metrics, query: {period: day}}
  notifications:
    kind: websocket
    target: demo
    path: /ws/notifications
    sessions: 10
    ramp: 100/s
    message_every: 200ms
    message: '{"type":"ping","id":"{{ .ID }}"}'
    correlation: $.id
  asr_stream:
    kind: transcription
    target: asr
    mode: streaming
    rate: 1/s
    audio: builtin:speech
    streaming: {speed: 4x}
schedules:
  nightly-smoke: {cron: "@every 10s", stages: [{hold: 3s}], scenarios: [api]}
slas:
  - {scenario: api, task: "*", latency: {p50: 100ms, p95: 200ms, p99: 500ms}, error_ratio: 1%%}
  - {scenario: api, task: list_encounters, latency: {p95: 200ms}, error_ratio: 1%%}
  - {scenario: notifications, rtt: {p95: 100ms}}
  - {scenario: asr_stream, final_latency: {p95: 1ms}}
`, addr)
}

// noData lists what legitimately has no data in this set-up, by dashboard
// file and panel title (or "$variable"), or by alert name, with the
// reason. The test fails when an entry gets data (remove it then).
var noData = map[string]string{
	// Schedules: `loadd run` validates `schedules:` but does not start
	// their runs yet (runs.Scheduler is not wired into the daemon; only
	// `loadd once` runs a schedule's run), so loadd_run_* and
	// loadd_runs_total do not exist.
	"runs.json / $schedule":                notWired,
	"runs.json / Last run":                 notWired,
	"runs.json / Since last start":         notWired,
	"runs.json / Runs in range":            notWired,
	"runs.json / Runs active":              notWired,
	"runs.json / Verdicts":                 notWired,
	"runs.json / Runs finished by result":  notWired,
	"LoaddScheduledRunFailed":              notWired,
	"LoaddSoakMissed":                      notWired + "; it also needs 26h of history (offset 26h)",
	"LoaddNotScraped":                      "absent() has data only while no loadd is scraped; up{job=\"loadd\"} is checked by health.json / Builds",
	"LoaddSLAQuantileNotAlerted":           "fires only for an objective at a quantile other than 0.5…0.999, which loadd's config rejects (sla.Quantiles)",
}

const notWired = "loadd run does not run schedules yet, so no run series exist"

// TestDashboardAndRuleQueriesReturnData runs every PromQL expression of
// every dashboard (panel targets and variable selectors, Grafana variables
// expanded as "All") and of every shipped rule (alerts with their
// comparisons made `bool`, see conditionExpr) against a real Prometheus
// scraping loadd that drives the demo target with every kind of scenario.
// Each must parse with the PromQL parser, run without error, and return
// data, except what noData lists.
func TestDashboardAndRuleQueriesReturnData(t *testing.T) {
	Need(t, "prometheus")
	checks := dashboardChecks(t)
	checks = append(checks, ruleChecks(t)...)

	target := DemoTarget(t)
	loadd := LoaddRun(t, WriteFile(t, "loadd.yaml", everythingConfig(target.Addr)))
	rules, n := compressRules(t, timeScale)
	prom := StartPrometheus(t, alertingConfig(loadd.Addr, "", rules))
	waitRules(t, prom, n)

	missing := func() (map[string][]string, error) {
		out := map[string][]string{}
		for _, c := range checks {
			v, err := prom.TryQuery(c.expr)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %v", c.where, c.expr, err)
			}
			if len(v) == 0 {
				out[c.where] = append(out[c.where], c.expr)
			}
		}
		return out, nil
	}
	start := time.Now()
	var lacking map[string][]string
	Eventually(t, 90*time.Second, func() error {
		var err error
		if lacking, err = missing(); err != nil {
			t.Fatal(err) // a query Prometheus rejects will not get better
		}
		var open []string
		for where := range lacking {
			if _, ok := noData[where]; !ok {
				open = append(open, where)
			}
		}
		sort.Strings(open)
		if len(open) > 0 {
			return fmt.Errorf("no data yet for %d: %s", len(open), strings.Join(open, "; "))
		}
		return nil
	})
	t.Logf("%d queries: all have data after %.0fs, except the %d listed", len(checks), time.Since(start).Seconds(), len(lacking))
	for where, reason := range noData {
		if _, ok := lacking[where]; !ok {
			t.Errorf("%s has data now; remove it from noData (%s)", where, reason)
		}
	}
}

// check is one expression to run, and where it comes from.
type check struct{ where, expr string }

// dashboardChecks expands and parses every dashboard query.
func dashboardChecks(t *testing.T) []check {
	t.Helper()
	qs, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	var out []check
	for _, q := range qs {
		expr := dashboards.Expand(q.Expr, "10s", "1m", map[string]string{"job": "loadd"})
		if _, err := promqlParser().ParseExpr(expr); err != nil {
			t.Errorf("%s / %s: %q does not parse: %v", q.Board, q.Panel, expr, err)
			continue
		}
		out = append(out, check{where: q.Board + " / " + q.Panel, expr: expr})
	}
	if len(out) < 80 {
		t.Errorf("only %d dashboard queries: Queries() lost some", len(out))
	}
	return out
}

// ruleChecks returns every shipped rule's expression as shipped (windows
// not compressed: after a short run they still return data), alerts in
// their `bool` form.
func ruleChecks(t *testing.T) []check {
	t.Helper()
	var out []check
	for _, rgs := range shippedRules(t) {
		for _, g := range rgs.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					out = append(out, check{where: r.Record, expr: r.Expr})
					continue
				}
				expr, err := conditionExpr(r.Expr)
				if err != nil {
					t.Fatalf("%s: %v", r.Alert, err)
				}
				out = append(out, check{where: r.Alert, expr: expr})
			}
		}
	}
	return out
}
