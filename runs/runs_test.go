package runs

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/report"
	"github.com/loadd/loadd/schedule"
	"github.com/loadd/loadd/sla"
)

func newRunner(t *testing.T, reports bool) (*Runner, *prometheus.Registry, *[]Progress) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := exporter.New(reg, exporter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		progress []Progress
	)
	opts := Options{Metrics: m, Progress: func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		progress = append(progress, p)
	}}
	if reports {
		opts.Reports = &report.Writer{Dir: t.TempDir(), Keep: 5}
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r, reg, &progress
}

func slaList(p95 time.Duration, errRatio float64) sla.List {
	d := config.Duration(p95)
	r := config.Ratio(errRatio)
	return sla.List{{Name: "api/*", Scenario: "api", Task: "*", Latency: map[string]config.Duration{"p95": d}, ErrorRatio: &r}}
}

func metricValue(t *testing.T, reg *prometheus.Registry, name, labels string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var parts []string
			for _, l := range m.GetLabel() {
				parts = append(parts, l.GetName()+"="+l.GetValue())
			}
			if strings.Join(parts, ",") == labels {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no series %s{%s}", name, labels)
	return 0
}

func TestRunVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    *fakeSpec
		outcome string
		detail  string
	}{
		{"passes", &fakeSpec{Rate: 50, Latency: 20 * time.Millisecond}, exporter.RunPassed, ""},
		{"latency breached", &fakeSpec{Rate: 50, Latency: 150 * time.Millisecond}, exporter.RunFailed, "api/* latency p95 = 150ms > 100ms (500 requests)"},
		{"errors breached", &fakeSpec{Rate: 50, Latency: 20 * time.Millisecond, FailEvery: 10}, exporter.RunFailed, "api/* error_ratio = 10% > 1% (500 requests)"},
		{"dropped is invalid", &fakeSpec{Rate: 50, Latency: 100 * time.Millisecond, MaxInFlight: 2}, exporter.RunInvalid, "arrivals dropped"},
		{"scenario error is invalid", &fakeSpec{Rate: 50, Latency: 20 * time.Millisecond, RunErr: errors.New("boom")}, exporter.RunInvalid, "api: stopped with an error: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r, reg, progress := newRunner(t, true)
				res, err := r.Run(context.Background(), Plan{
					Name: "once", Scenarios: map[string]generators.Spec{"api": tc.spec},
					Deps: generators.Deps{Grace: time.Second}, Duration: 10 * time.Second, SLAs: slaList(100*time.Millisecond, 0.01),
				})
				if err != nil {
					t.Fatal(err)
				}
				if res.Outcome != tc.outcome {
					t.Fatalf("outcome %s, want %s; checks %+v invalid %v", res.Outcome, tc.outcome, res.Verdict.Checks, res.Verdict.Invalid)
				}
				all := strings.Join(res.Verdict.Invalid, "; ")
				for _, c := range res.Verdict.Failed() {
					all += "; " + c.Message
				}
				if !strings.Contains(all, tc.detail) {
					t.Errorf("verdict %q lacks %q", all, tc.detail)
				}
				if (res.ExitCode() == 0) != (tc.outcome == exporter.RunPassed) {
					t.Errorf("exit code %d for %s", res.ExitCode(), res.Outcome)
				}
				d := res.Deliveries[0]
				// A scenario that stops with an error is sampled when it
				// returns, which may fall a tick before the run's end.
				tolerance := 0.5
				if tc.spec.RunErr != nil {
					tolerance = 5
				}
				if math.Abs(d.Expected-500) > tolerance || d.Completed+d.Dropped != 500 {
					t.Errorf("delivery %+v, want 500 arrivals", d)
				}
				if got := metricValue(t, reg, "loadd_runs_total", "result="+tc.outcome+",schedule=once"); got != 1 {
					t.Errorf("runs_total{%s} = %g", tc.outcome, got)
				}
				if got := metricValue(t, reg, "loadd_run_active", "schedule=once"); got != 0 {
					t.Errorf("run_active = %g after the run", got)
				}
				wantOK := 0.0
				if tc.outcome == exporter.RunPassed {
					wantOK = 1
				}
				if got := metricValue(t, reg, "loadd_run_last_success", "schedule=once"); got != wantOK {
					t.Errorf("last_success = %g", got)
				}
				if got := metricValue(t, reg, "loadd_run_last_start_timestamp_seconds", "schedule=once"); got != float64(res.Start.UnixNano())/1e9 {
					t.Errorf("last_start = %g, want %v", got, res.Start)
				}
				for _, f := range []string{res.Reports.Summary, res.Reports.HTML, res.Reports.JUnit, res.Reports.Stats} {
					if _, err := os.Stat(f); err != nil {
						t.Errorf("report file: %v", err)
					}
				}
				if len(*progress) < 9 || (*progress)[4].Elapsed != 5*time.Second || (*progress)[4].TargetRate != 50 {
					t.Errorf("progress: %d reports, 5th %+v", len(*progress), (*progress)[min(4, len(*progress)-1)])
				}
				if len(r.Active()) != 0 {
					t.Errorf("active runs after the end: %v", r.Active())
				}
			})
		})
	}
}

