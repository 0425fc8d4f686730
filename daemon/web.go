package daemon

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loadd/loadd/generators"
)

//go:embed status.html
var statusPage []byte

// Handler serves /metrics, /-/healthy, /-/ready, /api/v1/status, the
// status page, Go's profiles under /debug/pprof/ and, with Lifecycle,
// POST /-/reload and /-/quit. Extra
// handlers (e.g. reports) can be added to the returned mux.
func (d *Daemon) Handler() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.opts.Registry, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		Registry:          d.opts.Registry,
	}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("loadd is Healthy.\n"))
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "loadd is not ready.", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("loadd is Ready.\n"))
	})
	lifecycle := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if !d.opts.Lifecycle {
				http.Error(w, "Lifecycle API is not enabled (--web.enable-lifecycle).", http.StatusForbidden)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("POST /-/reload", lifecycle(func(w http.ResponseWriter, _ *http.Request) {
		if err := d.Reload(); err != nil {
			http.Error(w, "failed to reload config: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write([]byte("Configuration reloaded.\n"))
	}))
	mux.HandleFunc("POST /-/quit", lifecycle(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("Requesting termination... Goodbye!\n"))
		d.requestQuit()
	}))
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(d.Status())
	})
	// Profiles, as Prometheus serves them: the first thing to fetch when
	// loadd itself uses more CPU or memory than it should. Not cmdline
	// (Index answers 404 for it): a --config.set flag may carry a secret.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(statusPage)
	})
	return mux
}

// ScenarioStatus is one scenario in /api/v1/status.
type ScenarioStatus struct {
	Name string `json:"name"`
	generators.Status
	// AchievedRate is completed requests per second over the last ~10 s.
	AchievedRate float64 `json:"achieved_rate"`
}

// Status is the document served at /api/v1/status.
type Status struct {
	Ready      bool             `json:"ready"`
	Started    time.Time        `json:"started"`
	Shard      string           `json:"shard"`
	ConfigFile string           `json:"config_file,omitempty"`
	LastReload reloadState      `json:"last_reload"`
	Scenarios  []ScenarioStatus `json:"scenarios"`
	// Extra holds sections added by Options.Status (schedules, runs).
	Extra  map[string]any `json:"extra,omitempty"`
	Config map[string]any `json:"config"`
}

// Status returns the live state of the daemon.
func (d *Daemon) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := Status{
		Ready:      d.ready.Load(),
		Started:    d.started,
		Shard:      d.opts.Shard.String(),
		ConfigFile: d.opts.Source.File,
		LastReload: d.lastReload,
		Config:     d.cfg.Public(),
		Scenarios:  []ScenarioStatus{},
	}
	for _, name := range d.cfg.Names {
		r, ok := d.running[name]
		if !ok {
			continue
		}
		s := r.scenario.Status()
		if s.Failures == nil {
			s.Failures = map[string]uint64{}
		}
		st.Scenarios = append(st.Scenarios, ScenarioStatus{Name: name, Status: s, AchievedRate: d.rates.rate(name)})
	}
	if d.opts.StatusExtra != nil {
		st.Extra = d.opts.StatusExtra()
	}
	sort.Slice(st.Scenarios, func(i, j int) bool { return st.Scenarios[i].Name < st.Scenarios[j].Name })
	return st
}

// rateTracker keeps ~10 s of per-second completion samples per scenario.
type rateTracker struct {
	mu      sync.Mutex
	samples map[string][]sample
}

type sample struct {
	at time.Time
	n  uint64
}

const rateWindow = 10

func newRateTracker() *rateTracker { return &rateTracker{samples: map[string][]sample{}} }

func (t *rateTracker) add(name string, at time.Time, n uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := append(t.samples[name], sample{at, n})
	if len(s) > rateWindow+1 {
		s = s[len(s)-rateWindow-1:]
	}
	t.samples[name] = s
}

func (t *rateTracker) rate(name string) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.samples[name]
	if len(s) < 2 {
		return 0
	}
	first, last := s[0], s[len(s)-1]
	dt := last.at.Sub(first.at).Seconds()
	if dt <= 0 || last.n < first.n {
		return 0
	}
	return float64(last.n-first.n) / dt
}

func (t *rateTracker) forget(name string) {
	t.mu.Lock()
	delete(t.samples, name)
	t.mu.Unlock()
}
