package schedule

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// Clock is the time source of a Trigger; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed, and a
	// function that releases the timer early.
	After(d time.Duration) (<-chan time.Time, func())
}

// RealClock is the system clock.
var RealClock Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// DefaultMaxWait bounds one wait of a Trigger, so that a wall-clock jump
// (NTP step, suspend and resume) is noticed within it.
const DefaultMaxWait = time.Minute

// Trigger is the loop of one schedule: it waits for the next start time of
// When and calls Start, applying the overlap policy while a run is still
// going. A start is never caught up: after a stall (suspend, clock jump)
// the loop fires once and computes the next start from the present.
type Trigger struct {
	// Name identifies the schedule in logs.
	Name string
	When Timetable
	// Overlap is OverlapSkip (the default) or OverlapQueue.
	Overlap string
	// Start runs one run due at at and returns when it is over. Its ctx is
	// cancelled when the trigger stops.
	Start func(ctx context.Context, at time.Time)
	// OnSkip, when set, is called for every start dropped by the overlap
	// policy (to count it).
	OnSkip func(at time.Time)
	// Clock defaults to RealClock.
	Clock   Clock
	Logger  log.Logger
	MaxWait time.Duration

	mu      sync.Mutex
	next    time.Time
	running bool
	queued  time.Time
}

// TriggerState is a trigger's state for the status API.
type TriggerState struct {
	// Next is the next start time; zero when there is none.
	Next time.Time `json:"next"`
	// Running is true while a run of the schedule is in progress.
	Running bool `json:"running"`
	// Queued is the due time of a start waiting for the running run.
	Queued time.Time `json:"queued,omitzero"`
}

// ErrInvalidTrigger is returned by Run for a trigger without When or Start.
var ErrInvalidTrigger = errors.New("trigger needs a timetable and a start function")

// Next returns the next start time (zero before Run or when there is none).
func (t *Trigger) Next() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.next
}

// State returns the trigger's state.
func (t *Trigger) State() TriggerState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TriggerState{Next: t.next, Running: t.running, Queued: t.queued}
}

// Run waits for start times and starts runs until ctx is done; then it
// waits for a running run (whose ctx is cancelled too) to return.
func (t *Trigger) Run(ctx context.Context) error {
	if t.When == nil || t.Start == nil {
		return ErrInvalidTrigger
	}
	clock := t.Clock
	if clock == nil {
		clock = RealClock
	}
	logger := t.Logger
	if logger == nil {
		logger = log.NewNopLogger()
	}
	maxWait := t.MaxWait
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	finished := make(chan struct{}, 1)

	now := clock.Now()
	next := t.setNext(t.When.Next(now))
	level.Debug(logger).Log("msg", "schedule armed", "schedule", t.Name, "next", next)
	for {
		wait := maxWait
		if !next.IsZero() {
			wait = min(max(next.Sub(now), 0), maxWait)
		}
		fire, stop := clock.After(wait)
		select {
		case <-ctx.Done():
			stop()
			return nil
		case <-finished:
			stop()
			if at, ok := t.dequeue(); ok {
				t.launch(ctx, &wg, at, finished, logger)
			}
		case <-fire:
		}
		now = clock.Now()
		if next.IsZero() || now.Before(next) {
			continue
		}
		t.due(ctx, &wg, next, finished, logger)
		next = t.setNext(t.When.Next(now))
	}
}

func (t *Trigger) setNext(n time.Time) time.Time {
	t.mu.Lock()
	t.next = n
	t.mu.Unlock()
	return n
}

// due applies the overlap policy to a start due at at.
func (t *Trigger) due(ctx context.Context, wg *sync.WaitGroup, at time.Time, finished chan struct{}, logger log.Logger) {
	t.mu.Lock()
	running, queued := t.running, !t.queued.IsZero()
	if running && t.Overlap == OverlapQueue && !queued {
		t.queued = at
	}
	t.mu.Unlock()
	switch {
	case !running:
		t.launch(ctx, wg, at, finished, logger)
	case t.Overlap == OverlapQueue && !queued:
		level.Info(logger).Log("msg", "previous run still in progress: start queued", "schedule", t.Name, "due", at)
	default:
		level.Warn(logger).Log("msg", "previous run still in progress: start skipped", "schedule", t.Name, "due", at)
		if t.OnSkip != nil {
			t.OnSkip(at)
		}
	}
}

func (t *Trigger) dequeue() (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := t.queued
	t.queued = time.Time{}
	return at, !at.IsZero()
}

func (t *Trigger) launch(ctx context.Context, wg *sync.WaitGroup, at time.Time, finished chan struct{}, logger log.Logger) {
	t.mu.Lock()
	t.running = true
	t.mu.Unlock()
	level.Info(logger).Log("msg", "starting scheduled run", "schedule", t.Name, "due", at)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t.Start(ctx, at)
		t.mu.Lock()
		t.running = false
		t.mu.Unlock()
		finished <- struct{}{}
	}()
}
