// Package report writes what a run measured into a directory per run: a
// machine-readable summary.json, a self-contained report.html (charts as
// inline SVG, no scripts, works offline), junit.xml (one test case per SLA
// objective) and Locust-style CSV files. It keeps the last N runs.
package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/loadd/loadd/sla"
)

// File names inside a run's directory.
const (
	SummaryFile = "summary.json"
	HTMLFile    = "report.html"
	JUnitFile   = "junit.xml"
	StatsFile   = "stats.csv"
)

// Run is everything a report shows about one run.
type Run struct {
	// ID names the run's directory; see RunID.
	ID string
	// Name is the schedule that started the run, or e.g. "once".
	Name       string
	Start, End time.Time
	// Planned is how long the run was meant to last.
	Planned time.Duration
	// Result is one of exporter.RunPassed, RunFailed, RunInvalid, RunInterrupted.
	Result string
	// Interrupted is set when the run was stopped before its end.
	Interrupted bool
	Verdict     sla.Verdict
	Snapshot    *sla.Snapshot
	Deliveries  []sla.Delivery
	// SLAs are drawn as objective lines on the latency charts.
	SLAs sla.List
}

// RunID returns a sortable, file-name-safe ID: "20250601T020000Z-nightly-soak".
func RunID(start time.Time, name string) string {
	return start.UTC().Format("20060102T150405Z") + "-" + safeName(name)
}

// safeName keeps letters, digits, '-', '_' and '.'; other bytes become '_'.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok || (i == 0 && c == '.') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// Paths are the files written for one run.
type Paths struct {
	Dir     string   `json:"dir"`
	Summary string   `json:"summary"`
	HTML    string   `json:"html"`
	JUnit   string   `json:"junit"`
	Stats   string   `json:"stats"`
	Tasks   []string `json:"tasks"`
}

// Writer writes run reports under Dir, keeping the newest Keep runs.
type Writer struct {
	Dir string
	// Keep is how many run directories to keep; 0 keeps all.
	Keep int
}

// NewWriter validates the settings; the directory is created on first use.
func NewWriter(dir string, keep int) (*Writer, error) {
	if dir == "" {
		return nil, errors.New("report directory: empty path")
	}
	if keep < 0 {
		return nil, fmt.Errorf("report retention %d: must be 0 (keep all) or more", keep)
	}
	return &Writer{Dir: dir, Keep: keep}, nil
}

// Write writes every report of r into a new directory Dir/<r.ID> (built
// aside and renamed into place, so a directory is complete or absent),
// then deletes the oldest run directories beyond Keep.
func (w *Writer) Write(r *Run) (Paths, error) {
	if r.Snapshot == nil {
		return Paths{}, errors.New("write report: run has no measurements")
	}
	if err := os.MkdirAll(w.Dir, 0o755); err != nil {
		return Paths{}, fmt.Errorf("create report directory: %w", err)
	}
	id := safeName(r.ID)
	final := filepath.Join(w.Dir, id)
	for i := 2; exists(final); i++ {
		final = filepath.Join(w.Dir, fmt.Sprintf("%s.%d", id, i))
	}
	tmp, err := os.MkdirTemp(w.Dir, ".tmp-"+id+"-")
	if err != nil {
		return Paths{}, fmt.Errorf("create report directory: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	rel, err := writeAll(tmp, r)
	if err != nil {
		return Paths{}, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Paths{}, fmt.Errorf("report directory: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return Paths{}, fmt.Errorf("move report into place: %w", err)
	}
	p := Paths{
		Dir: final, Summary: filepath.Join(final, SummaryFile), HTML: filepath.Join(final, HTMLFile),
		JUnit: filepath.Join(final, JUnitFile), Stats: filepath.Join(final, StatsFile),
	}
	for _, f := range rel {
		p.Tasks = append(p.Tasks, filepath.Join(final, f))
	}
	if err := w.prune(); err != nil {
		return p, err
	}
	return p, nil
}

func writeAll(dir string, r *Run) (taskFiles []string, err error) {
	sum := NewSummary(r)
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", SummaryFile, err)
	}
	if err := os.WriteFile(filepath.Join(dir, SummaryFile), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", SummaryFile, err)
	}
	if err := writeFile(dir, JUnitFile, func(f *os.File) error { return WriteJUnit(f, r) }); err != nil {
		return nil, err
	}
	if err := writeFile(dir, StatsFile, func(f *os.File) error { return WriteStats(f, r) }); err != nil {
		return nil, err
	}
	for _, t := range r.Snapshot.Tasks {
		name := TaskFile(t.Scenario, t.Task)
		if err := writeFile(dir, name, func(f *os.File) error { return WriteHistory(f, r, t) }); err != nil {
			return nil, err
		}
		taskFiles = append(taskFiles, name)
	}
	if err := writeFile(dir, HTMLFile, func(f *os.File) error { return WriteHTML(f, r) }); err != nil {
		return nil, err
	}
	return taskFiles, nil
}

// TaskFile is the name of a task's CSV history: "<scenario>.<task>.csv".
func TaskFile(scenario, task string) string {
	if task == sla.AllTasks {
		task = "all"
	}
	return safeName(scenario) + "." + safeName(task) + ".csv"
}

func writeFile(dir, name string, fill func(*os.File) error) error {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if err := fill(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// prune deletes the oldest run directories (those holding a summary.json)
// beyond Keep. Run IDs start with the UTC start time, so names sort by age.
func (w *Writer) prune() error {
	if w.Keep <= 0 {
		return nil
	}
	runs, err := runDirs(w.Dir)
	if err != nil {
		return err
	}
	for len(runs) > w.Keep {
		if err := os.RemoveAll(filepath.Join(w.Dir, runs[0])); err != nil {
			return fmt.Errorf("retention: %w", err)
		}
		runs = runs[1:]
	}
	return nil
}

func runDirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && exists(filepath.Join(dir, e.Name(), SummaryFile)) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Recent returns the summaries of the newest n runs under dir, newest
// first (for the status API).
func Recent(dir string, n int) ([]Summary, error) {
	runs, err := runDirs(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []Summary
	for i := len(runs) - 1; i >= 0 && len(out) < n; i-- {
		b, err := os.ReadFile(filepath.Join(dir, runs[i], SummaryFile))
		if err != nil {
			return out, fmt.Errorf("read report: %w", err)
		}
		var s Summary
		if err := json.Unmarshal(b, &s); err != nil {
			return out, fmt.Errorf("read report %s: %w", runs[i], err)
		}
		for i := range s.Scenarios {
			s.Scenarios[i].Series = nil
		}
		out = append(out, s)
	}
	return out, nil
}

// finite turns NaN and ±Inf into 0 (for JSON and CSV).
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
