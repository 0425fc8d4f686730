package httpload

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/schedule"
)

// scenario is a built http scenario, ready to run once.
type scenario struct {
	spec      *spec
	deps      generators.Deps
	logger    log.Logger
	metrics   *exporter.Scenario
	handles   []*exporter.Task
	transport transport
	loginRT   *http.Transport
	pools     map[string]*pool
	calls     sync.Pool
	// base starts every request URI. For plainTransport it is the path
	// prefix alone and host is sent as the Host header, so fasthttp
	// writes the request line without parsing a URL (measured at the
	// maximum rate: 0.5–6 % more requests/s in 5 of 5 interleaved rounds).
	base, host []byte

	// open model
	pacer       schedule.Pacer
	maxInFlight int
	startedAt   atomic.Int64 // unix nanos; 0 until Run starts arrivals

	// closed model
	usersTarget int
	classUsers  []prometheus.Gauge
	classN      []atomic.Int64

	inFlight  atomic.Int64
	users     atomic.Int64
	lastDebug atomic.Int64
}

var _ generators.Scenario = (*scenario)(nil)

// Build sets up the scenario's clients, metric handles and capture pools.
func (s *spec) Build(d generators.Deps) (generators.Scenario, error) {
	if d.Metrics == nil || d.Name == "" {
		return nil, errors.New("build http scenario: deps need Metrics and Name")
	}
	if s.target == nil {
		return nil, errors.New("build http scenario: spec has no target (was it decoded?)")
	}
	if d.Logger == nil {
		d.Logger = log.NewNopLogger()
	}
	if d.Shard.Count == 0 {
		d.Shard = schedule.Whole
	}
	sc := &scenario{spec: s, deps: d, logger: d.Logger, pools: map[string]*pool{}, base: s.base}
	sc.metrics = d.Metrics.Scenario(d.Name, s.Tasks()...)
	for _, t := range s.tasks {
		sc.handles = append(sc.handles, sc.metrics.Task(t.name))
	}
	for _, name := range s.pools {
		sc.pools[name] = newPool(name, s.cfg.CapturePoolSize)
	}
	sc.calls.New = func() any { return sc.newCall() }
	maxConns := 0
	if s.open {
		sc.pacer = s.pacer(d)
		sc.maxInFlight = s.inFlightBound(d, sc.pacer)
		maxConns = sc.maxInFlight
	} else {
		sc.usersTarget = d.Shard.Of(int(math.Round(float64(s.users) * scale(d))))
		for _, cl := range s.classes {
			sc.classUsers = append(sc.classUsers, sc.metrics.VirtualUsers(cl.name))
		}
		sc.classN = make([]atomic.Int64, len(s.classes))
		maxConns = max(1, sc.usersTarget)
	}
	if s.maxConns > 0 {
		maxConns = min(maxConns, scaledBound(d, s.maxConns))
	}
	tc := s.target.TLSClient
	switch {
	case s.cfg.HTTP2:
		sc.transport = newStdTransport(s.isTLS, tc, maxConns)
	case s.isTLS:
		sc.transport = newFastTransport(s.addr, tc, maxConns, s.timeout)
	default:
		sc.transport = newPlainTransport(s.addr, maxConns, s.minTimeout())
		sc.base, sc.host = s.basePath, s.host
	}
	sc.loginRT = &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
	if tc != nil {
		sc.loginRT.TLSClientConfig = tc.Clone()
	}
	return sc, nil
}

// Run drives load until ctx is done or the shape or Duration ends, then
// lets in-flight requests finish within the grace period. Every request
// it started has been recorded when it returns.
func (sc *scenario) Run(ctx context.Context) error {
	defer sc.loginRT.CloseIdleConnections()
	defer sc.transport.close()
	if sc.spec.open {
		return sc.runOpen(ctx)
	}
	return sc.runClosed(ctx)
}

func (sc *scenario) newIdentity(t *generators.Target) *identity {
	return newIdentity(t, sc.loginRT, sc.spec.timeout)
}

