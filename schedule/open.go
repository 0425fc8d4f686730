package schedule

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Arrival is one scheduled start of an iteration.
type Arrival struct {
	// Seq numbers arrivals from 0 within one run of a pacer.
	Seq uint64
	// Intended is when the arrival was due; latency is measured from it.
	Intended time.Time
}

// Iterator runs iterations for the open model.
type Iterator interface {
	// Iterate runs one iteration and records its outcome. ctx is cancelled
	// only when the grace period of a shutdown runs out.
	Iterate(ctx context.Context, a Arrival)
	// Drop records an arrival that was not started: max_in_flight
	// iterations were already running.
	Drop(a Arrival)
}

// OpenRecorder receives the runner's own accounting.
type OpenRecorder interface {
	ObserveLag(time.Duration)
	InFlight(n int64)
}

// Open runs an open-model workload: arrivals start on the pacer's schedule
// whether or not earlier iterations finished, bounded by MaxInFlight; an
// arrival with no free slot is dropped and counted, never queued.
type Open struct {
	Pacer       Pacer
	MaxInFlight int
	// Grace is how long in-flight iterations may run after ctx is done.
	Grace time.Duration
	// Duration ends the run after this long; 0 runs until ctx is done.
	Duration time.Duration
	Recorder OpenRecorder
	// Start, when set, is the instant offset 0 of the pacer maps to.
	Start time.Time
	// Batch lets the dispatcher start, with the arrival it woke up for, the
	// ones due within this much after it, at most batchMax per wake-up, so that at low
	// rates one wake-up starts several iterations (each wake-up costs a
	// context switch, which dominates CPU per request at 1k/s). An arrival
	// started early is measured from its actual start, so latency is never
	// understated; rates over any window longer than Batch are unchanged.
	// 0 starts every arrival at its intended time exactly.
	Batch time.Duration
}

// DefaultBatch is the Batch generators use: a few milliseconds of
// early start buys a several-fold cut in wake-ups at 1k/s.
const DefaultBatch = 10 * time.Millisecond

// batchMax bounds the arrivals started per wake-up, so high rates (where
// Batch would cover hundreds) do not turn into large bursts.
const batchMax = 64

// ErrInvalidOpen is returned for an Open with no pacer or a bad bound.
var ErrInvalidOpen = errors.New("open model needs a pacer and max_in_flight > 0")

// idleWorker is how long a worker with no arrivals waits before exiting.
const idleWorker = 5 * time.Second

// Stats are the totals of a finished open-model run.
type Stats struct {
	Started, Dropped uint64
}

// Run dispatches arrivals to it until the pacer ends, Duration passes or
// ctx is done; then it waits up to Grace for in-flight iterations, cancels
// the rest and waits for them to return. Every started iteration has
// returned when Run returns.
func (o *Open) Run(ctx context.Context, it Iterator) (Stats, error) {
	if o.Pacer == nil || o.MaxInFlight <= 0 {
		return Stats{}, ErrInvalidOpen
	}
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()

	var (
		wg       sync.WaitGroup
		inFlight atomic.Int64
		stats    Stats
		work     = make(chan Arrival)
		stopIdle = make(chan struct{})
	)
	rec := o.Recorder
	// next waits for a worker's next arrival; false means exit: stopping,
	// or idle for idleWorker since the last iteration began at last.
	next := func(idle *time.Timer, last time.Time) (Arrival, bool) {
		for {
			select {
			case a := <-work:
				return a, true
			case <-idle.C:
				since := time.Since(last)
				if since >= idleWorker {
					return Arrival{}, false
				}
				idle.Reset(idleWorker - since)
			case <-stopIdle:
				return Arrival{}, false
			}
		}
	}
	worker := func(a Arrival) {
		defer wg.Done()
		// The idle timer is not reset per iteration (a timer update per
		// request is measurable at 20k/s): when it fires, the worker exits
		// only if its last iteration began idleWorker ago, else re-arms.
		idle := time.NewTimer(idleWorker)
		defer idle.Stop()
		for {
			// An arrival dispatched early (Batch) is measured from its
			// actual start: latency must never be understated.
			now := time.Now()
			if now.Before(a.Intended) {
				a.Intended = now
			}
			if rec != nil {
				rec.ObserveLag(now.Sub(a.Intended))
			}
			it.Iterate(workCtx, a)
			n := inFlight.Add(-1)
			if rec != nil {
				rec.InFlight(n)
			}
			var ok bool
			if a, ok = next(idle, now); !ok {
				return
			}
		}
	}

	start := o.Start
	if start.IsZero() {
		start = time.Now()
	}
	var deadline <-chan time.Time
	if o.Duration > 0 {
		t := time.NewTimer(time.Until(start.Add(o.Duration)))
		defer t.Stop()
		deadline = t.C
	}
	sleep := time.NewTimer(time.Hour)
	defer sleep.Stop()

	// A batch never takes more than a quarter of the in-flight bound, so
	// batching alone cannot cause drops.
	maxBatch := min(batchMax, max(1, o.MaxInFlight/4))
	batched := 0
dispatch:
	for n := uint64(0); ; n++ {
		at, ok := o.Pacer.Arrival(n)
		if !ok || (o.Duration > 0 && at >= o.Duration) {
			break
		}
		intended := start.Add(at)
		wait := time.Until(intended)
		if o.Batch > 0 && batched < maxBatch && wait <= o.Batch {
			wait = 0 // within this wake-up's batch
			batched++
		} else {
			batched = 1 // the first of a batch starts on time
		}
		if wait > 0 {
			sleep.Reset(wait)
			select {
			case <-sleep.C:
			case <-ctx.Done():
				break dispatch
			case <-deadline:
				break dispatch
			}
		} else if ctx.Err() != nil {
			break
		}
		a := Arrival{Seq: n, Intended: intended}
		if inFlight.Load() >= int64(o.MaxInFlight) {
			stats.Dropped++
			it.Drop(a)
			continue
		}
		cur := inFlight.Add(1)
		if rec != nil {
			rec.InFlight(cur)
		}
		stats.Started++
		select {
		case work <- a:
		default:
			wg.Add(1)
			go worker(a)
		}
	}

	close(stopIdle)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if o.Grace > 0 {
		grace := time.NewTimer(o.Grace)
		defer grace.Stop()
		select {
		case <-done:
		case <-grace.C:
		}
	}
	cancelWork()
	<-done
	return stats, nil
}
