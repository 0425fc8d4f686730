// Package runs executes one run: it builds the run's scenarios (shaped by a
// schedule's stages or kept as configured for a fixed duration), drives
// them for the run's length, records every outcome in a high-resolution
// per-run recorder, judges the SLAs, writes the reports and updates the
// run metrics of the schedule. The daemon's schedules and `loadd once`
// both call it.
package runs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/report"
	"github.com/loadd/loadd/schedule"
	"github.com/loadd/loadd/sla"
)

// DefaultInterval is the resolution of a run's time series.
const DefaultInterval = time.Second

// DefaultGrace is the grace period of a plan that sets none: in-flight
// requests at the end of a run get this long to finish, so that they are
// not cut off and counted as failures.
const DefaultGrace = 10 * time.Second

// sampleEvery is how many times per interval the target rate of every
// scenario is sampled to integrate the arrivals asked for: often enough
// that a stage boundary between samples costs little accuracy.
const sampleEvery = 10

// earlyTolerance is how much before the end of a run a scenario may stop
// by itself (besides the gaps between its last arrivals) without making
// the run invalid.
const earlyTolerance = time.Second

// overrun is how long past its length plus grace a run may take before
// its scenarios are cancelled.
const overrun = 10 * time.Second

// Plan is what one run does.
type Plan struct {
	// Name is the schedule that starts the run ("once" for `loadd once`);
	// it is the schedule label of the run metrics and part of the run ID.
	Name string
	// Scenarios are the specs to run, by scenario name.
	Scenarios map[string]generators.Spec
	// Deps is the template every scenario is built with (Metrics, Logger,
	// Shard, Grace, Scale). Name, Shape and Duration are set per scenario;
	// Scale 0 means 1, Grace 0 means DefaultGrace, Metrics and Logger nil
	// mean the Runner's.
	Deps generators.Deps
	// Shape, when set, replaces every scenario's own load shape (a
	// schedule's stages; relative targets such as "5x" resolve against each
	// scenario's own rate in the generator).
	Shape *schedule.ShapeConfig
	// Duration is the length of the run; 0 means the length of Shape.
	Duration time.Duration
	// SLAs are judged at the end of the run.
	SLAs sla.List
}

// Length is how long the run lasts.
func (p *Plan) Length() time.Duration {
	if p.Duration > 0 || p.Shape == nil {
		return p.Duration
	}
	return p.Shape.Length()
}

// ErrNoLength is returned for a plan without a duration or finite stages.
var ErrNoLength = errors.New("a run needs a duration or stages of finite length")

func (p *Plan) validate() error {
	if p.Name == "" {
		return errors.New("a run needs a name")
	}
	if len(p.Scenarios) == 0 {
		return fmt.Errorf("run %s: no scenarios to run", p.Name)
	}
	for n, s := range p.Scenarios {
		if s == nil {
			return fmt.Errorf("run %s: scenario %s has no spec", p.Name, n)
		}
	}
	if p.Length() <= 0 {
		return fmt.Errorf("run %s: %w", p.Name, ErrNoLength)
	}
	return nil
}

// Options configure a Runner.
type Options struct {
	Metrics *exporter.Metrics
	Logger  log.Logger
	// Reports, when set, receives the reports of every run.
	Reports *report.Writer
	// Interval is the time-series resolution; 0 means DefaultInterval.
	Interval time.Duration
	// Progress, when set, is called after every interval of every run.
	Progress func(Progress)
}

// Runner executes runs. One Runner serves a whole daemon: runs may
// overlap, each with its own recorder.
type Runner struct {
	opts Options
	hub  hub

	mu     sync.Mutex
	active map[string]Progress
}

// New returns a Runner; Metrics is required. The Runner becomes the
// metrics' figure tap (WebSocket and transcription figures), so use one
// Runner per Metrics.
func New(opts Options) (*Runner, error) {
	if opts.Metrics == nil {
		return nil, errors.New("runs: metrics are required")
	}
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	r := &Runner{opts: opts, active: map[string]Progress{}}
	opts.Metrics.SetFigureTap(&r.hub)
	return r, nil
}

