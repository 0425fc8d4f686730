package exporter

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/loadd/loadd/internal/tooltest"
)

func newTest(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func TestSeriesPreinitialised(t *testing.T) {
	m, reg := newTest(t)
	m.Scenario("api", "list", "view")
	// Every failure reason but dropped exists at 0 from the first scrape.
	n, err := testutil.GatherAndCount(reg, "loadd_request_failures_total")
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * (len(Reasons()) - 1); n != want {
		t.Errorf("failure series = %d, want %d", n, want)
	}
	if n, _ := testutil.GatherAndCount(reg, "loadd_requests_total"); n != 2 {
		t.Errorf("requests series = %d, want 2", n)
	}
}

// Recording an outcome allocates nothing once its series exist (the
// exemplar, built at most once per 10 ms, averages out below one).
func TestObserveAllocs(t *testing.T) {
	m, _ := newTest(t)
	task := m.Scenario("api", "list").Task("list")
	o := Outcome{Latency: 20 * time.Millisecond, Code: 200, TraceID: TraceID([]byte("4bf92f3577b34da6a3ce929d0e0e4736"))}
	task.Observe(o)
	if n := testing.AllocsPerRun(1000, func() { task.Observe(o) }); n != 0 {
		t.Errorf("Observe allocates %v times per call", n)
	}
}

func TestObserve(t *testing.T) {
	m, reg := newTest(t)
	task := m.Scenario("api", "list").Task("list")
	task.Observe(Outcome{Latency: 20 * time.Millisecond, Code: 200, TraceID: TraceID([]byte("4bf92f3577b34da6a3ce929d0e0e4736"))})
	task.Observe(Outcome{Latency: 2 * time.Second, Code: 503, Reason: ReasonStatus})
	task.Dropped()
	want := `
# HELP loadd_requests_total Requests completed (successfully or not), by scenario and task.
# TYPE loadd_requests_total counter
loadd_requests_total{scenario="api",task="list"} 3
# HELP loadd_responses_total Responses received, by scenario, task and HTTP status code.
# TYPE loadd_responses_total counter
loadd_responses_total{code="200",scenario="api",task="list"} 1
loadd_responses_total{code="503",scenario="api",task="list"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "loadd_requests_total", "loadd_responses_total"); err != nil {
		t.Error(err)
	}
	if v := testutil.ToFloat64(m.failures.WithLabelValues("api", "list", "status")); v != 1 {
		t.Errorf("status failures = %v", v)
	}
	if v := testutil.ToFloat64(m.failures.WithLabelValues("api", "list", "dropped")); v != 1 {
		t.Errorf("dropped failures = %v", v)
	}
	if task.Count() != 2 || task.Failures()["status"] != 1 {
		t.Errorf("count %d failures %v", task.Count(), task.Failures())
	}
}

// TestExemplarSpacing: exemplars are spaced exemplarEvery apart by the
// outcome's End time, when the caller gives it.
func TestExemplarSpacing(t *testing.T) {
	m, reg := newTest(t)
	task := m.Scenario("api", "list").Task("list")
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).UnixNano()
	for _, o := range []struct {
		latency time.Duration
		end     int64
		id      string
	}{
		{2 * time.Millisecond, t0, "00000000000000000000000000000001"},
		{20 * time.Millisecond, t0 + int64(time.Millisecond), "00000000000000000000000000000002"}, // too soon
		{200 * time.Millisecond, t0 + int64(11*time.Millisecond), "00000000000000000000000000000003"},
	} {
		task.Observe(Outcome{Latency: o.latency, Code: 200, TraceID: TraceID([]byte(o.id)), End: o.end})
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if mf.GetName() != "loadd_request_duration_seconds" {
			continue
		}
		for _, b := range mf.GetMetric()[0].GetHistogram().GetBucket() {
			if e := b.GetExemplar(); e != nil {
				got = append(got, e.GetLabel()[0].GetValue())
			}
		}
	}
	if want := []string{"00000000000000000000000000000001", "00000000000000000000000000000003"}; !slices.Equal(got, want) {
		t.Errorf("bucket exemplars %v, want %v", got, want)
	}
}

type countTap struct{ n int }

func (c *countTap) Record(string, string, Outcome) { c.n++ }

func TestTapAndForget(t *testing.T) {
	m, reg := newTest(t)
	task := m.Scenario("api", "a").Task("a")
	tap := &countTap{}
	task.SetTap(tap)
	task.Observe(Outcome{Latency: time.Millisecond})
	task.SetTap(nil)
	task.Observe(Outcome{Latency: time.Millisecond})
	if tap.n != 1 {
		t.Errorf("tap saw %d outcomes, want 1", tap.n)
	}
	m.Scenario("other", "b")
	m.Forget("api")
	n, _ := testutil.GatherAndCount(reg, "loadd_requests_total")
	if n != 1 {
		t.Errorf("after Forget: %d request series, want only other's", n)
	}
}

// TestExpositionLints checks the exposition with client_golang's linter
// and with promtool check metrics (the acceptance check). The one
// known finding is DESIGN.md's contract: the SLA objective gauges carry a
// "quantile" label (the dashboards and rules join on it), which the linter
// reserves for summaries; it is allowed there and nowhere else.
func TestExpositionLints(t *testing.T) {
	m, reg := newTest(t)
	s := m.Scenario("api", "list")
	s.Task("list").Observe(Outcome{Latency: 20 * time.Millisecond, Code: 200})
	s.ObserveLag(time.Millisecond)
	m.WebSocket("ws", []string{"refused"}, []string{"read_error"})
	m.Transcription("asr", "streaming", []Reason{ReasonStatus})
	m.Schedule("nightly")
	checkLint(t, reg)
	m.SetLatencyObjective("api", "*", "0.95", 0.1)
	m.SetRTTObjective("ws", "0.99", 0.25)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.Contains(p.Text, `"quantile" label`) && strings.HasPrefix(p.Metric, "loadd_sla_") {
			continue
		}
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// checkLint requires a clean lint and a clean promtool check metrics.
func checkLint(t *testing.T, reg *prometheus.Registry) {
	t.Helper()
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	promtool := tooltest.Path(t, "promtool")
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
