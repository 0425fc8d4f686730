package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// onceConfig is a one-scenario config against url with a p95 SLA.
func onceConfig(t *testing.T, url string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
targets:
  t: {base_url: %q}
scenarios:
  api: {kind: http, target: t, rate: 20/s, max_in_flight: 100, tasks: [{name: ping, get: /ping}]}
schedules:
  smoke: {cron: "@hourly", timezone: UTC, stages: [{ramp: 1s, to: 40/s}, {hold: 1s}]}
slas:
  - {name: api-p95, scenario: api, latency: {p95: 500ms}, error_ratio: 1%%}
`, url)
	path := filepath.Join(t.TempDir(), "loadd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func target(t *testing.T, delay time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestOnce runs `loadd once` in-process: exit 0 when the SLA holds, 1 with
// the breach named in junit.xml when the target is too slow.
func TestOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time runs")
	}
	for _, tc := range []struct {
		name  string
		delay time.Duration
		args  []string
		code  int
	}{
		{"passes", time.Millisecond, []string{"--duration=2s"}, exitOK},
		{"schedule passes", time.Millisecond, []string{"--schedule=smoke"}, exitOK},
		{"breach", 700 * time.Millisecond, []string{"--duration=2s"}, exitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"once", "--config.file=" + onceConfig(t, target(t, tc.delay)), "--report.dir=" + dir, "--log.level=warn"}, tc.args...)
			var out, errb bytes.Buffer
			if code := runMain(args, &out, &errb); code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out.String(), errb.String())
			}
			runs, _ := filepath.Glob(filepath.Join(dir, "*", "junit.xml"))
			if len(runs) != 1 {
				t.Fatalf("reports: %v", runs)
			}
			b, err := os.ReadFile(runs[0])
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Failures int `xml:"failures,attr"`
			}
			if err := xml.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if tc.code == exitFailed {
				if doc.Failures != 1 || !strings.Contains(string(b), `failure message="api-p95 latency p95 = `) {
					t.Errorf("junit.xml does not name the breached SLA:\n%s", b)
				}
				if !strings.Contains(out.String(), "FAIL api-p95 latency p95") {
					t.Errorf("verdict not printed:\n%s", out.String())
				}
			} else if doc.Failures != 0 {
				t.Errorf("junit failures %d:\n%s", doc.Failures, b)
			}
		})
	}
}

func TestOnceUsage(t *testing.T) {
	cfg := onceConfig(t, "http://127.0.0.1:9")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"neither", []string{"once", "--config.file=" + cfg}, "give either --schedule NAME or --duration"},
		{"both", []string{"once", "--config.file=" + cfg, "--duration=1s", "--schedule=smoke"}, "give either"},
		{"unknown schedule", []string{"once", "--config.file=" + cfg, "--schedule=nope"}, `unknown schedule "nope" (have smoke)`},
		{"bad config", []string{"once", "--config.file=testdata/invalid-sla-quantile.yaml", "--duration=1s"}, `unknown quantile "p96"`},
		{"bad shard", []string{"once", "--config.file=" + cfg, "--duration=1s", "--shard=3/2"}, "invalid shard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := runMain(tc.args, &out, &errb); code != exitConfig {
				t.Errorf("exit %d, want %d", code, exitConfig)
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, errb.String())
			}
		})
	}
}
