package runs

import (
	"context"
	"encoding/json"
	"path"
	"sort"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/schedule"
	"github.com/loadd/loadd/sla"
)

// Baseline is the daemon's continuous load. A run in replace mode pauses
// the baseline of its scenarios while it runs.
type Baseline interface {
	// Pause stops the baseline of scenarios until resume is called.
	Pause(scenarios []string) (resume func())
}

// Setup is what the scheduler takes from the active configuration.
type Setup struct {
	Crons schedule.Crons
	// Specs are every configured scenario by name.
	Specs map[string]generators.Spec
	// Deps is the template scenarios are built with (Logger, Shard, Grace).
	Deps generators.Deps
	SLAs sla.List
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	Runner *Runner
	// Baseline may be nil: replace-mode runs then run on top of the baseline.
	Baseline Baseline
	Logger   log.Logger
	// Clock defaults to the system clock (tests inject a fake).
	Clock schedule.Clock
	// ReportsURL, when set, is the URL prefix under which the daemon
	// serves the report directory (e.g. "/reports/"); status links use it.
	ReportsURL string
}

// Scheduler keeps one trigger per configured schedule and runs the runs
// they start. Apply reconciles it with each new configuration.
type Scheduler struct {
	opts    SchedulerOptions
	metrics *exporter.Metrics
	ctx     context.Context // runs live in it; Stop cancels it
	stop    context.CancelFunc

	mu       sync.Mutex
	setup    Setup
	triggers map[string]*triggerEntry
	last     map[string]*Result
	wg       sync.WaitGroup
}

type triggerEntry struct {
	trig        *schedule.Trigger
	fingerprint string
	cancel      context.CancelFunc
}

// NewScheduler returns a scheduler with no schedules; call Apply.
func NewScheduler(opts SchedulerOptions) *Scheduler {
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Scheduler{
		opts: opts, metrics: opts.Runner.opts.Metrics, ctx: ctx, stop: stop,
		triggers: map[string]*triggerEntry{}, last: map[string]*Result{},
	}
}

// Apply makes the scheduler follow setup: schedules that are new start
// waiting for their first start, changed ones restart (a run of theirs in
// progress is interrupted), removed ones stop and lose their series.
// Unchanged schedules keep running; their next runs use the new scenarios
// and SLAs. Apply does not wait for interrupted runs.
func (s *Scheduler) Apply(setup Setup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setup = setup
	for name, e := range s.triggers {
		c, ok := setup.Crons[name]
		if ok && fingerprint(c) == e.fingerprint {
			continue
		}
		e.cancel() // its goroutine forgets the series once the run ended
		delete(s.triggers, name)
		if !ok {
			delete(s.last, name)
			level.Info(s.opts.Logger).Log("msg", "schedule removed", "schedule", name)
		}
	}
	for _, name := range setup.Crons.Names() {
		if _, ok := s.triggers[name]; ok {
			continue
		}
		s.launch(name, setup.Crons[name])
	}
}

func fingerprint(c *schedule.Cron) string {
	b, _ := json.Marshal(struct {
		Config    schedule.CronConfig
		Scenarios []string
	}{c.Config, c.Scenarios})
	return string(b)
}

