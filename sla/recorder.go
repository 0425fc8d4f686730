package sla

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadd/loadd/exporter"
)

// Recorder keeps the high-resolution measurements of one run: a log-linear
// histogram (≤ 1 % relative error) and failure counts per task over the
// whole run, the WebSocket and transcription figures per scenario, and a
// time series per task and scenario closed by every Flush. It implements
// exporter.Tap; recording takes no lock once a task is known.
type Recorder struct {
	start time.Time

	tasks     atomic.Pointer[map[taskKey]*taskRec]
	scenarios atomic.Pointer[map[string]*scenarioRec]

	mu        sync.Mutex // serialises adding tasks/scenarios and Flush
	lastFlush time.Time
}

var _ exporter.Tap = (*Recorder)(nil)

type taskKey struct{ scenario, task string }

// reasonSlots bounds the failure reasons counted per task.
const reasonSlots = 16

type taskRec struct {
	key      taskKey
	total    hist // latency, ns
	requests atomic.Uint64
	failures atomic.Uint64
	dropped  atomic.Uint64
	reasons  [reasonSlots]atomic.Uint64

	cur    atomic.Pointer[interval]
	spare  *interval // guarded by Recorder.mu
	series []Point   // guarded by Recorder.mu
}

// interval accumulates one time-series step.
type interval struct {
	h        hist
	requests atomic.Uint64
	failures atomic.Uint64
}

func (iv *interval) reset() {
	iv.h.reset()
	iv.requests.Store(0)
	iv.failures.Store(0)
}

type scenarioRec struct {
	rtt, finalLatency, rtf hist // ns, ns, factor × 1e6
	connects, connectFails atomic.Uint64
	targetRate             atomic.Uint64 // float64 bits
	series                 []Point       // guarded by Recorder.mu
}

// rtfScale stores realtime factors as integers with 6 decimals.
const rtfScale = 1e6

// NewRecorder returns a recorder whose time series start at start.
func NewRecorder(start time.Time) *Recorder {
	r := &Recorder{start: start, lastFlush: start}
	r.tasks.Store(&map[taskKey]*taskRec{})
	r.scenarios.Store(&map[string]*scenarioRec{})
	return r
}

// Track registers a scenario and its tasks up front, so that they appear
// in the time series and reports even if they never record anything.
func (r *Recorder) Track(scenario string, tasks ...string) {
	r.scenario(scenario)
	for _, t := range tasks {
		r.task(scenario, t)
	}
}

