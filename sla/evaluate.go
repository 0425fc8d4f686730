package sla

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// MinDelivered is the share of the asked-for arrivals a scenario must
// complete for a run to be valid.
const MinDelivered = 0.95

// Delivery is what a scenario was asked to do during a run and what it did.
type Delivery struct {
	Scenario string `json:"scenario"`
	// Expected is the number of arrivals the load shape asked for (the
	// integral of the target rate over the run); 0 when the scenario is not
	// rate-driven (closed model, sessions), which skips the rate check.
	Expected float64 `json:"expected"`
	// Completed counts iterations completed during the run.
	Completed uint64 `json:"completed"`
	// Dropped counts arrivals dropped because max_in_flight was reached.
	Dropped uint64 `json:"dropped"`
	// Err is set when the scenario stopped with an error.
	Err string `json:"error,omitempty"`
	// Early is how long before the end of the run the scenario stopped by
	// itself (its load shape ended); 0 when it ran to the end.
	Early time.Duration `json:"stopped_early,omitempty"`
}

// Check is the verdict on one objective of one SLA.
type Check struct {
	SLA       string    `json:"sla"`
	Scenario  string    `json:"scenario"`
	Task      string    `json:"task"`
	Objective Objective `json:"objective"`
	// Observed is the measured figure (seconds, ratio or factor); NaN
	// (null in JSON) when nothing was measured.
	Observed float64 `json:"observed"`
	Samples  uint64  `json:"samples"`
	Passed   bool    `json:"passed"`
	// Message says what was measured against what, e.g.
	// "api/* latency p95 = 132ms > 100ms (12000 requests)".
	Message string `json:"message"`
}

// Verdict is the outcome of a run: every check, and whether the load was
// delivered (a run that did not deliver its load is invalid, not passed).
type Verdict struct {
	Checks []Check `json:"checks"`
	// Valid is false when a scenario dropped arrivals, delivered less than
	// MinDelivered of its target or stopped with an error.
	Valid bool `json:"valid"`
	// Invalid lists why the run is invalid.
	Invalid []string `json:"invalid,omitempty"`
}

// Passed reports whether the run is valid and every check passed.
func (v *Verdict) Passed() bool {
	if !v.Valid {
		return false
	}
	for _, c := range v.Checks {
		if !c.Passed {
			return false
		}
	}
	return true
}

// Failed returns the checks that did not pass.
func (v *Verdict) Failed() []Check {
	var out []Check
	for _, c := range v.Checks {
		if !c.Passed {
			out = append(out, c)
		}
	}
	return out
}

// Evaluate judges every objective of list against the snapshot and the
// run's validity against deliveries. An objective with no samples fails:
// a figure that was never measured cannot be said to hold.
func Evaluate(list List, snap *Snapshot, deliveries []Delivery) Verdict {
	v := Verdict{Valid: true}
	for _, c := range list {
		for _, o := range c.objectives() {
			v.Checks = append(v.Checks, check(c, o, snap))
		}
	}
	for _, d := range deliveries {
		if reason := d.problem(); reason != "" {
			v.Valid = false
			v.Invalid = append(v.Invalid, reason)
		}
	}
	return v
}

// problem says why the delivery makes a run invalid, or "".
func (d Delivery) problem() string {
	switch {
	case d.Err != "":
		return fmt.Sprintf("%s: stopped with an error: %s", d.Scenario, d.Err)
	case d.Early > 0:
		return fmt.Sprintf("%s: stopped %s before the end of the run: its load shape asked for no more load", d.Scenario, d.Early.Round(time.Millisecond))
	case d.Dropped > 0:
		return fmt.Sprintf("%s: %d arrivals dropped (max_in_flight reached): the target rate was not delivered", d.Scenario, d.Dropped)
	case d.Expected > 0 && float64(d.Completed)+1 < MinDelivered*d.Expected:
		return fmt.Sprintf("%s: completed %d of %.0f arrivals asked for (%.1f%% < %.0f%%)",
			d.Scenario, d.Completed, d.Expected, 100*float64(d.Completed)/d.Expected, 100*MinDelivered)
	}
	return ""
}

func check(c Config, o Objective, snap *Snapshot) Check {
	task := c.Task
	if task == "" {
		task = AllTasks
	}
	ck := Check{SLA: c.Name, Scenario: c.Scenario, Task: task, Objective: o, Observed: math.NaN()}
	unit := "requests"
	var dist Dist
	sc := snap.Scenario(c.Scenario)
	if sc == nil {
		sc = &ScenarioStats{}
	}
	switch o.Figure {
	case FigureLatency:
		dist = snap.Aggregate(c.Scenario, task).Latency
	case FigureErrorRatio:
		agg := snap.Aggregate(c.Scenario, task)
		ck.Samples = agg.Requests + agg.Dropped
		if ck.Samples > 0 {
			ck.Observed = agg.ErrorRatio()
		}
	case FigureRTT:
		dist, unit = sc.RTT, "messages"
	case FigureConnectFailureRatio:
		ck.Samples, unit = sc.Connects, "connection attempts"
		if sc.Connects > 0 {
			ck.Observed = float64(sc.ConnectFails) / float64(sc.Connects)
		}
	case FigureFinalLatency:
		dist, unit = sc.FinalLatency, "jobs"
	case FigureRealtimeFactor:
		dist, unit = sc.RealtimeFactor, "jobs"
	}
	if !o.IsRatio() {
		ck.Samples = dist.Count()
		if ck.Samples > 0 {
			ck.Observed = dist.Quantile(Quantiles[o.Quantile])
		}
	}
	what := string(o.Figure)
	if o.Quantile != "" {
		what += " " + o.Quantile
	}
	name := c.Name
	if name == "" {
		name = c.Scenario + "/" + task
	}
	if math.IsNaN(ck.Observed) {
		ck.Message = fmt.Sprintf("%s %s: no %s measured (objective %s)", name, what, unit, o.Format(o.Max))
		return ck
	}
	ck.Passed = ck.Observed <= o.Max
	op := "<="
	if !ck.Passed {
		op = ">"
	}
	ck.Message = fmt.Sprintf("%s %s = %s %s %s (%s %s)", name, what, o.Format(ck.Observed), op, o.Format(o.Max), strconv.FormatUint(ck.Samples, 10), unit)
	return ck
}

// MarshalJSON writes Observed as null when nothing was measured (JSON has no NaN).
func (c Check) MarshalJSON() ([]byte, error) {
	type plain Check
	out := struct {
		plain
		Observed *float64 `json:"observed"`
	}{plain: plain(c)}
	if !math.IsNaN(c.Observed) {
		out.Observed = &c.Observed
	}
	return json.Marshal(out)
}
