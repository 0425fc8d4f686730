// Package daemon runs loadd as a long-lived service: it loads and composes
// the configuration, supervises the scenarios (start, reload, graceful
// stop) and serves the HTTP endpoints (/metrics, health, status, lifecycle).
package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/schedule"
)

// Options configure a Daemon.
type Options struct {
	// Source is where the config comes from; it is re-read on reload.
	Source   config.Source
	Loader   *Loader
	Shard    schedule.Shard
	Logger   log.Logger
	Registry *prometheus.Registry
	// Lifecycle enables POST /-/reload and /-/quit.
	Lifecycle bool
	// Apply, when set, is called with every config that becomes active
	// (at start and after each successful reload), e.g. to start schedules.
	Apply func(ctx context.Context, c *Config) error
	// StatusExtra, when set, adds sections (schedules, runs) to /api/v1/status.
	StatusExtra func() map[string]any
}

// Daemon supervises the scenarios of the active configuration.
type Daemon struct {
	opts    Options
	logger  log.Logger
	metrics *exporter.Metrics
	started time.Time

	mu         sync.Mutex
	cfg        *Config
	running    map[string]*running
	lastReload reloadState
	runCtx     context.Context

	paused map[string]int

	ready   atomic.Bool
	quit    chan struct{}
	quitOne sync.Once
	rates   *rateTracker
}

type running struct {
	fingerprint string
	tasks       []string
	scenario    generators.Scenario
	cancel      context.CancelFunc
	done        chan struct{}
}

type reloadState struct {
	Success bool      `json:"success"`
	Time    time.Time `json:"time"`
	Error   string    `json:"error,omitempty"`
}

// New loads the configuration and registers the metrics. A config error is
// returned as is (a *config.Problems), so callers can exit 2.
func New(opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.Registry == nil {
		return nil, errors.New("daemon: a registry is required")
	}
	if opts.Shard.Count == 0 {
		opts.Shard = schedule.Whole
	}
	cfg, err := opts.Loader.Load(opts.Source)
	if err != nil {
		return nil, err
	}
	m, err := exporter.New(opts.Registry, exporter.Options{Buckets: cfg.File.Global.Buckets})
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	d := &Daemon{
		opts:       opts,
		logger:     opts.Logger,
		metrics:    m,
		started:    time.Now(),
		cfg:        cfg,
		running:    map[string]*running{},
		paused:     map[string]int{},
		quit:       make(chan struct{}),
		lastReload: reloadState{Success: true, Time: time.Now()},
		rates:      newRateTracker(),
	}
	m.ReloadSuccessful.Set(1)
	m.ReloadTimestamp.Set(float64(time.Now().Unix()))
	return d, nil
}

// Metrics returns the daemon's metrics.
func (d *Daemon) Metrics() *exporter.Metrics { return d.metrics }

// Config returns the active configuration.
func (d *Daemon) Config() *Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// Quit returns a channel closed when POST /-/quit was received.
func (d *Daemon) Quit() <-chan struct{} { return d.quit }

// Run starts the scenarios and supervises them until ctx is done; then it
// stops them, each within the grace period, and returns once every
// started request has been recorded.
func (d *Daemon) Run(ctx context.Context) error {
	d.mu.Lock()
	d.runCtx = ctx
	cfg := d.cfg
	err := d.applyLocked(ctx, cfg, true)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	d.ready.Store(true)
	level.Info(d.logger).Log("msg", "Scenarios started", "scenarios", len(cfg.Names), "shard", d.opts.Shard)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			d.ready.Store(false)
			d.stopAll()
			return nil
		case <-tick.C:
			d.sample()
		}
	}
}

// Reload re-reads the configuration. When it is invalid, or a scenario
// cannot be built, the running configuration stays in place and the error
// is returned (and logged, and loadd_config_last_reload_successful is 0).
func (d *Daemon) Reload() error {
	cfg, err := d.opts.Loader.Load(d.opts.Source)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil && d.runCtx != nil {
		err = d.applyLocked(d.runCtx, cfg, true)
	}
	if err != nil {
		d.metrics.ReloadSuccessful.Set(0)
		d.lastReload = reloadState{Success: false, Time: time.Now(), Error: err.Error()}
		level.Error(d.logger).Log("msg", "Reloading configuration failed; keeping the running one", "err", err)
		return err
	}
	d.cfg = cfg
	d.metrics.ReloadSuccessful.Set(1)
	d.metrics.ReloadTimestamp.Set(float64(time.Now().Unix()))
	d.lastReload = reloadState{Success: true, Time: time.Now()}
	level.Info(d.logger).Log("msg", "Configuration reloaded", "scenarios", len(cfg.Names))
	return nil
}

