package exporter

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reason is why a request, iteration or session failed. The set is closed:
// only these values ever become the reason label.
type Reason uint8

// The failure reasons.
const (
	ReasonNone      Reason = iota // not a failure
	ReasonStatus                  // unexpected HTTP status
	ReasonTimeout                 // request, dial or read deadline exceeded
	ReasonConnect                 // connection refused or unreachable
	ReasonTLS                     // TLS handshake or certificate error
	ReasonReset                   // connection reset or closed mid-request
	ReasonAssertion               // a check on the response failed
	ReasonDropped                 // arrival not started: max_in_flight reached
	ReasonProtocol                // malformed response or protocol violation
	ReasonAddr                    // no local address or port available
	ReasonAuth                    // login failed or token refused
	ReasonOther                   // anything else
	numReasons
)

var reasonNames = [numReasons]string{"", "status", "timeout", "connect", "tls", "reset", "assertion", "dropped", "protocol", "address_unavailable", "auth", "other"}

// String returns the label value of r.
func (r Reason) String() string {
	if r >= numReasons {
		return "other"
	}
	return reasonNames[r]
}

// Reasons returns every failure reason (without ReasonNone), in label order.
func Reasons() []Reason {
	out := make([]Reason, 0, numReasons-1)
	for r := ReasonStatus; r < numReasons; r++ {
		out = append(out, r)
	}
	return out
}

// Scenario holds the pre-curried series of one scenario.
type Scenario struct {
	Name       string
	m          *Metrics
	lag        prometheus.Observer
	dropped    prometheus.Counter
	droppedN   atomic.Uint64
	targetRate prometheus.Gauge
	inFlight   prometheus.Gauge

	mu    sync.Mutex
	tasks map[string]*Task
}

// Scenario returns the handles of scenario name, creating and
// pre-initialising its series (so rate() and absent() work from the first
// scrape) for the given tasks.
func (m *Metrics) Scenario(name string, tasks ...string) *Scenario {
	m.mu.Lock()
	s, ok := m.scenarios[name]
	if !ok {
		s = &Scenario{
			Name:       name,
			m:          m,
			lag:        m.lag.WithLabelValues(name),
			dropped:    m.dropped.WithLabelValues(name),
			targetRate: m.targetRate.WithLabelValues(name),
			inFlight:   m.inFlight.WithLabelValues(name),
			tasks:      map[string]*Task{},
		}
		m.scenarios[name] = s
	}
	m.mu.Unlock()
	for _, t := range tasks {
		s.Task(t)
	}
	return s
}

// Task returns the handles of one task of the scenario.
func (s *Scenario) Task(task string) *Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tasks[task]; ok {
		return t
	}
	m := s.m
	t := &Task{
		Scenario:   s.Name,
		Name:       task,
		requests:   m.requests.WithLabelValues(s.Name, task),
		duration:   m.duration.WithLabelValues(s.Name, task),
		responses:  m.responses.MustCurryWith(prometheus.Labels{LabelScenario: s.Name, LabelTask: task}),
		failureVec: m.failures.MustCurryWith(prometheus.Labels{LabelScenario: s.Name, LabelTask: task}),
	}
	for r := ReasonStatus; r < numReasons; r++ {
		if r == ReasonDropped {
			continue
		}
		t.failures[r] = m.failures.WithLabelValues(s.Name, task, r.String())
	}
	s.tasks[task] = t
	return t
}

// Tasks returns the task handles of the scenario.
func (s *Scenario) Tasks() []*Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Task, 0, len(s.tasks))
	for _, t := range s.tasks {
		out = append(out, t)
	}
	return out
}

// ObserveLag records the gap between an arrival's intended and actual start.
func (s *Scenario) ObserveLag(d time.Duration) { s.lag.Observe(d.Seconds()) }

// Dropped counts an arrival that was not started because max_in_flight
// iterations were running. Generators also record it on the task the
// arrival would have run, with Task.Dropped.
func (s *Scenario) Dropped() {
	s.dropped.Inc()
	s.droppedN.Add(1)
}

// DroppedCount returns how many arrivals were dropped so far.
func (s *Scenario) DroppedCount() uint64 { return s.droppedN.Load() }

// SetTargetRate sets the arrival rate the scenario is asked for.
func (s *Scenario) SetTargetRate(perSecond float64) { s.targetRate.Set(perSecond) }

// InFlight returns the in-flight gauge.
func (s *Scenario) InFlight() prometheus.Gauge { return s.inFlight }