// Result is the outcome of a run.
type Result struct {
	ID         string
	Name       string
	Start, End time.Time
	// Outcome is exporter.RunPassed, RunFailed, RunInvalid or RunInterrupted.
	Outcome    string
	Verdict    sla.Verdict
	Deliveries []sla.Delivery
	// Reports are the files written (empty without a report writer).
	Reports report.Paths
}

// Passed reports whether every SLA held on a valid, complete run.
func (r *Result) Passed() bool { return r.Outcome == exporter.RunPassed }

// ExitCode is `loadd once`'s exit status: 0 when passed, 1 otherwise.
func (r *Result) ExitCode() int {
	if r.Passed() {
		return 0
	}
	return 1
}

// Active returns the progress of the runs in progress, sorted by ID.
func (r *Runner) Active() []Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Progress, 0, len(r.active))
	for _, p := range r.active {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Run executes plan and returns its result. Cancelling ctx ends the run
// early: the result is then RunInterrupted and the reports are still
// written. An error with a nil result means the run could not start (bad
// plan, a scenario failed to build); it is counted as a failed run. An
// error with a result means the reports could not be written.
func (r *Runner) Run(ctx context.Context, plan Plan) (*Result, error) {
	sched := r.opts.Metrics.Schedule(plan.Name)
	if err := plan.validate(); err != nil {
		sched.Finished(exporter.RunFailed)
		sched.LastSuccess.Set(0)
		return nil, err
	}
	if plan.Deps.Grace <= 0 {
		plan.Deps.Grace = DefaultGrace
	}
	start := time.Now()
	length := plan.Length()
	res := &Result{ID: report.RunID(start, plan.Name), Name: plan.Name, Start: start}
	logger := log.With(r.opts.Logger, "run", res.ID)
	sched.Active.Set(1)
	defer sched.Active.Set(0)
	sched.LastStart.Set(float64(start.UnixNano()) / 1e9)

	rec := sla.NewRecorder(start)
	scenarios, err := r.build(plan, length, rec)
	if err != nil {
		level.Error(logger).Log("msg", "run could not start", "err", err)
		sched.Finished(exporter.RunFailed)
		sched.LastSuccess.Set(0)
		return nil, err
	}
	names := make([]string, len(scenarios))
	for i, t := range scenarios {
		names[i] = t.name
	}
	r.hub.add(rec, names)
	defer r.hub.remove(rec)
	level.Info(logger).Log("msg", "run started", "schedule", plan.Name, "scenarios", fmt.Sprint(names), "length", length)

	interrupted := r.drive(ctx, res, plan, scenarios, rec, start.Add(length))
	res.End = time.Now()
	rec.Flush(res.End)
	return r.finish(interrupted, logger, res, plan, scenarios, rec, sched)
}

// build builds every scenario of the plan, in name order, and registers
// its tasks with the recorder and the tap hub.
func (r *Runner) build(plan Plan, length time.Duration, rec *sla.Recorder) ([]*tracked, error) {
	names := make([]string, 0, len(plan.Scenarios))
	for n := range plan.Scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*tracked, 0, len(names))
	for _, n := range names {
		spec := plan.Scenarios[n]
		d := plan.Deps
		d.Name, d.Duration, d.Shape = n, length, nil
		if plan.Shape != nil {
			sh := *plan.Shape
			d.Shape = &sh
		}
		if d.Scale == 0 {
			d.Scale = 1
		}
		if d.Metrics == nil {
			d.Metrics = r.opts.Metrics
		}
		if d.Logger == nil {
			d.Logger = r.opts.Logger
		}
		sc, err := spec.Build(d)
		if err != nil {
			return nil, fmt.Errorf("build scenario %s: %w", n, err)
		}
		rec.Track(n, spec.Tasks()...)
		r.hub.install(d.Metrics, n, spec.Tasks())
		out = append(out, &tracked{name: n, scenario: sc, base: sc.Status()})
	}
	return out, nil
}