func (sc *scenario) runOpen(ctx context.Context) error {
	ids := make([]*identity, sc.spec.sessions)
	for i := range ids {
		ids[i] = sc.newIdentity(sc.spec.target)
	}
	sc.login(ctx, ids)
	sc.prime(ctx, sc.spec.shared, func(*task) *identity { return ids[0] })
	it := &openIter{sc: sc, picker: sc.spec.sharedPicker, ids: ids}
	start := time.Now()
	run := schedule.Open{
		Pacer: sc.pacer, MaxInFlight: sc.maxInFlight, Grace: sc.deps.Grace, Batch: schedule.DefaultBatch,
		Duration: sc.deps.Duration, Recorder: openRecorder{sc}, Start: start,
	}
	sc.startedAt.Store(start.UnixNano())
	stop := sc.trackTargetRate(start)
	defer stop()
	if _, err := run.Run(ctx, it); err != nil {
		return fmt.Errorf("run http scenario %s: %w", sc.deps.Name, err)
	}
	return nil
}

// login logs the open model's sessions in before the first arrival (their
// on_start), so no request's latency includes a login. A failure is
// logged here, once per session; its requests then fail with reason auth.
func (sc *scenario) login(ctx context.Context, ids []*identity) {
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			if _, err := id.session.Token(ctx); err != nil {
				level.Warn(sc.logger).Log("msg", "Login failed", "err", err)
			}
		})
	}
	wg.Wait()
}

// trackTargetRate keeps the target-rate gauge on the pacer's current rate.
func (sc *scenario) trackTargetRate(start time.Time) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			sc.metrics.SetTargetRate(sc.pacer.Rate(time.Since(start)))
			select {
			case <-tick.C:
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		sc.startedAt.Store(0)
		sc.metrics.SetTargetRate(0)
	}
}

// openIter runs the open model's iterations: one weighted task each, as
// one of the shared identities.
type openIter struct {
	sc     *scenario
	picker *picker
	ids    []*identity
}

func (it *openIter) task() *task { return it.sc.spec.tasks[it.sc.spec.shared[it.picker.pick()]] }

// Iterate runs one request; latency counts from the intended start.
func (it *openIter) Iterate(ctx context.Context, a schedule.Arrival) {
	it.sc.exec(ctx, it.task(), it.ids[rand.IntN(len(it.ids))], a.Intended)
}

// Drop records an arrival over max_in_flight on the task it would have run.
func (it *openIter) Drop(schedule.Arrival) {
	it.sc.metrics.Dropped()
	it.sc.handles[it.task().idx].Dropped()
}

type openRecorder struct{ sc *scenario }

func (r openRecorder) ObserveLag(d time.Duration) { r.sc.metrics.ObserveLag(d) }

func (r openRecorder) InFlight(n int64) {
	r.sc.inFlight.Store(n)
	r.sc.metrics.InFlight().Set(float64(n))
}

// prime runs, once, the first task among candidates that fills each empty
// capture pool, so tasks picking from it do not fail at the start.
func (sc *scenario) prime(ctx context.Context, candidates []int, id func(*task) *identity) {
	for _, name := range sc.spec.pools {
		if sc.pools[name].size() > 0 {
			continue
		}
		for _, ti := range candidates {
			t := sc.spec.tasks[ti]
			fills := slices.ContainsFunc(t.captures, func(c capture) bool { return c.pool == name })
			if fills && t.weight > 0 && len(t.pools) == 0 {
				sc.exec(ctx, t, id(t), time.Now())
				break
			}
		}
	}
}

// Status reports live counts from the task handles.
func (sc *scenario) Status() generators.Status {
	st := generators.Status{
		Kind: KindName, Model: sc.spec.model(), Failures: map[string]uint64{},
		Dropped: sc.metrics.DroppedCount(), InFlight: sc.inFlight.Load(),
	}
	for _, h := range sc.handles {
		st.Completed += h.Count()
		for k, v := range h.Failures() {
			st.Failures[k] += v
		}
	}
	if sc.spec.open {
		st.MaxInFlight = sc.maxInFlight
		if at := sc.startedAt.Load(); at != 0 {
			st.TargetRate = sc.pacer.Rate(time.Since(time.Unix(0, at)))
		} else {
			st.TargetRate = sc.pacer.Rate(0)
		}
	} else {
		st.Users, st.UsersTarget = sc.users.Load(), int64(sc.usersTarget)
	}
	return st
}
