package e2e

import (
	"encoding/xml"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadd/loadd/internal/tooltest"
)

// runsConfig drives the demo target at addr with a p95 SLA of 100 ms and a
// schedule "soak" that fires at cron (stages: 2 s ramp, 2 s hold).
func runsConfig(addr, cron string) string {
	return fmt.Sprintf(`
%s    rate: 40/s
    max_in_flight: 500
    tasks:
      - {name: list_encounters, weight: 1, get: /encounters}
schedules:
  soak: {cron: %q, stages: [{ramp: 2s, to: 2x}, {hold: 2s}], mode: add}
slas:
  - {name: api-p95, scenario: api, task: "*", latency: {p95: 100ms}, error_ratio: 1%%}
`, demoAPI(addr), cron)
}

type junit struct {
	Suites []struct {
		Cases []struct {
			Class   string    `xml:"classname,attr"`
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestOncePassAndBreach runs `loadd once` twice against the demo target:
// healthy (exit 0), then with injected latency above the p95 objective
// (exit 1, JUnit names the failed SLA, the HTML report renders a chart).
func TestOncePassAndBreach(t *testing.T) {
	target := DemoTarget(t)
	cfg := WriteFile(t, "loadd.yaml", runsConfig(target.Addr, "@yearly"))

	dir := t.TempDir()
	out, code := runLoadd(t, "once", "--config.file="+cfg, "--duration=3s", "--report.dir="+dir)
	if code != 0 {
		t.Fatalf("healthy run exited %d, want 0:\n%s", code, out)
	}
	if !strings.Contains(out, "PASSED") {
		t.Errorf("verdict not printed:\n%s", out)
	}

	if code, body := Post(t, "http://"+target.Addr+"/-/faults", `{"*":{"base":"150ms"}}`); code != 200 {
		t.Fatalf("set fault: %d %s", code, body)
	}
	dir = t.TempDir()
	out, code = runLoadd(t, "once", "--config.file="+cfg, "--duration=3s", "--report.dir="+dir)
	if code != 1 {
		t.Fatalf("breached run exited %d, want 1:\n%s", code, out)
	}
	runs, _ := filepath.Glob(filepath.Join(dir, "*", "junit.xml"))
	if len(runs) != 1 {
		t.Fatalf("want one run directory with junit.xml, found %v", runs)
	}
	b, err := os.ReadFile(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	var j junit
	if err := xml.Unmarshal(b, &j); err != nil {
		t.Fatalf("junit.xml does not parse: %v", err)
	}
	failed := []string{}
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				failed = append(failed, c.Class+": "+c.Name)
			}
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0], "api-p95") || !strings.Contains(failed[0], "p95") {
		t.Errorf("junit failures %v do not name the p95 SLA api-p95:\n%s", failed, b)
	}
	screenshotNotBlank(t, filepath.Join(filepath.Dir(runs[0]), "report.html"))
}

// screenshotNotBlank renders an HTML file in headless Chromium and checks
// the picture has the many colours of charts and text, not a blank page.
func screenshotNotBlank(t *testing.T, html string) {
	t.Helper()
	chromium := tooltest.Path(t, "chromium", "chromium-browser")
	shot := filepath.Join(t.TempDir(), "report.png")
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--screenshot="+shot, "--window-size=1280,1600", "file://"+html)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	colours, nonWhite := countColours(img)
	if colours < 16 || nonWhite < 5000 {
		t.Errorf("report looks blank: %d colours, %d non-white pixels", colours, nonWhite)
	}
}

func countColours(img image.Image) (int, int) {
	seen := map[[3]uint32]bool{}
	nonWhite := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 10, g >> 10, bl >> 10}] = true
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				nonWhite++
			}
		}
	}
	return len(seen), nonWhite
}

// TestDaemonScheduleFires: a schedule inside `loadd run` starts a run a
// few seconds in; the run is recorded in metrics, the status API and the
// served reports.
func TestDaemonScheduleFires(t *testing.T) {
	target := DemoTarget(t)
	cfg := WriteFile(t, "loadd.yaml", runsConfig(target.Addr, "@every 5s"))
	dir := t.TempDir()
	loadd := LoaddRun(t, cfg, "--report.dir="+dir)

	Eventually(t, 40*time.Second, func() error {
		fams := Scrape(t, loadd.Addr)
		if n := Sum(fams, "loadd_runs_total", map[string]string{"schedule": "soak", "result": "passed"}); n < 1 {
			return fmt.Errorf("no passed soak run yet (runs_total=%v, active=%v)", n,
				Sum(fams, "loadd_run_active", map[string]string{"schedule": "soak"}))
		}
		return nil
	})
	fams := Scrape(t, loadd.Addr)
	if v := Sum(fams, "loadd_run_last_success", map[string]string{"schedule": "soak"}); v != 1 {
		t.Errorf("loadd_run_last_success = %v, want 1", v)
	}
	if v := Sum(fams, "loadd_sla_latency_objective_seconds", map[string]string{"scenario": "api", "quantile": "0.95"}); v != 0.1 {
		t.Errorf("p95 objective series = %v, want 0.1", v)
	}
	var st struct {
		Extra struct {
			Schedules map[string]struct {
				Next time.Time `json:"next"`
				Last *struct {
					ID     string `json:"id"`
					Result string `json:"result"`
					Report string `json:"report"`
				} `json:"last"`
			} `json:"schedules"`
		} `json:"extra"`
	}
	GetJSON(t, "http://"+loadd.Addr+"/api/v1/status", &st)
	s, ok := st.Extra.Schedules["soak"]
	if !ok || s.Last == nil || s.Next.IsZero() {
		t.Fatalf("status lacks the soak schedule, its next start or last run: %+v", st.Extra)
	}
	body := fetch(t, "http://"+loadd.Addr+"/reports/")
	if !strings.Contains(body, s.Last.ID) {
		t.Errorf("/reports/ does not list run %s:\n%.500s", s.Last.ID, body)
	}
	if code := loadd.Stop(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}
