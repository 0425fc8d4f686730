package wsload

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// scheduler drives every session's timed work — messages, pings, pong
// deadlines, lifetimes — from one goroutine: a min-heap holds one entry
// per session, keyed by when it next needs attention. No session has a
// ticker or timer of its own.
type scheduler struct {
	mu   sync.Mutex
	heap []entry
	wake chan struct{}
	// tick handles a due session and returns when it is next due (unix
	// nanoseconds), or 0 to drop it.
	tick func(s *session, now int64) int64
}

// entry is a heap slot: the due time is kept beside the pointer so that
// sifting compares without touching the sessions' memory.
type entry struct {
	due int64
	s   *session
}

// batchSize bounds how many due sessions are handled per lock round.
const batchSize = 256

// granularity quantises the scheduler's wake-ups: it sleeps until the next
// multiple of it and then handles everything due, so 2,000 sends a second
// cost 100 wake-ups, not 2,000, and their writes go out back to back.
// Sends therefore leave up to this much late.
const granularity = 10 * time.Millisecond

func newScheduler(tick func(*session, int64) int64) *scheduler {
	return &scheduler{wake: make(chan struct{}, 1), tick: tick}
}

// add schedules s at due, or moves it there when it is already scheduled.
// A session removed for good is not added again.
func (q *scheduler) add(s *session, due int64) {
	q.mu.Lock()
	q.addLocked(s, due)
	first := s.hidx == 0
	q.mu.Unlock()
	if first {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

func (q *scheduler) addLocked(s *session, due int64) {
	if s.unsched {
		return
	}
	if s.hidx >= 0 {
		q.heap[s.hidx].due = due
		q.fix(s.hidx)
		return
	}
	s.hidx = len(q.heap)
	q.heap = append(q.heap, entry{due: due, s: s})
	q.up(s.hidx)
}

// remove takes s out of the schedule for good.
func (q *scheduler) remove(s *session) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s.unsched = true
	if s.hidx >= 0 {
		q.removeAt(s.hidx)
	}
}

// len returns the number of scheduled sessions.
func (q *scheduler) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.heap)
}

// run handles due sessions until ctx is done.
func (q *scheduler) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	batch := make([]*session, 0, batchSize)
	next := make([]int64, 0, batchSize)
	for {
		now := time.Now().UnixNano()
		batch = batch[:0]
		q.mu.Lock()
		for len(q.heap) > 0 && q.heap[0].due <= now && len(batch) < batchSize {
			batch = append(batch, q.removeAt(0))
		}
		wait := time.Hour
		if len(q.heap) > 0 {
			g := int64(granularity)
			wait = time.Duration((q.heap[0].due+g-1)/g*g - now)
		}
		q.mu.Unlock()
		if len(batch) > 0 {
			next = next[:0]
			for _, s := range batch {
				next = append(next, q.tick(s, now))
			}
			q.mu.Lock()
			for i, s := range batch {
				if next[i] > 0 {
					q.addLocked(s, next[i])
				}
			}
			q.mu.Unlock()
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-q.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

func (q *scheduler) less(i, j int) bool { return q.heap[i].due < q.heap[j].due }

func (q *scheduler) swap(i, j int) {
	q.heap[i], q.heap[j] = q.heap[j], q.heap[i]
	q.heap[i].s.hidx = i
	q.heap[j].s.hidx = j
}

func (q *scheduler) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !q.less(j, i) {
			break
		}
		q.swap(i, j)
		j = i
	}
}

func (q *scheduler) down(i int) bool {
	start := i
	n := len(q.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && q.less(r, l) {
			j = r
		}
		if !q.less(j, i) {
			break
		}
		q.swap(i, j)
		i = j
	}
	return i > start
}

func (q *scheduler) fix(i int) {
	if !q.down(i) {
		q.up(i)
	}
}

func (q *scheduler) removeAt(i int) *session {
	n := len(q.heap) - 1
	s := q.heap[i].s
	if i != n {
		q.swap(i, n)
	}
	q.heap[n] = entry{}
	q.heap = q.heap[:n]
	if i != n {
		q.fix(i)
	}
	s.hidx = -1
	return s
}

// job is work for a shared writer: a session's periodic send, or its
// close handshake.
type job struct {
	s     *session
	close bool
}

// writers are the few goroutines that do every session's writes, so a
// session needs no writer goroutine of its own.
type writers struct {
	jobs chan job
	wg   sync.WaitGroup
}

// Writer pool size and queue length.
const (
	numWriters  = 4
	writerQueue = 8192
)

func startWriters() *writers {
	w := &writers{jobs: make(chan job, writerQueue)}
	for range numWriters {
		w.wg.Add(1)
		go w.run()
	}
	return w
}

func (w *writers) run() {
	defer w.wg.Done()
	var buf bytes.Buffer
	for j := range w.jobs {
		if j.close {
			if c := j.s.getConn(); c != nil {
				j.s.closeHandshake(c)
			}
			continue
		}
		j.s.send(&buf)
		j.s.queued.Store(false)
	}
}

// submit queues j. With block nil it gives up at once when the queue is
// full; otherwise it waits until block is closed.
func (w *writers) submit(j job, block <-chan struct{}) bool {
	select {
	case w.jobs <- j:
		return true
	default:
	}
	if block == nil {
		return false
	}
	select {
	case w.jobs <- j:
		return true
	case <-block:
		return false
	}
}

// stop waits for queued jobs to finish; nothing may be submitted after.
func (w *writers) stop() {
	close(w.jobs)
	w.wg.Wait()
}

// matchJob is a received message to search for a correlation ID.
type matchJob struct {
	s   *session
	msg *bytes.Buffer // from population.readBufs; returned after matching
	at  int64         // unix nanoseconds received
}

// matchers parse received messages for correlation IDs on behalf of the
// readers, whose stacks then stay small.
type matchers struct {
	jobs chan matchJob
	wg   sync.WaitGroup
}

// numMatchers is the matcher pool size.
const numMatchers = 2

func startMatchers(bufs *sync.Pool) *matchers {
	m := &matchers{jobs: make(chan matchJob, writerQueue)}
	for range numMatchers {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			for j := range m.jobs {
				j.s.match(j.msg.Bytes(), j.at)
				if j.msg.Cap() <= 64<<10 {
					bufs.Put(j.msg)
				}
			}
		}()
	}
	return m
}

// submit queues j, waiting when the matchers are behind.
func (m *matchers) submit(j matchJob) { m.jobs <- j }

// stop waits for queued jobs; nothing may be submitted after.
func (m *matchers) stop() {
	close(m.jobs)
	m.wg.Wait()
}
