package httpload

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/schedule"
)

// The seed's wish: encounter IDs captured from GET /encounters feed
// GET /encounters/{id}; feeder values and JSON bodies are templated.
func TestOpenModelTemplatesFeedersCaptures(t *testing.T) {
	ph := newPhoenix(t)
	sc, reg := build(t, `
kind: http
target: phoenix
rate: 200/s
feeders:
  mrn: {range: {from: 1000, to: 9999}}
tasks:
  - {name: list_encounters, weight: 10, get: /encounters, query: {page: 1, page_size: 20, status: active},
     capture: {encounter_ids: "$.items[*].id"}}
  - {name: view_encounter, weight: 5, get: "/encounters/{{ pick .encounter_ids }}"}
  - {name: create_encounter, weight: 3, post: /encounters,
     json: {patient_mrn: "MRN-{{ .mrn }}", encounter_type: office_visit},
     check: {status: [201], json: {"$.id": exists}}}
`, mustTarget(t, ph.URL, passwordAuth()), generators.Deps{Duration: time.Second, Grace: 5 * time.Second})
	runFor(t, sc, 5*time.Second)

	st := sc.Status()
	if len(st.Failures) != 0 {
		t.Errorf("failures %v, want none", st.Failures)
	}
	// 200 arrivals plus the one request that primed the pool.
	if st.Completed < 195 || st.Completed > 201 {
		t.Errorf("completed %d requests, want 200 (+1 priming)", st.Completed)
	}
	if got := metricValue(t, reg, "loadd_requests_total", nil); got != float64(st.Completed) {
		t.Errorf("requests_total %g, status completed %d", got, st.Completed)
	}
	ph.mu.Lock()
	defer ph.mu.Unlock()
	var views, lists int
	for _, r := range ph.seen {
		switch {
		case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/encounters/"):
			views++
			if id := strings.TrimPrefix(r.URL.Path, "/encounters/"); id != "e-1" && id != "e-2" && id != "e-3" {
				t.Errorf("view of %q: not a captured ID", id)
			}
		case r.Method == "GET":
			lists++
			if r.URL.RawQuery != "page=1&page_size=20&status=active" {
				t.Errorf("list query %q", r.URL.RawQuery)
			}
		}
	}
	if views == 0 || lists == 0 || len(ph.mrns) == 0 {
		t.Fatalf("views %d, lists %d, creates %d: every task should have run", views, lists, len(ph.mrns))
	}
	// The open model spreads requests over a pool of 4 sessions, each
	// with its own token and cookies.
	if n := ph.logins.Load(); n != DefaultSessions {
		t.Errorf("%d logins, want one per session (%d)", n, DefaultSessions)
	}
	for _, r := range ph.seen {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer tok-")
		if c, err := r.Cookie("sid"); err != nil || c.Value != "s"+tok {
			t.Fatalf("request with token %s carries cookie %v: cookies crossed between sessions", tok, c)
		}
	}
	mrn := regexp.MustCompile(`^MRN-\d{4}$`)
	for _, m := range ph.mrns {
		if !mrn.MatchString(m) {
			t.Errorf("patient_mrn %q does not match MRN-dddd", m)
		}
	}
}

// execOnce runs one named task as a fresh identity, outside any runner,
// and returns the outcome recorded for it.
func execOnce(t *testing.T, sc *scenario, id *identity, name string) exporter.Outcome {
	t.Helper()
	tap := &outcomeTap{}
	h := sc.metrics.Task(name)
	h.SetTap(tap)
	defer h.SetTap(nil)
	for _, tk := range sc.spec.tasks {
		if tk.name == name {
			sc.exec(context.Background(), tk, id, time.Now())
			if len(tap.got) != 1 {
				t.Fatalf("task %s recorded %d outcomes, want 1", name, len(tap.got))
			}
			return tap.got[0]
		}
	}
	t.Fatalf("no task %s", name)
	return exporter.Outcome{}
}

type outcomeTap struct {
	mu  sync.Mutex
	got []exporter.Outcome
}

