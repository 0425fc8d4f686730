package wsload

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/go-kit/log/level"
)

// reconciler holds a population at its target size, cloudprober style:
// slots 0..want-1 each should have a session; a slot without one gets a
// new session when its backoff has passed and the ramp allows; sessions
// in slots past the target are closed at the ramp rate. It runs in one
// goroutine and is the only one to touch its slots.
type reconciler struct {
	p      *population
	slots  []slot
	down   []int // heap of slot indices without a session, by slot.next
	tokens float64
	last   time.Time
	ramp   func() float64
	target func(now time.Time) int
	// lastN is the target seen at the last step, since when it holds and
	// the target last reached (for the "reached its target" log line).
	lastN, reachedN int
	since           time.Time
}

// slot is one place in the population.
type slot struct {
	s        *session  // nil while down
	failures int       // consecutive failed attempts
	next     time.Time // earliest next attempt while down
	closing  bool      // asked to close (scale_down)
	queued   bool      // in the down heap
}

// burstFor is how many opens may start at once: 200 ms worth of ramp, so
// a loop woken late (a busy machine) catches up instead of losing rate.
func burstFor(rate float64) float64 { return max(1, rate*0.2) }

// truncate drops empty slots at or past n, and their down-heap entries.
func (r *reconciler) truncate(n int) {
	k := len(r.slots)
	for k > n && r.slots[k-1].s == nil {
		k--
	}
	if k == len(r.slots) {
		return
	}
	r.slots = r.slots[:k]
	old := r.down
	r.down = nil
	for _, i := range old {
		if i < k {
			r.slots[i].queued = false
			r.pushDown(i)
		}
	}
}

