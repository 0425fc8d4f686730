package wsload

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestSchedulerOrder fires sessions in due order, once each, and never
// fires a removed one.
func TestSchedulerOrder(t *testing.T) {
	var mu sync.Mutex
	var fired []int
	q := newScheduler(func(s *session, now int64) int64 {
		mu.Lock()
		fired = append(fired, s.slot)
		mu.Unlock()
		return 0
	})
	base := time.Now().Add(50 * time.Millisecond).UnixNano()
	var ss []*session
	due := map[int]int64{}
	for i := range 200 {
		s := &session{slot: i, hidx: -1}
		ss = append(ss, s)
		due[i] = base + int64(rand.IntN(100))*int64(time.Millisecond/10)
		q.add(s, due[i])
	}
	for _, s := range ss[:50] {
		q.remove(s)
	}
	q.add(ss[0], base) // removed for good: ignored
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); q.run(ctx) }()
	eventually(t, 5*time.Second, "150 fired", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(fired) == 150
	})
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	// Sessions due in one granularity step fire together, in due order.
	if !slices.IsSortedFunc(fired, func(a, b int) int { return int(due[a] - due[b]) }) {
		t.Errorf("fired out of due order")
	}
	for _, f := range fired {
		if f < 50 {
			t.Errorf("removed session %d fired", f)
		}
	}
	if q.len() != 0 {
		t.Errorf("heap holds %d after all fired", q.len())
	}
}

// TestSchedulerReschedule keeps a session firing at the interval tick returns.
func TestSchedulerReschedule(t *testing.T) {
	var mu sync.Mutex
	n := 0
	q := newScheduler(func(s *session, now int64) int64 {
		mu.Lock()
		defer mu.Unlock()
		n++
		return now + int64(10*time.Millisecond)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); q.run(ctx) }()
	q.add(&session{hidx: -1}, time.Now().UnixNano())
	eventually(t, 5*time.Second, "10 fires", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return n >= 10
	})
	cancel()
	<-done
}
