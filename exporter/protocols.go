package exporter

import (
	"github.com/prometheus/client_golang/prometheus"
)

// WebSocket holds the series of one WebSocket scenario.
type WebSocket struct {
	// Sessions is the number of sessions open now.
	Sessions prometheus.Gauge
	// Target is the number of sessions the scenario should hold.
	Target prometheus.Gauge
	// ConnectDuration observes TCP+TLS+upgrade time in seconds.
	ConnectDuration prometheus.Observer
	// RTT observes a message's round trip in seconds.
	RTT prometheus.Observer
	// Sent and Received count messages by direction.
	Sent, Received prometheus.Counter

	connectFailures *prometheus.CounterVec
	disconnects     *prometheus.CounterVec
	m               *Metrics
	scenario        string
}

// WebSocket returns the handles of a WebSocket scenario, pre-initialising
// the given connect-failure and disconnect reasons.
func (m *Metrics) WebSocket(scenario string, connectReasons, disconnectReasons []string) *WebSocket {
	w := &WebSocket{
		Sessions:        m.wsSessions.WithLabelValues(scenario),
		Target:          m.wsSessionsTarget.WithLabelValues(scenario),
		ConnectDuration: tapObserver{m.wsConnectDuration.WithLabelValues(scenario), m, scenario, FigureConnectOK},
		RTT:             tapObserver{m.wsRTT.WithLabelValues(scenario), m, scenario, FigureRTT},
		Sent:            m.wsMessages.WithLabelValues(scenario, "sent"),
		Received:        m.wsMessages.WithLabelValues(scenario, "received"),
		connectFailures: m.wsConnectFailures.MustCurryWith(prometheus.Labels{LabelScenario: scenario}),
		disconnects:     m.wsDisconnects.MustCurryWith(prometheus.Labels{LabelScenario: scenario}),
		m:               m,
		scenario:        scenario,
	}
	for _, r := range connectReasons {
		w.connectFailures.WithLabelValues(r)
	}
	for _, r := range disconnectReasons {
		w.disconnects.WithLabelValues(r)
	}
	return w
}

// ConnectFailure returns the counter of connect failures with reason, a
// value from a closed set defined by the generator.
func (w *WebSocket) ConnectFailure(reason string) prometheus.Counter {
	return tapCounter{w.connectFailures.WithLabelValues(reason), w.m, w.scenario}
}

// Disconnect returns the counter of disconnects with reason, a value from a
// closed set defined by the generator.
func (w *WebSocket) Disconnect(reason string) prometheus.Counter {
	return w.disconnects.WithLabelValues(reason)
}

// Transcription holds the series of one transcription scenario and mode.
type Transcription struct {
	// FirstResult observes seconds from first audio byte to first result.
	FirstResult prometheus.Observer
	// FinalLatency observes seconds from end of audio to final transcript.
	FinalLatency prometheus.Observer
	// RealtimeFactor observes processing time / audio duration.
	RealtimeFactor prometheus.Observer
	// FrameLag observes how late frames left relative to their slot.
	FrameLag prometheus.Observer
	// AudioSeconds counts seconds of audio sent.
	AudioSeconds prometheus.Counter

	failures *prometheus.CounterVec
}

// Transcription returns the handles of a transcription scenario in mode
// ("batch" or "streaming"), pre-initialising the given failure reasons.
func (m *Metrics) Transcription(scenario, mode string, reasons []Reason) *Transcription {
	t := &Transcription{
		FirstResult:    m.trFirstResult.WithLabelValues(scenario, mode),
		FinalLatency:   tapObserver{m.trFinalLatency.WithLabelValues(scenario, mode), m, scenario, FigureFinalLatency},
		RealtimeFactor: tapObserver{m.trRTF.WithLabelValues(scenario, mode), m, scenario, FigureRealtimeFactor},
		FrameLag:       m.trFrameLag.WithLabelValues(scenario),
		AudioSeconds:   m.trAudioSeconds.WithLabelValues(scenario, mode),
		failures:       m.trFailures.MustCurryWith(prometheus.Labels{LabelScenario: scenario, LabelMode: mode}),
	}
	for _, r := range reasons {
		t.failures.WithLabelValues(r.String())
	}
	return t
}

// Failure returns the counter of failed jobs with reason.
func (t *Transcription) Failure(r Reason) prometheus.Counter {
	return t.failures.WithLabelValues(r.String())
}

// Run results, the values of the result label of loadd_runs_total.
const (
	RunPassed      = "passed"
	RunFailed      = "failed"
	RunInvalid     = "invalid"
	RunInterrupted = "interrupted"
	RunSkipped     = "skipped"
)

// Schedule holds the series of one named schedule.
type Schedule struct {
	// Active is 1 while a run is in progress.
	Active prometheus.Gauge
	// LastStart is the Unix time the last run started.
	LastStart prometheus.Gauge
	// LastSuccess is 1 if the last finished run met every SLA.
	LastSuccess prometheus.Gauge

	runs *prometheus.CounterVec
}

// Schedule returns the handles of a schedule, pre-initialising every result.
func (m *Metrics) Schedule(name string) *Schedule {
	s := &Schedule{
		Active:      m.runActive.WithLabelValues(name),
		LastStart:   m.runLastStart.WithLabelValues(name),
		LastSuccess: m.runLastOK.WithLabelValues(name),
		runs:        m.runsTotal.MustCurryWith(prometheus.Labels{LabelSchedule: name}),
	}
	for _, r := range []string{RunPassed, RunFailed, RunInvalid, RunInterrupted, RunSkipped} {
		s.runs.WithLabelValues(r)
	}
	return s
}

// Finished counts a finished (or skipped) run with result.
func (s *Schedule) Finished(result string) { s.runs.WithLabelValues(result).Inc() }

// ForgetSchedule deletes the series of a schedule removed by a reload.
func (m *Metrics) ForgetSchedule(name string) {
	l := prometheus.Labels{LabelSchedule: name}
	m.runActive.DeletePartialMatch(l)
	m.runLastStart.DeletePartialMatch(l)
	m.runLastOK.DeletePartialMatch(l)
	m.runsTotal.DeletePartialMatch(l)
}

// SetLatencyObjective exports a latency SLA: quantile such as "0.95".
func (m *Metrics) SetLatencyObjective(scenario, task, quantile string, seconds float64) {
	m.slaLatency.WithLabelValues(scenario, task, quantile).Set(seconds)
}

// SetErrorRatioObjective exports an error-ratio SLA as a fraction.
func (m *Metrics) SetErrorRatioObjective(scenario, task string, ratio float64) {
	m.slaErrRatio.WithLabelValues(scenario, task).Set(ratio)
}

// SetRTTObjective exports a WebSocket round-trip SLA of a scenario:
// quantile such as "0.95".
func (m *Metrics) SetRTTObjective(scenario, quantile string, seconds float64) {
	m.slaRTT.WithLabelValues(scenario, quantile).Set(seconds)
}

// SetFinalLatencyObjective exports a transcription final-latency SLA of a
// scenario: quantile such as "0.95".
func (m *Metrics) SetFinalLatencyObjective(scenario, quantile string, seconds float64) {
	m.slaFinal.WithLabelValues(scenario, quantile).Set(seconds)
}

// ResetObjectives deletes every SLA objective series (before a reload sets them anew).
func (m *Metrics) ResetObjectives() {
	m.slaLatency.Reset()
	m.slaErrRatio.Reset()
	m.slaRTT.Reset()
	m.slaFinal.Reset()
}