func (o *outcomeTap) Record(_, _ string, out exporter.Outcome) {
	o.mu.Lock()
	o.got = append(o.got, out)
	o.mu.Unlock()
}

func TestChecks(t *testing.T) {
	ph := newPhoenix(t)
	sc, _ := build(t, `
kind: http
target: phoenix
rate: 1/s
tasks:
  - {name: ok, get: /encounters, check: {status: [200], json: {"$.items[0].id": {equals: e-1}, "$.total": {equals: 3}, "$.missing": absent}, body_contains: items}}
  - {name: default_2xx, get: /encounters/e-1}
  - {name: wrong_status, get: /encounters/e-1, check: {status: [201, 3xx]}}
  - {name: not_found, get: /encounters/nope}
  - {name: wrong_value, get: /encounters/e-1, check: {json: {"$.status": {equals: closed}}}}
  - {name: missing_path, get: /encounters/e-1, check: {json: {"$.patient": exists}}}
  - {name: present_path, get: /encounters/e-1, check: {json: {"$.id": absent}}}
  - {name: no_text, get: /encounters/e-1, check: {body_contains: soap}}
  - {name: too_slow, get: "/slow?d=20ms", check: {max_latency: 1ms}}
  - {name: not_json, get: "/slow?d=0s", check: {json: {"$.x": exists}}}
`, mustTarget(t, ph.URL, nil), generators.Deps{})
	id := sc.newIdentity(sc.spec.target)
	for _, tc := range []struct {
		task string
		code int
		want exporter.Reason
	}{
		{"ok", 200, exporter.ReasonNone},
		{"default_2xx", 200, exporter.ReasonNone},
		{"wrong_status", 200, exporter.ReasonStatus},
		{"not_found", 404, exporter.ReasonStatus},
		{"wrong_value", 200, exporter.ReasonAssertion},
		{"missing_path", 200, exporter.ReasonAssertion},
		{"present_path", 200, exporter.ReasonAssertion},
		{"no_text", 200, exporter.ReasonAssertion},
		{"too_slow", 200, exporter.ReasonAssertion},
		{"not_json", 200, exporter.ReasonAssertion},
	} {
		o := execOnce(t, sc, id, tc.task)
		if o.Reason != tc.want || o.Code != tc.code {
			t.Errorf("%s: reason %q code %d, want %q %d", tc.task, o.Reason, o.Code, tc.want, tc.code)
		}
	}
}

// A pick from a pool nothing has filled yet fails the request with reason
// assertion, without sending it.
func TestEmptyPool(t *testing.T) {
	ph := newPhoenix(t)
	sc, _ := build(t, `
kind: http
target: phoenix
rate: 1/s
tasks:
  - {name: list, weight: 0, get: /encounters, capture: {ids: "$.items[*].id"}}
  - {name: view, get: "/encounters/{{ pick .ids }}"}
`, mustTarget(t, ph.URL, nil), generators.Deps{})
	id := sc.newIdentity(sc.spec.target)
	if o := execOnce(t, sc, id, "view"); o.Reason != exporter.ReasonAssertion || o.Code != 0 {
		t.Errorf("view with an empty pool: %+v, want reason assertion and no response", o)
	}
	if n := ph.requests.Load(); n != 0 {
		t.Errorf("%d requests sent, want 0", n)
	}
	execOnce(t, sc, id, "list")
	if o := execOnce(t, sc, id, "view"); o.Reason != exporter.ReasonNone {
		t.Errorf("view after a capture: %+v", o)
	}
}

