package demo

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFaultDelay(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		f    Fault
		u    float64
		want time.Duration
	}{
		{"zero fault", Fault{}, 0.7, 0},
		{"fixed", Fault{Base: 20 * ms}, 0.7, 20 * ms},
		{"uniform low", Fault{Base: 20 * ms, Jitter: 10 * ms}, 0, 20 * ms},
		{"uniform mid", Fault{Base: 20 * ms, Jitter: 10 * ms, Dist: DistUniform}, 0.5, 25 * ms},
		{"exponential median", Fault{Base: 20 * ms, Jitter: 10 * ms, Dist: DistExponential}, 0.5, 20*ms + time.Duration(math.Ln2*float64(10*ms))},
		{"exponential capped", Fault{Jitter: 10 * ms, Dist: DistExponential}, 1 - 1e-12, 200 * ms},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Delay(tc.u); got != tc.want {
				t.Errorf("Delay(%v) = %v, want %v", tc.u, got, tc.want)
			}
		})
	}
}

// The exponential tail has mean Jitter: average Delay over an even grid of u.
func TestFaultExponentialMean(t *testing.T) {
	f := Fault{Base: 5 * time.Millisecond, Jitter: 10 * time.Millisecond, Dist: DistExponential}
	const n = 100000
	var sum float64
	for i := range n {
		sum += float64(f.Delay((float64(i) + 0.5) / n))
	}
	mean := time.Duration(sum / n)
	if want := 15 * time.Millisecond; math.Abs(float64(mean-want)) > 0.01*float64(want) {
		t.Errorf("mean delay %v, want %v ±1%%", mean, want)
	}
}

func (f *fixture) setFaults(body string) {
	f.t.Helper()
	resp, err := http.Post(f.srv.URL+"/-/faults", "application/json", strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		f.t.Fatalf("POST /-/faults %s: status %d", body, resp.StatusCode)
	}
}

// timed returns how long a request took and its status.
func (f *fixture) timed(path, tok string) (time.Duration, int) {
	start := time.Now()
	code, _ := f.do("GET", path, tok, nil)
	return time.Since(start), code
}

func TestFaultLatency(t *testing.T) {
	f := newFixture(t, Options{})
	tok := f.login("physician", "physician-password")
	const base = 60 * time.Millisecond
	f.setFaults(`{"dashboard_metrics": {"base": "60ms", "jitter": "20ms"}}`)
	for range 5 {
		d, code := f.timed("/dashboard/metrics", tok)
		if code != 200 || d < base {
			t.Errorf("dashboard_metrics took %v (status %d), want ≥ %v", d, code, base)
		}
		// A generous upper bound: base + jitter + scheduling slack on a shared box.
		if d > base+20*time.Millisecond+time.Second {
			t.Errorf("dashboard_metrics took %v, far above base+jitter", d)
		}
	}
	if d, _ := f.timed("/patients/search?q=a", tok); d >= base {
		t.Errorf("search_patients took %v though only dashboard_metrics is slowed", d)
	}
	// "*" reaches every route without its own fault; null clears a route's own.
	f.setFaults(`{"*": {"base": "40ms"}, "dashboard_metrics": null}`)
	for _, p := range []string{"/patients/search?q=a", "/dashboard/metrics"} {
		if d, _ := f.timed(p, tok); d < 40*time.Millisecond {
			t.Errorf("%s took %v, want ≥ 40ms from the * fault", p, d)
		}
	}
	if got := f.target.Fault("dashboard_metrics"); got.Base != 40*time.Millisecond {
		t.Errorf("Fault(dashboard_metrics) = %+v, want the * fault", got)
	}
}

