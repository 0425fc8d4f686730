package httpload

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/loadd/loadd/generators"
)

// Against a target with a fixed 50 ms delay at 1,000 requests/s, the mean
// measured latency tracks what the server took: latency counts from the
// intended start and nothing queues in front of requests. Issue 2's target
// (within 1 ms of 50 ms) is for a quiet machine with pinned CPUs; on a
// shared test machine the bound here is looser, and the figures are logged.
func TestLatencyAccuracy(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a timing test: 2 s of load, not under -short or -race")
	}
	var served atomic.Int64 // total time handlers took, in ns
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		time.Sleep(50 * time.Millisecond)
		served.Add(int64(time.Since(start)))
	}))
	defer srv.Close()
	sc, reg := build(t, "kind: http\ntarget: phoenix\nrate: 1000/s\nmax_in_flight: 500\ntasks: [{name: get, get: /x}]\n",
		mustTarget(t, srv.URL, nil), generators.Deps{Duration: 2 * time.Second, Grace: 5 * time.Second})
	runFor(t, sc, 10*time.Second)
	st := sc.Status()
	if st.Completed != 2000 || len(st.Failures) != 0 {
		t.Fatalf("status %+v: want 2000 requests, no failure", st)
	}
	count, sum := histogram(t, reg, "loadd_request_duration_seconds")
	mean := time.Duration(sum / count * 1e9)
	lagN, lagSum := histogram(t, reg, "loadd_schedule_lag_seconds")
	t.Logf("mean latency %s over %g requests; mean schedule lag %s; server-side mean %s", mean, count,
		time.Duration(lagSum/lagN*1e9), time.Duration(served.Load()/int64(count)))
	serverMean := time.Duration(served.Load() / int64(count))
	if d := mean - serverMean; d < 0 || d > 10*time.Millisecond {
		t.Errorf("mean latency %s, server-side %s: want at most 10ms above", mean, serverMean)
	}
}

// histogram returns the sample count and sum of a histogram.
func histogram(t *testing.T, reg interface {
	Gather() ([]*dto.MetricFamily, error)
}, name string) (count, sum float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				count += float64(m.GetHistogram().GetSampleCount())
				sum += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return count, sum
}
