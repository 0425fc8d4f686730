package sla

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
)

func ratio(v float64) *config.Ratio { r := config.Ratio(v); return &r }

func ms(v int) config.Duration { return config.Duration(time.Duration(v) * time.Millisecond) }

// evalRecorder holds 1000 api requests: list at 10..109 ms (1 % failing),
// view at 200 ms; 100 WebSocket RTTs of 1..100 ms with 2 connect failures
// in 100; 10 transcription jobs with a real-time factor of 0.3.
func evalRecorder() *Snapshot {
	rec := NewRecorder(testStart)
	for i := range 900 {
		o := okOutcome(int64(10+i%100) * 1e6)
		if i%100 == 0 {
			o.Reason = exporter.ReasonTimeout
		}
		rec.Record("api", "list", o)
	}
	for range 100 {
		rec.Record("api", "view", okOutcome(200e6))
	}
	for i := range 100 {
		rec.ObserveRTT("ws", time.Duration(i+1)*time.Millisecond)
		rec.ObserveConnect("ws", i < 2)
	}
	for range 10 {
		rec.ObserveFinalLatency("asr", 1500*time.Millisecond)
		rec.ObserveRealtimeFactor("asr", 0.3)
	}
	rec.Flush(testStart.Add(10 * time.Second))
	return rec.Snapshot()
}

func TestEvaluateChecks(t *testing.T) {
	snap := evalRecorder()
	for _, tc := range []struct {
		name   string
		sla    Config
		passed bool
		msg    string
	}{
		{"latency holds", Config{Scenario: "api", Task: "list", Latency: map[string]config.Duration{"p95": ms(120)}}, true,
			"api/list latency p95 = 104.33ms <= 120ms (900 requests)"},
		{"latency of all tasks breached", Config{Scenario: "api", Latency: map[string]config.Duration{"p95": ms(150)}}, false,
			"api/* latency p95 = 200ms > 150ms (1000 requests)"},
		{"named SLA", Config{Name: "checkout", Scenario: "api", Task: "view", Latency: map[string]config.Duration{"p50": ms(100)}}, false,
			"checkout latency p50 = 200ms > 100ms (100 requests)"},
		{"error ratio holds", Config{Scenario: "api", ErrorRatio: ratio(0.01)}, true,
			"api/* error_ratio = 0.9% <= 1% (1000 requests)"},
		{"error ratio breached", Config{Scenario: "api", Task: "list", ErrorRatio: ratio(0.005)}, false,
			"api/list error_ratio = 1% > 0.5% (900 requests)"},
		{"no samples fails", Config{Scenario: "api", Task: "missing", Latency: map[string]config.Duration{"p99": ms(100)}}, false,
			"api/missing latency p99: no requests measured (objective 100ms)"},
		{"rtt", Config{Scenario: "ws", RTT: map[string]config.Duration{"p99": ms(50)}}, false,
			"ws/* rtt p99 = 99.09ms > 50ms (100 messages)"},
		{"connect failures", Config{Scenario: "ws", ConnectFailureRatio: ratio(0.05)}, true,
			"ws/* connect_failure_ratio = 2% <= 5% (100 connection attempts)"},
		{"final latency", Config{Scenario: "asr", FinalLatency: map[string]config.Duration{"p95": ms(2000)}}, true,
			"asr/* final_latency p95 = 1.5s <= 2s (10 jobs)"},
		{"realtime factor", Config{Scenario: "asr", RealtimeFactor: map[string]float64{"p95": 0.25}}, false,
			"asr/* realtime_factor p95 = 0.3 > 0.25 (10 jobs)"},
		{"figure never measured", Config{Scenario: "api", RTT: map[string]config.Duration{"p95": ms(10)}}, false,
			"api/* rtt p95: no messages measured (objective 10ms)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Evaluate(List{tc.sla}, snap, nil)
			if len(v.Checks) != 1 {
				t.Fatalf("%d checks, want 1", len(v.Checks))
			}
			c := v.Checks[0]
			if c.Passed != tc.passed || c.Message != tc.msg {
				t.Errorf("got passed=%v %q\nwant passed=%v %q", c.Passed, c.Message, tc.passed, tc.msg)
			}
			if v.Passed() != tc.passed {
				t.Errorf("verdict passed %v, want %v", v.Passed(), tc.passed)
			}
			if _, err := json.Marshal(v); err != nil {
				t.Errorf("verdict does not marshal: %v", err)
			}
		})
	}
}

func TestEvaluateValidity(t *testing.T) {
	snap := evalRecorder()
	holds := List{{Scenario: "api", ErrorRatio: ratio(0.05)}}
	for _, tc := range []struct {
		name    string
		d       Delivery
		valid   bool
		invalid string
	}{
		{"delivered", Delivery{Scenario: "api", Expected: 1000, Completed: 1000}, true, ""},
		{"95% is enough", Delivery{Scenario: "api", Expected: 1000, Completed: 950}, true, ""},
		{"one short of a tiny run", Delivery{Scenario: "api", Expected: 20, Completed: 18}, true, ""},
		{"below 95%", Delivery{Scenario: "api", Expected: 1000, Completed: 900}, false, "api: completed 900 of 1000 arrivals asked for (90.0% < 95%)"},
		{"dropped", Delivery{Scenario: "api", Expected: 1000, Completed: 1000, Dropped: 3}, false, "api: 3 arrivals dropped (max_in_flight reached): the target rate was not delivered"},
		{"not rate driven", Delivery{Scenario: "api", Completed: 10}, true, ""},
		{"error", Delivery{Scenario: "api", Err: "too many open files"}, false, "api: stopped with an error: too many open files"},
		{"ended early", Delivery{Scenario: "api", Expected: 1, Completed: 1, Early: 3989 * time.Millisecond}, false, "api: stopped 3.989s before the end of the run: its load shape asked for no more load"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Evaluate(holds, snap, []Delivery{tc.d})
			if v.Valid != tc.valid || v.Passed() != tc.valid {
				t.Fatalf("valid=%v passed=%v, want %v (%v)", v.Valid, v.Passed(), tc.valid, v.Invalid)
			}
			if got := strings.Join(v.Invalid, "; "); got != tc.invalid {
				t.Errorf("invalid reasons %q, want %q", got, tc.invalid)
			}
		})
	}
}

func TestCheckJSONNullObserved(t *testing.T) {
	v := Evaluate(List{{Scenario: "none", ErrorRatio: ratio(0.01)}}, NewRecorder(testStart).Snapshot(), nil)
	b, err := json.Marshal(v.Checks[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"observed":null`) || !strings.Contains(string(b), `"passed":false`) {
		t.Errorf("JSON %s", b)
	}
}
