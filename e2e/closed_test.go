package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// scrapeWithin is how long /metrics may take to answer in
// TestSpinningUsersLeaveMetricsAnswering: the slowest of its 5 scrapes
// took 19–21 ms in 5 runs, and 0.61–1.11 s with the users' yield taken
// out.
const scrapeWithin = 500 * time.Millisecond

// TestSpinningUsersLeaveMetricsAnswering runs the real loadd on one
// processor (GOMAXPROCS=1) with 50 virtual users without think time whose
// every step fails before the network: the capture pool they pick from
// never fills. Such users never wait, so only their yield once in a run of
// steps lets the web server in; /metrics must still answer promptly, and
// the failures must be counted.
func TestSpinningUsersLeaveMetricsAnswering(t *testing.T) {
	target := DemoTarget(t)
	cfg := WriteFile(t, "loadd.yaml", fmt.Sprintf(`
%s    users: 50
    spawn_rate: 1000/s
    think_time: 0s
    tasks:
      - {name: list_encounters, weight: 1, get: /encounters, capture: {ids: "$.no_such_key[*].id"}}
      - {name: view_encounter, weight: 1000, get: "/encounters/{{ pick .ids }}"}
`, demoAPI(target.Addr)))
	t.Setenv("GOMAXPROCS", "1") // for loadd only: this process has read it already
	loadd := LoaddRun(t, cfg)

	failed := func() float64 {
		return Sum(Scrape(t, loadd.Addr), "loadd_request_failures_total", map[string]string{"task": "view_encounter", "reason": "assertion"})
	}
	Eventually(t, 10*time.Second, func() error {
		if n := failed(); n < 100_000 {
			return fmt.Errorf("%v view_encounter failures so far, waiting for the users to spin", n)
		}
		return nil
	})
	client := &http.Client{Timeout: 10 * time.Second}
	var slowest time.Duration
	for i := range 5 {
		start := time.Now()
		resp, err := client.Get("http://" + loadd.Addr + "/metrics")
		took := time.Since(start)
		if err != nil {
			t.Fatalf("scrape %d: %v", i, err)
		}
		resp.Body.Close()
		slowest = max(slowest, took)
		if resp.StatusCode != http.StatusOK || took > scrapeWithin {
			t.Errorf("scrape %d: status %d after %v, want 200 within %v", i, resp.StatusCode, took, scrapeWithin)
		}
	}
	t.Logf("slowest of 5 scrapes: %v", slowest)
}
