package schedule

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
		o := &Open{Pacer: Constant{PerSecond: 100}, MaxInFlight: 100, Duration: time.Second, Recorder: rec, probe: idleProbe}
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
		o := &Open{Pacer: Constant{PerSecond: 100}, MaxInFlight: 10, Duration: 2 * time.Second, Grace: 5 * time.Second, probe: idleProbe}
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
		o := &Open{Pacer: Constant{PerSecond: 10}, MaxInFlight: 100, Grace: time.Second, probe: idleProbe}
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
		st, _ := (&Open{Pacer: p, MaxInFlight: 10, probe: idleProbe}).Run(context.Background(), it)
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
	mu        sync.Mutex
	max, last map[string]int
}

func (r *usersRec) Users(class string, n int) {
	runtime.Gosched() // widens any gap between counting and recording
	r.mu.Lock()
	defer r.mu.Unlock()
	if n > r.max[class] {
		r.max[class] = n
	}
	r.last[class] = n
}

func TestClosedSpawnsAndThinks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var steps, closed atomic.Int64
		classes := []Class{{"normal", 5}, {"admin", 1}}
		perClass := make([]int, 2)
		rec := &usersRec{max: map[string]int{}, last: map[string]int{}}
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

// turnLog records which user stepped, in order, and stops the run once
// it is full.
type turnLog struct {
	order []int
	n     atomic.Int64
	stop  context.CancelFunc
}

// seqUser is a user without think time whose steps never block.
type seqUser struct {
	idx int
	log *turnLog
}

func (u seqUser) Step(context.Context) time.Duration {
	l := u.log
	if i := int(l.n.Add(1)) - 1; i < len(l.order) {
		l.order[i] = u.idx
		if i == len(l.order)-1 {
			l.stop()
		}
	}
	return 0
}
func (seqUser) Close() {}

// Users without think time whose steps never block take turns on one
// CPU: none runs more than zeroThinkRun steps in a row while others are
// ready. Without the yield, Go's preemption alone would let one run for
// 10 ms, hundreds of thousands of such steps.
func TestClosedZeroThinkTakesTurns(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const users = 3
	turns := &turnLog{order: make([]int, 30*users*zeroThinkRun), stop: cancel}
	c := &Closed{
		Users: users, SpawnRate: 1e6, Classes: []Class{{"a", 1}},
		NewUser:  func(_, idx int) User { return seqUser{idx: idx, log: turns} },
		Duration: 10 * time.Second,
	}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	log := turns.order
	if int(turns.n.Load()) < len(log) {
		t.Fatalf("only %d steps in 10 s", turns.n.Load())
	}
	// From the first step of the last user to start, find the longest
	// run of one user's steps.
	first := 0
	for i := range users {
		j := slices.Index(log, i)
		if j < 0 {
			t.Fatalf("user %d never stepped in %d steps", i, len(log))
		}
		first = max(first, j)
	}
	longest, run := 0, 0
	for i := first; i < len(log); i++ {
		if i > first && log[i] == log[i-1] {
			run++
		} else {
			run = 1
		}
		longest = max(longest, run)
	}
	// Go's scheduler now and then hands a goroutine that yielded the
	// next turn as well (it takes from the global queue every 61st
	// turn), so twice the run is allowed.
	if longest > 2*zeroThinkRun {
		t.Errorf("a user ran %d steps in a row while %d others were ready; want at most %d", longest, users-1, 2*zeroThinkRun)
	}
}

// Users that stop together are all counted out: the last value recorded
// for each class is 0, whatever order their goroutines record in.
func TestClosedRecordsZeroAfterStop(t *testing.T) {
	for range 20 {
		var steps, closed atomic.Int64
		rec := &usersRec{max: map[string]int{}, last: map[string]int{}}
		c := &Closed{
			Users: 64, SpawnRate: 1e6, Classes: []Class{{"a", 1}, {"b", 1}}, Duration: 20 * time.Millisecond, Recorder: rec,
			NewUser: func(int, int) User { return fakeUser{steps: &steps, closed: &closed, think: time.Hour} },
		}
		if err := c.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if rec.max["a"] != 32 || rec.last["a"] != 0 || rec.last["b"] != 0 {
			t.Fatalf("users recorded: max %v, last %v; want a peak of 32 and 0 at the end", rec.max, rec.last)
		}
	}
}

// capIterator checks the capacity rule: it counts running iterations and
// records, for every drop, how many were running when it happened.
type capIterator struct {
	work          time.Duration
	running       atomic.Int64
	maxRunning    atomic.Int64
	late          atomic.Int64
	mu            sync.Mutex
	dropsAtDegree []int64
}