func (r *Recorder) task(scenario, task string) *taskRec {
	k := taskKey{scenario, task}
	if t, ok := (*r.tasks.Load())[k]; ok {
		return t
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.tasks.Load()
	if t, ok := old[k]; ok {
		return t
	}
	t := &taskRec{key: k, spare: &interval{}}
	t.cur.Store(&interval{})
	next := make(map[taskKey]*taskRec, len(old)+1)
	for kk, v := range old {
		next[kk] = v
	}
	next[k] = t
	r.tasks.Store(&next)
	r.scenarioLocked(scenario)
	return t
}

func (r *Recorder) scenario(name string) *scenarioRec {
	if s, ok := (*r.scenarios.Load())[name]; ok {
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.scenarioLocked(name)
}

func (r *Recorder) scenarioLocked(name string) *scenarioRec {
	old := *r.scenarios.Load()
	if s, ok := old[name]; ok {
		return s
	}
	s := &scenarioRec{}
	next := make(map[string]*scenarioRec, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[name] = s
	r.scenarios.Store(&next)
	return s
}

// Record implements exporter.Tap: it counts one request outcome. A dropped
// arrival counts as a failure but not in the latency distribution.
func (r *Recorder) Record(scenario, task string, o exporter.Outcome) {
	t := r.task(scenario, task)
	iv := t.cur.Load()
	if o.Reason == exporter.ReasonDropped {
		t.dropped.Add(1)
		t.reasons[o.Reason].Add(1)
		iv.failures.Add(1)
		return
	}
	ns := uint64(max(o.Latency, 0))
	t.total.record(ns)
	t.requests.Add(1)
	iv.h.record(ns)
	iv.requests.Add(1)
	if o.Reason != exporter.ReasonNone {
		t.failures.Add(1)
		t.reasons[min(int(o.Reason), reasonSlots-1)].Add(1)
		iv.failures.Add(1)
	}
}

// ObserveRTT records a WebSocket message round trip of scenario.
func (r *Recorder) ObserveRTT(scenario string, d time.Duration) {
	r.scenario(scenario).rtt.record(uint64(max(d, 0)))
}

// ObserveConnect records a WebSocket connection attempt of scenario.
func (r *Recorder) ObserveConnect(scenario string, failed bool) {
	s := r.scenario(scenario)
	s.connects.Add(1)
	if failed {
		s.connectFails.Add(1)
	}
}

// ObserveFinalLatency records a transcription job's final-result latency.
func (r *Recorder) ObserveFinalLatency(scenario string, d time.Duration) {
	r.scenario(scenario).finalLatency.record(uint64(max(d, 0)))
}

// ObserveRealtimeFactor records a transcription job's real-time factor
// (processing time / audio duration).
func (r *Recorder) ObserveRealtimeFactor(scenario string, f float64) {
	if f >= 0 && !math.IsInf(f, 0) && !math.IsNaN(f) {
		r.scenario(scenario).rtf.record(uint64(f * rtfScale))
	}
}

// ObserveFigure implements exporter.FigureTap: WebSocket and transcription
// figures as the exporter's histograms and counters receive them.
func (r *Recorder) ObserveFigure(scenario string, f exporter.Figure, v float64) {
	switch f {
	case exporter.FigureRTT:
		r.ObserveRTT(scenario, seconds2d(v))
	case exporter.FigureConnectOK:
		r.ObserveConnect(scenario, false)
	case exporter.FigureConnectFailed:
		r.ObserveConnect(scenario, true)
	case exporter.FigureFinalLatency:
		r.ObserveFinalLatency(scenario, seconds2d(v))
	case exporter.FigureRealtimeFactor:
		r.ObserveRealtimeFactor(scenario, v)
	}
}

var _ exporter.FigureTap = (*Recorder)(nil)

func seconds2d(v float64) time.Duration {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	return time.Duration(min(v, float64(maxValue)/1e9) * 1e9)
}

// SetTargetRate notes the arrival rate scenario was asked for (e.g. on
// average over the step); the next Flush puts it in the scenario's series.
func (r *Recorder) SetTargetRate(scenario string, perSecond float64) {
	r.scenario(scenario).targetRate.Store(math.Float64bits(perSecond))
}

// Point is one step of a time series: what completed between the previous
// point and T. Latency quantiles are in seconds and 0 without requests.
type Point struct {
	// T is the end of the step, in seconds since the start of the run.
	T          float64 `json:"t"`
	Requests   uint64  `json:"requests"`
	Failures   uint64  `json:"failures"`
	Rate       float64 `json:"rate"`
	ErrorRate  float64 `json:"error_rate"`
	TargetRate float64 `json:"target_rate,omitempty"`
	P50        float64 `json:"p50"`
	P95        float64 `json:"p95"`
	P99        float64 `json:"p99"`
	Max        float64 `json:"max"`
}

// Flush closes the current time-series step at now and starts the next.
// Call it every interval (and once at the end of the run).
func (r *Recorder) Flush(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	step := now.Sub(r.lastFlush).Seconds()
	if step <= 0 {
		return
	}
	r.lastFlush = now
	at := now.Sub(r.start).Seconds()
	type agg struct {
		d                  Dist
		requests, failures uint64
	}
	per := map[string]*agg{}
	for _, t := range *r.tasks.Load() {
		t.spare.reset()
		old := t.cur.Swap(t.spare)
		t.spare = old
		d := old.h.snapshot(1e-9)
		p := pointOf(at, step, d, old.requests.Load(), old.failures.Load())
		t.series = appendPoint(t.series, p, step)
		a := per[t.key.scenario]
		if a == nil {
			a = &agg{}
			per[t.key.scenario] = a
		}
		a.d = a.d.Merge(d)
		a.requests += p.Requests
		a.failures += p.Failures
	}
	for name, s := range *r.scenarios.Load() {
		a := per[name]
		if a == nil {
			a = &agg{}
		}
		p := pointOf(at, step, a.d, a.requests, a.failures)
		p.TargetRate = math.Float64frombits(s.targetRate.Load())
		s.series = appendPoint(s.series, p, step)
	}
}

// appendPoint appends p, a step of step seconds, to series; a step less
// than half as long as the one before (the stub at the end of a run) is
// merged into the last point instead, so it does not show as a spike.
// The merged point keeps the last point's quantiles.
func appendPoint(series []Point, p Point, step float64) []Point {
	n := len(series)
	if n == 0 {
		return append(series, p)
	}
	last := &series[n-1]
	prevStep := last.T
	if n > 1 {
		prevStep -= series[n-2].T
	}
	if step >= prevStep/2 {
		return append(series, p)
	}
	span := p.T - last.T + prevStep
	last.T = p.T
	last.Requests += p.Requests
	last.Failures += p.Failures
	last.Rate = float64(last.Requests) / span
	last.ErrorRate = float64(last.Failures) / span
	last.Max = max(last.Max, p.Max)
	if last.Requests == p.Requests { // the last point had none
		last.P50, last.P95, last.P99 = p.P50, p.P95, p.P99
	}
	return series
}

func pointOf(at, step float64, d Dist, requests, failures uint64) Point {
	p := Point{T: at, Requests: requests, Failures: failures, Rate: float64(requests) / step, ErrorRate: float64(failures) / step}
	if d.Count() > 0 {
		p.P50, p.P95, p.P99, p.Max = d.Quantile(0.5), d.Quantile(0.95), d.Quantile(0.99), d.Max()
	}
	return p
}

// TaskStats are the totals of one task (or, aggregated, of a scenario).
type TaskStats struct {
	Scenario string `json:"scenario"`
	Task     string `json:"task"`
	// Requests counts completed requests, failed or not (dropped excluded).
	Requests uint64 `json:"requests"`
	// Failures counts completed requests that failed.
	Failures uint64 `json:"failures"`
	// Dropped counts arrivals not started (max_in_flight reached).
	Dropped uint64            `json:"dropped"`
	Reasons map[string]uint64 `json:"reasons,omitempty"`
	// Latency is the distribution of request latency in seconds.
	Latency Dist    `json:"-"`
	Series  []Point `json:"series,omitempty"`
}

// ErrorRatio is (failures + dropped) / (requests + dropped), 0 when idle.
func (t *TaskStats) ErrorRatio() float64 {
	all := t.Requests + t.Dropped
	if all == 0 {
		return 0
	}
	return float64(t.Failures+t.Dropped) / float64(all)
}

// ScenarioStats are the per-scenario figures of a run.
type ScenarioStats struct {
	Name           string  `json:"name"`
	Series         []Point `json:"series,omitempty"`
	RTT            Dist    `json:"-"`
	FinalLatency   Dist    `json:"-"`
	RealtimeFactor Dist    `json:"-"`
	Connects       uint64  `json:"connects,omitempty"`
	ConnectFails   uint64  `json:"connect_failures,omitempty"`
}

// Snapshot is a consistent-enough copy of a recorder for verdicts and reports.
type Snapshot struct {
	Start   time.Time
	Elapsed time.Duration
	// Tasks are sorted by scenario then task.
	Tasks []*TaskStats
	// Scenarios are sorted by name.
	Scenarios []*ScenarioStats
}

// Snapshot copies the recorder's totals and series; Elapsed is the time
// from the start to the last Flush.
func (r *Recorder) Snapshot() *Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &Snapshot{Start: r.start, Elapsed: r.lastFlush.Sub(r.start)}
	for _, t := range *r.tasks.Load() {
		ts := &TaskStats{
			Scenario: t.key.scenario, Task: t.key.task,
			Requests: t.requests.Load(), Failures: t.failures.Load(), Dropped: t.dropped.Load(),
			Latency: t.total.snapshot(1e-9), Series: append([]Point(nil), t.series...),
		}
		for i := range t.reasons {
			if n := t.reasons[i].Load(); n > 0 {
				if ts.Reasons == nil {
					ts.Reasons = map[string]uint64{}
				}
				ts.Reasons[exporter.Reason(i).String()] += n
			}
		}
		s.Tasks = append(s.Tasks, ts)
	}
	sort.Slice(s.Tasks, func(i, j int) bool {
		a, b := s.Tasks[i], s.Tasks[j]
		return a.Scenario < b.Scenario || (a.Scenario == b.Scenario && a.Task < b.Task)
	})
	for name, sc := range *r.scenarios.Load() {
		s.Scenarios = append(s.Scenarios, &ScenarioStats{
			Name: name, Series: append([]Point(nil), sc.series...),
			RTT: sc.rtt.snapshot(1e-9), FinalLatency: sc.finalLatency.snapshot(1e-9),
			RealtimeFactor: sc.rtf.snapshot(1 / rtfScale),
			Connects:       sc.connects.Load(), ConnectFails: sc.connectFails.Load(),
		})
	}
	sort.Slice(s.Scenarios, func(i, j int) bool { return s.Scenarios[i].Name < s.Scenarios[j].Name })
	return s
}

// Scenario returns the stats of scenario name, or nil.
func (s *Snapshot) Scenario(name string) *ScenarioStats {
	for _, sc := range s.Scenarios {
		if sc.Name == name {
			return sc
		}
	}
	return nil
}

// Aggregate returns the totals of one task of scenario, or of all its
// tasks merged when task is "*". Series are left out of an aggregate.
func (s *Snapshot) Aggregate(scenario, task string) *TaskStats {
	out := &TaskStats{Scenario: scenario, Task: task}
	for _, t := range s.Tasks {
		if t.Scenario != scenario || (task != AllTasks && t.Task != task) {
			continue
		}
		if task != AllTasks {
			return t
		}
		out.Requests += t.Requests
		out.Failures += t.Failures
		out.Dropped += t.Dropped
		out.Latency = out.Latency.Merge(t.Latency)
		for k, v := range t.Reasons {
			if out.Reasons == nil {
				out.Reasons = map[string]uint64{}
			}
			out.Reasons[k] += v
		}
	}
	return out
}
