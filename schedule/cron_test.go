package schedule

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/loadd/loadd/config"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestParseCronNext(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	ny := mustZone(t, "America/New_York")
	utc := time.UTC
	at := func(loc *time.Location, y int, mo time.Month, d, h, mi int) time.Time {
		return time.Date(y, mo, d, h, mi, 0, 0, loc)
	}
	for _, tc := range []struct {
		name, expr, tz string
		from           time.Time
		want           []time.Time // successive starts
	}{
		{"nightly UTC", "0 2 * * *", "UTC", at(utc, 2025, 6, 1, 12, 0),
			[]time.Time{at(utc, 2025, 6, 2, 2, 0), at(utc, 2025, 6, 3, 2, 0)}},
		{"timezone key", "0 2 * * *", "Europe/Berlin", at(utc, 2025, 6, 1, 12, 0),
			[]time.Time{at(utc, 2025, 6, 2, 0, 0)}}, // 02:00 CEST is 00:00 UTC
		{"CRON_TZ prefix", "CRON_TZ=America/New_York 30 6 * * 1-5", "", at(utc, 2025, 6, 6, 12, 0), // Friday
			[]time.Time{at(ny, 2025, 6, 9, 6, 30), at(ny, 2025, 6, 10, 6, 30)}},
		{"descriptor daily", "@daily", "UTC", at(utc, 2025, 1, 1, 0, 0),
			[]time.Time{at(utc, 2025, 1, 2, 0, 0)}},
		{"every", "@every 90m", "", at(utc, 2025, 1, 1, 0, 0),
			[]time.Time{at(utc, 2025, 1, 1, 1, 30), at(utc, 2025, 1, 1, 3, 0)}},
		// Spring forward in Berlin, 2025-03-30: 02:00 CET becomes 03:00 CEST.
		// The 02:00 and 02:30 starts do not exist that day: they happen at the
		// transition instead of being lost.
		{"spring forward start moved to transition", "0 2 * * *", "Europe/Berlin", at(berlin, 2025, 3, 29, 12, 0),
			[]time.Time{at(berlin, 2025, 3, 30, 3, 0), at(berlin, 2025, 3, 31, 2, 0)}},
		{"spring forward half past", "30 2 * * *", "Europe/Berlin", at(berlin, 2025, 3, 30, 1, 0),
			[]time.Time{at(berlin, 2025, 3, 30, 3, 0), at(berlin, 2025, 3, 31, 2, 30)}},
		{"spring forward every 15m", "*/15 * * * *", "Europe/Berlin", at(berlin, 2025, 3, 30, 1, 40),
			[]time.Time{at(berlin, 2025, 3, 30, 1, 45), at(berlin, 2025, 3, 30, 3, 0), at(berlin, 2025, 3, 30, 3, 15)}},
		// Fall back, 2025-10-26: 03:00 CEST becomes 02:00 CET; 02:30 happens
		// twice on the wall clock and starts once.
		{"fall back fires once", "30 2 * * *", "Europe/Berlin", at(berlin, 2025, 10, 26, 0, 0),
			[]time.Time{time.Date(2025, 10, 26, 0, 30, 0, 0, utc), at(berlin, 2025, 10, 27, 2, 30)}},
		{"fall back other hours unaffected", "0 3 * * *", "Europe/Berlin", at(berlin, 2025, 10, 26, 0, 0),
			[]time.Time{time.Date(2025, 10, 26, 2, 0, 0, 0, utc)}},
		{"new york spring forward", "30 2 * * *", "America/New_York", at(ny, 2025, 3, 9, 0, 0),
			[]time.Time{at(ny, 2025, 3, 9, 3, 0), at(ny, 2025, 3, 10, 2, 30)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt, err := ParseCron(tc.expr, tc.tz)
			if err != nil {
				t.Fatalf("ParseCron(%q, %q): %v", tc.expr, tc.tz, err)
			}
			from := tc.from
			for i, want := range tc.want {
				got := tt.Next(from)
				if !got.Equal(want) {
					t.Fatalf("start %d after %s: got %s, want %s", i, from, got, want.In(got.Location()))
				}
				from = got
			}
		})
	}
}

func TestParseCronErrors(t *testing.T) {
	for _, tc := range []struct{ expr, tz, want string }{
		{"61 2 * * *", "", `invalid cron expression "61 2 * * *": end of range (61) above maximum (59): 61 (want 5 fields`},
		{"0 2 * *", "", `invalid cron expression "0 2 * *": expected exactly 5 fields, found 4: [0 2 * *]`},
		{"0 0 2 * * *", "", "expected exactly 5 fields, found 6"},
		{"@fortnightly", "", `invalid cron expression "@fortnightly": unrecognized descriptor: @fortnightly`},
		{"0 2 * * *", "Mars/Olympus", `unknown time zone "Mars/Olympus"`},
		{"CRON_TZ=Europe/Berlin", "", `nothing after CRON_TZ=Europe/Berlin`},
		{"CRON_TZ=Nowhere/Land 0 2 * * *", "", `unknown time zone "Nowhere/Land"`},
		{"CRON_TZ=UTC 0 2 * * *", "Europe/Berlin", "time zone given twice"},
		{"   ", "", "empty cron expression"},
		{"0 2 * * someday", "", `invalid cron expression "0 2 * * someday": failed to parse int from someday`},
		{"0 0 30 2 *", "", `invalid cron expression "0 0 30 2 *": it matches no date`},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := ParseCron(tc.expr, tc.tz)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseCron(%q, %q) = %v, want error containing %q", tc.expr, tc.tz, err, tc.want)
			}
		})
	}
}

