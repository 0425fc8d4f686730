package runs

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/sla"
)

// tracked is one scenario of a run: its live status is sampled often
// (see sampleEvery) to integrate the arrivals it was asked for.
type tracked struct {
	name     string
	scenario generators.Scenario
	base     generators.Status // before the run started
	end      time.Time         // the plan's end: nothing is asked for after it

	mu       sync.Mutex
	done     bool
	err      error
	early    time.Duration // stopped by itself this long before the end
	expected float64       // ∫ target rate dt up to lastAt
	sampled  bool
	lastAt   time.Time
	lastRate float64
}

// sample records the target rate at now, integrating it with the
// trapezoid rule since the previous sample, and returns the status.
// Samples after the plan's end (while in-flight work drains) add nothing.
func (t *tracked) sample(now time.Time) generators.Status {
	st := t.scenario.Status()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done || (t.sampled && !now.Before(t.end) && !t.lastAt.Before(t.end)) {
		return st
	}
	now = minTime(now, t.end)
	rate := 0.0
	if st.Model == "open" || st.Model == "" {
		rate = max(st.TargetRate, 0)
	}
	if t.sampled && now.After(t.lastAt) {
		t.expected += (t.lastRate + rate) / 2 * now.Sub(t.lastAt).Seconds()
	}
	if !t.sampled || now.After(t.lastAt) {
		t.sampled, t.lastAt, t.lastRate = true, now, rate
	}
	return st
}

// asked returns the arrivals asked for so far.
func (t *tracked) asked() float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.expected
}

// finish records that the scenario's Run returned with err; the last
// sampled rate is taken to hold until until (the plan's end, or the moment
// an interrupted run stopped). early is how long before the plan's end the
// scenario stopped by itself, beyond what its last arrivals explain.
func (t *tracked) finish(until time.Time, early time.Duration, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if early > 0 {
		// An open-model scenario ends at its last arrival: allow two
		// arrival gaps at the last sampled rate.
		if t.lastRate > 0 {
			early -= time.Duration(2 / t.lastRate * float64(time.Second))
		}
		t.early = max(early, 0)
	}
	if t.sampled && until.After(t.lastAt) {
		t.expected += t.lastRate * until.Sub(t.lastAt).Seconds()
		t.lastAt = until
	}
	t.done, t.err = true, err
}

// delivery compares what the scenario did with what it was asked for.
func (t *tracked) delivery() sla.Delivery {
	st := t.scenario.Status()
	t.mu.Lock()
	defer t.mu.Unlock()
	d := sla.Delivery{
		Scenario:  t.name,
		Expected:  math.Round(t.expected*1000) / 1000,
		Completed: sub(st.Completed, t.base.Completed),
		Dropped:   sub(st.Dropped, t.base.Dropped),
	}
	if t.err != nil {
		d.Err = t.err.Error()
	}
	d.Early = t.early
	return d
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// Progress is the live state of a run, reported every interval.
type Progress struct {
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Elapsed time.Duration `json:"elapsed"`
	Total   time.Duration `json:"total"`
	// Rate is the requests completed per second over the last interval.
	Rate float64 `json:"rate"`
	// TargetRate is the arrival rate asked for over the last interval (its
	// average), over all scenarios.
	TargetRate float64 `json:"target_rate"`
	// P95 is the highest per-scenario p95 latency of the last interval.
	P95 time.Duration `json:"p95"`
	// Requests and Errors are totals so far (errors include dropped arrivals).
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
}

// String renders a one-line progress report, e.g.
// "12s/1m0s  rate 198.4/s (target 200/s)  p95 42ms  errors 3 (0.15%)".
func (p Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s  rate %.1f/s", p.Elapsed.Round(time.Second), p.Total.Round(time.Second), p.Rate)
	if p.TargetRate > 0 {
		fmt.Fprintf(&b, " (target %.4g/s)", p.TargetRate)
	}
	fmt.Fprintf(&b, "  p95 %s  errors %d", sla.FormatSeconds(p.P95.Seconds()), p.Errors)
	if all := p.Requests; all > 0 {
		fmt.Fprintf(&b, " (%.2f%%)", 100*float64(p.Errors)/float64(all))
	}
	return b.String()
}

// progressOf sums the last points of the recorder's scenarios.
func progressOf(rec *sla.Recorder, id, name string, elapsed, total time.Duration) Progress {
	p := Progress{ID: id, Name: name, Elapsed: elapsed, Total: total}
	snap := rec.Snapshot()
	for _, sc := range snap.Scenarios {
		if n := len(sc.Series); n > 0 {
			last := sc.Series[n-1]
			p.Rate += last.Rate
			p.TargetRate += last.TargetRate
			p.P95 = max(p.P95, time.Duration(last.P95*float64(time.Second)))
		}
	}
	for _, t := range snap.Tasks {
		p.Requests += t.Requests + t.Dropped
		p.Errors += t.Failures + t.Dropped
	}
	return p
}