// drive runs the scenarios until they all return, sampling them and
// closing a time-series step every interval. Scenarios that outlive the
// plan's end by their grace period plus a margin are cancelled. It reports
// whether ctx ended the run early.
func (r *Runner) drive(ctx context.Context, res *Result, plan Plan, scenarios []*tracked, rec *sla.Recorder, end time.Time) (interrupted bool) {
	runCtx, cancel := context.WithDeadline(ctx, end.Add(plan.Deps.Grace+overrun))
	defer cancel()
	done := make(chan *tracked, len(scenarios))
	for _, t := range scenarios {
		t.end = end
		t.sample(time.Now())
		go func() {
			err := t.scenario.Run(runCtx)
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				err = nil
			}
			now, until, early := time.Now(), end, time.Duration(0)
			switch {
			case ctx.Err() != nil && now.Before(end):
				until = now
			case now.Before(end.Add(-earlyTolerance)):
				early = end.Sub(now)
			}
			t.finish(until, early, err)
			done <- t
		}()
	}
	tick := time.NewTicker(r.opts.Interval)
	defer tick.Stop()
	fine := time.NewTicker(max(r.opts.Interval/sampleEvery, time.Millisecond))
	defer fine.Stop()
	total := end.Sub(res.Start)
	asked, lastTick := make([]float64, len(scenarios)), res.Start
	for running := len(scenarios); running > 0; {
		select {
		case <-done:
			running--
		case now := <-fine.C:
			for _, t := range scenarios {
				t.sample(now)
			}
		case now := <-tick.C:
			// The chart's target is the step's average, like its achieved rate.
			dt := minTime(now, end).Sub(lastTick).Seconds()
			for i, t := range scenarios {
				t.sample(now)
				a := t.asked()
				if dt > 0 {
					rec.SetTargetRate(t.name, (a-asked[i])/dt)
				} else {
					rec.SetTargetRate(t.name, 0)
				}
				asked[i] = a
			}
			lastTick = minTime(now, end)
			rec.Flush(now)
			r.progress(rec, res, min(now.Sub(res.Start), total), total)
		}
	}
	return ctx.Err() != nil
}

func (r *Runner) progress(rec *sla.Recorder, res *Result, elapsed, total time.Duration) {
	p := progressOf(rec, res.ID, res.Name, elapsed, total)
	r.mu.Lock()
	r.active[res.ID] = p
	r.mu.Unlock()
	if r.opts.Progress != nil {
		r.opts.Progress(p)
	}
}

// finish judges the run, writes its reports and counts it.
func (r *Runner) finish(interrupted bool, logger log.Logger, res *Result, plan Plan, scenarios []*tracked, rec *sla.Recorder, sched *exporter.Schedule) (*Result, error) {
	r.mu.Lock()
	delete(r.active, res.ID)
	r.mu.Unlock()
	for _, t := range scenarios {
		res.Deliveries = append(res.Deliveries, t.delivery())
	}
	snap := rec.Snapshot()
	res.Verdict = sla.Evaluate(plan.SLAs, snap, res.Deliveries)
	switch {
	case interrupted:
		res.Outcome = exporter.RunInterrupted
	case !res.Verdict.Valid:
		res.Outcome = exporter.RunInvalid
	case !res.Verdict.Passed():
		res.Outcome = exporter.RunFailed
	default:
		res.Outcome = exporter.RunPassed
	}
	for _, c := range res.Verdict.Failed() {
		level.Info(logger).Log("msg", "SLA breached", "sla", c.SLA, "detail", c.Message)
	}
	for _, why := range res.Verdict.Invalid {
		level.Warn(logger).Log("msg", "run invalid", "reason", why)
	}
	sched.Finished(res.Outcome)
	if !interrupted {
		sched.LastSuccess.Set(boolGauge(res.Outcome == exporter.RunPassed))
	}
	var err error
	if r.opts.Reports != nil {
		res.Reports, err = r.opts.Reports.Write(&report.Run{
			ID: res.ID, Name: res.Name, Start: res.Start, End: res.End, Planned: plan.Length(),
			Result: res.Outcome, Interrupted: interrupted, Verdict: res.Verdict, Snapshot: snap,
			Deliveries: res.Deliveries, SLAs: plan.SLAs,
		})
		if err != nil {
			err = fmt.Errorf("run %s: %w", res.ID, err)
			level.Error(logger).Log("msg", "writing reports failed", "err", err)
		}
	}
	level.Info(logger).Log("msg", "run finished", "schedule", res.Name, "result", res.Outcome,
		"duration", res.End.Sub(res.Start).Round(time.Millisecond), "report", res.Reports.HTML)
	return res, err
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
