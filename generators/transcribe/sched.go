package transcribe

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// ticker is something the scheduler calls at its due times: a stream that
// writes its next frame. tick returns the next due time, or false when it
// has nothing more to send.
type ticker interface {
	tick(now time.Time) (next time.Time, more bool)
}

// scheduler paces many streams from few goroutines: each shard keeps a
// heap of streams by due time and calls them when due, so streams need no
// goroutine or timer each for their writes. A tick runs on the shard's
// goroutine; it must not block for long (writes carry a deadline).
type scheduler struct {
	shards []*shard
	next   atomic.Uint32
	wg     sync.WaitGroup
}

// newScheduler starts n shards (at least 1) that run until ctx is done.
func newScheduler(ctx context.Context, n int) *scheduler {
	s := &scheduler{shards: make([]*shard, max(n, 1))}
	for i := range s.shards {
		sh := &shard{wake: make(chan struct{}, 1)}
		s.shards[i] = sh
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			sh.loop(ctx)
		}()
	}
	return s
}

// Add schedules t's first tick at due.
func (s *scheduler) Add(due time.Time, t ticker) {
	sh := s.shards[int(s.next.Add(1))%len(s.shards)]
	sh.mu.Lock()
	heap.Push(&sh.h, entry{due: due, t: t})
	first := sh.h[0].t == t
	sh.mu.Unlock()
	if first {
		select {
		case sh.wake <- struct{}{}:
		default:
		}
	}
}

// Wait waits until every shard has stopped (after ctx is done).
func (s *scheduler) Wait() { s.wg.Wait() }

type shard struct {
	mu   sync.Mutex
	h    entries
	wake chan struct{}
}

func (sh *shard) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := sh.runDue()
		if wait >= 0 {
			timer.Reset(wait)
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-sh.wake:
		}
	}
}

// runDue ticks every entry that is due and returns the wait until the next
// one, or -1 when the heap is empty. A due entry is popped while it ticks
// (so Add can run meanwhile) and pushed back with its next due time.
func (sh *shard) runDue() time.Duration {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for len(sh.h) > 0 {
		now := time.Now()
		if wait := sh.h[0].due.Sub(now); wait > 0 {
			return wait
		}
		e := heap.Pop(&sh.h).(entry)
		sh.mu.Unlock()
		next, more := e.t.tick(now)
		sh.mu.Lock()
		if more {
			heap.Push(&sh.h, entry{due: next, t: e.t})
		}
	}
	return -1
}

type entry struct {
	due time.Time
	t   ticker
}

type entries []entry

func (h entries) Len() int           { return len(h) }
func (h entries) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h entries) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *entries) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *entries) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = entry{}
	*h = old[:len(old)-1]
	return e
}
