package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/loadd/loadd/dashboards"
	"github.com/loadd/loadd/internal/tooltest"
)

// everythingConfig drives the demo target at addr with every kind of
// scenario the dashboards show: an open-model and a closed-model (user
// classes) HTTP scenario, WebSocket sessions with correlated messages, a
// streaming transcription, a schedule that runs every 10s (for the runs
// dashboard; its name makes it a soak), and SLAs of every figure. The test
// makes the target's transcription 300ms slow, above its 100ms objective,
// so that one alert fires and the panels on ALERTS have something to show.
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
  - {scenario: asr_stream, final_latency: {p95: 100ms}}
`, addr)
}

// queriesWithoutData lists what legitimately has no data in this set-up,
// by dashboard file and panel title (or "$variable"), or by alert name,
// with the reason. The test fails when an entry gets data (remove it then).
var queriesWithoutData = map[string]string{
	"LoaddSoakMissed":            "nightly-smoke matches its selector, but its offset 26h term needs 26 hours of history (26 minutes compressed)",
	"LoaddNotScraped":            "absent() has data only while no loadd is scraped; up{job=\"loadd\"} is checked by health.json / Builds",
	"LoaddSLAQuantileNotAlerted": "fires only for an objective at a quantile other than 0.5…0.999, which loadd's config rejects (sla.Quantiles)",
}

// TestDashboardAndRuleQueriesReturnData runs every PromQL expression of
// every dashboard (panel targets and variable selectors, Grafana variables
// expanded as "All") and of every shipped rule (alerts with their
// comparisons made `bool`, see conditionExpr) against a real Prometheus
// scraping loadd that drives the demo target with every kind of scenario.
// Each must parse with the PromQL parser, run without error, and return
// data, except what queriesWithoutData lists.
func TestDashboardAndRuleQueriesReturnData(t *testing.T) {
	tooltest.Path(t, "prometheus")
	checks := dashboardChecks(t)
	checks = append(checks, ruleChecks(t)...)

	target := DemoTarget(t)
	if code, body := Post(t, "http://"+target.Addr+"/-/transcription/faults", `{"latency": "300ms"}`); code != 200 {
		t.Fatalf("slow the transcription down: %d %s", code, body)
	}
	loadd := LoaddRun(t, WriteFile(t, "loadd.yaml", everythingConfig(target.Addr)), "--report.dir="+t.TempDir())
	rules, n := compressRules(t, timeScale)
	prom := StartPrometheus(t, alertingConfig(loadd.Addr, "", rules))
	waitRules(t, prom, n)

	lacking := waitForData(t, prom, checks, 90*time.Second)
	want := `ALERTS{alertname="LoaddTranscriptionLatencySLABreached", alertstate="firing", job="loadd", mode="streaming", quantile="0.95", scenario="asr_stream", severity="page"}`
	if f := firingAlerts(t, prom); len(f) != 1 || f[0] != want {
		t.Errorf("firing alerts: %v, want only the slowed transcription's %s", f, want)
	}
	for where, reason := range queriesWithoutData {
		if _, ok := lacking[where]; !ok {
			t.Errorf("%s has data now; remove it from queriesWithoutData (%s)", where, reason)
		}
	}
}

// queryCheck is one expression to run, and where it comes from.
type queryCheck struct{ where, expr string }

// waitForData runs every check against prom, twice a second, until each
// has data or is listed in queriesWithoutData, and returns those still
// without data (by where). A query Prometheus rejects fails the test at
// once.
func waitForData(t *testing.T, prom *Prometheus, checks []queryCheck, timeout time.Duration) map[string][]string {
	t.Helper()
	start := time.Now()
	firstData := map[string]time.Duration{}
	for {
		lacking := map[string][]string{}
		for _, c := range checks {
			v, err := prom.TryQuery(c.expr)
			if err != nil {
				t.Fatalf("%s: %s: %v", c.where, c.expr, err)
			}
			if len(v) == 0 {
				lacking[c.where] = append(lacking[c.where], c.expr)
			} else if _, ok := firstData[c.where]; !ok {
				firstData[c.where] = time.Since(start)
			}
		}
		var open []string
		for where, exprs := range lacking {
			if _, ok := queriesWithoutData[where]; !ok {
				open = append(open, fmt.Sprintf("%s: %s", where, strings.Join(exprs, " | ")))
			}
		}
		if len(open) == 0 {
			t.Logf("%d queries: all have data after %.1fs (the last: %s), except the %d listed in queriesWithoutData",
				len(checks), time.Since(start).Seconds(), slowest(firstData, 3), len(lacking))
			return lacking
		}
		if time.Since(start) > timeout {
			sort.Strings(open)
			t.Fatalf("no data within %s for %d:\n%s", timeout, len(open), strings.Join(open, "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// slowest names the n checks that got data last, with when.
func slowest(first map[string]time.Duration, n int) string {
	names := make([]string, 0, len(first))
	for w := range first {
		names = append(names, w)
	}
	sort.Slice(names, func(i, j int) bool { return first[names[i]] > first[names[j]] })
	var out []string
	for _, w := range names[:min(n, len(names))] {
		out = append(out, fmt.Sprintf("%s at %.1fs", w, first[w].Seconds()))
	}
	return strings.Join(out, ", ")
}

// dashboardChecks expands and parses every dashboard query.
func dashboardChecks(t *testing.T) []queryCheck {
	t.Helper()
	qs, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	var out []queryCheck
	for _, q := range qs {
		expr := dashboards.Expand(q.Expr, "10s", "1m", map[string]string{"job": "loadd"})
		if _, err := promqlParser().ParseExpr(expr); err != nil {
			t.Errorf("%s / %s: %q does not parse: %v", q.Board, q.Panel, expr, err)
			continue
		}
		out = append(out, queryCheck{where: q.Board + " / " + q.Panel, expr: expr})
	}
	if len(out) < 80 {
		t.Errorf("only %d dashboard queries: Queries() lost some", len(out))
	}
	return out
}

// ruleChecks returns every shipped rule's expression as shipped (windows
// not compressed: after a short run they still return data), alerts in
// their `bool` form.
func ruleChecks(t *testing.T) []queryCheck {
	t.Helper()
	var out []queryCheck
	for _, rgs := range shippedRules(t) {
		for _, g := range rgs.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					out = append(out, queryCheck{where: r.Record, expr: r.Expr})
					continue
				}
				expr, err := conditionExpr(r.Expr)
				if err != nil {
					t.Fatalf("%s: %v", r.Alert, err)
				}
				out = append(out, queryCheck{where: r.Alert, expr: expr})
			}
		}
	}
	return out
}
