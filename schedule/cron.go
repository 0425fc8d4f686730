package schedule

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // schedules name time zones; containers may lack zoneinfo

	"github.com/loadd/loadd/config"
)

// Run modes: how a scheduled run relates to the continuous baseline.
const (
	// ModeAdd runs the run's scenarios on top of the baseline.
	ModeAdd = "add"
	// ModeReplace stops the baseline of the run's scenarios while it runs.
	ModeReplace = "replace"
)

// Overlap policies: what a start does while the previous run still runs.
const (
	// OverlapSkip drops the start and counts it as skipped.
	OverlapSkip = "skip"
	// OverlapQueue starts the run as soon as the previous one ends (at
	// most one start waits; further ones are skipped).
	OverlapQueue = "queue"
)

// CronConfig is one entry of `schedules:`, e.g.
//
//	nightly-soak:
//	  cron: "0 2 * * *"          # 5 fields, @daily…, optionally CRON_TZ=Zone first
//	  timezone: Europe/Berlin    # or the machine's local time zone
//	  stages: [{ramp: 10m, to: 5x}, {hold: 1h}, {ramp: 5m, to: 1x}]
//	  scenarios: [api]           # default: every scenario
//	  mode: add                  # or replace
//	  overlap: skip              # or queue
//
// Stages shape every scenario of the run: multiples ("5x") are of each
// scenario's own configured rate. Without stages, Duration runs the
// scenarios as configured for that long.
type CronConfig struct {
	Cron      string          `yaml:"cron" json:"cron"`
	Timezone  string          `yaml:"timezone" json:"timezone,omitempty"`
	Stages    []StageConfig   `yaml:"stages" json:"stages,omitempty"`
	Duration  config.Duration `yaml:"duration" json:"duration,omitempty"`
	Scenarios []string        `yaml:"scenarios" json:"scenarios,omitempty"`
	Mode      string          `yaml:"mode" json:"mode"`
	Overlap   string          `yaml:"overlap" json:"overlap"`
}

// Cron is a validated schedule: when it starts a run and what the run is.
type Cron struct {
	Name   string
	Config CronConfig
	// When gives the start times.
	When Timetable
	// Scenarios are the run's scenarios (all of them when not configured), sorted.
	Scenarios []string
}

// Timetable gives the next start strictly after t, or the zero time when
// there is none. robfig/cron schedules satisfy it.
type Timetable interface {
	Next(t time.Time) time.Time
}

// Shape returns the run's load shape, or nil when the run keeps each
// scenario's own shape (a schedule with duration but no stages). Its Rate
// is 0: relative targets ("5x") resolve against each scenario's own rate,
// which the generator fills in (see generators.Deps.Shape).
func (c *Cron) Shape() *ShapeConfig {
	if len(c.Config.Stages) == 0 {
		return nil
	}
	return &ShapeConfig{Stages: slices.Clone(c.Config.Stages)}
}

// Length returns how long a run of the schedule lasts.
func (c *Cron) Length() time.Duration {
	if len(c.Config.Stages) > 0 {
		return (&ShapeConfig{Stages: c.Config.Stages}).Length()
	}
	return c.Config.Duration.D()
}

// Crons are the validated `schedules:` section by name.
type Crons map[string]*Cron

// Names returns the schedule names, sorted.
func (cs Crons) Names() []string {
	out := make([]string, 0, len(cs))
	for n := range cs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// String summarises the schedules for `loadd check`, one a line.
func (cs Crons) String() string {
	var b strings.Builder
	for _, n := range cs.Names() {
		c := cs[n]
		tz := c.Config.Timezone
		if tz == "" {
			tz = "local time"
		}
		fmt.Fprintf(&b, "  %-20s %q (%s): %s run of %s for %s, overlap %s\n",
			n, c.Config.Cron, tz, c.Config.Mode, strings.Join(c.Scenarios, ", "), c.Length(), c.Config.Overlap)
	}
	return b.String()
}

// DecodeCrons decodes and validates the raw `schedules:` section found at
// path. Every problem goes to p under its key path, e.g.
// "schedules.nightly-soak.cron". scenarios maps each scenario to its tasks.
func DecodeCrons(path string, raw map[string]map[string]any, scenarios map[string][]string, p *config.Problems) Crons {
	out := Crons{}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		sp := config.Key(path, name)
		var c CronConfig
		if err := config.Decode(raw[name], &c); err != nil {
			config.DecodeErrors(err, sp, p)
			continue
		}
		if cr := c.validate(sp, name, scenarios, p); cr != nil {
			cr.Name = name
			out[name] = cr
		}
	}
	return out
}

func (c *CronConfig) validate(path, name string, scenarios map[string][]string, p *config.Problems) *Cron {
	before := p.Len()
	if !config.ValidName(name) {
		p.Addf(path, "invalid schedule name: use letters, digits, _ and - (it becomes a metric label)")
	}
	var when Timetable
	if c.Cron == "" {
		p.Addf(config.Key(path, "cron"), `required (e.g. "0 2 * * *" or @daily)`)
	} else if w, err := ParseCron(c.Cron, c.Timezone); err != nil {
		key := "cron"
		if isZoneError(err) && c.Timezone != "" {
			key = "timezone"
		}
		p.Addf(config.Key(path, key), "%v", err)
	} else {
		when = w
	}
	switch c.Mode {
	case "":
		c.Mode = ModeAdd
	case ModeAdd, ModeReplace:
	default:
		p.Addf(config.Key(path, "mode"), "unknown mode %q (want add or replace)", c.Mode)
	}
	switch c.Overlap {
	case "":
		c.Overlap = OverlapSkip
	case OverlapSkip, OverlapQueue:
	default:
		p.Addf(config.Key(path, "overlap"), "unknown overlap policy %q (want skip or queue)", c.Overlap)
	}
	switch {
	case len(c.Stages) > 0 && c.Duration > 0:
		p.Addf(config.Key(path, "duration"), "give stages or duration, not both (the stages set the length)")
	case len(c.Stages) > 0:
		// A placeholder base rate lets multiples ("5x") pass: they resolve
		// against each scenario's own rate when the run starts.
		(&ShapeConfig{Rate: 1, Stages: c.Stages}).Validate(path, false, p)
	case c.Duration <= 0:
		p.Addf(path, "a run needs stages (e.g. [{ramp: 10m, to: 5x}, {hold: 1h}]) or a duration")
	}
	seen := map[string]bool{}
	for i, s := range c.Scenarios {
		if _, ok := scenarios[s]; !ok {
			p.Addf(config.Index(config.Key(path, "scenarios"), i), "unknown scenario %q (have %s)", s, strings.Join(slices.Sorted(maps.Keys(scenarios)), ", "))
		}
		if seen[s] {
			p.Addf(config.Index(config.Key(path, "scenarios"), i), "scenario %q listed twice", s)
		}
		seen[s] = true
	}
	if p.Len() > before {
		return nil
	}
	run := slices.Clone(c.Scenarios)
	if len(run) == 0 {
		run = slices.Sorted(maps.Keys(scenarios))
	}
	sort.Strings(run)
	return &Cron{Config: *c, When: when, Scenarios: run}
}
