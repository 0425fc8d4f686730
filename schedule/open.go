package schedule

import (
	"context"
	"errors"
	"slices"
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
// arrival with no free slot is dropped and counted, never queued. Within
// the bound, an arrival that finds no worker free waits for one (workers
// are added at a bounded pace, see spawnBurst), measured from its
// intended start.
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
	// With Batch set, the dispatcher also aims its wake-ups wakeEarly
	// ahead, since timers may fire that late.
	// 0 starts every arrival at its intended time exactly.
	Batch time.Duration

	// probe, when set, replaces what the spawn gate reads of the process
	// (tests on a fake clock).
	probe loadProbe
}

// DefaultBatch is the Batch generators use: a few milliseconds of
// early start buys a several-fold cut in wake-ups at 1k/s.
const DefaultBatch = 10 * time.Millisecond

// batchMax bounds the arrivals started per wake-up, so high rates (where
// Batch would cover hundreds) do not turn into large bursts: a burst's
// requests queue behind one another in loadd and in the target, and that
// wait is measured as latency. Measured against nginx (loadd on one CPU,
// 5 s windows, 4 rounds): with 16 instead of 64, mean latency fell in 11
// of 12 pairs at 5k, 10k and 20k/s (at 5k/s 276–433 µs against 525–901),
// and CPU per request was lower in 7 of them and higher in 4.
const batchMax = 16

// wakeEarly is how far ahead of the arrival it sleeps for the dispatcher
// aims to wake, when Batch allows early starts. While the process waits
// for network events, Go's timers fire only at whole milliseconds (the
// runtime's epoll_wait takes its timeout in ms, rounded up), so a
// dispatcher that aimed at the arrival itself woke up to 1 ms late, and
// that lateness was schedule lag and latency. Aiming 1 ms early, the
// arrival starts up to 1 ms early instead, measured from its actual
// start. Measured against nginx (loadd on one CPU, 5 s windows, rounds
// interleaved with the code that aimed at the arrival): mean schedule lag
// at 20k/s 40–249 µs against 308–486, mean latency 368–759 µs against
// 628–795; at 5k/s lag 2–24 µs against 143–144; at 1k/s 2–18 µs against
// 72–92; CPU per request level within the noise.
const wakeEarly = time.Millisecond

// ErrInvalidOpen is returned for an Open with no pacer or a bad bound.
var ErrInvalidOpen = errors.New("open model needs a pacer and max_in_flight > 0")

// idleWorker is how long a worker with no arrivals waits before exiting.
const idleWorker = 5 * time.Second

