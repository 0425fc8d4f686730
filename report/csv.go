package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/loadd/loadd/sla"
)

// statsHeader is Locust's --csv _stats.csv header, so that scripts and
// spreadsheets made for Locust read loadd's stats.csv. Times are in
// milliseconds; Type holds the scenario and Name the task. loadd does not
// measure content size: that column is always 0.
var statsHeader = []string{
	"Type", "Name", "Request Count", "Failure Count", "Median Response Time", "Average Response Time",
	"Min Response Time", "Max Response Time", "Average Content Size", "Requests/s", "Failures/s",
	"50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
}

var statsQuantiles = []float64{0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1}

func msText(sec float64) string { return strconv.FormatFloat(finite(sec)*1000, 'f', 2, 64) }

func rateText(v float64) string { return strconv.FormatFloat(finite(v), 'f', 2, 64) }

// WriteStats writes stats.csv: one row per task, then one "Aggregated"
// row per scenario. Failures include dropped arrivals, as in error ratios.
func WriteStats(w io.Writer, r *Run) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(statsHeader); err != nil {
		return err
	}
	elapsed := r.Snapshot.Elapsed.Seconds()
	row := func(typ, name string, t *sla.TaskStats) []string {
		fails := t.Failures + t.Dropped
		d := t.Latency
		rec := []string{typ, name, strconv.FormatUint(t.Requests+t.Dropped, 10), strconv.FormatUint(fails, 10),
			msText(d.Quantile(0.5)), msText(d.Mean()), msText(d.Min()), msText(d.Max()), "0",
			rateText(float64(t.Requests) / elapsed), rateText(float64(fails) / elapsed)}
		for _, q := range statsQuantiles {
			rec = append(rec, msText(d.Quantile(q)))
		}
		return rec
	}
	for _, sc := range r.Snapshot.Scenarios {
		for _, t := range r.Snapshot.Tasks {
			if t.Scenario == sc.Name {
				if err := cw.Write(row(sc.Name, t.Task, t)); err != nil {
					return err
				}
			}
		}
		if err := cw.Write(row(sc.Name, "Aggregated", r.Snapshot.Aggregate(sc.Name, sla.AllTasks))); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// historyHeader is the header of a task's CSV: one row per interval, with
// running totals as in Locust's _stats_history.csv.
var historyHeader = []string{
	"Timestamp", "Elapsed (s)", "Requests/s", "Failures/s", "50%", "95%", "99%", "100%",
	"Total Request Count", "Total Failure Count",
}

// WriteHistory writes the time series of one task: per interval the
// request and failure rates and latency quantiles (ms), and running totals.
func WriteHistory(w io.Writer, r *Run, t *sla.TaskStats) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(historyHeader); err != nil {
		return err
	}
	var reqs, fails uint64
	for _, p := range t.Series {
		reqs += p.Requests
		fails += p.Failures
		at := r.Snapshot.Start.Add(time.Duration(p.T * float64(time.Second)))
		rec := []string{
			strconv.FormatInt(at.Unix(), 10), strconv.FormatFloat(p.T, 'f', 3, 64),
			rateText(p.Rate), rateText(p.ErrorRate), msText(p.P50), msText(p.P95), msText(p.P99), msText(p.Max),
			strconv.FormatUint(reqs, 10), strconv.FormatUint(fails, 10),
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