func (c *capIterator) Iterate(ctx context.Context, a Arrival) {
	if time.Since(a.Intended) != 0 {
		c.late.Add(1)
	}
	n := c.running.Add(1)
	for m := c.maxRunning.Load(); n > m && !c.maxRunning.CompareAndSwap(m, n); m = c.maxRunning.Load() {
	}
	select {
	case <-time.After(c.work):
	case <-ctx.Done():
	}
	c.running.Add(-1)
}

func (c *capIterator) Drop(Arrival) {
	c.mu.Lock()
	c.dropsAtDegree = append(c.dropsAtDegree, c.running.Load())
	c.mu.Unlock()
}

func TestOpenCapacity(t *testing.T) {
	tests := []struct {
		name        string
		rate        float64
		work        time.Duration
		maxInFlight int
		wantStarted uint64
	}{
		// Work far longer than the spacing: every arrival needs a new worker.
		{"room for all, long work", 100, 3 * time.Second, 1000, 200},
		{"room for all, short work", 1000, 500 * time.Microsecond, 10, 2000},
		// 1.005 s of work at 100/s with room for 10: arrivals 0-9 start,
		// 10-100 drop, 101-110 start as the first ten end, the rest drop.
		{"saturated", 100, 1005 * time.Millisecond, 10, 20},
		{"one slot", 1000, 2500 * time.Microsecond, 1, 667},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				it := &capIterator{work: tt.work}
				rec := &recOpen{}
				o := &Open{Pacer: Constant{PerSecond: tt.rate}, MaxInFlight: tt.maxInFlight, Duration: 2 * time.Second, Grace: time.Hour, Recorder: rec, probe: idleProbe}
				st, err := o.Run(context.Background(), it)
				if err != nil {
					t.Fatal(err)
				}
				total := uint64(2 * tt.rate)
				if st.Started != tt.wantStarted || st.Started+st.Dropped != total {
					t.Errorf("stats %+v, want %d started of %d", st, tt.wantStarted, total)
				}
				if int(it.maxRunning.Load()) > tt.maxInFlight || rec.max.Load() > int64(tt.maxInFlight) {
					t.Errorf("%d running at once (recorded %d), bound %d", it.maxRunning.Load(), rec.max.Load(), tt.maxInFlight)
				}
				if it.late.Load() != 0 || rec.lags.Load() != int64(st.Started) {
					t.Errorf("%d arrivals started late, lag observed %d times for %d started", it.late.Load(), rec.lags.Load(), st.Started)
				}
				if uint64(len(it.dropsAtDegree)) != st.Dropped {
					t.Errorf("Drop called %d times, stats say %d", len(it.dropsAtDegree), st.Dropped)
				}
				for i, n := range it.dropsAtDegree {
					if n != int64(tt.maxInFlight) {
						t.Fatalf("drop %d with %d running, want drops only at max_in_flight %d", i, n, tt.maxInFlight)
					}
				}
			})
		})
	}
}

func TestOpenCancelAccountsEveryArrival(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		it := &capIterator{work: 45 * time.Millisecond}
		o := &Open{Pacer: Constant{PerSecond: 100}, MaxInFlight: 3, probe: idleProbe}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(1005*time.Millisecond, cancel)
		st, _ := o.Run(ctx, it)
		// Arrivals at 0, 10 ms … 1000 ms were due before the cancel; with
		// 45 ms of work and 3 slots, 3 of every 5 start.
		if st.Started+st.Dropped != 101 || st.Started != 61 {
			t.Errorf("stats %+v, want 61 started + 40 dropped = the 101 arrivals due", st)
		}
		if it.running.Load() != 0 {
			t.Errorf("%d iterations still running after Run returned", it.running.Load())
		}
	})
}

// BenchmarkOpenRunner measures the runner's own CPU per arrival (pacing,
// hand-off, accounting) with iterations that do nothing but yield, at a
// rate a real target could serve, in real time. Run with -benchtime=1x.
func BenchmarkOpenRunner(b *testing.B) {
	for _, rate := range []float64{1000, 20000, 100000} {
		b.Run(fmt.Sprintf("%.0f/s", rate), func(b *testing.B) {
			for b.Loop() {
				o := &Open{Pacer: Constant{PerSecond: rate}, MaxInFlight: 1000, Duration: time.Second, Recorder: &recOpen{}}
				cpu0 := cpuTime(b)
				st, err := o.Run(context.Background(), yieldIterator{})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(st.Started)/1e3, "cpu-µs/arrival")
				b.ReportMetric(float64(st.Dropped), "dropped")
			}
		})
	}
}

