package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loadd/loadd/internal/tooltest"
)

// alertsConfig drives the demo target at addr with two open-model HTTP
// scenarios and SLAs on each: api's two tasks each have a p95 objective
// of their own, api as a whole a loose p99 and an error budget, search
// both. Injecting faults on one route must page for exactly its SLA.
func alertsConfig(addr string) string {
	return fmt.Sprintf(`
%s    rate: 40/s
    max_in_flight: 1000
    tasks:
      - {name: list_encounters, weight: 1, get: /encounters, query: {page: "1"}, capture: {ids: "$.items[*].id"}}
      - {name: view_encounter, weight: 1, get: "/encounters/{{ pick .ids }}"}
  search:
    kind: http
    target: demo
    rate: 10/s
    max_in_flight: 100
    tasks:
      - {name: search_patients, weight: 1, get: /patients/search, query: {q: John, limit: "10"}}
slas:
  - {scenario: api, task: list_encounters, latency: {p95: 150ms}}
  - {scenario: api, task: view_encounter, latency: {p95: 150ms}}
  - {scenario: api, task: "*", latency: {p99: 2s}, error_ratio: 0.5%%}
  - {scenario: search, latency: {p95: 150ms}, error_ratio: 0.5%%}
`, demoAPI(addr))
}

// alertStack is everything TestAlertsEndToEnd runs, all on loopback.
type alertStack struct {
	target, loadd *Proc
	prom          *Prometheus
	hook          *webhook
}

// startAlertStack starts, in order: the webhook receiver, Alertmanager
// (ready before Prometheus, so the first notification is not delayed), the
// demo target, loadd run, and Prometheus with the shipped rules compressed
// 60× (see alerts_rules_test.go); it waits until every rule was evaluated
// and the SLA series have data.
func startAlertStack(t *testing.T) *alertStack {
	t.Helper()
	tooltest.Path(t, "prometheus")
	s := &alertStack{hook: startWebhook(t)}
	am := startAlertmanager(t, s.hook.URL())
	s.target = DemoTarget(t)
	s.loadd = LoaddRun(t, WriteFile(t, "loadd.yaml", alertsConfig(s.target.Addr)))
	rules, n := compressRules(t, timeScale)
	s.prom = StartPrometheus(t, alertingConfig(s.loadd.Addr, am, rules))
	waitAlertmanagerFound(t, s.prom, am)
	waitRules(t, s.prom, n)
	for _, q := range []string{
		`job_scenario_task:loadd_request_duration_seconds:quantile_rate5m{scenario="api",task="list_encounters",quantile="0.95"}`,
		`job_scenario_task:loadd_request_failures:ratio_rate1h{scenario="api",task="*"}`,
		`loadd_sla_latency_objective_seconds{scenario="search",task="*",quantile="0.95"}`,
	} {
		Eventually(t, 30*time.Second, func() error {
			if v, err := s.prom.TryQuery(q); err != nil || len(v) == 0 {
				return fmt.Errorf("%s: no data yet (%v)", q, err)
			}
			return nil
		})
	}
	return s
}

// fault changes the demo target's injected faults (see demo/faults.go).
func (s *alertStack) fault(t *testing.T, change string) {
	t.Helper()
	if code, body := Post(t, "http://"+s.target.Addr+"/-/faults", change); code != http.StatusOK {
		t.Fatalf("POST /-/faults %s: %d %s", change, code, body)
	}
}

// TestAlertsEndToEnd proves the shipped rules page through a real
// Prometheus and Alertmanager for what really happens to the target:
// nothing while it is healthy; the latency SLA of exactly the slowed task,
// resolved once it is fast again; the fast error-budget burn when it
// fails; LoaddDown when loadd dies. The rules run 60× faster than shipped
// (a 5m window lasts 5s); the phases share one stack, in this order.
func TestAlertsEndToEnd(t *testing.T) {
	s := startAlertStack(t)
	for _, phase := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"healthy target: nothing reaches the webhook", s.healthy},
		{"slow task: its latency alert fires and resolves", s.slowTask},
		{"failing tasks: the fast-burn alert pages", s.failingTasks},
		{"loadd killed: LoaddDown fires", s.killed},
	} {
		t.Run(phase.name, phase.run)
	}
}

