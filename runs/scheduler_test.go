package runs

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/schedule"
)

type fakeBaseline struct {
	mu     sync.Mutex
	events []string
}

func (b *fakeBaseline) Pause(sc []string) func() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, "pause "+strings.Join(sc, ","))
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.events = append(b.events, "resume "+strings.Join(sc, ","))
	}
}

func crons(t *testing.T, src string) schedule.Crons {
	t.Helper()
	var raw map[string]map[string]any
	if err := yaml.Unmarshal([]byte(src), &raw); err != nil {
		t.Fatal(err)
	}
	p := &config.Problems{}
	cs := schedule.DecodeCrons("schedules", raw, map[string][]string{"api": {"work"}, "other": {"work"}}, p)
	if p.Len() > 0 {
		t.Fatal(p.Error())
	}
	return cs
}

// TestSchedulerRunsOnTime: inside a synctest bubble (fake time starting
// at 2000-01-01 00:00 UTC) a schedule firing every minute runs 20 s runs
// at 00:01 and 00:02, records them, pauses the baseline in replace mode,
// and skips a start that overlaps a run.
func TestSchedulerRunsOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, reg, _ := newRunner(t, true)
		base := &fakeBaseline{}
		s := NewScheduler(SchedulerOptions{Runner: r, Baseline: base, ReportsURL: "/reports/"})
		defer s.Stop()
		specs := map[string]generators.Spec{"api": &fakeSpec{Rate: 10, Latency: 10 * time.Millisecond}, "other": &fakeSpec{Rate: 1}}
		s.Apply(Setup{
			Crons: crons(t, `
minutely: {cron: "* * * * *", timezone: UTC, duration: 20s, scenarios: [api], mode: replace}
slow: {cron: "* * * * *", timezone: UTC, stages: [{hold: 90s}], scenarios: [other]}
`),
			Specs: specs, SLAs: slaList(time.Second, 0.01),
		})
		synctest.Wait()
		st := s.Status()
		if want := time.Date(2000, 1, 1, 0, 1, 0, 0, time.UTC); !st["minutely"].Next.Equal(want) || st["minutely"].Running {
			t.Fatalf("status before the first start: %+v", st["minutely"])
		}
		time.Sleep(85 * time.Second) // 00:01:25: first minutely run done, slow running
		synctest.Wait()
		st = s.Status()
		last := st["minutely"].Last
		if last == nil || last.Result != exporter.RunPassed || !strings.HasPrefix(last.Report, "/reports/20000101T000100Z-minutely/") {
			t.Fatalf("after the first run: %+v", last)
		}
		if !st["slow"].Running {
			t.Errorf("slow schedule not running: %+v", st["slow"])
		}
		time.Sleep(60 * time.Second) // 00:02:25: slow's 00:02 start overlapped and was skipped
		synctest.Wait()
		if got := metricValue(t, reg, "loadd_runs_total", "result=passed,schedule=minutely"); got != 2 {
			t.Errorf("minutely passed runs %g, want 2", got)
		}
		if got := metricValue(t, reg, "loadd_runs_total", "result=skipped,schedule=slow"); got != 1 {
			t.Errorf("slow skipped starts %g, want 1", got)
		}
		base.mu.Lock()
		events := strings.Join(base.events, "; ")
		base.mu.Unlock()
		if events != "pause api; resume api; pause api; resume api" {
			t.Errorf("baseline events %q", events)
		}
		// A reload that drops "slow" interrupts its run and forgets its series.
		s.Apply(Setup{Crons: crons(t, `minutely: {cron: "* * * * *", timezone: UTC, duration: 20s, scenarios: [api], mode: replace}`), Specs: specs})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if _, ok := s.Status()["slow"]; ok {
			t.Error("removed schedule still in status")
		}
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "schedule" && l.GetValue() == "slow" {
						t.Errorf("series of the removed schedule remain: %s", mf.GetName())
					}
				}
			}
		}
		entries, err := os.ReadDir(r.opts.Reports.Dir)
		if err != nil || len(entries) < 3 {
			t.Errorf("report dirs: %v %v", len(entries), err)
		}
	})
}

func TestSchedulerRunNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _, _ := newRunner(t, false)
		s := NewScheduler(SchedulerOptions{Runner: r})
		defer s.Stop()
		s.Apply(Setup{
			Crons: crons(t, `nightly: {cron: "0 2 * * *", timezone: UTC, stages: [{ramp: 2s, to: 2x}, {hold: 1s}], scenarios: [api]}`),
			Specs: map[string]generators.Spec{"api": &fakeSpec{Rate: 10, Latency: time.Millisecond}, "other": &fakeSpec{Rate: 1}},
			SLAs:  append(slaList(time.Second, 0.01), slaList(time.Second, 0.01)[0]),
		})
		res, err := s.RunNow(context.Background(), "nightly")
		if err != nil {
			t.Fatal(err)
		}
		// 10→20/s over 2 s, then 20/s for 1 s: 30 + 20 arrivals.
		if d := res.Deliveries; len(d) != 1 || d[0].Scenario != "api" || d[0].Expected != 50 || res.Outcome != exporter.RunPassed {
			t.Fatalf("result %s, deliveries %+v, checks %+v", res.Outcome, d, res.Verdict.Checks)
		}
		if _, err := s.RunNow(context.Background(), "nope"); err == nil {
			t.Error("unknown schedule accepted")
		}
		if st := s.Status()["nightly"]; st.Last == nil || st.Last.Report != "" {
			t.Errorf("status %+v", st)
		}
	})
}
