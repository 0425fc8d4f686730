package alerts

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/explicit.golden.yml")

// sampleObjectives cover every signal, a task and "*", both kinds of objective.
var sampleObjectives = []Objective{
	{Scenario: "api", Task: "list", Quantile: 0.95, Latency: 100 * time.Millisecond, ErrorRatio: 0.01},
	{Scenario: "api", Task: "*", Quantile: 0.9, Latency: 200 * time.Millisecond, For: 2 * time.Minute},
	{Scenario: "notif", Signal: SignalWebSocketRTT, Quantile: 0.95, Latency: 200 * time.Millisecond},
	{Scenario: "asr", Signal: SignalTranscriptionFinal, Quantile: 0.95, Latency: 1500 * time.Millisecond},
	{Scenario: "asr", Task: "batch", ErrorRatio: 0.02},
}

func TestExplicitGolden(t *testing.T) {
	got, err := Explicit(sampleObjectives)
	if err != nil {
		t.Fatal(err)
	}
	rgs := parseRules(t, "Explicit output", got)
	if n := len(rgs.Groups[0].Rules); n != 12 {
		t.Errorf("%d rules, want 12 (4 latency, 2 x 4 burn-rate)", n)
	}
	for _, want := range []string{
		`rate(loadd_request_duration_seconds_bucket{scenario="api",task="list"}[5m]))) > 0.1`,
		`label_replace(histogram_quantile(0.9, sum by (job, scenario, le)`,
		`(rate(loadd_ws_message_rtt_seconds_bucket{scenario="notif"}[5m]))) > 0.2`,
		`sum by (job, scenario, mode, le) (rate(loadd_transcription_final_latency_seconds_bucket{scenario="asr"}[5m]))) > 1.5`,
		`[1h])) > 0.144`, `[5m])) > 0.144`, `[3d])) > 0.02`, `[1d])) > 0.06`,
		"for: 2m",
	} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("output lacks %q", want)
		}
	}
	golden := filepath.Join("testdata", "explicit.golden.yml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./alerts -run TestExplicitGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Explicit output differs from %s (run with -update after checking):\n%s", golden, got)
	}
}

func TestExplicitPassesPromtool(t *testing.T) {
	dir := t.TempDir()
	got, err := Explicit(sampleObjectives)
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(filepath.Join("testdata", "explicit.test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"explicit.rules.yml": got, "explicit.test.yml": unit} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runPromtool(t, dir, "check", "rules", "explicit.rules.yml")
	runPromtool(t, dir, "test", "rules", "explicit.test.yml")
}

func TestExplicitEmpty(t *testing.T) {
	got, err := Explicit(nil)
	if err != nil {
		t.Fatal(err)
	}
	rgs := parseRules(t, "Explicit(nil)", got)
	if len(rgs.Groups) != 1 || len(rgs.Groups[0].Rules) != 0 {
		t.Errorf("Explicit(nil) = %+v, want one empty group", rgs.Groups)
	}
}

func TestExplicitRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  Objective
		want string
	}{
		{"no scenario", Objective{Quantile: 0.95, Latency: time.Second}, "scenario is empty"},
		{"nothing to alert on", Objective{Scenario: "api"}, "neither a latency nor an error-ratio objective"},
		{"quantile 0", Objective{Scenario: "api", Latency: time.Second}, "quantile 0 is not between 0 and 1"},
		{"quantile 95", Objective{Scenario: "api", Quantile: 95, Latency: time.Second}, "quantile 95 is not between 0 and 1"},
		{"negative latency", Objective{Scenario: "api", Quantile: 0.9, Latency: -time.Second}, "latency -1s is negative"},
		{"ratio 1", Objective{Scenario: "api", ErrorRatio: 1}, "error ratio 1 is not between 0 and 1"},
		{"negative ratio", Objective{Scenario: "api", ErrorRatio: -0.1}, "error ratio -0.1 is not between 0 and 1"},
		{"websocket ratio", Objective{Scenario: "ws", Signal: SignalWebSocketRTT, ErrorRatio: 0.01}, "error ratio of a WebSocket scenario is not supported"},
		{"unknown signal", Objective{Scenario: "api", Signal: "grpc", ErrorRatio: 0.01}, `unknown signal "grpc"`},
		{"negative for", Objective{Scenario: "api", Quantile: 0.9, Latency: time.Second, For: -time.Minute}, "for -1m0s is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := []Objective{{Scenario: "ok", ErrorRatio: 0.01}, tc.obj}
			_, err := Explicit(objs)
			if err == nil {
				t.Fatalf("Explicit(%+v) succeeded", tc.obj)
			}
			if !strings.Contains(err.Error(), "objective 1 (scenario ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to name objective 1 and say %q", err, tc.want)
			}
		})
	}
}

func TestExplicitRejectsDuplicates(t *testing.T) {
	_, err := Explicit([]Objective{
		{Scenario: "api", Quantile: 0.95, Latency: time.Second},
		{Scenario: "api", Task: "list", ErrorRatio: 0.01},
		{Scenario: "api", Task: "*", Quantile: 0.95, Latency: 2 * time.Second},
	})
	if err == nil || !strings.Contains(err.Error(), "objective 2 (scenario \"api\"): the same LoaddLatencySLABreached as objective 0") {
		t.Errorf("error %v, want objective 2 named as a duplicate of objective 0", err)
	}
}

func TestExplicitQuotesNames(t *testing.T) {
	got, err := Explicit([]Objective{{Scenario: `we"ird`, Task: `a\b`, Quantile: 0.5, Latency: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	parseRules(t, "quoted names", got)
	if !bytes.Contains(got, []byte(`scenario=\"we\\\"ird\",task=\"a\\\\b\"`)) && !bytes.Contains(got, []byte(`scenario="we\"ird",task="a\\b"`)) {
		t.Errorf("names not quoted as PromQL strings:\n%s", got)
	}
}