// Over n requests with error ratio p the number failed is binomial(n, p):
// standard deviation sqrt(n p (1-p)) ≈ 27.4 for n=4000, p=0.25. Allowing
// 5 standard deviations (±137, i.e. ±3.4 points of ratio) makes a false
// failure a one-in-three-million event.
func TestFaultErrorRatio(t *testing.T) {
	tests := []struct {
		fault    string
		p        float64
		wantCode int
	}{
		{`{"search_patients": {"error_ratio": "25%", "error_code": 503}}`, 0.25, 503},
		{`{"search_patients": {"error_ratio": 0.05}}`, 0.05, 500},
		{`{"search_patients": {"error_ratio": 1}}`, 1, 500},
		{`{"search_patients": null}`, 0, 0},
	}
	f := newFixture(t, Options{})
	tok := f.login("physician", "physician-password")
	h := f.target.Handler()
	const n = 4000
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
			f.setFaults(tc.fault)
			failed := 0
			for range n {
				req := httptest.NewRequest("GET", "/patients/search?q=Li&limit=1", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				switch rec.Code {
				case 200:
				case tc.wantCode:
					failed++
				default:
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
			sd := math.Sqrt(n * tc.p * (1 - tc.p))
			if want := n * tc.p; math.Abs(float64(failed)-want) > 5*sd {
				t.Errorf("%d of %d failed, want %.0f ± %.0f", failed, n, want, 5*sd)
			}
		})
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFaultLatencyHonoursCancellation(t *testing.T) {
	f := newFixture(t, Options{Faults: map[string]Fault{AllRoutes: {Base: time.Minute}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		req := httptest.NewRequest("GET", "/encounters", nil).WithContext(ctx)
		f.target.Handler().ServeHTTP(httptest.NewRecorder(), req)
	}()
	waitFor(t, "the request to arrive", func() bool { return f.target.Stats()["list_encounters"] == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("handler still waiting 5s after its request was cancelled")
	}
	if n := f.target.stats["list_encounters"].cancelled.Load(); n != 1 {
		t.Errorf("cancelled count %d, want 1", n)
	}
}

func TestCloseEndsInjectedWaits(t *testing.T) {
	f := newFixture(t, Options{Faults: map[string]Fault{AllRoutes: {Base: time.Minute}}})
	got := make(chan int, 1)
	go func() {
		resp, err := f.srv.Client().Get(f.srv.URL + "/encounters")
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	waitFor(t, "the request to arrive", func() bool { return f.target.Stats()["list_encounters"] == 1 })
	f.target.Close()
	select {
	case code := <-got:
		if code != http.StatusServiceUnavailable {
			t.Errorf("status %d after Close, want 503", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("request still waiting 5s after Close")
	}
}

func TestPostFaultsRejects(t *testing.T) {
	f := newFixture(t, Options{})
	tests := []struct{ body, want string }{
		{`[1]`, "faults must be a JSON object"},
		{`{"nope": {}}`, `nope: unknown route (known: auth_token, list_encounters`},
		{`{"*": {"base": "soon"}}`, `*: invalid duration "soon"`},
		{`{"*": {"base": 5}}`, `*: json: cannot unmarshal number`},
		{`{"*": {"error_ratio": "150%"}}`, `*: ratio "150%" must be between 0% and 100%`},
		{`{"*": {"latency": "5ms"}}`, `*: json: unknown field "latency"`},
		{`{"*": {"dist": "pareto"}}`, `*: dist "pareto" must be uniform or exponential`},
		{`{"*": {"base": "2h"}}`, `*: base 2h0m0s must be between 0 and 1h0m0s`},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			resp, err := http.Post(f.srv.URL+"/-/faults", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct{ Error string }
			json.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != 400 || !strings.Contains(e.Error, tc.want) {
				t.Errorf("%d %q, want 400 containing %q", resp.StatusCode, e.Error, tc.want)
			}
		})
	}
	// Nothing was applied.
	if code, b := f.do("GET", "/-/faults", "", nil); code != 200 || string(b) != "{}\n" {
		t.Errorf("GET /-/faults = %d %s, want an empty table", code, b)
	}
	f.setFaults(`{"*": {"base": "1ms", "error_ratio": "1%"}}`)
	if _, b := f.do("GET", "/-/faults", "", nil); !strings.Contains(string(b), `"*":{"base":"1ms","jitter":"0s","error_ratio":0.01}`) {
		t.Errorf("GET /-/faults = %s", b)
	}
}