// A 401 invalidates the token, logs in afresh and retries once.
func TestUnauthorizedRelogin(t *testing.T) {
	ph := newPhoenix(t)
	sc, _ := build(t, `
kind: http
target: phoenix
rate: 1/s
tasks: [{name: list, get: /encounters}]
`, mustTarget(t, ph.URL, passwordAuth()), generators.Deps{})
	id := sc.newIdentity(sc.spec.target)
	if o := execOnce(t, sc, id, "list"); o.Reason != exporter.ReasonNone || ph.logins.Load() != 1 {
		t.Fatalf("first request: %+v after %d logins", o, ph.logins.Load())
	}
	ph.refuseBefore.Store(ph.logins.Load()) // the server forgets every token so far
	before := ph.requests.Load()
	if o := execOnce(t, sc, id, "list"); o.Reason != exporter.ReasonNone || o.Code != 200 {
		t.Fatalf("after the server dropped the token: %+v, want a success after re-login", o)
	}
	if ph.logins.Load() != 2 {
		t.Errorf("%d logins, want 2", ph.logins.Load())
	}
	// 401, login, retry.
	if n := ph.requests.Load() - before; n != 3 {
		t.Errorf("%d requests to the server, want 3 (401, login, retry)", n)
	}
	// A server refusing every token: one fresh login, then reason auth.
	ph.refuseBefore.Store(1 << 40)
	if o := execOnce(t, sc, id, "list"); o.Reason != exporter.ReasonAuth || o.Code != 401 {
		t.Errorf("token always refused: %+v, want reason auth with code 401", o)
	}
	if ph.logins.Load() != 3 {
		t.Errorf("%d logins, want 3", ph.logins.Load())
	}
}

var traceparentRE = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-01$`)

// Every request carries a fresh, well-formed traceparent whose trace ID is
// the one recorded with the outcome (the exemplar).
func TestTraceparent(t *testing.T) {
	ph := newPhoenix(t)
	sc, _ := build(t, `
kind: http
target: phoenix
rate: 1/s
tasks: [{name: list, get: /encounters}]
`, mustTarget(t, ph.URL, nil), generators.Deps{})
	id := sc.newIdentity(sc.spec.target)
	seen := map[string]bool{}
	for i := range 50 {
		o := execOnce(t, sc, id, "list")
		ph.mu.Lock()
		h := ph.seen[i].Header.Get("traceparent")
		ph.mu.Unlock()
		m := traceparentRE.FindStringSubmatch(h)
		if m == nil {
			t.Fatalf("traceparent %q is not W3C format", h)
		}
		if m[1] != string(o.TraceID[:]) {
			t.Fatalf("trace ID sent %s, recorded %s", m[1], o.TraceID[:])
		}
		if seen[m[1]] || seen[m[2]] {
			t.Fatalf("trace or span ID repeated: %s", h)
		}
		seen[m[1]], seen[m[2]] = true, true
	}
}

// Arrivals over max_in_flight are dropped, counted on the scenario and on
// the task they would have run, and in requests_total.
func TestDroppedCounting(t *testing.T) {
	ph := newPhoenix(t)
	sc, reg := build(t, `
kind: http
target: phoenix
rate: 100/s
max_in_flight: 2
tasks: [{name: slow, get: "/slow?d=800ms"}]
`, mustTarget(t, ph.URL, nil), generators.Deps{Duration: 500 * time.Millisecond, Grace: 5 * time.Second})
	runFor(t, sc, 5*time.Second)
	st := sc.Status()
	if st.Completed != 2 || st.Dropped != 48 {
		t.Errorf("completed %d, dropped %d; want 2 and 48", st.Completed, st.Dropped)
	}
	if st.Failures["dropped"] != 48 {
		t.Errorf("failures %v, want dropped 48", st.Failures)
	}
	for name, want := range map[string]float64{
		"loadd_requests_total":           50,
		"loadd_iterations_dropped_total": 48,
		"loadd_request_failures_total":   48,
	} {
		if got := metricValue(t, reg, name, map[string]string{"scenario": "api"}); got != want {
			t.Errorf("%s = %g, want %g", name, got, want)
		}
	}
	if got := metricValue(t, reg, "loadd_request_failures_total", map[string]string{"task": "slow", "reason": "dropped"}); got != 48 {
		t.Errorf("dropped failures of task slow = %g, want 48", got)
	}
}

// Closed-model users each log in once and keep their own cookies: the
// cookie a request carries belongs to the token it carries.
func TestClosedModelPerUserSessions(t *testing.T) {
	ph := newPhoenix(t)
	sc, reg := build(t, `
