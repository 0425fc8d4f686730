package report

import (
	"time"

	"github.com/loadd/loadd/sla"
)

// Summary is the content of summary.json.
type Summary struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Result      string    `json:"result"`
	Passed      bool      `json:"passed"`
	Interrupted bool      `json:"interrupted"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	// DurationSeconds is how long the run lasted; PlannedSeconds how long
	// it was meant to.
	DurationSeconds float64 `json:"duration_seconds"`
	PlannedSeconds  float64 `json:"planned_seconds"`
	// Valid is false when the load was not delivered; Invalid says why.
	Valid     bool              `json:"valid"`
	Invalid   []string          `json:"invalid,omitempty"`
	Checks    []sla.Check       `json:"checks"`
	Scenarios []ScenarioSummary `json:"scenarios"`
}

// ScenarioSummary is one scenario of a run.
type ScenarioSummary struct {
	Name     string        `json:"name"`
	Delivery *sla.Delivery `json:"delivery,omitempty"`
	Tasks    []TaskSummary `json:"tasks"`
	// Total aggregates every task of the scenario.
	Total TaskSummary `json:"total"`
	// RTT, FinalLatency (seconds) and RealtimeFactor are set for scenarios
	// that measured them.
	RTT            *Quantiles  `json:"rtt,omitempty"`
	FinalLatency   *Quantiles  `json:"final_latency,omitempty"`
	RealtimeFactor *Quantiles  `json:"realtime_factor,omitempty"`
	Connects       uint64      `json:"connects,omitempty"`
	ConnectFails   uint64      `json:"connect_failures,omitempty"`
	Series         []sla.Point `json:"series,omitempty"`
}

// TaskSummary is the totals of one task.
type TaskSummary struct {
	Task       string            `json:"task"`
	Requests   uint64            `json:"requests"`
	Failures   uint64            `json:"failures"`
	Dropped    uint64            `json:"dropped"`
	ErrorRatio float64           `json:"error_ratio"`
	RPS        float64           `json:"requests_per_second"`
	Reasons    map[string]uint64 `json:"reasons,omitempty"`
	// Latency is in seconds.
	Latency Quantiles `json:"latency"`
}

// Quantiles summarise a distribution; all 0 when it is empty.
type Quantiles struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

func quantiles(d sla.Dist) Quantiles {
	return Quantiles{
		Count: d.Count(), Min: d.Min(), Mean: d.Mean(), Max: d.Max(),
		P50: finite(d.Quantile(0.5)), P90: finite(d.Quantile(0.9)), P95: finite(d.Quantile(0.95)),
		P99: finite(d.Quantile(0.99)), P999: finite(d.Quantile(0.999)),
	}
}

func optQuantiles(d sla.Dist) *Quantiles {
	if d.Count() == 0 {
		return nil
	}
	q := quantiles(d)
	return &q
}

func taskSummary(t *sla.TaskStats, elapsed float64) TaskSummary {
	s := TaskSummary{
		Task: t.Task, Requests: t.Requests, Failures: t.Failures, Dropped: t.Dropped,
		ErrorRatio: t.ErrorRatio(), Reasons: t.Reasons, Latency: quantiles(t.Latency),
	}
	if elapsed > 0 {
		s.RPS = float64(t.Requests) / elapsed
	}
	return s
}

// NewSummary builds the summary of r.
func NewSummary(r *Run) Summary {
	s := Summary{
		ID: r.ID, Name: r.Name, Result: r.Result, Passed: r.Verdict.Passed() && !r.Interrupted,
		Interrupted: r.Interrupted, Start: r.Start.UTC(), End: r.End.UTC(),
		DurationSeconds: r.End.Sub(r.Start).Seconds(), PlannedSeconds: r.Planned.Seconds(),
		Valid: r.Verdict.Valid, Invalid: r.Verdict.Invalid, Checks: r.Verdict.Checks,
	}
	if s.Checks == nil {
		s.Checks = []sla.Check{}
	}
	elapsed := r.Snapshot.Elapsed.Seconds()
	for _, sc := range r.Snapshot.Scenarios {
		ss := ScenarioSummary{
			Name: sc.Name, Series: sc.Series, Tasks: []TaskSummary{},
			RTT: optQuantiles(sc.RTT), FinalLatency: optQuantiles(sc.FinalLatency), RealtimeFactor: optQuantiles(sc.RealtimeFactor),
			Connects: sc.Connects, ConnectFails: sc.ConnectFails,
		}
		for i := range r.Deliveries {
			if r.Deliveries[i].Scenario == sc.Name {
				ss.Delivery = &r.Deliveries[i]
			}
		}
		for _, t := range r.Snapshot.Tasks {
			if t.Scenario == sc.Name {
				ss.Tasks = append(ss.Tasks, taskSummary(t, elapsed))
			}
		}
		ss.Total = taskSummary(r.Snapshot.Aggregate(sc.Name, sla.AllTasks), elapsed)
		s.Scenarios = append(s.Scenarios, ss)
	}
	return s
}
