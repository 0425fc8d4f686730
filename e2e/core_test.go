package e2e

import (
	"fmt"
	"math"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// httpConfig is a loadd config driving the demo target at addr with one
// open-model scenario at rate.
func httpConfig(addr, rate string) string {
	return fmt.Sprintf(`
%s    rate: %s
    max_in_flight: 1000
    tasks:
      - {name: list_encounters, weight: 3, get: /encounters, query: {page: "1"}, capture: {ids: "$.items[*].id"}}
      - {name: view_encounter, weight: 1, get: "/encounters/{{ pick .ids }}"}
`, demoAPI(addr), rate)
}

// TestHTTPLoadScrapedByPrometheus is the core end-to-end check: the real
// loadd drives the real demo target at 500 requests/s, a real Prometheus
// scrapes it, and the achieved rate it computes is within 2 % of 500.
func TestHTTPLoadScrapedByPrometheus(t *testing.T) {
	target := DemoTarget(t)
	cfg := WriteFile(t, "loadd.yaml", httpConfig(target.Addr, "500/s"))
	loadd := LoaddRun(t, cfg)
	prom := StartPrometheus(t, ScrapeConfig("1s", loadd.Addr))

	Eventually(t, 20*time.Second, func() error {
		v, err := prom.TryQuery(`up{job="loadd"}`)
		if err != nil || len(v) != 1 || v[0].Value != 1 {
			return fmt.Errorf("up = %v, %v", v, err)
		}
		return nil
	})
	// Wait until Prometheus holds 12 s of samples, then read the rate.
	Eventually(t, 40*time.Second, func() error {
		v, err := prom.TryQuery(`count_over_time(loadd_requests_total{scenario="api",task="list_encounters"}[12s])`)
		if err != nil || len(v) != 1 || v[0].Value < 11 {
			return fmt.Errorf("fewer than 11 scrapes in the window yet: %v %v", v, err)
		}
		return nil
	})
	v := prom.Query(t, `sum(rate(loadd_requests_total{scenario="api"}[10s]))`)
	if len(v) != 1 {
		t.Fatalf("no rate: %v", v)
	}
	got := float64(v[0].Value)
	if math.Abs(got-500)/500 > 0.02 {
		t.Errorf("Prometheus sees %.1f requests/s, want 500 ± 2 %%", got)
	}
	failures := prom.Query(t, `sum(loadd_request_failures_total{scenario="api"})`)
	if len(failures) != 1 || failures[0].Value != 0 {
		t.Errorf("failures against a healthy target: %v", failures)
	}

	// Graceful stop: every request loadd started is counted, and the
	// target served exactly as many (plus logins).
	fams := Scrape(t, loadd.Addr)
	if Sum(fams, "loadd_iterations_dropped_total", nil) != 0 {
		t.Errorf("dropped iterations against a fast target")
	}
	if code := loadd.Stop(); code != 0 {
		t.Errorf("loadd exited %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(loadd.Output(), "See you next time") {
		t.Errorf("no clean shutdown in log")
	}
}

// TestReloadAndSecrets: SIGHUP with a broken config keeps the old one and
// sets the reload gauge to 0; the status API never shows the password.
func TestReloadAndSecrets(t *testing.T) {
	target := DemoTarget(t)
	cfg := WriteFile(t, "loadd.yaml", httpConfig(target.Addr, "50/s"))
	loadd := LoaddRun(t, cfg)

	var st struct {
		Scenarios []struct {
			Name       string  `json:"name"`
			TargetRate float64 `json:"target_rate"`
		} `json:"scenarios"`
		LastReload struct {
			Success bool `json:"success"`
		} `json:"last_reload"`
	}
	body := fetch(t, "http://"+loadd.Addr+"/api/v1/status")
	if strings.Contains(body, "physician-password") {
		t.Fatal("status API shows the password")
	}
	if !strings.Contains(body, "<secret>") && !strings.Contains(body, `\u003csecret\u003e`) {
		t.Errorf("status API should show the password as <secret>: %s", body)
	}

	writeOver(t, cfg, "scenarios:\n  api: {kind: http, rate: -1/s}\n")
	loadd.Signal(syscall.SIGHUP)
	Eventually(t, 10*time.Second, func() error {
		fams := Scrape(t, loadd.Addr)
		if v := Sum(fams, "loadd_config_last_reload_successful", nil); v != 0 {
			return fmt.Errorf("reload gauge %v", v)
		}
		return nil
	})
	GetJSON(t, "http://"+loadd.Addr+"/api/v1/status", &st)
	if st.LastReload.Success || len(st.Scenarios) != 1 || st.Scenarios[0].TargetRate != 50 {
		t.Errorf("after a bad reload the old config must run on: %+v", st)
	}
	if !strings.Contains(loadd.Output(), "scenarios.api.rate") {
		t.Errorf("log does not say which key was bad")
	}

	writeOver(t, cfg, httpConfig(target.Addr, "80/s"))
	code, _ := Post(t, "http://"+loadd.Addr+"/-/reload", "")
	if code != http.StatusOK {
		t.Fatalf("POST /-/reload = %d", code)
	}
	GetJSON(t, "http://"+loadd.Addr+"/api/v1/status", &st)
	if !st.LastReload.Success || st.Scenarios[0].TargetRate != 80 {
		t.Errorf("good reload not applied: %+v", st)
	}
	if strings.Contains(loadd.Output(), "physician-password") {
		t.Error("the password appears in the log")
	}
}

// TestCheckCommand: `loadd check` exits 2 listing every problem, 0 with a summary.
func TestCheckCommand(t *testing.T) {
	bad := WriteFile(t, "bad.yaml", "targets:\n  t: {base_url: 'http://127.0.0.1:1'}\nscenarios:\n  api:\n    kind: http\n    target: nope\n    rate: 0/s\n    tasks: [{name: a, weight: 0, get: /}]\n")
	out, code := runLoadd(t, "check", "--config.file="+bad)
	if code != 2 {
		t.Errorf("check on a bad file exited %d, want 2:\n%s", code, out)
	}
	for _, want := range []string{"scenarios.api.target", "scenarios.api.rate", "line 6", "line 7"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	good := WriteFile(t, "good.yaml", httpConfig("127.0.0.1:1", "10/s"))
	out, code = runLoadd(t, "check", "--config.file="+good)
	if code != 0 || !strings.Contains(out, "api") {
		t.Errorf("check on a good file exited %d:\n%s", code, out)
	}
}

func runLoadd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(loaddBin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		t.Fatal(err)
	}
	return string(out), 0
}

func fetch(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}