// applyLocked makes cfg the running set: it builds every new or changed
// scenario first (so a build error changes nothing), then stops removed and
// changed ones and starts the new builds. Paused scenarios are left stopped.
// hooks says whether Options.Apply is called.
func (d *Daemon) applyLocked(ctx context.Context, cfg *Config, hooks bool) error {
	grace := cfg.File.Global.GracePeriod.D()
	built := map[string]generators.Scenario{}
	var updates []string
	for _, name := range cfg.Names {
		if d.paused[name] > 0 {
			continue
		}
		fp := cfg.fingerprint(name)
		r, ok := d.running[name]
		if ok && r.fingerprint == fp {
			continue
		}
		if _, canUpdate := r.scenarioUpdater(); ok && canUpdate {
			updates = append(updates, name)
			continue
		}
		sc, err := d.build(cfg, name, grace)
		if err != nil {
			return err
		}
		built[name] = sc
	}
	if hooks && d.opts.Apply != nil {
		if err := d.opts.Apply(ctx, cfg); err != nil {
			return err
		}
	}
	// Scenarios that can change in place (a session population resized)
	// do so; the others are rebuilt.
	for _, name := range updates {
		r := d.running[name]
		u, _ := r.scenarioUpdater()
		if err := u.Update(cfg.Specs[name]); err == nil {
			r.fingerprint = cfg.fingerprint(name)
			continue
		}
		sc, err := d.build(cfg, name, grace)
		if err != nil {
			level.Error(d.logger).Log("msg", "Rebuilding scenario failed; the old one keeps running", "scenario", name, "err", err)
			continue
		}
		built[name] = sc
	}
	var wg sync.WaitGroup
	for name, r := range d.running {
		_, keep := cfg.Specs[name]
		if _, rebuilt := built[name]; keep && !rebuilt && d.paused[name] == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.stop(name, r)
		}()
	}
	wg.Wait()
	for name, r := range d.running {
		if d.paused[name] > 0 {
			delete(d.running, name)
			continue
		}
		if _, keep := cfg.Specs[name]; !keep {
			d.metrics.Forget(name)
			d.rates.forget(name)
			delete(d.running, name)
			continue
		}
		if _, rebuilt := built[name]; rebuilt {
			newTasks := map[string]bool{}
			for _, t := range cfg.Specs[name].Tasks() {
				newTasks[t] = true
			}
			for _, t := range r.tasks {
				if !newTasks[t] {
					d.metrics.ForgetTask(name, t)
				}
			}
		}
	}
	for _, name := range cfg.Names {
		sc, ok := built[name]
		if !ok {
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		r := &running{fingerprint: cfg.fingerprint(name), tasks: cfg.Specs[name].Tasks(), scenario: sc, cancel: cancel, done: make(chan struct{})}
		d.running[name] = r
		go func() {
			defer close(r.done)
			if err := sc.Run(sctx); err != nil && !errors.Is(err, context.Canceled) {
				level.Error(d.logger).Log("msg", "Scenario stopped with an error", "scenario", name, "err", err)
			}
		}()
	}
	return nil
}

// Updater is a scenario that can take a changed spec while running (e.g.
// a WebSocket population grown or shrunk smoothly); it returns an error
// when the change needs a rebuild.
type Updater interface {
	Update(spec generators.Spec) error
}

func (r *running) scenarioUpdater() (Updater, bool) {
	if r == nil {
		return nil, false
	}
	u, ok := r.scenario.(Updater)
	return u, ok
}

func (d *Daemon) build(cfg *Config, name string, grace time.Duration) (generators.Scenario, error) {
	sc, err := cfg.Specs[name].Build(generators.Deps{
		Name: name, Metrics: d.metrics, Logger: log.With(d.logger, "scenario", name),
		Shard: d.opts.Shard, Grace: grace, Scale: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("build scenario %s: %w", name, err)
	}
	return sc, nil
}

// Shard returns the replica's shard.
func (d *Daemon) Shard() schedule.Shard { return d.opts.Shard }

// Pause stops the continuous baseline of the named scenarios (a scheduled
// run in replace mode takes over) until resume is called; resume restarts
// them from the then active config. Pauses nest.
func (d *Daemon) Pause(names []string) (resume func()) {
	d.mu.Lock()
	var wg sync.WaitGroup
	for _, n := range names {
		d.paused[n]++
		if r, ok := d.running[n]; ok {
			delete(d.running, n)
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.stop(n, r)
			}()
		}
	}
	d.mu.Unlock()
	wg.Wait()
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			for _, n := range names {
				if d.paused[n]--; d.paused[n] <= 0 {
					delete(d.paused, n)
				}
			}
			if d.runCtx != nil && d.runCtx.Err() == nil {
				if err := d.applyLocked(d.runCtx, d.cfg, false); err != nil {
					level.Error(d.logger).Log("msg", "Resuming the baseline failed", "err", err)
				}
			}
		})
	}
}

func (d *Daemon) stop(name string, r *running) {
	level.Info(d.logger).Log("msg", "Stopping scenario", "scenario", name)
	r.cancel()
	<-r.done
	level.Info(d.logger).Log("msg", "Scenario stopped", "scenario", name)
}

func (d *Daemon) stopAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	var wg sync.WaitGroup
	for name, r := range d.running {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.stop(name, r)
		}()
	}
	wg.Wait()
}

// requestQuit closes the quit channel once.
func (d *Daemon) requestQuit() { d.quitOne.Do(func() { close(d.quit) }) }

func (d *Daemon) sample() {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	for name, r := range d.running {
		d.rates.add(name, now, r.scenario.Status().Completed)
	}
}