// Workers are added as arrivals find none free, spawnBurst at once and
// then at most spawnPerCPU a second per CPU, and only while the process
// has CPU to spare (see spawnGate); an arrival waits for a worker
// meanwhile, measured from its intended start (so the wait shows as
// schedule lag and latency, never hidden). Without the bound, a stall
// at 20k/s turned every late arrival into a new goroutine and connection
// (a dial alone is about 50 µs of CPU on loopback), the CPU went on
// those instead of reading responses, and the pile-up ran into
// max_in_flight: 2,000–4,000 drops in the first second, none with the
// bound.
const (
	spawnBurst  = 4
	spawnPerCPU = 2000.0
	// spawnRetry is how soon a sleeping dispatcher checks again for
	// queued arrivals that found no worker.
	spawnRetry = time.Millisecond
	// maxQueued bounds the arrivals queued for a worker (a second at
	// 4k/s, 200 ms at 20k/s); past it, the budget gives way.
	maxQueued = 4096
)

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
		// An arrival goes to the worker that parked last, or else into
		// the queue until a worker is free; both decisions are made under
		// mu, so no arrival is queued while a worker is parked. Last in,
		// first out keeps the fewest workers busy: after a burst, the
		// surplus stays parked and exits after idleWorker (first in, first
		// out, as a shared channel's receivers are, cycled every arrival
		// through all of them, so none ever went idle). The queue's room
		// is bounded (max_in_flight may be huge), and an arrival that finds
		// it full gets a worker of its own.
		mu       sync.Mutex
		parked   []chan Arrival // each parked worker's, room for one
		queue    = make(chan Arrival, min(o.MaxInFlight, maxQueued))
		stopIdle = make(chan struct{})
		live     atomic.Int64 // workers running
		gate     = newSpawnGate(o.probe)
	)
	rec := o.Recorder
	// hand gives a to the last parked worker, or else queues it
	// (queued); ok is false when the queue is full.
	hand := func(a Arrival) (queued, ok bool) {
		mu.Lock()
		if n := len(parked); n > 0 {
			w := parked[n-1]
			parked[n-1] = nil
			parked = parked[:n-1]
			mu.Unlock()
			w <- a // room for one: never blocks
			return false, true
		}
		defer mu.Unlock()
		select {
		case queue <- a:
			return true, true
		default:
			return false, false
		}
	}
	// next waits for a worker's next arrival; false means exit: stopping,
	// or idle for idleWorker since the last iteration began at last.
	next := func(w chan Arrival, idle *time.Timer, last time.Time) (Arrival, bool) {
		mu.Lock()
		select {
		case a := <-queue:
			mu.Unlock()
			return a, true
		default:
		}
		parked = append(parked, w)
		mu.Unlock()
		for {
			select {
			case a := <-w:
				return a, true
			case <-idle.C:
				since := time.Since(last)
				if since < idleWorker {
					idle.Reset(idleWorker - since)
					continue
				}
			case <-stopIdle:
			}
			mu.Lock()
			if i := slices.Index(parked, w); i >= 0 {
				parked = slices.Delete(parked, i, i+1)
				live.Add(-1)
				mu.Unlock()
				return Arrival{}, false
			}
			mu.Unlock()
			// Taken off the stack by hand: its arrival is on the way.
			return <-w, true
		}
	}
	// worker runs first and then every arrival it gets.
	worker := func(a Arrival) {
		defer wg.Done()
		// The idle timer is not reset per iteration (a timer update per
		// request is measurable at 20k/s): when it fires, the worker exits
		// only if its last iteration began idleWorker ago, else re-arms.
		idle := time.NewTimer(idleWorker)
		defer idle.Stop()
		w := make(chan Arrival, 1)
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
			if a, ok = next(w, idle, now); !ok {
				return
			}
		}
	}
	spawn := func(a Arrival) {
		live.Add(1)
		wg.Add(1)
		go worker(a)
	}
	// grow starts workers for queued arrivals, at the budget's pace and
	// while the gate is open (the first one free when there is none): a
	// burst of arrivals must not spend the CPU on new goroutines and
	// connections instead of finishing requests. late is how far behind
	// its schedule the dispatcher runs.
	grow := func(late time.Duration) {
		now := time.Now()
		gate.look(now, late)
		for {
			mu.Lock()
			if len(queue) == 0 || (live.Load() != 0 && !gate.allow(now)) {
				mu.Unlock()
				return
			}
			a := <-queue
			mu.Unlock()
			spawn(a)
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
	var early time.Duration // how far ahead of an arrival the dispatcher wakes
	if o.Batch > 0 {
		early = min(o.Batch, wakeEarly)
	}
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
			batched = 1 // the first of a batch starts on time, or up to early before
		}
		if wait <= 0 && ctx.Err() != nil {
			break
		}
		// The first of a batch waits until early before it is due, and
		// for one sleep at least, however short: the batch before it has
		// had its wake-up.
		for slept := false; wait > early || (wait > 0 && !slept); slept = true {
			// Arrivals queued with no worker free keep the budget
			// checked while the dispatcher sleeps.
			d := max(wait-early, time.Nanosecond)
			var sleptAt time.Time
			if len(queue) > 0 {
				d = min(d, spawnRetry)
				sleptAt = time.Now()
			}
			sleep.Reset(d)
			select {
			case <-sleep.C:
			case <-ctx.Done():
				break dispatch
			case <-deadline:
				break dispatch
			}
			if len(queue) > 0 { // it was before the sleep too: only the dispatcher adds
				grow(time.Since(sleptAt) - d)
			}
			wait = time.Until(intended)
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
		if queued, ok := hand(a); !ok {
			spawn(a)
		} else if queued {
			grow(time.Since(intended))
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
