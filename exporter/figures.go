package exporter

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Figure names a per-scenario measurement that is not a request outcome.
// The set is closed.
type Figure uint8

// The figures a FigureTap receives.
const (
	// FigureRTT is a WebSocket message round trip, in seconds.
	FigureRTT Figure = iota + 1
	// FigureConnectOK is a WebSocket connection that opened (value: seconds).
	FigureConnectOK
	// FigureConnectFailed is a WebSocket connection attempt that failed (value 1).
	FigureConnectFailed
	// FigureFinalLatency is a transcription's final-result latency, in seconds.
	FigureFinalLatency
	// FigureRealtimeFactor is a transcription's processing / audio time.
	FigureRealtimeFactor
)

// FigureTap receives every WebSocket and transcription figure recorded,
// e.g. for per-run SLA histograms. It must be fast and safe for
// concurrent use.
type FigureTap interface {
	ObserveFigure(scenario string, f Figure, v float64)
}

// SetFigureTap installs (or with nil removes) the tap receiving the
// figures of every scenario.
func (m *Metrics) SetFigureTap(t FigureTap) {
	if t == nil {
		m.figureTap.Store(nil)
		return
	}
	m.figureTap.Store(&t)
}

func (m *Metrics) figure(scenario string, f Figure, v float64) {
	if t := m.figureTap.Load(); t != nil {
		(*t).ObserveFigure(scenario, f, v)
	}
}

// tapObserver observes into a histogram and hands the value to the tap.
type tapObserver struct {
	prometheus.Observer
	m        *Metrics
	scenario string
	fig      Figure
}

func (o tapObserver) Observe(v float64) {
	o.Observer.Observe(v)
	o.m.figure(o.scenario, o.fig, v)
}

// tapCounter counts connect failures and hands each to the tap.
type tapCounter struct {
	prometheus.Counter
	m        *Metrics
	scenario string
}

func (c tapCounter) Inc() {
	c.Counter.Inc()
	c.m.figure(c.scenario, FigureConnectFailed, 1)
}

func (c tapCounter) Add(v float64) {
	c.Counter.Add(v)
	for i := 0; i < int(v); i++ {
		c.m.figure(c.scenario, FigureConnectFailed, 1)
	}
}