type yieldIterator struct{}

func (yieldIterator) Iterate(context.Context, Arrival) { runtime.Gosched() }
func (yieldIterator) Drop(Arrival)                     {}

// cpuTime is this process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestOpenBatchesWakeUps: with Batch, one wake-up starts the arrivals due
// within the window (at most batchMax), none late and none more than Batch
// early, and early ones are measured from their actual start.
func TestOpenBatchesWakeUps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		it := &recIterator{}
		o := &Open{Pacer: Constant{PerSecond: 1000}, MaxInFlight: 100, Duration: time.Second, Batch: 5 * time.Millisecond, probe: idleProbe}
		start := time.Now()
		st, _ := o.Run(context.Background(), it)
		if st.Started != 1000 {
			t.Fatalf("started %d, want 1000", st.Started)
		}
		instants := map[time.Time]int{}
		for i, s := range it.starts {
			due := start.Add(time.Duration(i) * time.Millisecond)
			if s.After(due) || due.Sub(s) > 5*time.Millisecond {
				t.Fatalf("arrival %d started at +%v, due +%v", i, s.Sub(start), due.Sub(start))
			}
			if it.intended[i].After(s) {
				t.Fatalf("arrival %d measured from +%v, after its start +%v", i, it.intended[i].Sub(start), s.Sub(start))
			}
			instants[s]++
		}
		if len(instants) > 1000/5 {
			t.Errorf("%d wake-ups for 1000 arrivals, want at most 200", len(instants))
		}
		for at, n := range instants {
			if n > batchMax {
				t.Errorf("%d arrivals started at +%v, want at most %d", n, at.Sub(start), batchMax)
			}
		}
	})
}

// TestOpenWakesEarly: with Batch, the dispatcher aims its wake-ups
// wakeEarly ahead of the arrival (real timers may fire that late), and
// the arrival is measured from its actual start; without Batch it starts
// exactly when due.
func TestOpenWakesEarly(t *testing.T) {
	for _, tt := range []struct {
		batch, early time.Duration
	}{
		{5 * time.Millisecond, wakeEarly},
		{wakeEarly / 2, wakeEarly / 2}, // never more than Batch
		{0, 0},
	} {
		t.Run(tt.batch.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				it := &recIterator{}
				// 10 ms apart: every arrival is a batch of its own.
				o := &Open{Pacer: Constant{PerSecond: 100}, MaxInFlight: 10, Duration: time.Second, Batch: tt.batch, probe: idleProbe}
				start := time.Now()
				if st, _ := o.Run(context.Background(), it); st.Started != 100 {
					t.Fatalf("started %d, want 100", st.Started)
				}
				for i, s := range it.starts {
					due := start.Add(time.Duration(i) * 10 * time.Millisecond)
					want := due.Add(-tt.early)
					if i == 0 {
						want = due // the first is due at once
					}
					if !s.Equal(want) || it.intended[i].After(s) {
						t.Fatalf("arrival %d started at +%v, measured from +%v; want a start at +%v (due +%v)", i, s.Sub(start), it.intended[i].Sub(start), want.Sub(start), due.Sub(start))
					}
				}
			})
		})
	}
}

// TestOpenBatchBound: at a rate where the Batch window holds hundreds of
// arrivals, a wake-up starts batchMax of them, no more.
func TestOpenBatchBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		it := &recIterator{}
		o := &Open{Pacer: Constant{PerSecond: 20000}, MaxInFlight: 1000, Duration: 100 * time.Millisecond, Batch: 10 * time.Millisecond, probe: idleProbe}
		if st, _ := o.Run(context.Background(), it); st.Started != 2000 {
			t.Fatalf("started %d, want 2000", st.Started)
		}
		instants := map[time.Time]int{}
		for _, s := range it.starts {
			instants[s]++
		}
		most := 0
		for _, n := range instants {
			most = max(most, n)
		}
		if most != batchMax || len(instants) < 2000/batchMax {
			t.Errorf("%d wake-ups, the largest starting %d; want at least %d, each starting at most %d", len(instants), most, 2000/batchMax, batchMax)
		}
	})
}

// listPacer is a pacer with arrivals at fixed offsets.
type listPacer []time.Duration

func (p listPacer) Arrival(n uint64) (time.Duration, bool) {
	if n >= uint64(len(p)) {
		return 0, false
	}
	return p[n], true
}