// VirtualUsers returns the gauge of virtual users of a user class.
func (s *Scenario) VirtualUsers(class string) prometheus.Gauge {
	return s.m.virtualUsers.WithLabelValues(s.Name, class)
}

// Outcome is the result of one request.
type Outcome struct {
	// Latency is measured from the intended start time.
	Latency time.Duration
	// Code is the response status, 0 when no response was received.
	Code int
	// Reason is ReasonNone on success.
	Reason Reason
	// TraceID is the W3C trace ID sent with the request, for exemplars.
	TraceID TraceID
	// End is when the outcome was known, in Unix nanoseconds, if the
	// caller read the clock anyway; 0 has Observe read it (exemplars are
	// spaced in time).
	End int64
}

// TraceID is a W3C trace ID in lower-case hex; the zero value means none.
// An array, not a string, so recording an outcome allocates nothing.
type TraceID [32]byte

// Tap receives every outcome recorded for a task, e.g. for per-run SLA
// histograms. It must be fast and safe for concurrent use.
type Tap interface {
	Record(scenario, task string, o Outcome)
}

// Task holds the pre-curried series of one task.
type Task struct {
	Scenario string
	Name     string

	requests  prometheus.Counter
	duration  prometheus.Observer
	responses *prometheus.CounterVec
	failures  [numReasons]prometheus.Counter
	codes     [600]atomic.Pointer[prometheus.Counter]
	// failureVec makes the dropped series on first use, so only
	// open-model tasks that ever dropped an arrival have one.
	failureVec *prometheus.CounterVec
	droppedC   atomic.Pointer[prometheus.Counter]

	lastExemplar atomic.Int64
	count        atomic.Uint64
	failed       [numReasons]atomic.Uint64
	tap          atomic.Pointer[Tap]
}

// exemplarEvery limits exemplars to one per task per interval: they are
// costly to build and Prometheus keeps only the latest per bucket anyway.
const exemplarEvery = int64(10 * time.Millisecond)

// Observe records one request outcome.
func (t *Task) Observe(o Outcome) {
	t.requests.Inc()
	t.count.Add(1)
	sec := o.Latency.Seconds()
	if o.TraceID != (TraceID{}) {
		now := o.End
		if now == 0 {
			now = time.Now().UnixNano()
		}
		last := t.lastExemplar.Load()
		if now-last >= exemplarEvery && t.lastExemplar.CompareAndSwap(last, now) {
			t.duration.(prometheus.ExemplarObserver).ObserveWithExemplar(sec, prometheus.Labels{"trace_id": string(o.TraceID[:])})
		} else {
			t.duration.Observe(sec)
		}
	} else {
		t.duration.Observe(sec)
	}
	if o.Code > 0 && o.Code < len(t.codes) {
		c := t.codes[o.Code].Load()
		if c == nil {
			cc := t.responses.WithLabelValues(strconv.Itoa(o.Code))
			t.codes[o.Code].Store(&cc)
			c = &cc
		}
		(*c).Inc()
	}
	if o.Reason != ReasonNone && o.Reason < numReasons && t.failures[o.Reason] != nil {
		t.failures[o.Reason].Inc()
		t.failed[o.Reason].Add(1)
	}
	if tp := t.tap.Load(); tp != nil {
		(*tp).Record(t.Scenario, t.Name, o)
	}
}

// Dropped records an arrival dropped at max_in_flight that would have run
// this task: it counts in requests_total and as a failure with reason
// dropped (so error ratios include it), but observes no latency and is
// not in Count, which counts requests completed.
func (t *Task) Dropped() {
	t.requests.Inc()
	c := t.droppedC.Load()
	if c == nil {
		cc := t.failureVec.WithLabelValues(ReasonDropped.String())
		t.droppedC.Store(&cc)
		c = &cc
	}
	(*c).Inc()
	t.failed[ReasonDropped].Add(1)
	if tp := t.tap.Load(); tp != nil {
		(*tp).Record(t.Scenario, t.Name, Outcome{Reason: ReasonDropped})
	}
}

// SetTap installs (or with nil removes) a tap receiving every outcome.
func (t *Task) SetTap(tp Tap) {
	if tp == nil {
		t.tap.Store(nil)
		return
	}
	t.tap.Store(&tp)
}

// Count returns how many requests the task completed.
func (t *Task) Count() uint64 { return t.count.Load() }

// Failures returns the task's failure counts by reason label.
func (t *Task) Failures() map[string]uint64 {
	out := map[string]uint64{}
	for r := ReasonStatus; r < numReasons; r++ {
		if n := t.failed[r].Load(); n > 0 {
			out[r.String()] = n
		}
	}
	return out
}
