package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/loadd/loadd/config"
)

// ShapeConfig is the YAML of an open-model load shape. Exactly one of
// Rate alone (constant), Stages (starting from 0, or from Rate when set) or
// Sine (around Rate) describes it.
type ShapeConfig struct {
	// Rate is the constant (or base) arrival rate, e.g. "200/s".
	Rate config.Rate `yaml:"rate" json:"rate,omitempty"`
	// Stages ramp and hold the rate; after the last stage its rate holds.
	Stages []StageConfig `yaml:"stages" json:"stages,omitempty"`
	// Sine oscillates the rate around Rate.
	Sine *SineConfig `yaml:"sine" json:"sine,omitempty"`
}

// StageConfig is one stage: {ramp: 1m, to: 200/s}, {hold: 10m} or {ramp: 5m, to: 2x}.
type StageConfig struct {
	Ramp config.Duration `yaml:"ramp" json:"ramp,omitempty"`
	Hold config.Duration `yaml:"hold" json:"hold,omitempty"`
	To   *StageTarget    `yaml:"to" json:"to,omitempty"`
}

// SineConfig is {amplitude: 50/s, period: 10m}.
type SineConfig struct {
	Amplitude config.Rate     `yaml:"amplitude" json:"amplitude"`
	Period    config.Duration `yaml:"period" json:"period"`
}

// StageTarget is a stage's end rate: absolute ("300/s", "0") or a multiple
// of the base rate ("5x", "0.5x").
type StageTarget struct {
	PerSecond float64
	Factor    float64 // > 0 when relative
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *StageTarget) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if f, ok := strings.CutSuffix(s, "x"); ok {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v < 0 || v > 1e6 {
			return fmt.Errorf("invalid multiple %q (want e.g. 5x, 0.5x)", s)
		}
		*t = StageTarget{Factor: v}
		if v == 0 {
			*t = StageTarget{}
		}
		return nil
	}
	if s == "0" || s == "0/s" {
		*t = StageTarget{}
		return nil
	}
	v, err := config.ParseRate(s)
	if err != nil {
		return err
	}
	*t = StageTarget{PerSecond: v}
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (t StageTarget) MarshalText() ([]byte, error) {
	if t.Factor > 0 {
		return []byte(strconv.FormatFloat(t.Factor, 'g', -1, 64) + "x"), nil
	}
	return []byte(strconv.FormatFloat(t.PerSecond, 'g', -1, 64) + "/s"), nil
}

// Resolve returns the absolute rate for base rate base.
func (t StageTarget) Resolve(base float64) float64 {
	if t.Factor > 0 {
		return t.Factor * base
	}
	return t.PerSecond
}

// Validate reports problems of the shape at path. rateRequired says
// whether a shape must be given at all.
func (c *ShapeConfig) Validate(path string, rateRequired bool, p *config.Problems) {
	if c.Rate <= 0 && len(c.Stages) == 0 {
		if rateRequired {
			p.Addf(config.Key(path, "rate"), "a rate (e.g. 200/s) or stages are required")
		}
		return
	}
	for i, st := range c.Stages {
		sp := config.Index(config.Key(path, "stages"), i)
		switch {
		case st.Ramp > 0 && st.Hold > 0:
			p.Addf(sp, "a stage is either ramp (with to) or hold, not both")
		case st.Ramp > 0 && st.To == nil:
			p.Addf(config.Key(sp, "to"), "a ramp needs a target rate (to: 200/s or to: 2x)")
		case st.Ramp == 0 && st.Hold == 0:
			p.Addf(sp, "a stage needs ramp (with to) or hold")
		case st.Hold > 0 && st.To != nil:
			p.Addf(config.Key(sp, "to"), "a hold keeps the current rate; use ramp to change it")
		}
		if st.To != nil && st.To.Factor > 0 && c.Rate <= 0 {
			p.Addf(config.Key(sp, "to"), "a multiple such as %gx needs a base rate", st.To.Factor)
		}
	}
	if c.Sine != nil {
		if len(c.Stages) > 0 {
			p.Addf(config.Key(path, "sine"), "sine and stages cannot be combined")
		}
		if c.Rate <= 0 {
			p.Addf(config.Key(path, "rate"), "sine needs a base rate to oscillate around")
		}
		if c.Sine.Period <= 0 {
			p.Addf(config.Key(path, "sine.period"), "must be positive")
		}
		if float64(c.Sine.Amplitude) > float64(c.Rate) {
			p.Addf(config.Key(path, "sine.amplitude"), "must not exceed the base rate %g/s", float64(c.Rate))
		}
	}
}

// Pacer builds the pacer of a validated shape, scaled by factor (1 for the
// configured load; a shard's share or a run's multiple otherwise).
func (c *ShapeConfig) Pacer(factor float64) Pacer {
	base := float64(c.Rate)
	switch {
	case len(c.Stages) > 0:
		st := Stages{From: 0}
		if base > 0 {
			st.From = base * factor
		}
		cur := st.From
		for _, s := range c.Stages {
			if s.Hold > 0 {
				st.Stages = append(st.Stages, Stage{Duration: s.Hold.D(), To: cur})
				continue
			}
			cur = s.To.Resolve(base) * factor
			st.Stages = append(st.Stages, Stage{Duration: s.Ramp.D(), To: cur})
		}
		return st
	case c.Sine != nil:
		return Sine{Mean: base * factor, Amplitude: float64(c.Sine.Amplitude) * factor, Period: c.Sine.Period.D()}
	default:
		return Constant{PerSecond: base * factor}
	}
}

// Length is the total duration of the stages (0 for an endless shape).
func (c *ShapeConfig) Length() time.Duration {
	var d time.Duration
	for _, s := range c.Stages {
		d += s.Ramp.D() + s.Hold.D()
	}
	return d
}

// String summarises the shape, e.g. "200/s" or "stages 0→500/s over 2m".
func (c *ShapeConfig) String() string {
	switch {
	case len(c.Stages) > 0:
		p := c.Pacer(1)
		return fmt.Sprintf("%d stages over %s, ending at %g/s", len(c.Stages), c.Length(), p.Rate(c.Length()))
	case c.Sine != nil:
		return fmt.Sprintf("sine %g/s ± %g/s every %s", float64(c.Rate), float64(c.Sine.Amplitude), c.Sine.Period.D())
	default:
		return fmt.Sprintf("%g/s", float64(c.Rate))
	}
}

// Overridden returns the shape a scheduled run asks for instead of c: run
// itself, with c's rate as the base when run gives none, so relative
// targets ("to: 5x") multiply the scenario's own rate. A nil run is c.
func (c *ShapeConfig) Overridden(run *ShapeConfig) *ShapeConfig {
	if run == nil {
		return c
	}
	out := *run
	if out.Rate <= 0 {
		out.Rate = c.Rate
	}
	return &out
}