func (listPacer) Rate(time.Duration) float64 { return 0 }

func (listPacer) Peak() float64 { return 0 }

// runInBackground runs o in a goroutine; the channel yields its stats.
func runInBackground(t *testing.T, o *Open, it Iterator) <-chan Stats {
	done := make(chan Stats, 1)
	go func() {
		st, err := o.Run(t.Context(), it)
		if err != nil {
			t.Error(err)
		}
		done <- st
	}()
	return done
}

// TestSpawnBudget: an open gate lets spawnBurst workers start at once,
// then one per 1/spawnPerCPU (on one CPU), refills to the burst and no
// further, and gains nothing from a clock stepping back.
func TestSpawnBudget(t *testing.T) {
	t0 := time.Unix(0, 0)
	g := newSpawnGate(idleProbe)
	every := time.Duration(float64(time.Second) / spawnPerCPU)
	type take struct {
		at   time.Duration
		want bool
	}
	burst := func(at time.Duration) []take { // the burst, then empty
		var s []take
		for range spawnBurst {
			s = append(s, take{at, true})
		}
		return append(s, take{at, false})
	}
	steps := burst(0)
	steps = append(steps, take{every / 2, false}, take{every, true}, take{every, false}) // one per 1/spawnPerCPU
	steps = append(steps, burst(time.Hour)...)                                           // refilled to the burst, no more
	steps = append(steps, take{time.Hour - time.Second, false})                          // a clock stepping back adds nothing
	for i, step := range steps {
		if got := g.allow(t0.Add(step.at)); got != step.want {
			t.Fatalf("step %d: take at +%v = %v, want %v", i, step.at, got, step.want)
		}
	}
}

// fakeProbe is a loadProbe on given values, with n CPUs (1 if unset).
type fakeProbe struct {
	cpuTime func() time.Duration
	slow    float64
	n       int
}

func (f *fakeProbe) cpu() time.Duration { return f.cpuTime() }
func (f *fakeProbe) slowShare() float64 { return f.slow }
func (f *fakeProbe) procs() int         { return max(f.n, 1) }

// idleProbe is a process that never uses CPU: the spawn gate stays open.
// Tests on synctest's fake clock use it, since the real probe would set
// real CPU time and real scheduling waits against fake time.
var idleProbe = &fakeProbe{cpuTime: func() time.Duration { return 0 }}

func TestSpawnGate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := time.Millisecond
	var cpu time.Duration
	p := &fakeProbe{cpuTime: func() time.Duration { return cpu }}
	g := newSpawnGate(p)
	for i, step := range []struct {
		at, late, cpu time.Duration
		slow          float64
		procs         int
		want          bool
	}{
		{0, 0, 0, 0, 1, true},                                     // idle since the start
		{ms, 0, 950 * time.Microsecond, 0, 1, false},              // 95 % of the last ms: busy
		{1500 * time.Microsecond, 0, ms, 0, 1, false},             // under spawnRetry since the last look: unchanged
		{2 * ms, 0, 1100 * time.Microsecond, 0, 1, true},          // 15 % of the last ms
		{3 * ms, 0, 1200 * time.Microsecond, slowWakes, 1, false}, // CPU to spare, but goroutines wait for one
		{4 * ms, 0, 1300 * time.Microsecond, 0.1, 1, true},        // few slow wake-ups
		// A stop of 30 ms: the dispatcher wakes late, the gate closes, and
		// the stop does not count as idle time in the next window.
		{34 * ms, 30 * ms, 1400 * time.Microsecond, 0, 1, false},
		{35 * ms, 0, 2350 * time.Microsecond, 0, 1, false}, // 95 % since the late look
		{37 * ms, 0, 2450 * time.Microsecond, 0, 1, true},
		{37 * ms, 2 * ms, 2450 * time.Microsecond, 0, 1, false}, // late closes at once
		// GOMAXPROCS follows a container's CPU limit: the same use (95 %
		// of one CPU) leaves the gate open with two, and closes it with
		// one again.
		{39 * ms, 0, 4350 * time.Microsecond, 0, 2, true},
		{41 * ms, 0, 6250 * time.Microsecond, 0, 1, false},
	} {
		cpu, p.slow, p.n = step.cpu, step.slow, step.procs
		g.look(t0.Add(step.at), step.late)
		if g.open != step.want {
			t.Fatalf("step %d: look at +%v (late %v, cpu %v, slow wake-ups %.2f, %d CPUs): open %v, want %v", i, step.at, step.late, step.cpu, step.slow, step.procs, g.open, step.want)
		}
	}
	// The budget follows too: the last look set it back to one CPU's.
	if got := float64(g.budget.Limit()); got != spawnPerCPU {
		t.Errorf("budget %v workers a second after GOMAXPROCS went back to 1, want %v", got, spawnPerCPU)
	}
}

