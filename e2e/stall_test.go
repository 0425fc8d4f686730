package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/schedule"
)

// stallShape is TestStallRecovery's load: 1,000 arrivals a second for
// 4 s, then none. The test counts the arrivals from this same text.
const stallShape = `rate: 1000/s
stages: [{hold: 4s}, {ramp: 1ms, to: 0}]`

// stallStop is how long each of the three stops lasts.
const stallStop = 30 * time.Millisecond

// TestStallRecovery stops the real loadd (SIGSTOP, as a paused VM or a
// long GC would) three times for 30 ms while it sends 1,000 arrivals a
// second. A runner that recovers starts every arrival the stop made late
// as soon as it runs again, drops none and loses none, and measures their
// lateness rather than hiding it: each late request's latency counts from
// its intended start, so no fewer requests are slow than started late.
func TestStallRecovery(t *testing.T) {
	target := DemoTarget(t)
	cfg := WriteFile(t, "loadd.yaml", fmt.Sprintf(`
%s    %s
    max_in_flight: 1000
    tasks:
      - {name: dashboard, get: /dashboard/metrics}
`, demoAPI(target.Addr), strings.ReplaceAll(stallShape, "\n", "\n    ")))
	// The arrivals the shape schedules, counted from the pacer loadd
	// builds from that shape, decoded as loadd decodes its config.
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(stallShape), &raw); err != nil {
		t.Fatal(err)
	}
	var shape schedule.ShapeConfig
	if err := config.Decode(raw, &shape); err != nil {
		t.Fatal(err)
	}
	stallHold := shape.Length()
	pacer := shape.Pacer(1)
	var want uint64
	for _, ok := pacer.Arrival(0); ok; _, ok = pacer.Arrival(want) {
		want++
	}

	loadd := LoaddRun(t, cfg)
	started := func() float64 {
		return Sum(Scrape(t, loadd.Addr), "loadd_schedule_lag_seconds", nil)
	}
	// Stop loadd after a quarter, half and three quarters of the arrivals
	// have started: every stop falls inside the hold.
	for i := 1; i <= 3; i++ {
		Eventually(t, 2*stallHold, func() error {
			if n := started(); n < float64(want)*float64(i)/4 {
				return fmt.Errorf("%v arrivals started, waiting for %d/4 of %d", n, i, want)
			}
			return nil
		})
		loadd.Signal(syscall.SIGSTOP)
		Eventually(t, time.Second, func() error { return stopped(loadd.cmd.Process.Pid) })
		time.Sleep(stallStop) // the stall under test, not a wait for anything
		loadd.Signal(syscall.SIGCONT)
	}

	// The shape ends at rate 0: wait until every arrival has been decided
	// and no request is in flight.
	var fams map[string]*dto.MetricFamily
	Eventually(t, 2*stallHold, func() error {
		fams = Scrape(t, loadd.Addr)
		n := Sum(fams, "loadd_schedule_lag_seconds", nil) + Sum(fams, "loadd_iterations_dropped_total", nil)
		if n < float64(want) || Sum(fams, "loadd_in_flight", nil) != 0 {
			return fmt.Errorf("%v of %d arrivals decided, %v in flight", n, want, Sum(fams, "loadd_in_flight", nil))
		}
		return nil
	})
	if d := Sum(fams, "loadd_iterations_dropped_total", nil); d != 0 {
		t.Errorf("%v arrivals dropped after 30 ms stops, with max_in_flight 1000", d)
	}
	if n := Sum(fams, "loadd_schedule_lag_seconds", nil); n != float64(want) {
		t.Errorf("%v arrivals started, want the %d the shape schedules", n, want)
	}
	if n := Sum(fams, "loadd_requests_total", nil); n != float64(want) {
		t.Errorf("loadd_requests_total = %v, want %d", n, want)
	}
	if f := Sum(fams, "loadd_request_failures_total", nil); f != 0 {
		t.Errorf("%v failures against a healthy target", f)
	}

	// Each stop held back at least 30 arrivals, the first of them by the
	// whole stop, so about 20 a stop started over 10 ms late. Without the
	// stops, none do at this rate.
	slow := func(hist string) float64 {
		atMost := bucketBelow(fams, hist, "api", 0.01)
		if atMost < 0 {
			t.Fatalf("%s has no 10 ms bucket", hist)
		}
		return Sum(fams, hist, nil) - atMost
	}
	late, slowReqs := slow("loadd_schedule_lag_seconds"), slow("loadd_request_duration_seconds")
	if late < 30 {
		t.Errorf("%v arrivals started over 10 ms late after three 30 ms stops, want at least 30: the stall is not measured", late)
	}
	if slowReqs < late {
		t.Errorf("%v requests took over 10 ms, but %v started over 10 ms late: latency is not measured from the intended start", slowReqs, late)
	}
	t.Logf("%d arrivals, %v started over 10 ms late, %v requests over 10 ms", want, late, slowReqs)
}

// stopped reports an error until every thread of process pid has stopped.
func stopped(pid int) error {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return fmt.Errorf("no threads of process %d: %v", pid, err)
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		// The state follows the command name, which is in parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return fmt.Errorf("thread %s not stopped yet", f)
		}
	}
	return nil
}
