// Package exporter owns every metric loadd exposes: names, help, labels and
// buckets are defined here and nowhere else. Generators and runners write
// through the handles it returns (curried once per scenario and task, so the
// hot path does no label hashing).
package exporter

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
)

// Namespace prefixes every loadd metric.
const Namespace = "loadd"

// Label names. Values come only from names in the config or closed sets.
const (
	LabelScenario  = "scenario"
	LabelTask      = "task"
	LabelReason    = "reason"
	LabelCode      = "code"
	LabelClass     = "class"
	LabelDirection = "direction"
	LabelMode      = "mode"
	LabelSchedule  = "schedule"
	LabelResult    = "result"
	LabelQuantile  = "quantile"
)

// DefBuckets are the default classic latency buckets, 1 ms to 30 s.
var DefBuckets = []float64{.001, .0025, .005, .01, .025, .05, .075, .1, .15, .2, .3, .5, .75, 1, 1.5, 2, 3, 5, 10, 20, 30}

// Options tune the metrics.
type Options struct {
	// Buckets are the classic buckets of latency histograms; nil means DefBuckets.
	Buckets []float64
}

// Metrics holds every metric vector loadd exposes, registered on one registry.
type Metrics struct {
	requests     *prometheus.CounterVec
	failures     *prometheus.CounterVec
	responses    *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	lag          *prometheus.HistogramVec
	dropped      *prometheus.CounterVec
	targetRate   *prometheus.GaugeVec
	inFlight     *prometheus.GaugeVec
	virtualUsers *prometheus.GaugeVec

	wsSessions        *prometheus.GaugeVec
	wsSessionsTarget  *prometheus.GaugeVec
	wsConnectDuration *prometheus.HistogramVec
	wsRTT             *prometheus.HistogramVec
	wsConnectFailures *prometheus.CounterVec
	wsDisconnects     *prometheus.CounterVec
	wsMessages        *prometheus.CounterVec

	trFirstResult  *prometheus.HistogramVec
	trFinalLatency *prometheus.HistogramVec
	trRTF          *prometheus.HistogramVec
	trFrameLag     *prometheus.HistogramVec
	trAudioSeconds *prometheus.CounterVec
	trFailures     *prometheus.CounterVec

	runActive    *prometheus.GaugeVec
	runLastStart *prometheus.GaugeVec
	runLastOK    *prometheus.GaugeVec
	runsTotal    *prometheus.CounterVec
	slaLatency   *prometheus.GaugeVec
	slaErrRatio  *prometheus.GaugeVec
	slaRTT       *prometheus.GaugeVec
	slaFinal     *prometheus.GaugeVec

	// ReloadSuccessful is 1 when the last config reload succeeded.
	ReloadSuccessful prometheus.Gauge
	// ReloadTimestamp is the time of the last successful reload.
	ReloadTimestamp prometheus.Gauge

	mu        sync.Mutex
	scenarios map[string]*Scenario
	figureTap atomic.Pointer[FigureTap]
}

func name(sub, n string) string { return prometheus.BuildFQName(Namespace, sub, n) }

func histOpts(fq, help string, buckets []float64) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{
		Name:                            fq,
		Help:                            help,
		Buckets:                         buckets,
		NativeHistogramBucketFactor:     1.1,
		NativeHistogramMaxBucketNumber:  160,
		NativeHistogramMinResetDuration: 0,
	}
}

