package schedule

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"time"
)

// User is one closed-model virtual user.
type User interface {
	// Step runs one task and returns how long to think before the next.
	// ctx is cancelled only when a shutdown's grace period runs out.
	Step(ctx context.Context) time.Duration
	// Close releases the user's session.
	Close()
}

// Class is a weighted user class.
type Class struct {
	Name   string
	Weight float64
}

// ClosedRecorder receives the number of running users per class.
type ClosedRecorder interface {
	Users(class string, n int)
}

// Closed runs Locust-style virtual users: Users of them, split across
// Classes by weight, started at SpawnRate per second, each looping
// task, think, task… until ctx is done.
type Closed struct {
	Users     int
	SpawnRate float64
	Classes   []Class
	// NewUser makes user idx (0-based, across classes) of class.
	NewUser func(class int, idx int) User
	// Grace is how long running steps may take after ctx is done.
	Grace    time.Duration
	Duration time.Duration
	Recorder ClosedRecorder
}

// ErrInvalidClosed is returned for a Closed with nothing to run.
var ErrInvalidClosed = errors.New("closed model needs users > 0, a spawn rate > 0, classes and NewUser")

// Split divides n across weights by the largest-remainder method, so the
// parts sum to n exactly and follow the weights as closely as integers can.
func Split(n int, weights []float64) []int {
	out := make([]int, len(weights))
	var sum float64
	for _, w := range weights {
		sum += max(w, 0)
	}
	if sum <= 0 || n <= 0 {
		return out
	}
	type rem struct {
		i int
		r float64
	}
	rems := make([]rem, len(weights))
	given := 0
	for i, w := range weights {
		exact := float64(n) * max(w, 0) / sum
		out[i] = int(math.Floor(exact))
		given += out[i]
		rems[i] = rem{i, exact - float64(out[i])}
	}
	for given < n {
		best := -1
		for j, r := range rems {
			if best < 0 || r.r > rems[best].r {
				best = j
			}
		}
		out[rems[best].i]++
		rems[best].r = -1
		given++
	}
	return out
}

// interleave orders class indices so spawning follows the weights over
// time, not class after class.
func interleave(counts []int) []int {
	total := 0
	for _, c := range counts {
		total += c
	}
	order := make([]int, 0, total)
	done := make([]int, len(counts))
	for len(order) < total {
		best, bestLag := -1, math.Inf(-1)
		for i, c := range counts {
			if done[i] >= c {
				continue
			}
			lag := float64(c)*float64(len(order)+1)/float64(total) - float64(done[i])
			if lag > bestLag {
				best, bestLag = i, lag
			}
		}
		order = append(order, best)
		done[best]++
	}
	return order
}

// Run spawns the users and runs them until ctx is done or Duration passes;
// then it lets running steps finish within Grace, cancels the rest and
// waits for every user to return.
func (c *Closed) Run(ctx context.Context) error {
	if c.Users <= 0 || c.SpawnRate <= 0 || len(c.Classes) == 0 || c.NewUser == nil {
		return ErrInvalidClosed
	}
	runCtx := ctx
	if c.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, c.Duration)
		defer cancel()
	}
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()

	weights := make([]float64, len(c.Classes))
	for i, cl := range c.Classes {
		weights[i] = cl.Weight
	}
	order := interleave(Split(c.Users, weights))
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		running = make([]int, len(c.Classes))
	)
	// The count is recorded under the lock: two users leaving at once
	// must not record 1 after 0.
	count := func(class, d int) {
		mu.Lock()
		defer mu.Unlock()
		running[class] += d
		if c.Recorder != nil {
			c.Recorder.Users(c.Classes[class].Name, running[class])
		}
	}
	for _, cl := range c.Classes {
		if c.Recorder != nil {
			c.Recorder.Users(cl.Name, 0)
		}
	}
	spawn := Constant{PerSecond: c.SpawnRate}
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
spawning:
	for idx, class := range order {
		at, _ := spawn.Arrival(uint64(idx))
		if wait := time.Until(start.Add(at)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-runCtx.Done():
				break spawning
			}
		}
		if runCtx.Err() != nil {
			break
		}
		u := c.NewUser(class, idx)
		count(class, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer count(class, -1)
			defer u.Close()
			runUser(runCtx, workCtx, u)
		}()
	}
	<-runCtx.Done()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if c.Grace > 0 {
		grace := time.NewTimer(c.Grace)
		defer grace.Stop()
		select {
		case <-done:
		case <-grace.C:
		}
	}
	cancelWork()
	<-done
	return nil
}

// zeroThinkRun is how many steps in a row without think time a user
// takes before it yields the processor. A step that waits on the network
// lets other goroutines run anyway; a step that fails before it (an empty
// capture pool, a template error) does not, and users stepping like that
// would hold off everything else on a core, the web server included,
// until Go preempts them 10 ms at a time: /metrics then took a second to
// answer. A yield after every step bunched the requests of network-bound
// users, the target slept between bunches, and the maximum rate dropped
// by up to 18 %; once every zeroThinkRun steps measured level (README,
// "From run 24" and "From run 28").
const zeroThinkRun = 64

func runUser(runCtx, workCtx context.Context, u User) {
	think := time.NewTimer(0)
	defer think.Stop()
	<-think.C
	run := 0
	for runCtx.Err() == nil {
		d := u.Step(workCtx)
		if d <= 0 {
			if run++; run == zeroThinkRun {
				run = 0
				runtime.Gosched()
			}
			continue
		}
		run = 0
		think.Reset(d)
		select {
		case <-think.C:
		case <-runCtx.Done():
			return
		}
	}
}
