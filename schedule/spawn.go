package schedule

import (
	"runtime"
	"runtime/metrics"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/time/rate"
)

const (
	// cpuBusy is the share of GOMAXPROCS' CPU time above which the
	// process counts as short of CPU.
	cpuBusy = 0.9
	// slowWake is a wait for a CPU that counts as slow, and slowWakes the
	// share of such waits above which goroutines count as queueing for
	// CPU (sampled: 0.25 or more in 23 of 52 looks while a backlog drained
	// on two shared CPUs, 2 of 133 while workers were added for a 50 ms
	// target).
	slowWake  = time.Millisecond
	slowWakes = 0.25
)

// spawnGate lets new workers start only while the process has CPU to
// spare. When it has none, more workers cannot finish requests sooner:
// each costs a goroutine and a connection (a plain Go client measured
// here 50 µs of CPU a dial to nginx on loopback, and 37–49 µs a request
// when cycling over 500 connections, where loadd spends about 15 on a
// few warm ones), so they slow the workers already there, and a backlog
// that would have drained grows into max_in_flight. Two signs of it: the
// process uses cpuBusy of GOMAXPROCS (loadd pinned to its CPUs), or its
// goroutines wait long for one (loadd sharing CPUs with other work, where
// it never reaches cpuBusy).
//
// Measured at 20k/s against nginx on loopback, five SIGSTOP stops of
// 20 ms a second apart (each leaves 400 arrivals late, well under
// max_in_flight), the code before the gate and with it interleaved, three
// runs each: loadd pinned to one CPU, 418–2,550 dropped iterations
// before, 0 in every run with the gate; loadd on two CPUs shared with
// nginx, 875–1,990 before, 0 with the gate (with the CPU sign alone,
// 38–1,722). A slow target leaves the CPU idle, so workers for it still
// come at the budget's pace (50 ms target at 5,000/s: mean schedule lag
// over the first 6 s 1.83 ms, against 1.98 ms before the gate).
type spawnGate struct {
	procs  int // GOMAXPROCS at the last sample
	probe  loadProbe
	budget *rate.Limiter
	at     time.Time // last sample
	cpuAt  time.Duration
	// open is the verdict of the last sample.
	open bool
}

// loadProbe reads how busy the process is.
type loadProbe interface {
	// cpu is the CPU time the process has used, all threads.
	cpu() time.Duration
	// slowShare is the share of goroutine wake-ups since the last call
	// that waited slowWake or longer for a CPU.
	slowShare() float64
	// procs is GOMAXPROCS, which the runtime changes when a container's
	// CPU limit changes.
	procs() int
}

// newSpawnGate returns an open gate on p (the real process if nil), with
// a budget of spawnBurst at once, then spawnPerCPU a second per CPU.
func newSpawnGate(p loadProbe) *spawnGate {
	if p == nil {
		p = &runtimeProbe{}
	}
	n := p.procs()
	return &spawnGate{procs: n, probe: p, budget: rate.NewLimiter(rate.Limit(spawnPerCPU*float64(n)), spawnBurst), open: true}
}

// allow reports whether a new worker may start at now, taking it from
// the budget if so.
func (g *spawnGate) allow(now time.Time) bool {
	return g.open && g.budget.AllowN(now, 1)
}

// look samples the probe, at most once per spawnRetry. late is how far
// behind its schedule the dispatcher runs: a dispatcher more than
// spawnRetry late is itself short of CPU (or the process was stopped),
// so the gate closes, and the next window starts there, so that a stop
// does not pass for idle time.
func (g *spawnGate) look(now time.Time, late time.Duration) {
	d := now.Sub(g.at)
	if d < spawnRetry {
		g.open = g.open && late <= spawnRetry
		return
	}
	if n := g.probe.procs(); n != g.procs {
		g.procs = n
		g.budget.SetLimitAt(now, rate.Limit(spawnPerCPU*float64(n)))
	}
	c, slow := g.probe.cpu(), g.probe.slowShare()
	g.open = late <= spawnRetry && float64(c-g.cpuAt) < cpuBusy*float64(g.procs)*float64(d) && slow < slowWakes
	g.at, g.cpuAt = now, c
}

// runtimeProbe reads the process CPU clock and the runtime's histogram of
// how long runnable goroutines waited to run.
type runtimeProbe struct {
	wait []metrics.Sample
	last []uint64 // the histogram's counts at the last call
}

func (*runtimeProbe) procs() int { return runtime.GOMAXPROCS(0) }

// cpu returns 0 if the clock cannot be read (the CPU sign then stays off).
func (*runtimeProbe) cpu() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func (r *runtimeProbe) slowShare() float64 {
	if r.wait == nil {
		r.wait = []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	}
	metrics.Read(r.wait)
	if r.wait[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	h := r.wait[0].Value.Float64Histogram()
	if len(r.last) != len(h.Counts) {
		r.last = make([]uint64, len(h.Counts))
	}
	var all, slow uint64
	for i, c := range h.Counts {
		n := c - r.last[i]
		r.last[i] = c
		all += n
		// Buckets[i] is bucket i's lower bound (-Inf for the first).
		if h.Buckets[i] >= slowWake.Seconds() {
			slow += n
		}
	}
	if all == 0 {
		return 0
	}
	return float64(slow) / float64(all)
}
