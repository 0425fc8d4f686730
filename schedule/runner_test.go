package schedule

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type recIterator struct {
	mu       sync.Mutex
	starts   []time.Time
	intended []time.Time
	dropped  []uint64
	work     time.Duration
	canceled atomic.Int64
	finished atomic.Int64
}

func (r *recIterator) Iterate(ctx context.Context, a Arrival) {
	r.mu.Lock()
	r.starts = append(r.starts, time.Now())
	r.intended = append(r.intended, a.Intended)
	r.mu.Unlock()
	if r.work > 0 {
		select {
		case <-time.After(r.work):
			r.finished.Add(1)
		case <-ctx.Done():
			r.canceled.Add(1)
		}
	} else {
		r.finished.Add(1)
	}
}

func (r *recIterator) Drop(a Arrival) {
	r.mu.Lock()
	r.dropped = append(r.dropped, a.Seq)
	r.mu.Unlock()
}

type recOpen struct {
	lags atomic.Int64
	max  atomic.Int64
}

func (r *recOpen) ObserveLag(time.Duration) { r.lags.Add(1) }
func (r *recOpen) InFlight(n int64) {
	for {
		m := r.max.Load()
		if n <= m || r.max.CompareAndSwap(m, n) {
			return
		}
	}
}

func TestOpenStartsOnSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		it := &recIterator{work: 30 * time.Millisecond}
		rec := &recOpen{}
		o := &Open{Pacer: Constant{PerSecond: 100}, MaxInFlight: 100, Duration: time.Second, Recorder: rec}
		start := time.Now()
		st, err := o.Run(context.Background(), it)
		if err != nil {
			t.Fatal(err)
		}
		if st.Started != 100 || st.Dropped != 0 {
			t.Fatalf("stats = %+v, want 100 started, 0 dropped", st)
		}
		for i, s := range it.starts {
			want := start.Add(time.Duration(i) * 10 * time.Millisecond)
			if d := s.Sub(want); d > tolerance || d < -tolerance || !it.intended[i].Equal(want) {
				t.Fatalf("arrival %d started at +%v, intended +%v, want +%v", i, s.Sub(start), it.intended[i].Sub(start), want.Sub(start))
			}
		}
		if rec.lags.Load() != 100 {
			t.Errorf("lag observed %d times, want 100", rec.lags.Load())
		}
		// 30 ms of work at 10 ms spacing: 3 overlap, 4 at the instant one ends as the next starts.
		if m := rec.max.Load(); m < 3 || m > 4 {
			t.Errorf("max in flight = %d, want 3 or 4", m)
		}
	})
}

func TestOpenDropsOverMaxInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Each iteration takes 1 s; at 100/s with room for 10, 90 % must drop.
		it := &recIterator{work: time.Second}
		o := &Open{Pacer: Constant{PerSecond: 100}, MaxInFlight: 10, Duration: 2 * time.Second, Grace: 5 * time.Second}
		st, _ := o.Run(context.Background(), it)
		if st.Started+st.Dropped != 200 {
			t.Fatalf("started+dropped = %d, want every one of 200 arrivals accounted", st.Started+st.Dropped)
		}
		if st.Started != 20 || uint64(len(it.dropped)) != st.Dropped {
			t.Errorf("started %d (want 20), dropped %d (recorded %d)", st.Started, st.Dropped, len(it.dropped))
		}
		if it.finished.Load() != 20 || it.canceled.Load() != 0 {
			t.Errorf("finished %d canceled %d: within grace every started iteration must finish", it.finished.Load(), it.canceled.Load())
		}
	})
}

func TestOpenGraceThenCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		it := &recIterator{work: 10 * time.Second}
		o := &Open{Pacer: Constant{PerSecond: 10}, MaxInFlight: 100, Grace: time.Second}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		start := time.Now()
		st, _ := o.Run(ctx, it)
		if took := time.Since(start); took != 2*time.Second {
			t.Errorf("Run took %v, want 1 s of load + 1 s grace", took)
		}
		if int64(st.Started) != it.canceled.Load() || st.Started == 0 {
			t.Errorf("started %d, canceled %d: every unfinished iteration must be cancelled and returned", st.Started, it.canceled.Load())
		}
	})
}

func TestOpenStopsWhenShapeEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		it := &recIterator{}
		p := Stages{From: 0, Stages: []Stage{{Duration: time.Second, To: 100}, {Duration: time.Second, To: 0}}}
		st, _ := (&Open{Pacer: p, MaxInFlight: 10}).Run(context.Background(), it)
		if st.Started != 100 {
			t.Errorf("started %d, want 100 (area of the triangle)", st.Started)
		}
	})
}

func TestOpenRejectsBadConfig(t *testing.T) {
	if _, err := (&Open{MaxInFlight: 1}).Run(context.Background(), &recIterator{}); err == nil {
		t.Error("want error without pacer")
	}
	if _, err := (&Open{Pacer: Constant{PerSecond: 1}}).Run(context.Background(), &recIterator{}); err == nil {
		t.Error("want error with max_in_flight 0")
	}
}

type fakeUser struct {
	steps  *atomic.Int64
	closed *atomic.Int64
	think  time.Duration
}

func (u fakeUser) Step(context.Context) time.Duration { u.steps.Add(1); return u.think }
func (u fakeUser) Close()                             { u.closed.Add(1) }

type usersRec struct {
	mu  sync.Mutex
	max map[string]int
}

func (r *usersRec) Users(class string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n > r.max[class] {
		r.max[class] = n
	}
}

func TestClosedSpawnsAndThinks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var steps, closed atomic.Int64
		classes := []Class{{"normal", 5}, {"admin", 1}}
		perClass := make([]int, 2)
		rec := &usersRec{max: map[string]int{}}
		c := &Closed{
			Users: 12, SpawnRate: 4, Classes: classes, Duration: 10*time.Second + 100*time.Millisecond, Recorder: rec,
			NewUser: func(class, idx int) User {
				perClass[class]++
				return fakeUser{steps: &steps, closed: &closed, think: time.Second}
			},
		}
		if err := c.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if perClass[0] != 10 || perClass[1] != 2 {
			t.Errorf("users per class = %v, want [10 2]", perClass)
		}
		if closed.Load() != 12 {
			t.Errorf("closed %d users, want 12", closed.Load())
		}
		// User i starts at i/4 s and steps once per second until 10.1 s.
		var want int64
		for i := 0; i < 12; i++ {
			start := time.Duration(i) * 250 * time.Millisecond
			want += int64((10*time.Second+100*time.Millisecond-start)/time.Second) + 1
		}
		if steps.Load() != want {
			t.Errorf("steps = %d, want %d", steps.Load(), want)
		}
		if rec.max["normal"] != 10 || rec.max["admin"] != 2 {
			t.Errorf("recorded users = %v", rec.max)
		}
	})
}
