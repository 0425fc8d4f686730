// Package sla owns service-level objectives: the `slas:` config, their
// export as Prometheus series, a high-resolution per-run recorder of every
// outcome, and the verdict of a run (each objective passed or failed, and
// whether the load was delivered at all).
package sla

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
)

// AllTasks is the task of an SLA that covers every task of its scenario.
const AllTasks = "*"

// Config is one entry of the top-level `slas:` list, e.g.
//
//   - {scenario: api, task: "*", latency: {p95: 100ms, p99: 300ms}, error_ratio: 1%}
//   - {scenario: notifications, rtt: {p95: 50ms}, connect_failure_ratio: 0.5%}
//   - {scenario: transcription, final_latency: {p95: 2s}, realtime_factor: {p95: 0.5}}
//
// Every objective is an upper bound: the observed figure must not exceed it.
type Config struct {
	// Name labels the SLA in reports; the default is "scenario/task".
	Name     string `yaml:"name" json:"name,omitempty"`
	Scenario string `yaml:"scenario" json:"scenario"`
	// Task is one of the scenario's tasks, or "*" (the default) for all.
	Task string `yaml:"task" json:"task"`
	// Latency bounds request latency quantiles, keyed p50, p90, p95, p99, p99.9.
	Latency map[string]config.Duration `yaml:"latency" json:"latency,omitempty"`
	// ErrorRatio bounds failed (and dropped) requests over all requests.
	ErrorRatio *config.Ratio `yaml:"error_ratio" json:"error_ratio,omitempty"`
	// RTT bounds WebSocket message round-trip quantiles.
	RTT map[string]config.Duration `yaml:"rtt" json:"rtt,omitempty"`
	// ConnectFailureRatio bounds failed WebSocket connection attempts.
	ConnectFailureRatio *config.Ratio `yaml:"connect_failure_ratio" json:"connect_failure_ratio,omitempty"`
	// FinalLatency bounds transcription final-result latency quantiles.
	FinalLatency map[string]config.Duration `yaml:"final_latency" json:"final_latency,omitempty"`
	// RealtimeFactor bounds transcription processing time / audio duration.
	RealtimeFactor map[string]float64 `yaml:"realtime_factor" json:"realtime_factor,omitempty"`
}

// List is the validated `slas:` section.
type List []Config

// Quantiles maps the accepted quantile keys to their values.
var Quantiles = map[string]float64{"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p99.9": 0.999}

// quantileKeys lists the accepted keys in a fixed order, for messages.
var quantileKeys = []string{"p50", "p90", "p95", "p99", "p99.9"}

// Decode decodes and validates the raw `slas:` list found at path (as the
// YAML loader produced it). Every problem goes to p under its key path,
// e.g. "slas[1].latency.p96". scenarios maps each scenario to its tasks.
func Decode(path string, raw []map[string]any, scenarios map[string][]string, p *config.Problems) List {
	list := make(List, 0, len(raw))
	at := make([]int, 0, len(raw))
	for i, r := range raw {
		var c Config
		if err := config.Decode(r, &c); err != nil {
			config.DecodeErrors(err, config.Index(path, i), p)
			continue
		}
		list = append(list, c)
		at = append(at, i)
	}
	list.validate(path, at, scenarios, p)
	for i := range list {
		if list[i].Task == "" {
			list[i].Task = AllTasks
		}
		if list[i].Name == "" {
			list[i].Name = list[i].Scenario + "/" + list[i].Task
		}
	}
	return list
}

// Validate checks every SLA of the list at path: the scenario must exist,
// the task must be one of its tasks or "*", quantile keys must be known and
// every SLA must set at least one objective.
func (l List) Validate(path string, scenarios map[string][]string, p *config.Problems) {
	at := make([]int, len(l))
	for i := range at {
		at[i] = i
	}
	l.validate(path, at, scenarios, p)
}

