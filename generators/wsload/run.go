package wsload

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/go-kit/log/level"

	"github.com/loadd/loadd/generators"
)

// Run holds the population until ctx is done, Duration passes or a shape
// that ends at zero ends; then it closes every session (close handshakes
// within the grace period, forced after it) and returns once every session
// goroutine has finished and been counted.
func (sc *Scenario) Run(ctx context.Context) error {
	if !sc.ran.CompareAndSwap(false, true) {
		return errors.New("websocket scenario: Run called twice")
	}
	p := sc.pop
	if err := sc.checkFiles(); err != nil {
		return err
	}
	runCtx, cancel := sc.runContext(ctx)
	defer cancel()
	schedCtx, stopSched := context.WithCancel(context.Background())
	defer stopSched()
	p.writers = startWriters()
	p.matchers = startMatchers(&p.readBufs)
	p.sched = newScheduler(p.tick)
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		p.sched.run(schedCtx)
	}()
	dialCtx, cancelDials := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelDials()

	start := time.Now()
	r := &reconciler{
		p:      p,
		ramp:   func() float64 { return sc.deps.Shard.Rate(math.Float64frombits(sc.ramp.Load())) },
		target: func(now time.Time) int { return sc.target(now.Sub(start)) },
	}
	level.Info(sc.deps.Logger).Log("msg", "Starting session population", "sessions", sc.target(0), "ramp", r.ramp())
	r.loop(runCtx, dialCtx, sc.wake)
	level.Info(sc.deps.Logger).Log("msg", "Closing sessions", "open", p.open.Load())
	r.shutdown(cancelDials, max(sc.deps.Grace, 0))
	stopSched()
	<-schedDone
	p.writers.stop()
	p.matchers.stop()
	sc.login.CloseIdleConnections()
	p.want.Store(0)
	p.m.Target.Set(0)
	level.Info(sc.deps.Logger).Log("msg", "Sessions closed")
	return nil
}

// checkFiles compares the sessions this run may hold with the descriptors
// left under RLIMIT_NOFILE, before anything is opened.
func (sc *Scenario) checkFiles() error {
	soft, hard, err := fileLimit()
	if err != nil {
		return fmt.Errorf("websocket scenario %s: %w", sc.deps.Name, err)
	}
	open, err := openFiles()
	if err != nil {
		return fmt.Errorf("websocket scenario %s: %w", sc.deps.Name, err)
	}
	return checkFileLimit(sc.deps.Name, sc.peak(), open, soft, hard)
}

// runContext ends the run at Duration, or when a shape whose last stage
// ends at zero sessions is over.
func (sc *Scenario) runContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := sc.deps.Duration
	if sh := sc.deps.Shape; sh != nil && len(sh.Stages) > 0 {
		if end := sh.Length(); sc.target(end) == 0 && (d == 0 || end < d) {
			d = end
		}
	}
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

// Status reports the population: open and wanted sessions, round trips
// completed, sends skipped (a previous send of the session had not
// finished), dials in progress, and failures by "connect_<reason>" and
// "disconnect_<reason>" (planned disconnects are not failures).
func (sc *Scenario) Status() generators.Status {
	p := sc.pop
	f := map[string]uint64{}
	for i, r := range ConnectReasons {
		if n := p.connFail[i].Load(); n > 0 {
			f["connect_"+r] = n
		}
	}
	for i, r := range DisconnectReasons {
		if n := p.disc[i].Load(); n > 0 && !planned(r) {
			f["disconnect_"+r] = n
		}
	}
	return generators.Status{
		Kind:        KindName,
		Model:       "sessions",
		Completed:   p.rtts.Load(),
		Dropped:     p.dropped.Load(),
		InFlight:    p.dialing.Load(),
		Users:       p.open.Load(),
		UsersTarget: p.want.Load(),
		Failures:    f,
	}
}
