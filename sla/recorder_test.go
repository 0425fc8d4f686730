package sla

import (
	"sync"
	"testing"
	"time"

	"github.com/loadd/loadd/exporter"
)

var testStart = time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)

func okOutcome(ns int64) exporter.Outcome {
	return exporter.Outcome{Latency: time.Duration(ns), Code: 200}
}

func TestRecorderTotalsAndSeries(t *testing.T) {
	rec := NewRecorder(testStart)
	rec.Track("api", "list", "view", "idle")
	rec.SetTargetRate("api", 100)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				o := okOutcome(int64(10+w) * 1e6)
				if i%100 == 0 {
					o.Reason, o.Code = exporter.ReasonStatus, 500
				}
				rec.Record("api", "list", o)
			}
		}()
	}
	wg.Wait()
	rec.Record("api", "view", okOutcome(50e6))
	rec.Record("api", "view", exporter.Outcome{Reason: exporter.ReasonDropped})
	rec.Flush(testStart.Add(time.Second))
	rec.SetTargetRate("api", 200)
	rec.Record("api", "list", okOutcome(1e9))
	rec.Record("other", "x", okOutcome(1e6)) // not tracked: created on the fly
	rec.Flush(testStart.Add(1500 * time.Millisecond))
	rec.Flush(testStart.Add(1500 * time.Millisecond)) // empty step: ignored

	s := rec.Snapshot()
	if s.Elapsed != 1500*time.Millisecond {
		t.Errorf("elapsed %v", s.Elapsed)
	}
	list := s.Aggregate("api", "list")
	if list.Requests != 4001 || list.Failures != 40 || list.Dropped != 0 || list.Reasons["status"] != 40 {
		t.Errorf("list totals: %+v", list)
	}
	view := s.Aggregate("api", "view")
	if view.Requests != 1 || view.Dropped != 1 || view.Reasons["dropped"] != 1 || view.ErrorRatio() != 0.5 {
		t.Errorf("view totals: %+v ratio %g", view, view.ErrorRatio())
	}
	all := s.Aggregate("api", AllTasks)
	if all.Requests != 4002 || all.Failures != 40 || all.Dropped != 1 || all.Latency.Count() != 4002 {
		t.Errorf("aggregate: %+v n=%d", all, all.Latency.Count())
	}
	if got := all.Latency.Max(); got != 1 {
		t.Errorf("max %g, want 1", got)
	}
	if len(s.Tasks) != 4 || s.Tasks[0].Task != "idle" || s.Tasks[3].Scenario != "other" {
		t.Errorf("tasks not sorted or missing: %d", len(s.Tasks))
	}
	sc := s.Scenario("api")
	if sc == nil || len(sc.Series) != 2 {
		t.Fatalf("scenario series: %+v", sc)
	}
	p0, p1 := sc.Series[0], sc.Series[1]
	if p0.T != 1 || p0.Requests != 4001 || p0.Failures != 41 || p0.Rate != 4001 || p0.TargetRate != 100 {
		t.Errorf("first point %+v", p0)
	}
	if p0.P50 < 0.0099 || p0.P50 > 0.0131 || p0.P99 < 0.0129 || p0.P99 > 0.0131 {
		t.Errorf("first point quantiles %+v", p0)
	}
	if p1.T != 1.5 || p1.Requests != 1 || p1.Rate != 2 || p1.TargetRate != 200 || p1.P50 != 1 {
		t.Errorf("second point %+v", p1)
	}
	if idle := s.Aggregate("api", "idle"); len(idle.Series) != 2 || idle.Series[0].Requests != 0 || idle.Series[0].P95 != 0 {
		t.Errorf("idle task series %+v", idle.Series)
	}
}

func TestRecorderFigures(t *testing.T) {
	rec := NewRecorder(testStart)
	for i := range 100 {
		rec.ObserveFigure("ws", exporter.FigureRTT, float64(i+1)/1000)
		if i%25 == 0 {
			rec.ObserveFigure("ws", exporter.FigureConnectFailed, 1)
		} else {
			rec.ObserveFigure("ws", exporter.FigureConnectOK, 0.01)
		}
		rec.ObserveFigure("asr", exporter.FigureFinalLatency, 1)
		rec.ObserveFigure("asr", exporter.FigureRealtimeFactor, 0.25+float64(i)/1000)
	}
	s := rec.Snapshot()
	ws, asr := s.Scenario("ws"), s.Scenario("asr")
	if ws.Connects != 100 || ws.ConnectFails != 4 || ws.RTT.Count() != 100 {
		t.Fatalf("ws figures: %+v", ws)
	}
	if got := ws.RTT.Quantile(0.95); got < 0.0945 || got > 0.0955 {
		t.Errorf("rtt p95 %g, want ~0.095", got)
	}
	if got := asr.RealtimeFactor.Quantile(1); got != 0.349 {
		t.Errorf("rtf max %g, want 0.349", got)
	}
	if asr.FinalLatency.Count() != 100 {
		t.Errorf("final latency count %d", asr.FinalLatency.Count())
	}
}

// TestRecorderConcurrentFlush runs records against flushes under -race:
// every record must be in the totals even when a flush swaps intervals.
func TestRecorderConcurrentFlush(t *testing.T) {
	rec := NewRecorder(testStart)
	const workers, each = 4, 5000
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				rec.Record("api", "t", okOutcome(1e6))
			}
		}()
	}
	stop := make(chan struct{})
	flushed := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				flushed <- n
				return
			default:
				n++
				rec.Flush(testStart.Add(time.Duration(n) * time.Millisecond))
			}
		}
	}()
	wg.Wait()
	close(stop)
	n := <-flushed
	rec.Flush(testStart.Add(time.Duration(n+1) * time.Millisecond))
	s := rec.Snapshot()
	if got := s.Aggregate("api", "t").Requests; got != workers*each {
		t.Fatalf("total %d, want %d", got, workers*each)
	}
	var inSeries uint64
	for _, p := range s.Scenario("api").Series {
		inSeries += p.Requests
	}
	// Records racing a swap may miss the series (never the totals).
	if inSeries > workers*each || inSeries < workers*each*99/100 {
		t.Errorf("series hold %d of %d records", inSeries, workers*each)
	}
}

func TestFlushMergesEndStub(t *testing.T) {
	rec := NewRecorder(testStart)
	for i, at := range []time.Duration{time.Second, 2 * time.Second, 2100 * time.Millisecond} {
		for range 10 * (i + 1) {
			rec.Record("api", "t", okOutcome(int64(i+1)*1e6))
		}
		rec.Flush(testStart.Add(at))
	}
	sc := rec.Snapshot().Scenario("api")
	if len(sc.Series) != 2 {
		t.Fatalf("%d points, want the 100 ms stub merged into the second: %+v", len(sc.Series), sc.Series)
	}
	p := sc.Series[1]
	if p.T != 2.1 || p.Requests != 50 || p.Rate < 45.4 || p.Rate > 45.5 || p.P50 != 0.002 || p.Max != 0.003 {
		t.Errorf("merged point %+v", p)
	}
}
