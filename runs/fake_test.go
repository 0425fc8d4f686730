package runs

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/schedule"
)

// fakeSpec is an open-model scenario whose iterations take Latency and
// fail every FailEvery-th time; it stands in for a real generator.
type fakeSpec struct {
	Rate        float64
	Latency     time.Duration
	FailEvery   int
	MaxInFlight int
	// NoBase leaves a run shape's relative targets unresolved (0/s).
	NoBase   bool
	BuildErr error
	RunErr   error
	// built records the deps of every Build.
	mu    sync.Mutex
	built []generators.Deps
}

func (f *fakeSpec) Build(d generators.Deps) (generators.Scenario, error) {
	f.mu.Lock()
	f.built = append(f.built, d)
	f.mu.Unlock()
	if f.BuildErr != nil {
		return nil, f.BuildErr
	}
	shape := schedule.ShapeConfig{Rate: config.Rate(f.Rate)}
	if d.Shape != nil {
		sh := *d.Shape
		if sh.Rate == 0 && !f.NoBase {
			sh.Rate = shape.Rate // multiples resolve against the scenario's own rate
		}
		shape = sh
	}
	sc := d.Metrics.Scenario(d.Name, "work")
	return &fakeScenario{spec: f, deps: d, pacer: shape.Pacer(d.Scale), sc: sc, task: sc.Task("work")}, nil
}

func (f *fakeSpec) Summary() string { return "fake" }
func (f *fakeSpec) Tasks() []string { return []string{"work"} }
func (f *fakeSpec) Public() any     { return nil }

type fakeScenario struct {
	spec    *fakeSpec
	deps    generators.Deps
	pacer   schedule.Pacer
	sc      *exporter.Scenario
	task    *exporter.Task
	started atomic.Int64 // unix ns of the start
	ended   atomic.Bool
	n       atomic.Int64
}

func (s *fakeScenario) Run(ctx context.Context) error {
	start := time.Now()
	s.started.Store(start.UnixNano())
	defer s.ended.Store(true)
	o := schedule.Open{Pacer: s.pacer, MaxInFlight: max(s.spec.MaxInFlight, 1000), Grace: s.deps.Grace, Duration: s.deps.Duration, Start: start}
	if s.spec.MaxInFlight > 0 {
		o.MaxInFlight = s.spec.MaxInFlight
	}
	if _, err := o.Run(ctx, s); err != nil {
		return err
	}
	return s.spec.RunErr
}

func (s *fakeScenario) Iterate(ctx context.Context, a schedule.Arrival) {
	t := time.NewTimer(s.spec.Latency)
	defer t.Stop()
	out := exporter.Outcome{Code: 200}
	select {
	case <-t.C:
	case <-ctx.Done():
		out.Reason = exporter.ReasonTimeout
	}
	if n := s.n.Add(1); s.spec.FailEvery > 0 && n%int64(s.spec.FailEvery) == 0 {
		out.Reason, out.Code = exporter.ReasonStatus, 500
	}
	out.Latency = time.Since(a.Intended)
	s.task.Observe(out)
}

func (s *fakeScenario) Drop(schedule.Arrival) {
	s.sc.Dropped()
	s.task.Observe(exporter.Outcome{Reason: exporter.ReasonDropped})
}

func (s *fakeScenario) Status() generators.Status {
	dropped := s.sc.DroppedCount()
	st := generators.Status{Kind: "fake", Model: "open", Completed: sub(s.task.Count(), dropped), Dropped: dropped}
	switch ns := s.started.Load(); {
	case ns == 0:
		st.TargetRate = s.pacer.Rate(0) // as httpload reports before its start
	case !s.ended.Load():
		st.TargetRate = s.pacer.Rate(time.Since(time.Unix(0, ns)))
	}
	return st
}

// fakeWS is a sessions scenario that opens Connects connections (every
// FailEvery-th failing) and measures 5 message round trips of RTT.
type fakeWS struct {
	Connects, FailEvery int
	RTT                 time.Duration
}

func (f *fakeWS) Build(d generators.Deps) (generators.Scenario, error) {
	return &fakeWSScenario{spec: f, deps: d, m: d.Metrics.WebSocket(d.Name, []string{"refused"}, nil)}, nil
}
func (f *fakeWS) Summary() string { return "fake ws" }
func (f *fakeWS) Tasks() []string { return nil }
func (f *fakeWS) Public() any     { return nil }

type fakeWSScenario struct {
	spec *fakeWS
	deps generators.Deps
	m    *exporter.WebSocket
}

func (s *fakeWSScenario) Run(ctx context.Context) error {
	for i := 1; i <= s.spec.Connects; i++ {
		if s.spec.FailEvery > 0 && i%s.spec.FailEvery == 0 {
			s.m.ConnectFailure("refused").Inc()
		} else {
			s.m.ConnectDuration.Observe(0.002)
		}
	}
	for range 5 {
		s.m.RTT.Observe(s.spec.RTT.Seconds())
	}
	select {
	case <-time.After(s.deps.Duration):
	case <-ctx.Done():
	}
	return nil
}

func (s *fakeWSScenario) Status() generators.Status {
	return generators.Status{Kind: "fake-ws", Model: "sessions"}
}