// validate checks l[j], found at index at[j] of the YAML list.
func (l List) validate(path string, at []int, scenarios map[string][]string, p *config.Problems) {
	names := map[string]int{}
	for j := range l {
		ip := config.Index(path, at[j])
		l[j].validate(ip, scenarios, p)
		if n := l[j].Name; n != "" {
			if first, dup := names[n]; dup {
				p.Addf(config.Key(ip, "name"), "duplicate SLA name %q (first at %s)", n, config.Index(path, first))
			}
			names[n] = at[j]
		}
	}
}

func (c *Config) validate(path string, scenarios map[string][]string, p *config.Problems) {
	tasks, ok := scenarios[c.Scenario]
	switch {
	case c.Scenario == "":
		p.Addf(config.Key(path, "scenario"), "required: the scenario the SLA is about")
	case !ok:
		p.Addf(config.Key(path, "scenario"), "unknown scenario %q (have %s)", c.Scenario, strings.Join(slices.Sorted(maps.Keys(scenarios)), ", "))
	case c.Task != "" && c.Task != AllTasks && !slices.Contains(tasks, c.Task):
		p.Addf(config.Key(path, "task"), "scenario %q has no task %q (have %s, or \"*\" for all)", c.Scenario, c.Task, strings.Join(tasks, ", "))
	}
	checkQuantiles(config.Key(path, "latency"), slices.Sorted(maps.Keys(c.Latency)), p)
	checkQuantiles(config.Key(path, "rtt"), slices.Sorted(maps.Keys(c.RTT)), p)
	checkQuantiles(config.Key(path, "final_latency"), slices.Sorted(maps.Keys(c.FinalLatency)), p)
	checkQuantiles(config.Key(path, "realtime_factor"), slices.Sorted(maps.Keys(c.RealtimeFactor)), p)
	for _, group := range []struct {
		key string
		m   map[string]config.Duration
	}{{"latency", c.Latency}, {"rtt", c.RTT}, {"final_latency", c.FinalLatency}} {
		for q, d := range group.m {
			if d <= 0 {
				p.Addf(config.Key(config.Key(path, group.key), q), "must be a positive duration")
			}
		}
	}
	for q, v := range c.RealtimeFactor {
		if !(v > 0) || v > 1000 {
			p.Addf(config.Key(config.Key(path, "realtime_factor"), q), "must be a positive factor such as 0.5, not %v", v)
		}
	}
	if c.Task != "" && c.Task != AllTasks && (len(c.RTT) > 0 || c.ConnectFailureRatio != nil || len(c.FinalLatency) > 0 || len(c.RealtimeFactor) > 0) {
		p.Addf(config.Key(path, "task"), "rtt, connect_failure_ratio, final_latency and realtime_factor are per scenario: leave task out or use \"*\"")
	}
	if len(c.objectives()) == 0 {
		p.Addf(path, "no objective: set latency, error_ratio, rtt, connect_failure_ratio, final_latency or realtime_factor")
	}
}

func checkQuantiles(path string, ks []string, p *config.Problems) {
	for _, k := range ks {
		if _, ok := Quantiles[k]; !ok {
			p.Addf(config.Key(path, k), "unknown quantile %q (want one of %s)", k, strings.Join(quantileKeys, ", "))
		}
	}
}

// Figure names what an objective measures.
type Figure string

// The figures an SLA can bound.
const (
	FigureLatency             Figure = "latency"
	FigureErrorRatio          Figure = "error_ratio"
	FigureRTT                 Figure = "rtt"
	FigureConnectFailureRatio Figure = "connect_failure_ratio"
	FigureFinalLatency        Figure = "final_latency"
	FigureRealtimeFactor      Figure = "realtime_factor"
)

// Objective is one bound of an SLA: Figure (at Quantile, for quantile
// figures) must not exceed Max. Durations are in seconds.
type Objective struct {
	Figure   Figure  `json:"figure"`
	Quantile string  `json:"quantile,omitempty"`
	Max      float64 `json:"max"`
}

// IsRatio reports whether the objective bounds a ratio rather than a quantile.
func (o Objective) IsRatio() bool { return o.Quantile == "" }

// IsDuration reports whether Max is in seconds.
func (o Objective) IsDuration() bool {
	return o.Figure == FigureLatency || o.Figure == FigureRTT || o.Figure == FigureFinalLatency
}