var cronScenarios = map[string][]string{"api": {"list"}, "ws": {"session"}}

func decodeCrons(t *testing.T, src string) (Crons, *config.Problems) {
	t.Helper()
	var raw map[string]map[string]any
	if err := yaml.Unmarshal([]byte(src), &raw); err != nil {
		t.Fatal(err)
	}
	p := &config.Problems{}
	return DecodeCrons("schedules", raw, cronScenarios, p), p
}

func TestDecodeCrons(t *testing.T) {
	cs, p := decodeCrons(t, `
nightly-soak:
  cron: "0 2 * * *"
  timezone: Europe/Berlin
  stages: [{ramp: 10m, to: 5x}, {hold: 1h}, {ramp: 5m, to: 1x}]
  scenarios: [api]
  overlap: queue
smoke: {cron: "@hourly", duration: 2m, mode: replace}
`)
	if p.Len() > 0 {
		t.Fatal(p.Error())
	}
	n := cs["nightly-soak"]
	if n == nil || n.Length() != 75*time.Minute || n.Config.Mode != ModeAdd || n.Config.Overlap != OverlapQueue {
		t.Fatalf("nightly-soak: %+v", n)
	}
	sh := n.Shape()
	if sh == nil || len(sh.Stages) != 3 || sh.Rate != 0 {
		t.Fatalf("shape %+v", sh)
	}
	// With a scenario's own rate of 100/s filled in, the run ramps 100→500/s.
	sh.Rate = 100
	if r := sh.Pacer(1).Rate(10 * time.Minute); r != 500 {
		t.Errorf("rate after ramp %g, want 500", r)
	}
	s := cs["smoke"]
	if s.Shape() != nil || s.Length() != 2*time.Minute || strings.Join(s.Scenarios, ",") != "api,ws" || s.Config.Overlap != OverlapSkip {
		t.Errorf("smoke: %+v", s)
	}
	if txt := cs.String(); !strings.Contains(txt, `nightly-soak`) || !strings.Contains(txt, "1h15m0s") {
		t.Errorf("String() = %q", txt)
	}
}

func TestDecodeCronsProblems(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"bad expression", `{nightly-soak: {cron: "0 25 * * *", duration: 1m}}`,
			`schedules.nightly-soak.cron: invalid cron expression "0 25 * * *": end of range (25) above maximum (23): 25`},
		{"missing cron", `{a: {duration: 1m}}`, `schedules.a.cron: required`},
		{"bad zone", `{a: {cron: "@daily", timezone: Moon/Base, duration: 1m}}`, `schedules.a.timezone: unknown time zone "Moon/Base"`},
		{"unknown key", `{a: {cron: "@daily", duration: 1m, stage: []}}`, `schedules.a.stage: unknown key "stage"`},
		{"no length", `{a: {cron: "@daily"}}`, `schedules.a: a run needs stages`},
		{"both lengths", `{a: {cron: "@daily", duration: 1m, stages: [{hold: 1m}]}}`, `schedules.a.duration: give stages or duration, not both`},
		{"bad stage", `{a: {cron: "@daily", stages: [{ramp: 1m}]}}`, `schedules.a.stages[0].to: a ramp needs a target rate`},
		{"bad mode", `{a: {cron: "@daily", duration: 1m, mode: merge}}`, `schedules.a.mode: unknown mode "merge" (want add or replace)`},
		{"bad overlap", `{a: {cron: "@daily", duration: 1m, overlap: parallel}}`, `schedules.a.overlap: unknown overlap policy "parallel"`},
		{"unknown scenario", `{a: {cron: "@daily", duration: 1m, scenarios: [api, nope]}}`, `schedules.a.scenarios[1]: unknown scenario "nope" (have api, ws)`},
		{"bad name", `{"a b": {cron: "@daily", duration: 1m}}`, `schedules.a b: invalid schedule name`},
		{"bad duration", `{a: {cron: "@daily", duration: soon}}`, `schedules.a.duration`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, p := decodeCrons(t, tc.yaml)
			if !strings.Contains(p.Error(), tc.want) {
				t.Fatalf("problems:\n%s\nwant one containing %q", p.Error(), tc.want)
			}
			if len(cs) != 0 {
				t.Errorf("invalid schedule kept: %v", cs.Names())
			}
		})
	}
}