// launch starts the trigger of schedule name; s.mu is held.
func (s *Scheduler) launch(name string, c *schedule.Cron) {
	sched := s.metrics.Schedule(name) // pre-initialise the series
	ctx, cancel := context.WithCancel(s.ctx)
	t := &schedule.Trigger{
		Name: name, When: c.When, Overlap: c.Config.Overlap, Clock: s.opts.Clock, Logger: s.opts.Logger,
		Start:  func(ctx context.Context, at time.Time) { s.runOnce(ctx, name) },
		OnSkip: func(time.Time) { sched.Finished(exporter.RunSkipped) },
	}
	s.triggers[name] = &triggerEntry{trig: t, fingerprint: fingerprint(c), cancel: cancel}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := t.Run(ctx); err != nil {
			level.Error(s.opts.Logger).Log("msg", "schedule cannot run", "schedule", name, "err", err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, still := s.setup.Crons[name]; !still && s.ctx.Err() == nil {
			s.metrics.ForgetSchedule(name) // removed by a reload
		}
	}()
	level.Info(s.opts.Logger).Log("msg", "schedule armed", "schedule", name, "cron", c.Config.Cron, "next", t.Next())
}

// RunNow runs schedule name once, now, outside its timetable (for tests
// and manual triggers) and returns its result.
func (s *Scheduler) RunNow(ctx context.Context, name string) (*Result, error) {
	plan, resume, err := s.plan(name)
	if err != nil {
		return nil, err
	}
	defer resume()
	return s.record(ctx, name, plan)
}

// runOnce is a trigger's start function.
func (s *Scheduler) runOnce(ctx context.Context, name string) {
	plan, resume, err := s.plan(name)
	if err != nil {
		level.Error(s.opts.Logger).Log("msg", "scheduled run cannot start", "schedule", name, "err", err)
		return
	}
	defer resume()
	_, _ = s.record(ctx, name, plan) // the runner logs failures
}

func (s *Scheduler) record(ctx context.Context, name string, plan Plan) (*Result, error) {
	res, err := s.opts.Runner.Run(ctx, plan)
	if res != nil {
		s.mu.Lock()
		s.last[name] = res
		s.mu.Unlock()
	}
	return res, err
}

// plan builds the plan of schedule name from the current setup and, in
// replace mode, pauses the baseline of its scenarios.
func (s *Scheduler) plan(name string) (Plan, func(), error) {
	s.mu.Lock()
	setup := s.setup
	s.mu.Unlock()
	c, ok := setup.Crons[name]
	if !ok {
		return Plan{}, nil, &unknownScheduleError{name}
	}
	p := PlanFor(name, c, setup.Specs, setup.Deps, setup.SLAs)
	resume := func() {}
	if c.Config.Mode == schedule.ModeReplace && s.opts.Baseline != nil {
		resume = s.opts.Baseline.Pause(c.Scenarios)
	}
	return p, resume, nil
}

type unknownScheduleError struct{ name string }

func (e *unknownScheduleError) Error() string { return "unknown schedule " + e.name }

// PlanFor returns the plan of one run of schedule c: its scenarios, its
// stages (or its duration with the scenarios' own shapes) and the SLAs
// about its scenarios.
func PlanFor(name string, c *schedule.Cron, specs map[string]generators.Spec, deps generators.Deps, slas sla.List) Plan {
	p := Plan{Name: name, Scenarios: map[string]generators.Spec{}, Deps: deps, Shape: c.Shape()}
	if p.Shape == nil {
		p.Duration = c.Length()
	}
	in := map[string]bool{}
	for _, n := range c.Scenarios {
		if spec, ok := specs[n]; ok {
			p.Scenarios[n] = spec
			in[n] = true
		}
	}
	for _, l := range slas {
		if in[l.Scenario] {
			p.SLAs = append(p.SLAs, l)
		}
	}
	return p
}

// Stop stops every trigger, interrupts the runs in progress and waits
// for them (their reports are written).
func (s *Scheduler) Stop() {
	s.stop()
	s.wg.Wait()
}

// ScheduleStatus is one schedule in /api/v1/status.
type ScheduleStatus struct {
	Cron      string    `json:"cron"`
	Timezone  string    `json:"timezone,omitempty"`
	Mode      string    `json:"mode"`
	Overlap   string    `json:"overlap"`
	Scenarios []string  `json:"scenarios"`
	Length    string    `json:"length"`
	Next      time.Time `json:"next,omitzero"`
	Running   bool      `json:"running"`
	Queued    time.Time `json:"queued,omitzero"`
	Last      *RunInfo  `json:"last,omitempty"`
}

// RunInfo is a finished run in /api/v1/status.
type RunInfo struct {
	ID      string    `json:"id"`
	Result  string    `json:"result"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Failed  []string  `json:"failed,omitempty"`
	Invalid []string  `json:"invalid,omitempty"`
	// Report and JUnit are URLs under SchedulerOptions.ReportsURL.
	Report string `json:"report,omitempty"`
	JUnit  string `json:"junit,omitempty"`
}

// Status returns the state of every schedule by name: its next start,
// whether it runs now, and its last finished run with links to the reports.
func (s *Scheduler) Status() map[string]ScheduleStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]ScheduleStatus, len(s.triggers))
	for name, e := range s.triggers {
		c := s.setup.Crons[name]
		if c == nil {
			continue
		}
		st := e.trig.State()
		ss := ScheduleStatus{
			Cron: c.Config.Cron, Timezone: c.Config.Timezone, Mode: c.Config.Mode, Overlap: c.Config.Overlap,
			Scenarios: c.Scenarios, Length: c.Length().String(), Next: st.Next, Running: st.Running, Queued: st.Queued,
		}
		if r := s.last[name]; r != nil {
			ss.Last = s.info(r)
		}
		out[name] = ss
	}
	return out
}

// Active returns the progress of the runs in progress.
func (s *Scheduler) Active() []Progress { return s.opts.Runner.Active() }

func (s *Scheduler) info(r *Result) *RunInfo {
	ri := &RunInfo{ID: r.ID, Result: r.Outcome, Start: r.Start, End: r.End, Invalid: r.Verdict.Invalid}
	for _, c := range r.Verdict.Failed() {
		ri.Failed = append(ri.Failed, c.Message)
	}
	sort.Strings(ri.Failed)
	if s.opts.ReportsURL != "" && r.Reports.Dir != "" {
		dir := path.Base(r.Reports.Dir)
		ri.Report = s.opts.ReportsURL + dir + "/" + path.Base(r.Reports.HTML)
		ri.JUnit = s.opts.ReportsURL + dir + "/" + path.Base(r.Reports.JUnit)
	}
	return ri
}
