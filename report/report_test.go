package report

import (
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/sla"
)

var start = time.Date(2025, 6, 1, 2, 0, 0, 0, time.UTC)

// testRun builds a 20 s run of scenario api (tasks list, view) whose view
// task breaks a 100 ms p95 SLA.
func testRun(t *testing.T, name string, interrupted bool) *Run {
	t.Helper()
	rec := sla.NewRecorder(start)
	rec.Track("api", "list", "view")
	for s := range 20 {
		rec.SetTargetRate("api", 50)
		for i := range 40 {
			o := exporter.Outcome{Latency: time.Duration(20+i) * time.Millisecond, Code: 200}
			if i == 0 && s%5 == 0 {
				o.Reason, o.Code = exporter.ReasonStatus, 503
			}
			rec.Record("api", "list", o)
		}
		for i := range 10 {
			rec.Record("api", "view", exporter.Outcome{Latency: time.Duration(100+10*i+s) * time.Millisecond, Code: 200})
		}
		rec.Flush(start.Add(time.Duration(s+1) * time.Second))
	}
	p95 := config.Duration(100 * time.Millisecond)
	er := config.Ratio(0.01)
	slas := sla.List{
		{Name: "api/*", Scenario: "api", Task: "*", ErrorRatio: &er},
		{Name: "api/view", Scenario: "api", Task: "view", Latency: map[string]config.Duration{"p95": p95}},
	}
	deliveries := []sla.Delivery{{Scenario: "api", Expected: 1000, Completed: 1000}}
	snap := rec.Snapshot()
	v := sla.Evaluate(slas, snap, deliveries)
	result := exporter.RunFailed
	if interrupted {
		result = exporter.RunInterrupted
	}
	return &Run{
		ID: RunID(start, name), Name: name, Start: start, End: start.Add(20 * time.Second), Planned: time.Minute,
		Result: result, Interrupted: interrupted, Verdict: v, Snapshot: snap, Deliveries: deliveries, SLAs: slas,
	}
}

func TestWriteReports(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	run := testRun(t, "nightly-soak", false)
	p, err := w.Write(run)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "20250601T020000Z-nightly-soak"); p.Dir != want {
		t.Fatalf("dir %s, want %s", p.Dir, want)
	}

	var sum Summary
	readJSON(t, p.Summary, &sum)
	if sum.Result != exporter.RunFailed || sum.Passed || !sum.Valid || len(sum.Checks) != 2 || len(sum.Scenarios) != 1 {
		t.Fatalf("summary: %+v", sum)
	}
	api := sum.Scenarios[0]
	if api.Total.Requests != 1000 || api.Total.Failures != 4 || len(api.Tasks) != 2 || len(api.Series) != 20 || api.Delivery == nil {
		t.Errorf("scenario summary: %+v", api)
	}
	if got := api.Tasks[0].RPS; got != 40 {
		t.Errorf("list requests/s %g, want 40", got)
	}

	junit := readFile(t, p.JUnit)
	var doc junitSuites
	if err := xml.Unmarshal([]byte(junit), &doc); err != nil {
		t.Fatalf("junit.xml does not parse: %v", err)
	}
	if doc.Tests != 3 || doc.Failures != 1 || doc.Errors != 0 {
		t.Errorf("junit counts tests=%d failures=%d errors=%d", doc.Tests, doc.Failures, doc.Errors)
	}
	var failed *junitCase
	for i, c := range doc.Suites[0].Cases {
		if c.Failure != nil {
			failed = &doc.Suites[0].Cases[i]
		}
	}
	if failed == nil || failed.Class != "sla.api/view" || failed.Name != "latency p95 <= 100ms" ||
		!strings.HasPrefix(failed.Failure.Message, "api/view latency p95 = 1") || !strings.Contains(failed.Failure.Message, "> 100ms (200 requests)") {
		t.Errorf("failed case: %+v", failed)
	}

	stats := readCSV(t, p.Stats)
	if len(stats) != 4 || strings.Join(stats[0][:4], ",") != "Type,Name,Request Count,Failure Count" || stats[0][16] != "95%" {
		t.Fatalf("stats.csv header/rows: %v", stats)
	}
	if row := stats[1]; row[0] != "api" || row[1] != "list" || row[2] != "800" || row[3] != "4" || row[9] != "40.00" {
		t.Errorf("list row %v", row)
	}
	if row := stats[3]; row[1] != "Aggregated" || row[2] != "1000" {
		t.Errorf("aggregated row %v", row)
	}
	if len(p.Tasks) != 2 || filepath.Base(p.Tasks[1]) != "api.view.csv" {
		t.Fatalf("task files %v", p.Tasks)
	}
	hist := readCSV(t, p.Tasks[1])
	if len(hist) != 21 || hist[0][0] != "Timestamp" || hist[20][8] != "200" || hist[1][2] != "10.00" {
		t.Errorf("history: %d rows, last %v", len(hist), hist[len(hist)-1])
	}

	html := readFile(t, p.HTML)
	for _, want := range []string{`class="badge failed"`, "api/view", "FAIL", `<svg role="img" class="chart"`, "Latency percentiles: api", "SLA view p95 100ms"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if n := strings.Count(html, "<svg"); n != 3 {
		t.Errorf("report.html has %d charts, want 3", n)
	}
	if strings.Contains(html, "<script") || strings.Contains(html, "<?xml") || strings.Contains(html, "src=\"http") || strings.Contains(html, "href=\"http") {
		t.Error("report.html is not self-contained")
	}
}