kind: http
target: phoenix
users: 6
spawn_rate: 100/s
think_time: constant(20ms)
user_classes:
  - {name: normal, weight: 2}
  - {name: admin, weight: 1, auth: {username: admin, password: secret}, tasks: [{name: admin_list, get: /encounters}]}
tasks:
  - {name: list, get: /encounters}
`, mustTarget(t, ph.URL, passwordAuth()), generators.Deps{Duration: 800 * time.Millisecond, Grace: 2 * time.Second})
	done := make(chan error, 1)
	go func() { done <- sc.Run(context.Background()) }()
	waitFor(t, "6 running users", 3*time.Second, func() bool { return sc.Status().Users == 6 })
	if got := metricValue(t, reg, "loadd_virtual_users", map[string]string{"class": "admin"}); got != 2 {
		t.Errorf("admin users while running: %g, want 2 (weights 2:1 of 6)", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := sc.Status()
	if len(st.Failures) != 0 || st.Completed < 30 {
		t.Fatalf("status %+v: want ≥ 30 requests and no failures", st)
	}
	if st.UsersTarget != 6 {
		t.Errorf("users target %d, want 6", st.UsersTarget)
	}
	// Six users log in once each (a login sets sid=s<N>, the token is tok-<N>).
	if n := ph.logins.Load(); n != 6 {
		t.Errorf("%d logins, want 6 (one per user)", n)
	}
	ph.mu.Lock()
	defer ph.mu.Unlock()
	for _, r := range ph.seen {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer tok-")
		c, err := r.Cookie("sid")
		if err != nil || c.Value != "s"+tok {
			t.Fatalf("request with token %s carries cookie %v (%v): cookies crossed between users", tok, c, err)
		}
	}
	if got := metricValue(t, reg, "loadd_requests_total", map[string]string{"task": "admin_list"}); got == 0 {
		t.Error("the admin class ran no admin task")
	}
	slices.Sort(ph.users)
	if want := []string{"admin:secret", "admin:secret", "physician:pw", "physician:pw", "physician:pw", "physician:pw"}; !slices.Equal(ph.users, want) {
		t.Errorf("logins %v, want %v (the admin class logs in with its own credentials)", ph.users, want)
	}
	if got := metricValue(t, reg, "loadd_virtual_users", map[string]string{"class": "admin"}); got != 0 {
		t.Errorf("admin users after the run: %g, want 0", got)
	}
}

// Scale and the shard's share apply to rates, bounds and user counts.
func TestBuildScaleAndShard(t *testing.T) {
	tg := mustTarget(t, "http://127.0.0.1:9", nil)
	open, _ := build(t, "kind: http\ntarget: phoenix\nrate: 200/s\nmax_in_flight: 100\n"+okTasks, tg,
		generators.Deps{Scale: 3, Shard: schedule.Shard{Index: 1, Count: 2}})
	if r := open.pacer.Rate(0); r != 300 {
		t.Errorf("open rate %g, want 200 × 3 / 2 = 300", r)
	}
	if open.maxInFlight != 150 {
		t.Errorf("max_in_flight %d, want 100 × 3 / 2 = 150", open.maxInFlight)
	}
	if st := open.Status(); st.Model != "open" || st.TargetRate != 300 || st.Kind != "http" {
		t.Errorf("status before run %+v", st)
	}
	stages, _ := build(t, "kind: http\ntarget: phoenix\nrate: 200/s\n"+okTasks, tg,
		generators.Deps{Shape: &schedule.ShapeConfig{Rate: 10, Stages: []schedule.StageConfig{{Hold: config.Duration(time.Minute)}}}})
	if r := stages.pacer.Rate(0); r != 10 {
		t.Errorf("a run's shape should replace the scenario's: rate %g, want 10", r)
	}
	closed, _ := build(t, "kind: http\ntarget: phoenix\nusers: 7\nthink_time: 1s\n"+okTasks, tg,
		generators.Deps{Shard: schedule.Shard{Index: 0, Count: 2}})
	if closed.usersTarget != 3 {
		t.Errorf("users of shard 0/2 of 7: %d, want 3", closed.usersTarget)
	}
	if st := closed.Status(); st.MaxInFlight != 0 {
		t.Errorf("a closed model's status shows max_in_flight %d; it has none", st.MaxInFlight)
	}
}

// Without max_in_flight, the bound is a quarter second of the replica's
// peak rate (after the run's shape, scale and shard), within 1,000 and
// 10,000; a configured bound is kept (and scaled).
func TestBuildDefaultMaxInFlight(t *testing.T) {
	tg := mustTarget(t, "http://127.0.0.1:9", nil)
	twoShards := schedule.Shard{Index: 0, Count: 2}
	for _, c := range []struct {
		name  string
		shape string
		deps  generators.Deps
		want  int
	}{
		{"low rate: the floor", "rate: 200/s", generators.Deps{}, 1000},
		{"20k/s", "rate: 20000/s", generators.Deps{}, 5000},
		{"just over the floor", "rate: 4001/s", generators.Deps{}, 1001},
		{"the cap", "rate: 100000/s", generators.Deps{}, 10000},
		{"stages: their peak", "stages: [{ramp: 1m, to: 12000/s}, {hold: 1m}, {ramp: 1m, to: 0}]", generators.Deps{}, 3000},
		{"sine: mean plus amplitude", "rate: 8000/s\nsine: {amplitude: 4000/s, period: 1m}", generators.Deps{}, 3000},
		{"scaled, split over two shards", "rate: 20000/s", generators.Deps{Scale: 3, Shard: twoShards}, 7500},
		{"a run's shape replaces the scenario's", "rate: 200/s", generators.Deps{Shape: &schedule.ShapeConfig{Rate: 16000}}, 4000},
		{"configured", "rate: 20000/s\nmax_in_flight: 300", generators.Deps{}, 300},
		{"configured, scaled and split", "rate: 20000/s\nmax_in_flight: 300", generators.Deps{Scale: 3, Shard: twoShards}, 450},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc, _ := build(t, "kind: http\ntarget: phoenix\n"+c.shape+"\n"+okTasks, tg, c.deps)
			if sc.maxInFlight != c.want {
				t.Errorf("max_in_flight %d, want %d", sc.maxInFlight, c.want)
			}
			if st := sc.Status(); st.MaxInFlight != c.want {
				t.Errorf("status shows max_in_flight %d, want %d", st.MaxInFlight, c.want)
			}
		})
	}
}

// A session renews its token before expires_in runs out (on an injected
// clock), so the server never has to refuse it.
func TestTokenRenewal(t *testing.T) {
	ph := newPhoenix(t)
	sc, reg := build(t, "kind: http\ntarget: phoenix\nrate: 1/s\n"+okTasks, mustTarget(t, ph.URL, passwordAuth()), generators.Deps{})
	id := sc.newIdentity(sc.spec.target)
	now := time.Unix(1_700_000_000, 0)
	id.session.SetClock(func() time.Time { return now })
	for _, step := range []struct {
		advance time.Duration
		logins  int64
	}{
		{0, 1},                  // on_start
		{3000 * time.Second, 1}, // token issued for 3600s: still good
		{569 * time.Second, 1},  // 3569s: 31s left
		{2 * time.Second, 2},    // 3571s: inside the 30s renewal margin
		{10 * time.Second, 2},
	} {
		now = now.Add(step.advance)
		if o := execOnce(t, sc, id, "list"); o.Reason != exporter.ReasonNone {
			t.Fatalf("outcome %+v", o)
		}
		if n := ph.logins.Load(); n != step.logins {
			t.Fatalf("after %s: %d logins, want %d", step.advance, n, step.logins)
		}
	}
	if got := metricValue(t, reg, "loadd_responses_total", map[string]string{"code": "401"}); got != 0 {
		t.Errorf("%g responses with 401: the token should have been renewed in time", got)
	}
}
