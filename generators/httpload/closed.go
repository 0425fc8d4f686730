package httpload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/schedule"
)

// runClosed runs the closed model: virtual users spawned at the spawn
// rate, each with its own session and cookie jar, looping task and think.
func (sc *scenario) runClosed(ctx context.Context) error {
	for i := range sc.spec.classes {
		sc.classUsers[i].Set(0)
	}
	if sc.usersTarget == 0 {
		// This replica's share is no user at all: idle until stopped.
		return waitDone(ctx, sc.deps.Duration)
	}
	primers := map[int]*identity{}
	sc.prime(ctx, sc.classTasks(), func(t *task) *identity {
		ci := sc.classOf(t)
		if primers[ci] == nil {
			primers[ci] = sc.newIdentity(sc.spec.classes[ci].target)
		}
		return primers[ci]
	})
	classes := make([]schedule.Class, len(sc.spec.classes))
	for i, cl := range sc.spec.classes {
		classes[i] = schedule.Class{Name: cl.name, Weight: cl.weight}
	}
	run := schedule.Closed{
		Users:     sc.usersTarget,
		SpawnRate: sc.deps.Shard.Rate(sc.spec.spawnRate * scale(sc.deps)),
		Classes:   classes,
		NewUser: func(ci, _ int) schedule.User {
			cl := sc.spec.classes[ci]
			return &user{sc: sc, class: cl, id: sc.newIdentity(cl.target)}
		},
		Grace:    sc.deps.Grace,
		Duration: sc.deps.Duration,
		Recorder: closedRecorder{sc},
	}
	if err := run.Run(ctx); err != nil {
		return fmt.Errorf("run http scenario %s: %w", sc.deps.Name, err)
	}
	return nil
}

func waitDone(ctx context.Context, d time.Duration) error {
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	<-ctx.Done()
	return nil
}

// classTasks lists the tasks some class with users runs.
func (sc *scenario) classTasks() []int {
	var out []int
	for _, cl := range sc.spec.classes {
		if cl.weight > 0 {
			out = append(out, cl.tasks...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// classOf returns the first class with users that runs t.
func (sc *scenario) classOf(t *task) int {
	for i, cl := range sc.spec.classes {
		if cl.weight > 0 && slices.Contains(cl.tasks, t.idx) {
			return i
		}
	}
	return 0
}

type closedRecorder struct{ sc *scenario }

// Users sets a class's virtual-users gauge and the scenario's total.
func (r closedRecorder) Users(class string, n int) {
	for i, cl := range r.sc.spec.classes {
		if cl.name == class {
			r.sc.classUsers[i].Set(float64(n))
			r.sc.users.Add(int64(n) - r.sc.classN[i].Swap(int64(n)))
		}
	}
}

// user is one closed-model virtual user.
type user struct {
	sc       *scenario
	class    *class
	id       *identity
	loggedIn bool
}

var _ schedule.User = (*user)(nil)

// Step logs in on the first step (Locust's on_start, not timed), then
// runs one weighted task and returns the think time before the next.
func (u *user) Step(ctx context.Context) time.Duration {
	sc := u.sc
	t := sc.spec.tasks[u.class.tasks[u.class.picker.pick()]]
	if !u.loggedIn {
		start := time.Now()
		if _, err := u.id.session.Token(ctx); err != nil {
			sc.handles[t.idx].Observe(exporter.Outcome{Latency: time.Since(start), Reason: exporter.ReasonAuth})
			sc.debug(t, exporter.ReasonAuth, "login", err)
			return u.think()
		}
		u.loggedIn = true
	}
	sc.inFlight.Add(1)
	sc.metrics.InFlight().Inc()
	sc.exec(ctx, t, u.id, time.Now())
	sc.inFlight.Add(-1)
	sc.metrics.InFlight().Dec()
	return u.think()
}

func (u *user) think() time.Duration { return u.class.think.Pick(rand.Float64()) }

// Close forgets the user's cookies; its session ends with it.
func (u *user) Close() {
	u.id.jar.mu.Lock()
	u.id.jar.cookies = nil
	u.id.jar.n.Store(0)
	u.id.jar.mu.Unlock()
}