// TestRuntimeProbe: the process CPU clock advances with work done, and
// goroutines that queue behind each other for one CPU show as slow
// wake-ups, enough to close the gate.
func TestRuntimeProbe(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var r runtimeProbe
	r.slowShare() // the history so far
	c0 := r.cpu()
	spin := func() {
		for end := time.Now().Add(time.Millisecond); time.Now().Before(end); {
		}
	}
	// The runtime times one goroutine start in 8 (at random): with 100,
	// the chance that none is timed is 2 in a million.
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(spin)
	}
	wg.Wait()
	if c := r.cpu(); c-c0 < 80*time.Millisecond {
		t.Errorf("process CPU clock advanced %v over 100 × 1 ms of spinning", c-c0)
	}
	if s := r.slowShare(); s < slowWakes || s > 1 {
		t.Errorf("slow wake-ups %.3f after 100 goroutines queued for one CPU, want a share of at least %.2f", s, slowWakes)
	}
}

// TestOpenQueueOverflow: the queue for workers has bounded room whatever
// max_in_flight says; arrivals that find it full get workers of their own,
// so none waits unbounded and none is dropped under the bound.
func TestOpenQueueOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = maxQueued + 300
		p := listPacer{}
		for range n {
			p = append(p, 0)
		}
		it := &capIterator{work: 5 * time.Second}
		// A bound no queue could be allocated for.
		done := runInBackground(t, &Open{Pacer: p, MaxInFlight: 1 << 50, Grace: time.Hour, probe: idleProbe}, it)
		synctest.Wait()
		if got, least, most := it.running.Load(), int64(n-maxQueued), int64(n-maxQueued+spawnBurst+1); got < least || got > most {
			t.Errorf("%d running after a burst of %d, want %d–%d (the queue holds %d)", got, n, least, most, maxQueued)
		}
		if st := <-done; st.Started != n || st.Dropped != 0 {
			t.Errorf("stats %+v, want %d started", st, n)
		}
	})
}

// goroutineIterator records which goroutine ran each arrival: burst
// arrivals (Seq < burst) work for burstWork, the rest return at once.
type goroutineIterator struct {
	burst     uint64
	burstWork time.Duration
	mu        sync.Mutex
	ran       map[uint64]string // Seq → goroutine ID
}

func (g *goroutineIterator) Iterate(_ context.Context, a Arrival) {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := strings.Cut(strings.TrimPrefix(string(buf), "goroutine "), " ")
	g.mu.Lock()
	g.ran[a.Seq] = id
	g.mu.Unlock()
	if a.Seq < g.burst {
		time.Sleep(g.burstWork)
	}
}

func (g *goroutineIterator) Drop(Arrival) {}

// TestOpenReusesLastWorker: after a burst has started many workers, a
// steady trickle of arrivals goes to the worker that finished last, so the
// surplus stays parked and can idle out. Handing each arrival to the
// longest-waiting worker instead cycled through all twenty, and none ever
// went idle.
func TestOpenReusesLastWorker(t *testing.T) {
	const burst, steady = 20, 30
	p := listPacer{}
	for range burst {
		p = append(p, 0)
	}
	for i := range steady {
		p = append(p, 500*time.Millisecond+time.Duration(i)*20*time.Millisecond)
	}
	it := &goroutineIterator{burst: burst, burstWork: 50 * time.Millisecond, ran: map[uint64]string{}}
	st, err := (&Open{Pacer: p, MaxInFlight: 100}).Run(t.Context(), it)
	if err != nil || st.Started != burst+steady {
		t.Fatalf("Run = %+v, %v; want %d started", st, err, burst+steady)
	}
	burstWorkers, steadyWorkers := map[string]bool{}, map[string]bool{}
	for seq, id := range it.ran {
		if seq < burst {
			burstWorkers[id] = true
		} else {
			steadyWorkers[id] = true
		}
	}
	// One worker does, unless a stall of 20 ms overlaps two arrivals.
	if len(burstWorkers) < burst/2 || len(steadyWorkers) > 3 {
		t.Errorf("burst ran on %d workers (want ≥ %d), the %d steady arrivals on %d (want ≤ 3)", len(burstWorkers), burst/2, steady, len(steadyWorkers))
	}
}