func (s *alertStack) healthy(t *testing.T) {
	// 15 s is three times the latency alerts' `for`, 1.5 times the
	// load-validity alerts', plus group_wait.
	t0 := time.Now()
	for time.Since(t0) < 15*time.Second {
		if got := s.hook.since(t0); len(got) != 0 {
			t.Fatalf("alerts delivered against a healthy target: %v", got)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if f := firingAlerts(t, s.prom); len(f) != 0 {
		t.Errorf("alerts firing against a healthy target: %v", f)
	}
}

func (s *alertStack) slowTask(t *testing.T) {
	want := map[string]string{"alertname": "LoaddLatencySLABreached", "scenario": "api", "task": "list_encounters", "quantile": "0.95", "severity": "page"}
	t0 := time.Now()
	s.fault(t, `{"list_encounters":{"base":"400ms"}}`)
	defer s.fault(t, `{"list_encounters":null}`) // when a wait below fails
	n := s.hook.wait(t, t0, 60*time.Second, "firing", want)
	t.Logf("firing delivered %.1fs after the fault: %s", n.At.Sub(t0).Seconds(), n.Annotations["description"])
	checkAnnotations(t, n, "Latency SLA breached: api/list_encounters p95", "above its objective of 150ms", "#loaddlatencyslabreached")

	t1 := time.Now()
	s.fault(t, `{"list_encounters":null}`)
	r := s.hook.wait(t, t1, 60*time.Second, "resolved", want)
	t.Logf("resolved delivered %.1fs after the fault was removed", r.At.Sub(t1).Seconds())
	for _, n := range s.hook.since(t0) {
		if !labelsMatch(n.Labels, want) {
			t.Errorf("slowing api/list_encounters delivered another alert too: %s", n)
		}
	}
}

func (s *alertStack) failingTasks(t *testing.T) {
	want := map[string]string{"alertname": "LoaddErrorBudgetFastBurn", "scenario": "api", "task": "*", "long_window": "1h", "short_window": "5m", "severity": "page"}
	t0 := time.Now()
	s.fault(t, `{"list_encounters":{"error_ratio":0.5},"view_encounter":{"error_ratio":0.5}}`)
	defer s.fault(t, `{"list_encounters":null,"view_encounter":null}`)
	n := s.hook.wait(t, t0, 60*time.Second, "firing", want)
	t.Logf("fast burn delivered %.1fs after the fault: %s", n.At.Sub(t0).Seconds(), n.Annotations["description"])
	checkAnnotations(t, n, "Error budget burning 14.4x too fast: api/*", "objective of 0.5%", "#loadderrorbudgetfastburn")
	for _, n := range s.hook.since(t0) {
		if n.Labels["scenario"] != "api" || !strings.HasPrefix(n.Labels["alertname"], "LoaddErrorBudget") {
			t.Errorf("failing api delivered an unrelated alert: %s", n)
		}
	}
}

func (s *alertStack) killed(t *testing.T) {
	t0 := time.Now()
	s.loadd.Kill()
	n := s.hook.wait(t, t0, 60*time.Second, "firing",
		map[string]string{"alertname": "LoaddDown", "instance": s.loadd.Addr, "job": "loadd", "severity": "ticket"})
	t.Logf("LoaddDown delivered %.1fs after the kill", n.At.Sub(t0).Seconds())
	checkAnnotations(t, n, "loadd "+s.loadd.Addr+" is down", "failed to scrape loadd at "+s.loadd.Addr, "#loadddown")
}

// checkAnnotations checks the rendered summary and description contain
// the given texts, and the runbook link ends with anchor.
func checkAnnotations(t *testing.T, n notification, summary, description, anchor string) {
	t.Helper()
	if got := n.Annotations["summary"]; !strings.Contains(got, summary) {
		t.Errorf("summary %q lacks %q", got, summary)
	}
	if got := n.Annotations["description"]; !strings.Contains(got, description) {
		t.Errorf("description %q lacks %q", got, description)
	}
	if got := n.Annotations["runbook_url"]; !strings.HasSuffix(got, "alerts/RUNBOOK.md"+anchor) {
		t.Errorf("runbook_url %q does not end with alerts/RUNBOOK.md%s", got, anchor)
	}
}
