package runs

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
)

func TestProgressPrinter(t *testing.T) {
	p := Progress{ID: "x", Name: "once", Elapsed: 12 * time.Second, Total: time.Minute, Rate: 198.44, TargetRate: 200,
		P95: 42 * time.Millisecond, Requests: 2000, Errors: 3}
	if got, want := p.String(), "12s/1m0s  rate 198.4/s (target 200/s)  p95 42ms  errors 3 (0.15%)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	var term bytes.Buffer
	show, done := ProgressPrinter(&term, true, log.NewNopLogger(), time.Second)
	show(p)
	show(p)
	done()
	if got := term.String(); strings.Count(got, "\r\033[K") != 2 || !strings.HasSuffix(got, "(0.15%)\n") {
		t.Errorf("terminal output %q", got)
	}
	var logs bytes.Buffer
	show, done = ProgressPrinter(&term, false, log.NewLogfmtLogger(&logs), time.Hour)
	show(p)
	show(p) // within the hour: not logged
	p.Elapsed = p.Total
	show(p) // the end is always logged
	done()
	if n := strings.Count(logs.String(), "msg=\"run progress\""); n != 2 {
		t.Errorf("%d log lines, want 2:\n%s", n, logs.String())
	}
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a file is not a terminal")
	}
}