func TestInterruptedAndInvalid(t *testing.T) {
	run := testRun(t, "once", true)
	run.Verdict.Valid = false
	run.Verdict.Invalid = []string{"api: 5 arrivals dropped (max_in_flight reached): the target rate was not delivered"}
	p, err := (&Writer{Dir: t.TempDir()}).Write(run)
	if err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal([]byte(readFile(t, p.JUnit)), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Errors != 1 || doc.Failures != 2 {
		t.Errorf("junit errors=%d failures=%d, want 1 and 2", doc.Errors, doc.Failures)
	}
	html := readFile(t, p.HTML)
	for _, want := range []string{`id="interrupted"`, `id="invalid"`, "5 arrivals dropped", `class="badge interrupted"`} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	var sum Summary
	readJSON(t, p.Summary, &sum)
	if !sum.Interrupted || sum.Valid || sum.Passed {
		t.Errorf("summary flags: %+v", sum)
	}
}

func TestRetentionAndRecent(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "unrelated"), 0o755); err != nil {
		t.Fatal(err)
	}
	w := &Writer{Dir: dir, Keep: 2}
	for i := range 4 {
		run := testRun(t, "soak", false)
		run.Start = start.Add(time.Duration(i) * time.Hour)
		run.ID = RunID(run.Start, "soak")
		if _, err := w.Write(run); err != nil {
			t.Fatal(err)
		}
	}
	// Same ID twice: the second gets a suffix rather than overwriting.
	dup := testRun(t, "soak", false)
	dup.Start = start.Add(3 * time.Hour)
	dup.ID = RunID(dup.Start, "soak")
	p, err := w.Write(dup)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p.Dir) != "20250601T050000Z-soak.2" {
		t.Errorf("duplicate dir %s", p.Dir)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "20250601T050000Z-soak 20250601T050000Z-soak.2 unrelated" {
		t.Errorf("after retention: %s", got)
	}
	recent, err := Recent(dir, 5)
	if err != nil || len(recent) != 2 || recent[0].Scenarios[0].Series != nil {
		t.Fatalf("Recent: %v %+v", err, recent)
	}
	if none, err := Recent(filepath.Join(dir, "missing"), 5); err != nil || none != nil {
		t.Errorf("Recent of a missing dir: %v %v", none, err)
	}
}

func TestNewWriterAndIDs(t *testing.T) {
	if _, err := NewWriter("", 1); err == nil {
		t.Error("empty dir accepted")
	}
	if _, err := NewWriter("x", -1); err == nil {
		t.Error("negative retention accepted")
	}
	if got := RunID(time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3600)), "../a b"); got != "20250102T020405Z-_._a_b" {
		t.Errorf("RunID = %q", got)
	}
	if _, err := (&Writer{Dir: t.TempDir()}).Write(&Run{ID: "x"}); err == nil {
		t.Error("run without snapshot accepted")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(readFile(t, path)), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

func TestHandler(t *testing.T) {
	dir := t.TempDir()
	p, err := (&Writer{Dir: dir}).Write(testRun(t, "soak", false))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, ".tmp-x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".tmp-x", "report.html"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/reports", Handler(dir, 10)))
	defer srv.Close()
	id := filepath.Base(p.Dir)
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/reports/", 200, id + "/report.html"},
		{"/reports/" + id + "/report.html", 200, "<svg"},
		{"/reports/" + id + "/junit.xml", 200, "<testsuites"},
		{"/reports/.tmp-x/report.html", 404, ""},
		{"/reports/" + id + "/", 404, ""},
		{"/reports/" + id + "/../../etc/passwd", 404, ""},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.want) {
			t.Errorf("GET %s: %d, want %d with %q", tc.path, resp.StatusCode, tc.code, tc.want)
		}
	}
}