// TestRunStages checks that a schedule's stages shape the run: 10/s
// ramping to 3x over 4 s, then holding 2 s, asks for 140 arrivals.
func TestRunStages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _, _ := newRunner(t, false)
		spec := &fakeSpec{Rate: 10, Latency: 5 * time.Millisecond}
		three := schedule.StageTarget{Factor: 3}
		shape := &schedule.ShapeConfig{Stages: []schedule.StageConfig{
			{Ramp: config.Duration(4 * time.Second), To: &three},
			{Hold: config.Duration(2 * time.Second)},
		}}
		res, err := r.Run(context.Background(), Plan{Name: "soak", Scenarios: map[string]generators.Spec{"api": spec}, Shape: shape})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.End.Sub(res.Start); got < 5900*time.Millisecond || got > 6100*time.Millisecond {
			t.Errorf("run lasted %v, want the stages' 6s", got)
		}
		d := res.Deliveries[0]
		if math.Abs(d.Expected-140) > 0.5 || d.Completed < 139 || d.Completed > 141 {
			t.Errorf("delivery %+v, want 140 arrivals", d)
		}
		if b := spec.built[0]; b.Shape == nil || b.Duration != 6*time.Second || b.Scale != 1 || b.Name != "api" {
			t.Errorf("deps %+v", b)
		}
		// No SLA: a delivered run passes.
		if res.Outcome != exporter.RunPassed {
			t.Errorf("outcome %s: %v", res.Outcome, res.Verdict.Invalid)
		}
	})
}

// TestRunEndedEarly: a scenario whose shape ends long before the run (here
// relative stages the generator resolved against no base rate) makes the
// run invalid rather than passed on a handful of requests.
func TestRunEndedEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _, _ := newRunner(t, false)
		two := schedule.StageTarget{Factor: 2}
		shape := &schedule.ShapeConfig{Stages: []schedule.StageConfig{{Ramp: config.Duration(2 * time.Second), To: &two}, {Hold: config.Duration(2 * time.Second)}}}
		res, err := r.Run(context.Background(), Plan{Name: "soak", Scenarios: map[string]generators.Spec{"api": &fakeSpec{Rate: 10, NoBase: true}}, Shape: shape})
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != exporter.RunInvalid || len(res.Verdict.Invalid) != 1 || !strings.Contains(res.Verdict.Invalid[0], "api: stopped 4s before the end of the run") {
			t.Fatalf("outcome %s: %v", res.Outcome, res.Verdict.Invalid)
		}
	})
}

// TestRunStagesTargetCurve: the same stages give a target curve of 12.5,
// 17.5, 22.5, 27.5, 30 per second averaged over each second.
func TestRunStagesTargetCurve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _, progress := newRunner(t, false)
		three := schedule.StageTarget{Factor: 3}
		shape := &schedule.ShapeConfig{Stages: []schedule.StageConfig{
			{Ramp: config.Duration(4 * time.Second), To: &three},
			{Hold: config.Duration(2 * time.Second)},
		}}
		if _, err := r.Run(context.Background(), Plan{Name: "soak", Scenarios: map[string]generators.Spec{"api": &fakeSpec{Rate: 10, Latency: time.Millisecond}}, Shape: shape}); err != nil {
			t.Fatal(err)
		}
		var got []float64
		for _, p := range *progress {
			got = append(got, math.Round(p.TargetRate*100)/100)
		}
		want := []float64{12.5, 17.5, 22.5, 27.5, 30} // per-second averages
		if len(got) < len(want) {
			t.Fatalf("target curve %v", got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("target curve %v, want %v…", got, want)
			}
		}
	})
}

func TestRunInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, reg, _ := newRunner(t, true)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(3*time.Second, cancel)
		res, err := r.Run(ctx, Plan{
			Name: "nightly", Scenarios: map[string]generators.Spec{"api": &fakeSpec{Rate: 20, Latency: 10 * time.Millisecond}},
			Deps: generators.Deps{Grace: time.Second}, Duration: time.Minute, SLAs: slaList(time.Second, 0.01),
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != exporter.RunInterrupted || res.End.Sub(res.Start) > 4*time.Second {
			t.Fatalf("outcome %s after %v", res.Outcome, res.End.Sub(res.Start))
		}
		b, err := os.ReadFile(res.Reports.HTML)
		if err != nil || !strings.Contains(string(b), `id="interrupted"`) {
			t.Errorf("HTML report not marked interrupted (%v)", err)
		}
		if got := metricValue(t, reg, "loadd_runs_total", "result=interrupted,schedule=nightly"); got != 1 {
			t.Errorf("runs_total{interrupted} = %g", got)
		}
		if d := res.Deliveries[0]; math.Abs(d.Expected-60) > 0.5 || d.Completed < 59 {
			t.Errorf("delivery of the partial run %+v, want ~60", d)
		}
	})
}

func TestRunRefused(t *testing.T) {
	r, reg, _ := newRunner(t, false)
	spec := &fakeSpec{Rate: 1}
	for _, tc := range []struct {
		name string
		plan Plan
		want string
	}{
		{"no scenarios", Plan{Name: "x", Duration: time.Second}, "no scenarios"},
		{"no length", Plan{Name: "x", Scenarios: map[string]generators.Spec{"api": spec}}, "needs a duration"},
		{"nil spec", Plan{Name: "x", Scenarios: map[string]generators.Spec{"api": nil}, Duration: time.Second}, "has no spec"},
		{"build error", Plan{Name: "x", Scenarios: map[string]generators.Spec{"api": &fakeSpec{BuildErr: errors.New("no audio")}}, Duration: time.Second},
			"build scenario api: no audio"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := r.Run(context.Background(), tc.plan)
			if err == nil || res != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want error containing %q", res, err, tc.want)
			}
		})
	}
	if got := metricValue(t, reg, "loadd_runs_total", "result=failed,schedule=x"); got != 4 {
		t.Errorf("refused runs counted %g times as failed, want 4", got)
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without metrics accepted")
	}
	_ = testutil.ToFloat64 // keep the import for GatherAndCompare users
}

// TestRunFigures: WebSocket figures recorded through the exporter's
// handles reach the run's SLA checks.
func TestRunFigures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _, _ := newRunner(t, false)
		rtt := config.Duration(50 * time.Millisecond)
		cfr := config.Ratio(0.05)
		res, err := r.Run(context.Background(), Plan{
			Name: "ws", Scenarios: map[string]generators.Spec{"notifications": &fakeWS{Connects: 100, FailEvery: 10, RTT: 20 * time.Millisecond}},
			Duration: 5 * time.Second,
			SLAs:     sla.List{{Name: "notifications", Scenario: "notifications", RTT: map[string]config.Duration{"p95": rtt}, ConnectFailureRatio: &cfr}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, c := range res.Verdict.Checks {
			msgs = append(msgs, c.Message)
		}
		want := "notifications rtt p95 = 20ms <= 50ms (5 messages)|notifications connect_failure_ratio = 10% > 5% (100 connection attempts)"
		if got := strings.Join(msgs, "|"); got != want || res.Outcome != exporter.RunFailed {
			t.Fatalf("outcome %s, checks:\n%s\nwant\n%s", res.Outcome, got, want)
		}
	})
}