// loop reconciles until ctx is done. dialCtx is handed to session
// goroutines for their dials.
func (r *reconciler) loop(ctx, dialCtx context.Context, wake <-chan struct{}) {
	r.last = time.Now()
	r.tokens = 1
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := r.step(dialCtx, time.Now())
		if wait < 0 {
			wait = time.Hour
		}
		timer.Reset(wait)
		select {
		case e := <-r.p.events:
			now := time.Now()
			r.ended(e, now)
			for more := true; more; { // a target restart ends thousands at once
				select {
				case e := <-r.p.events:
					r.ended(e, now)
				default:
					more = false
				}
			}
		case <-timer.C:
		case <-wake:
		case <-ctx.Done():
			return
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// step opens and closes what the ramp allows now and returns how long to
// wait before there is more to do (-1: nothing until an event).
func (r *reconciler) step(dialCtx context.Context, now time.Time) time.Duration {
	n := r.target(now)
	r.p.want.Store(int64(n))
	r.p.m.Target.Set(float64(n))
	rate := r.ramp()
	r.tokens = min(r.tokens+rate*now.Sub(r.last).Seconds(), burstFor(rate))
	r.last = now
	if n > r.lastN {
		// Slots that ended while past an earlier, smaller target were left
		// out of the down heap: they are wanted again.
		for i := 0; i < min(n, len(r.slots)); i++ {
			if r.slots[i].s == nil {
				r.pushDown(i)
			}
		}
	}
	for len(r.slots) < n {
		r.slots = append(r.slots, slot{next: now})
		r.pushDown(len(r.slots) - 1)
	}
	extra := r.closeExtra(n)
	for r.tokens >= 1 && len(r.down) > 0 {
		i := r.down[0]
		if i >= n || r.slots[i].s != nil {
			r.popDown()
			continue
		}
		if r.slots[i].next.After(now) {
			break
		}
		r.popDown()
		r.start(dialCtx, i)
		r.tokens--
	}
	r.checkReached(n, now)
	wait := time.Duration(-1)
	if len(r.down) > 0 {
		wait = max(r.slots[r.down[0]].next.Sub(now), minWait)
	}
	if extra || (len(r.down) > 0 && r.tokens < 1) {
		refill := time.Duration((1 - r.tokens) / rate * float64(time.Second))
		wait = max(wait, refill, minWait)
	}
	if r.reachedN != n && n > 0 && (wait < 0 || wait > reachedPoll) {
		wait = reachedPoll // sessions open without telling the loop: look again soon
	}
	return wait
}

// minWait is the shortest sleep of the loop: a fast ramp opens sessions in
// small batches rather than waking for each one.
const minWait = 5 * time.Millisecond

// reachedPoll is how often the loop checks whether a ramp has completed.
const reachedPoll = 50 * time.Millisecond

// closeExtra asks sessions in slots at or past n to close, newest slots
// first, as far as the ramp allows. It reports whether some remain.
func (r *reconciler) closeExtra(n int) bool {
	r.truncate(n)
	remaining := false
	for i := len(r.slots) - 1; i >= n; i-- {
		sl := &r.slots[i]
		if sl.s == nil || sl.closing {
			continue
		}
		if r.tokens < 1 {
			remaining = true
			break
		}
		sl.closing = true
		sl.s.stop(DiscScaleDown, nil)
		r.tokens--
	}
	return remaining
}

func (r *reconciler) start(dialCtx context.Context, i int) {
	s := newSession(r.p, i)
	r.slots[i].s = s
	r.p.dialing.Add(1)
	r.p.wg.Add(1)
	go r.p.runSession(dialCtx, s)
}

// ended returns a slot whose session ended to the down heap, with a delay:
// none after a planned end, the first backoff step after a session that
// stayed up a while, longer steps after repeated failures.
func (r *reconciler) ended(e ended, now time.Time) {
	sl := &r.slots[e.slot]
	sl.s, sl.closing = nil, false
	if e.reason == DiscShutdown || e.slot >= int(r.p.want.Load()) {
		return
	}
	b := r.p.cfg.Backoff
	switch {
	case e.reason == DiscLifetime || e.reason == DiscScaleDown:
		sl.failures = 0
		sl.next = now
	case e.connected && e.uptime >= b.Max.D():
		sl.failures = 0
		sl.next = now.Add(b.Delay(0, rand.Float64()))
	default:
		sl.failures++
		sl.next = now.Add(b.Delay(sl.failures, rand.Float64()))
	}
	r.pushDown(e.slot)
}

// checkReached logs when the population first reaches a new target.
func (r *reconciler) checkReached(n int, now time.Time) {
	if n != r.lastN {
		r.lastN, r.since = n, now
	}
	if n == 0 || r.reachedN == n || int(r.p.open.Load()) < n {
		return
	}
	r.reachedN = n
	level.Info(r.p.logger).Log("msg", "Session population reached its target", "sessions", n, "took", now.Sub(r.since).Round(time.Millisecond))
}

// shutdown stops every session (close handshakes first, forced closes once
// grace has passed) and waits for all session goroutines.
func (r *reconciler) shutdown(cancelDials context.CancelFunc, grace time.Duration) {
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	forced, done := make(chan struct{}), make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-deadline.C:
			close(forced)
		case <-done:
		}
	}()
	live := 0
	for i := range r.slots {
		if s := r.slots[i].s; s != nil {
			live++
			s.stop(DiscShutdown, forced)
		}
	}
	cancelDials()
	force := (<-chan struct{})(forced)
	for live > 0 {
		select {
		case e := <-r.p.events:
			r.slots[e.slot].s = nil
			live--
		case <-force:
			for i := range r.slots {
				if s := r.slots[i].s; s != nil {
					if c := s.getConn(); c != nil {
						c.Close()
					}
				}
			}
			force = nil
		}
	}
	r.p.wg.Wait()
}

// The down heap orders slot indices by their next attempt.

func (r *reconciler) lessDown(a, b int) bool {
	return r.slots[r.down[a]].next.Before(r.slots[r.down[b]].next)
}

func (r *reconciler) pushDown(i int) {
	if r.slots[i].queued {
		return
	}
	r.slots[i].queued = true
	r.down = append(r.down, i)
	for j := len(r.down) - 1; j > 0; {
		parent := (j - 1) / 2
		if !r.lessDown(j, parent) {
			break
		}
		r.down[j], r.down[parent] = r.down[parent], r.down[j]
		j = parent
	}
}

func (r *reconciler) popDown() {
	r.slots[r.down[0]].queued = false
	last := len(r.down) - 1
	r.down[0] = r.down[last]
	r.down = r.down[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(r.down) {
			return
		}
		j := l
		if l+1 < len(r.down) && r.lessDown(l+1, l) {
			j = l + 1
		}
		if !r.lessDown(j, i) {
			return
		}
		r.down[i], r.down[j] = r.down[j], r.down[i]
		i = j
	}
}