// String renders "latency p95 <= 100ms" or "error_ratio <= 1%".
func (o Objective) String() string {
	what := string(o.Figure)
	if o.Quantile != "" {
		what += " " + o.Quantile
	}
	return what + " <= " + o.Format(o.Max)
}

// Format renders a value of the objective's figure: "132ms", "0.8%" or "0.41".
func (o Objective) Format(v float64) string {
	switch {
	case o.IsDuration():
		return FormatSeconds(v)
	case o.IsRatio():
		return strconv.FormatFloat(v*100, 'g', 4, 64) + "%"
	default:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
}

// FormatSeconds renders seconds as a short duration such as "132ms" or "1.25s".
func FormatSeconds(v float64) string {
	d := time.Duration(v * 1e9)
	switch {
	case d >= time.Second:
		d = d.Round(time.Millisecond)
	case d >= time.Millisecond:
		d = d.Round(10 * time.Microsecond)
	default:
		d = d.Round(time.Microsecond)
	}
	return d.String()
}

// Objectives lists the bounds of the SLA in a stable order.
func (c *Config) Objectives() []Objective { return c.objectives() }

func (c *Config) objectives() []Objective {
	var out []Objective
	quant := func(f Figure, m map[string]float64) {
		for _, k := range quantileKeys {
			if v, ok := m[k]; ok {
				out = append(out, Objective{Figure: f, Quantile: k, Max: v})
			}
		}
	}
	quant(FigureLatency, seconds(c.Latency))
	if c.ErrorRatio != nil {
		out = append(out, Objective{Figure: FigureErrorRatio, Max: float64(*c.ErrorRatio)})
	}
	quant(FigureRTT, seconds(c.RTT))
	if c.ConnectFailureRatio != nil {
		out = append(out, Objective{Figure: FigureConnectFailureRatio, Max: float64(*c.ConnectFailureRatio)})
	}
	quant(FigureFinalLatency, seconds(c.FinalLatency))
	quant(FigureRealtimeFactor, c.RealtimeFactor)
	return out
}

// Export sets the objectives of list as the series
// loadd_sla_latency_objective_seconds{scenario,task,quantile="0.95"},
// loadd_sla_error_ratio_objective{scenario,task},
// loadd_sla_rtt_objective_seconds{scenario,quantile} and
// loadd_sla_final_latency_objective_seconds{scenario,quantile}, after
// deleting the old ones (so an SLA removed by a reload disappears).
// Connect-failure ratio and real-time factor objectives are judged
// in-process only.
func Export(m *exporter.Metrics, list List) {
	m.ResetObjectives()
	for _, c := range list {
		task := c.Task
		if task == "" {
			task = AllTasks
		}
		for _, o := range c.objectives() {
			switch o.Figure {
			case FigureLatency:
				m.SetLatencyObjective(c.Scenario, task, QuantileLabel(o.Quantile), o.Max)
			case FigureErrorRatio:
				m.SetErrorRatioObjective(c.Scenario, task, o.Max)
			case FigureRTT:
				m.SetRTTObjective(c.Scenario, QuantileLabel(o.Quantile), o.Max)
			case FigureFinalLatency:
				m.SetFinalLatencyObjective(c.Scenario, QuantileLabel(o.Quantile), o.Max)
			}
		}
	}
}

// QuantileLabel turns "p95" into the quantile label value "0.95".
func QuantileLabel(key string) string {
	return strconv.FormatFloat(Quantiles[key], 'f', -1, 64)
}

// String summarises the list for `loadd check`, one SLA a line.
func (l List) String() string {
	var b strings.Builder
	for _, c := range l {
		parts := make([]string, 0, 4)
		for _, o := range c.objectives() {
			parts = append(parts, o.String())
		}
		fmt.Fprintf(&b, "  %-20s %s\n", c.Name, strings.Join(parts, ", "))
	}
	return b.String()
}

func seconds(m map[string]config.Duration) map[string]float64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, d := range m {
		out[k] = d.D().Seconds()
	}
	return out
}