// New defines every metric and registers it, with the Go, process and
// build-info collectors, on reg.
func New(reg prometheus.Registerer, opts Options) (*Metrics, error) {
	b := opts.Buckets
	if len(b) == 0 {
		b = DefBuckets
	}
	st := []string{LabelScenario, LabelTask}
	sc := []string{LabelScenario}
	m := &Metrics{
		requests:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("", "requests_total"), Help: "Requests completed (successfully or not), by scenario and task."}, st),
		failures:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("request", "failures_total"), Help: "Failed requests by scenario, task and reason; dropped arrivals count with reason dropped."}, append(st, LabelReason)),
		responses:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("", "responses_total"), Help: "Responses received, by scenario, task and HTTP status code."}, append(st, LabelCode)),
		duration:     prometheus.NewHistogramVec(histOpts(name("request", "duration_seconds"), "Request latency measured from the intended start time (no coordinated omission).", b), st),
		lag:          prometheus.NewHistogramVec(histOpts(name("schedule", "lag_seconds"), "Delay between an arrival's intended and actual start.", []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}), sc),
		dropped:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("iterations", "dropped_total"), Help: "Arrivals not started because max_in_flight iterations were already running."}, sc),
		targetRate:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("", "target_rate"), Help: "Arrival rate the scenario is asked to deliver, per second."}, sc),
		inFlight:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("", "in_flight"), Help: "Iterations currently running."}, sc),
		virtualUsers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("", "virtual_users"), Help: "Closed-model virtual users running, by scenario and user class."}, []string{LabelScenario, LabelClass}),

		wsSessions:        prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("ws", "sessions"), Help: "WebSocket sessions currently open."}, sc),
		wsSessionsTarget:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("ws", "sessions_target"), Help: "WebSocket sessions the scenario is asked to hold."}, sc),
		wsConnectDuration: prometheus.NewHistogramVec(histOpts(name("ws", "connect_duration_seconds"), "Time to open a WebSocket session: TCP, TLS and upgrade.", b), sc),
		wsRTT:             prometheus.NewHistogramVec(histOpts(name("ws", "message_rtt_seconds"), "Round trip of a WebSocket message and its matched reply.", b), sc),
		wsConnectFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("ws", "connect_failures_total"), Help: "WebSocket connection attempts that failed, by reason."}, []string{LabelScenario, LabelReason}),
		wsDisconnects:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("ws", "disconnects_total"), Help: "WebSocket sessions that ended, by reason."}, []string{LabelScenario, LabelReason}),
		wsMessages:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("ws", "messages_total"), Help: "WebSocket messages, by direction (sent, received)."}, []string{LabelScenario, LabelDirection}),

		trFirstResult:  prometheus.NewHistogramVec(histOpts(name("transcription", "first_result_seconds"), "Time from the first audio byte sent to the first transcription result.", b), []string{LabelScenario, LabelMode}),
		trFinalLatency: prometheus.NewHistogramVec(histOpts(name("transcription", "final_latency_seconds"), "Time from the end of audio (or upload complete) to the final transcript.", b), []string{LabelScenario, LabelMode}),
		trRTF:          prometheus.NewHistogramVec(histOpts(name("transcription", "realtime_factor"), "Processing time divided by audio duration.", []float64{.05, .1, .2, .3, .5, .75, 1, 1.25, 1.5, 2, 3, 5}), []string{LabelScenario, LabelMode}),
		trFrameLag:     prometheus.NewHistogramVec(histOpts(name("transcription", "frame_lag_seconds"), "How late audio frames left loadd relative to their real-time slot.", []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25}), sc),
		trAudioSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("transcription", "audio_seconds_total"), Help: "Seconds of audio sent for transcription."}, []string{LabelScenario, LabelMode}),
		trFailures:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("transcription", "failures_total"), Help: "Transcription jobs that failed, by reason."}, []string{LabelScenario, LabelMode, LabelReason}),

		runActive:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("run", "active"), Help: "1 while a scheduled run is in progress."}, []string{LabelSchedule}),
		runLastStart: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("run", "last_start_timestamp_seconds"), Help: "Unix time the schedule's last run started."}, []string{LabelSchedule}),
		runLastOK:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("run", "last_success"), Help: "1 if the schedule's last finished run met every SLA, 0 otherwise."}, []string{LabelSchedule}),
		runsTotal:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("", "runs_total"), Help: "Finished runs by schedule and result (passed, failed, invalid, interrupted, skipped)."}, []string{LabelSchedule, LabelResult}),
		slaLatency:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("sla", "latency_objective_seconds"), Help: "Latency SLA objective per scenario, task and quantile."}, []string{LabelScenario, LabelTask, LabelQuantile}),
		slaErrRatio:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("sla", "error_ratio_objective"), Help: "Error-ratio SLA objective per scenario and task."}, st),
		slaRTT:       prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("sla", "rtt_objective_seconds"), Help: "WebSocket message round-trip SLA objective per scenario and quantile."}, []string{LabelScenario, LabelQuantile}),
		slaFinal:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("sla", "final_latency_objective_seconds"), Help: "Transcription final-result latency SLA objective per scenario and quantile."}, []string{LabelScenario, LabelQuantile}),

		ReloadSuccessful: prometheus.NewGauge(prometheus.GaugeOpts{Name: name("config", "last_reload_successful"), Help: "Whether the last configuration reload attempt was successful."}),
		ReloadTimestamp:  prometheus.NewGauge(prometheus.GaugeOpts{Name: name("config", "last_reload_success_timestamp_seconds"), Help: "Timestamp of the last successful configuration reload."}),

		scenarios: map[string]*Scenario{},
	}
	cs := []prometheus.Collector{
		m.requests, m.failures, m.responses, m.duration, m.lag, m.dropped, m.targetRate, m.inFlight, m.virtualUsers,
		m.wsSessions, m.wsSessionsTarget, m.wsConnectDuration, m.wsRTT, m.wsConnectFailures, m.wsDisconnects, m.wsMessages,
		m.trFirstResult, m.trFinalLatency, m.trRTF, m.trFrameLag, m.trAudioSeconds, m.trFailures,
		m.runActive, m.runLastStart, m.runLastOK, m.runsTotal, m.slaLatency, m.slaErrRatio, m.slaRTT, m.slaFinal,
		m.ReloadSuccessful, m.ReloadTimestamp,
		versioncollector.NewCollector(Namespace),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Forget deletes every series of scenario (called when a reload removes it).
func (m *Metrics) Forget(scenario string) {
	m.mu.Lock()
	delete(m.scenarios, scenario)
	m.mu.Unlock()
	l := prometheus.Labels{LabelScenario: scenario}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{
		m.requests, m.failures, m.responses, m.duration, m.lag, m.dropped, m.targetRate, m.inFlight, m.virtualUsers,
		m.wsSessions, m.wsSessionsTarget, m.wsConnectDuration, m.wsRTT, m.wsConnectFailures, m.wsDisconnects, m.wsMessages,
		m.trFirstResult, m.trFinalLatency, m.trRTF, m.trFrameLag, m.trAudioSeconds, m.trFailures,
		m.slaLatency, m.slaErrRatio, m.slaRTT, m.slaFinal,
	} {
		v.DeletePartialMatch(l)
	}
}

// ForgetTask deletes the series of one task of a scenario.
func (m *Metrics) ForgetTask(scenario, task string) {
	l := prometheus.Labels{LabelScenario: scenario, LabelTask: task}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.requests, m.failures, m.responses, m.duration, m.slaLatency, m.slaErrRatio} {
		v.DeletePartialMatch(l)
	}
}
