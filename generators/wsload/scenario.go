package wsload

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/schedule"
)

// KindName is the value of `kind` that selects this generator.
const KindName = "websocket"

// Kind decodes `kind: websocket` scenarios.
var Kind generators.Kind = kind{}

type kind struct{}

// Decode decodes and validates a websocket scenario at path.
func (kind) Decode(path string, raw map[string]any, env *generators.Env, p *config.Problems) generators.Spec {
	before := p.Len()
	var c Config
	if err := config.Decode(raw, &c); err != nil {
		config.DecodeErrors(err, path, p)
		return nil
	}
	if env == nil {
		env = &generators.Env{}
	}
	comp := c.validate(path, env, p)
	if p.Len() > before {
		return nil
	}
	return &Spec{cfg: c, comp: comp}
}

// Spec is a validated websocket scenario.
type Spec struct {
	cfg  Config
	comp *compiled
}

var _ generators.Spec = (*Spec)(nil)

// Summary describes the scenario in one line.
func (s *Spec) Summary() string { return s.cfg.summary() }

// Tasks returns nil: a websocket scenario records no per-task request
// series (its metrics are the loadd_ws_* family).
func (s *Spec) Tasks() []string { return nil }

// Public returns the config for the status API, header values masked
// (they may carry API keys); tokens come from the target and are never
// part of it.
func (s *Spec) Public() any {
	c := s.cfg
	if len(c.Headers) > 0 {
		c.Headers = make(map[string]string, len(s.cfg.Headers))
		for k := range s.cfg.Headers {
			c.Headers[k] = config.SecretMask
		}
	}
	return c
}

// Build prepares dialers, the auth session and the metric handles, and
// checks that the process may open enough files for the sessions.
func (s *Spec) Build(d generators.Deps) (generators.Scenario, error) {
	if d.Metrics == nil {
		return nil, errors.New("build websocket scenario: no metrics")
	}
	if d.Logger == nil {
		d.Logger = log.NewNopLogger()
	}
	if d.Scale <= 0 {
		d.Scale = 1
	}
	if d.Shard.Count == 0 {
		d.Shard = schedule.Whole
	}
	sc := &Scenario{spec: s, deps: d, wake: make(chan struct{}, 1)}
	sc.base.Store(int64(s.cfg.Sessions))
	sc.ramp.Store(math.Float64bits(float64(s.cfg.Ramp)))
	soft, hard, err := fileLimit()
	if err != nil {
		return nil, fmt.Errorf("build websocket scenario %s: %w", d.Name, err)
	}
	if err := checkFileLimit(d.Name, sc.peak(), 0, soft, hard); err != nil {
		return nil, err
	}
	sc.login = &http.Transport{TLSClientConfig: s.comp.target.TLSClient, IdleConnTimeout: time.Minute}
	client := &http.Client{Timeout: s.cfg.ConnectTimeout.D(), Transport: sc.login}
	sc.pop = &population{
		name:        d.Name,
		cfg:         &sc.spec.cfg,
		comp:        s.comp,
		dialers:     newDialers(&s.cfg, s.comp),
		auth:        generators.NewSession(s.comp.target, client),
		m:           d.Metrics.WebSocket(d.Name, ConnectReasons[:], DisconnectReasons[:]),
		logger:      d.Logger,
		pongTimeout: s.cfg.PongTimeout.D(),
		every:       s.cfg.MessageEvery.D(),
		events:      make(chan ended, 1024),
	}
	sc.pop.pendingSlots = pendingSlots(sc.pop.pongTimeout, sc.pop.every)
	sc.pop.readBufs.New = func() any { return new(bytes.Buffer) }
	sc.pop.want.Store(int64(sc.target(0)))
	return sc, nil
}

// Scenario is a running (or runnable) websocket population.
type Scenario struct {
	spec *Spec
	deps generators.Deps
	pop  *population
	base atomic.Int64  // configured sessions, before scale and shard
	ramp atomic.Uint64 // float64 bits, per second
	wake chan struct{}
	ran  atomic.Bool
	// login carries the auth session's token requests; its idle
	// connections are closed when the run ends.
	login *http.Transport
}

var _ generators.Scenario = (*Scenario)(nil)

// ErrRebuild is returned by Update when the change needs a new scenario.
var ErrRebuild = errors.New("change needs the scenario rebuilt")

// sessionsFor returns this process's share of base sessions at scale f.
func (sc *Scenario) sessionsFor(base int64, f float64) int {
	return sc.deps.Shard.Of(int(math.Round(float64(base) * f)))
}

// peak is the most sessions this process will hold.
func (sc *Scenario) peak() int {
	top := sc.target(0)
	if sh := sc.deps.Shape; sh != nil {
		step := max(sh.Length()/1000, time.Second)
		for t := step; t <= sh.Length(); t += step {
			top = max(top, sc.target(t))
		}
	}
	return top
}

// target is the number of sessions this process wants at offset t of the
// run. A shape (a scheduled run's stages) is read as a session count: its
// base is the configured sessions, "2x" doubles them, an absolute "300/s"
// means 300 sessions.
func (sc *Scenario) target(t time.Duration) int {
	base := sc.base.Load()
	if sh := sc.deps.Shape; sh != nil {
		shape := *sh
		shape.Rate = config.Rate(base)
		return sc.deps.Shard.Of(int(math.Round(shape.Pacer(sc.deps.Scale).Rate(t))))
	}
	return sc.sessionsFor(base, sc.deps.Scale)
}

// SetObserver sends every connection attempt and message round trip to o
// as well (e.g. a run's SLA recorder); nil stops.
func (sc *Scenario) SetObserver(o Observer) {
	if o == nil {
		sc.pop.observer.Store(nil)
		return
	}
	sc.pop.observer.Store(&o)
}

// Update applies a changed spec to the running population when only
// sessions or ramp differ: the population then grows or shrinks at the
// ramp rate. Any other change returns ErrRebuild.
func (sc *Scenario) Update(spec generators.Spec) error {
	ns, ok := spec.(*Spec)
	if !ok {
		return ErrRebuild
	}
	a, b := sc.spec.cfg, ns.cfg
	a.Sessions, a.Ramp = b.Sessions, b.Ramp
	if !reflect.DeepEqual(a, b) || !sameTarget(sc.spec.comp.target, ns.comp.target) {
		return ErrRebuild
	}
	open, err := openFiles()
	if err != nil {
		return err
	}
	soft, hard, err := fileLimit()
	if err != nil {
		return err
	}
	cur := int(sc.pop.open.Load())
	if grow := sc.sessionsFor(int64(b.Sessions), sc.deps.Scale) - cur; grow > 0 {
		if err := checkFileLimit(sc.deps.Name, grow, open, soft, hard); err != nil {
			return err
		}
	}
	sc.base.Store(int64(b.Sessions))
	sc.ramp.Store(math.Float64bits(float64(b.Ramp)))
	sc.poke()
	level.Info(sc.deps.Logger).Log("msg", "Session population resized", "sessions", b.Sessions, "ramp", float64(b.Ramp))
	return nil
}

// sameTarget reports whether two validated targets are configured alike.
func sameTarget(a, b *generators.Target) bool {
	return a.BaseURL == b.BaseURL && a.TLS == b.TLS && a.AllowNonLoopback == b.AllowNonLoopback &&
		reflect.DeepEqual(a.Headers, b.Headers) && reflect.DeepEqual(a.Auth, b.Auth)
}

func (sc *Scenario) poke() {
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}
