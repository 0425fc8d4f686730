package e2e

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// TestNativeHistogramsIngested checks the native (sparse) half of loadd's
// latency histogram end to end: a Prometheus started with
// --enable-feature=native-histograms scrapes loadd (protobuf), and the
// quantiles it computes from the native series match the latency the demo
// target injects (uniform 20–40 ms), within the native buckets' width.
// (That Prometheus drops the classic _bucket series of the same histogram;
// the alerts and dashboards use a Prometheus without the flag.)
func TestNativeHistogramsIngested(t *testing.T) {
	target := DemoTarget(t, "--target.latency=20ms", "--target.jitter=20ms")
	cfg := WriteFile(t, "loadd.yaml", httpConfig(target.Addr, "200/s"))
	loadd := LoaddRun(t, cfg)
	prom := StartPrometheus(t, ScrapeConfig("1s", loadd.Addr), "--enable-feature=native-histograms")

	// Both of httpConfig's tasks hit routes with the same injected latency.
	const sel = `sum(rate(loadd_request_duration_seconds{scenario="api"}[10s]))`
	Eventually(t, 40*time.Second, func() error {
		v, err := prom.TryQuery(`histogram_count(` + sel + `)`)
		if err != nil || len(v) != 1 {
			return fmt.Errorf("no native histogram series yet: %v %v", v, err)
		}
		if got := float64(v[0].Value); math.Abs(got-200)/200 > 0.03 {
			return fmt.Errorf("native histogram counts %.1f requests/s, want 200 ± 3 %%", got)
		}
		return nil
	})
	for _, c := range []struct {
		q float64
		// seconds: the true quantile less a native bucket (schema 3, ~9 %),
		// or plus a bucket and a few ms of loadd's own time on a busy machine
		min, max float64
	}{
		{0.5, 0.027, 0.036},
		{0.9, 0.0345, 0.045},
	} {
		v := prom.Query(t, fmt.Sprintf(`histogram_quantile(%g, %s)`, c.q, sel))
		if len(v) != 1 {
			t.Fatalf("p%g: no result: %v", c.q*100, v)
		}
		got := float64(v[0].Value)
		t.Logf("native p%g = %.2f ms", c.q*100, got*1000)
		if got < c.min || got > c.max {
			t.Errorf("native p%g = %.1f ms, want %.1f–%.1f ms (target latency uniform 20–40 ms)", c.q*100, got*1000, c.min*1000, c.max*1000)
		}
	}
}
