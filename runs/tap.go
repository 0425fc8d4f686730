package runs

import (
	"sync"
	"sync/atomic"

	"github.com/loadd/loadd/exporter"
)

// hub is the one exporter.Tap a Runner installs on the tasks of its runs'
// scenarios, and its exporter.FigureTap. It hands every outcome and figure
// to the recorders of the runs that cover the scenario, so runs that
// overlap (a daemon's schedules) do not steal each other's tap. With no
// run active it costs one atomic load.
type hub struct {
	mu      sync.Mutex
	entries atomic.Pointer[[]hubEntry]
}

// recorder is what a run records into: outcomes and figures.
type recorder interface {
	exporter.Tap
	exporter.FigureTap
}

type hubEntry struct {
	tap       recorder
	scenarios map[string]bool
}

var (
	_ exporter.Tap       = (*hub)(nil)
	_ exporter.FigureTap = (*hub)(nil)
)

// Record implements exporter.Tap.
func (h *hub) Record(scenario, task string, o exporter.Outcome) {
	es := h.entries.Load()
	if es == nil {
		return
	}
	for _, e := range *es {
		if e.scenarios[scenario] {
			e.tap.Record(scenario, task, o)
		}
	}
}

// ObserveFigure implements exporter.FigureTap.
func (h *hub) ObserveFigure(scenario string, f exporter.Figure, v float64) {
	es := h.entries.Load()
	if es == nil {
		return
	}
	for _, e := range *es {
		if e.scenarios[scenario] {
			e.tap.ObserveFigure(scenario, f, v)
		}
	}
}

// add routes the outcomes and figures of scenarios to tap until remove is
// called.
func (h *hub) add(tap recorder, scenarios []string) {
	set := make(map[string]bool, len(scenarios))
	for _, s := range scenarios {
		set[s] = true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var next []hubEntry
	if es := h.entries.Load(); es != nil {
		next = append(next, *es...)
	}
	next = append(next, hubEntry{tap: tap, scenarios: set})
	h.entries.Store(&next)
}

// remove stops routing outcomes to tap.
func (h *hub) remove(tap recorder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	es := h.entries.Load()
	if es == nil {
		return
	}
	next := make([]hubEntry, 0, len(*es))
	for _, e := range *es {
		if e.tap != tap {
			next = append(next, e)
		}
	}
	h.entries.Store(&next)
}

// install sets the hub as the tap of every task of scenario, those the
// spec lists and any the generator registered while building.
func (h *hub) install(m *exporter.Metrics, scenario string, tasks []string) {
	sc := m.Scenario(scenario, tasks...)
	for _, t := range sc.Tasks() {
		t.SetTap(h)
	}
}
