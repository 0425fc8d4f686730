package schedule

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeClock is a Clock whose time moves only when the test says so.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := fakeWaiter{at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		w.ch <- c.now
		return w.ch, func() {}
	}
	c.waiters = append(c.waiters, w)
	return w.ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.waiters {
			if x.ch == w.ch {
				c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
				return
			}
		}
	}
}

// Set moves the clock to t and fires every timer due by then.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// harness runs a Trigger on a fake clock; Start blocks until released.
type harness struct {
	clock   *fakeClock
	trig    *Trigger
	mu      sync.Mutex
	started []time.Time
	skipped []time.Time
	release chan struct{}
	cancel  context.CancelFunc
	done    chan error
}

func newHarness(t *testing.T, expr, overlap string, now time.Time) *harness {
	t.Helper()
	when, err := ParseCron(expr, "UTC")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{clock: &fakeClock{now: now}, release: make(chan struct{}), done: make(chan error, 1)}
	h.trig = &Trigger{
		Name: "test", When: when, Overlap: overlap, Clock: h.clock, MaxWait: time.Hour,
		Start: func(ctx context.Context, at time.Time) {
			h.mu.Lock()
			h.started = append(h.started, at)
			h.mu.Unlock()
			select {
			case <-h.release:
			case <-ctx.Done():
			}
		},
		OnSkip: func(at time.Time) {
			h.mu.Lock()
			h.skipped = append(h.skipped, at)
			h.mu.Unlock()
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.trig.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-h.done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	eventually(t, "trigger to wait", func() bool { return h.clock.pending() == 1 })
	return h
}

func (h *harness) counts() (started, skipped []time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.started...), append([]time.Time(nil), h.skipped...)
}

// advance moves the clock to t and waits until the loop waits again.
func (h *harness) advance(t *testing.T, to time.Time) {
	t.Helper()
	h.clock.Set(to)
	eventually(t, "trigger to wait again", func() bool { return h.clock.pending() == 1 && !h.trig.Next().Before(to) })
}

var t0 = time.Date(2025, 6, 1, 0, 0, 30, 0, time.UTC)

func TestTriggerFiresAndSkips(t *testing.T) {
	h := newHarness(t, "*/10 * * * *", OverlapSkip, t0)
	if n := h.trig.Next(); !n.Equal(t0.Add(9*time.Minute + 30*time.Second)) {
		t.Fatalf("Next() = %s before the first start", n)
	}
	h.advance(t, t0.Add(5*time.Minute)) // not due yet
	if s, _ := h.counts(); len(s) != 0 {
		t.Fatalf("started early: %v", s)
	}
	first := time.Date(2025, 6, 1, 0, 10, 0, 0, time.UTC)
	h.advance(t, first)
	eventually(t, "first run", func() bool { s, _ := h.counts(); return len(s) == 1 })
	if st := h.trig.State(); !st.Running || !st.Next.Equal(first.Add(10*time.Minute)) {
		t.Fatalf("state after first start: %+v", st)
	}
	h.advance(t, first.Add(10*time.Minute)) // still running: skipped
	started, skipped := h.counts()
	if len(started) != 1 || len(skipped) != 1 || !skipped[0].Equal(first.Add(10*time.Minute)) {
		t.Fatalf("started %v skipped %v", started, skipped)
	}
	h.release <- struct{}{}
	eventually(t, "run to finish", func() bool { return !h.trig.State().Running })
	h.advance(t, first.Add(20*time.Minute))
	eventually(t, "second run", func() bool { s, _ := h.counts(); return len(s) == 2 })
	if s, _ := h.counts(); !s[1].Equal(first.Add(20 * time.Minute)) {
		t.Errorf("second start due %s", s[1])
	}
}

func TestTriggerQueues(t *testing.T) {
	h := newHarness(t, "*/10 * * * *", OverlapQueue, t0)
	first := time.Date(2025, 6, 1, 0, 10, 0, 0, time.UTC)
	h.advance(t, first)
	eventually(t, "first run", func() bool { s, _ := h.counts(); return len(s) == 1 })
	h.advance(t, first.Add(10*time.Minute)) // queued
	h.advance(t, first.Add(20*time.Minute)) // queue full: skipped
	if st := h.trig.State(); !st.Queued.Equal(first.Add(10 * time.Minute)) {
		t.Fatalf("queued %s", st.Queued)
	}
	h.release <- struct{}{}
	eventually(t, "queued run", func() bool { s, _ := h.counts(); return len(s) == 2 })
	started, skipped := h.counts()
	if !started[1].Equal(first.Add(10*time.Minute)) || len(skipped) != 1 || !skipped[0].Equal(first.Add(20*time.Minute)) {
		t.Fatalf("started %v skipped %v", started, skipped)
	}
	if st := h.trig.State(); !st.Running || !st.Queued.IsZero() {
		t.Errorf("state %+v", st)
	}
}

// TestTriggerNoCatchUp: after a stall of hours (suspend, clock step) one
// start happens, not one per missed slot, and the next is in the future.
func TestTriggerNoCatchUp(t *testing.T) {
	h := newHarness(t, "*/10 * * * *", OverlapQueue, t0)
	later := t0.Add(3*time.Hour + 5*time.Minute)
	h.clock.Set(later)
	eventually(t, "one run", func() bool { s, _ := h.counts(); return len(s) == 1 })
	eventually(t, "next start computed", func() bool { return h.trig.Next().After(later) })
	h.release <- struct{}{}
	eventually(t, "run to finish", func() bool { return !h.trig.State().Running })
	started, skipped := h.counts()
	if len(started) != 1 || len(skipped) != 0 || !h.trig.Next().Equal(time.Date(2025, 6, 1, 3, 10, 0, 0, time.UTC)) {
		t.Fatalf("started %v skipped %v next %s", started, skipped, h.trig.Next())
	}
}

func TestTriggerStopCancelsRun(t *testing.T) {
	h := newHarness(t, "*/10 * * * *", OverlapSkip, t0)
	h.advance(t, time.Date(2025, 6, 1, 0, 10, 0, 0, time.UTC))
	eventually(t, "run", func() bool { s, _ := h.counts(); return len(s) == 1 })
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if h.trig.State().Running {
		t.Error("run still marked running after Run returned")
	}
}

// TestTriggerRealClock runs the loop on the real clock inside a synctest
// bubble: a start every 90 minutes happens on time.
func TestTriggerRealClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		when, err := ParseCron("@every 90m", "")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var mu sync.Mutex
		var got []time.Duration
		trig := &Trigger{Name: "bubble", When: when, Start: func(ctx context.Context, at time.Time) {
			mu.Lock()
			got = append(got, time.Since(start))
			mu.Unlock()
			time.Sleep(10 * time.Minute) // the run itself
		}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- trig.Run(ctx) }()
		time.Sleep(4*time.Hour + time.Minute)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		want := []time.Duration{90 * time.Minute, 180 * time.Minute}
		if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("starts at %v, want %v", got, want)
		}
	})
}

func TestTriggerInvalid(t *testing.T) {
	if err := (&Trigger{}).Run(context.Background()); err != ErrInvalidTrigger {
		t.Fatalf("got %v", err)
	}
}
