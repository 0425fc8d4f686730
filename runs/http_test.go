package runs

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/generators/httpload"
)

// httpSpec decodes an http scenario against a target at url.
func httpSpec(t *testing.T, url, src string) generators.Spec {
	t.Helper()
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(src), &raw); err != nil {
		t.Fatal(err)
	}
	target := &generators.Target{BaseURL: url}
	p := &config.Problems{}
	target.Validate("targets.t", "", p)
	spec := httpload.Kind.Decode("scenarios.api", raw, &generators.Env{Targets: map[string]*generators.Target{"t": target}}, p)
	if p.Len() > 0 || spec == nil {
		t.Fatalf("scenario config: %v", p.Error())
	}
	return spec
}

// TestRunHTTP drives real runs through the http generator against a local
// server: one that meets an 800 ms p95 SLA and one whose 1 s latency breaks
// it (bounds far apart: the shared test machine can be very busy). The
// server's own request count must match the run's.
func TestRunHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time run")
	}
	for _, tc := range []struct {
		name    string
		delay   time.Duration
		outcome string
	}{
		{"passes", 2 * time.Millisecond, exporter.RunPassed},
		{"latency breach", time.Second, exporter.RunFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var served atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(tc.delay)
				served.Add(1)
				w.WriteHeader(http.StatusOK)
			}))
			defer srv.Close()
			spec := httpSpec(t, srv.URL, "{kind: http, target: t, rate: 40/s, max_in_flight: 100, tasks: [{name: ping, get: /ping}]}")
			r, _, _ := newRunner(t, true)
			res, err := r.Run(context.Background(), Plan{
				Name: "once", Scenarios: map[string]generators.Spec{"api": spec},
				Deps: generators.Deps{Grace: 5 * time.Second}, Duration: 2 * time.Second,
				SLAs: slaList(800*time.Millisecond, 0.01),
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tc.outcome {
				t.Fatalf("outcome %s, want %s: %+v %v", res.Outcome, tc.outcome, res.Verdict.Checks, res.Verdict.Invalid)
			}
			d := res.Deliveries[0]
			// An arrival due just before the end may be cut by a late timer.
			if d.Completed < 78 || d.Completed > 80 || d.Dropped != 0 || d.Expected < 79 || d.Expected > 81 {
				t.Errorf("delivery %+v, want 80 requests", d)
			}
			if n := served.Load(); n != int64(d.Completed) {
				t.Errorf("server saw %d requests, run recorded %d", n, d.Completed)
			}
			c := res.Verdict.Checks[0]
			if c.Samples != d.Completed || (tc.delay > 800*time.Millisecond) == c.Passed {
				t.Errorf("latency check %+v", c)
			}
			b, err := os.ReadFile(res.Reports.JUnit)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Failures int `xml:"failures,attr"`
			}
			if err := xml.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			wantFail := 0
			if tc.outcome == exporter.RunFailed {
				wantFail = 1
				if !strings.Contains(string(b), `failure message="api/* latency p95 = 1`) || !strings.Contains(string(b), "&gt; 800ms") {
					t.Errorf("junit.xml does not name the breach:\n%s", b)
				}
			}
			if doc.Failures != wantFail {
				t.Errorf("junit failures %d, want %d", doc.Failures, wantFail)
			}
		})
	}
}
