package runs

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// ProgressPrinter returns an Options.Progress callback for `loadd once`.
// On a terminal (term true) it redraws one live line on w, e.g.
// "12s/1m0s  rate 198.4/s (target 200/s)  p95 42ms  errors 3 (0.15%)";
// elsewhere it logs that line at info level at most once per every.
// Call the returned done function when the run is over to end the line.
func ProgressPrinter(w io.Writer, term bool, logger log.Logger, every time.Duration) (progress func(Progress), done func()) {
	var (
		mu      sync.Mutex
		last    time.Time
		printed bool
	)
	progress = func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if term {
			fmt.Fprintf(w, "\r\033[K%s %s", p.Name, p)
			printed = true
			return
		}
		if now := time.Now(); last.IsZero() || now.Sub(last) >= every || p.Elapsed >= p.Total {
			last = now
			level.Info(logger).Log("msg", "run progress", "run", p.ID, "elapsed", p.Elapsed.Round(time.Second), "total", p.Total,
				"rate", fmt.Sprintf("%.1f", p.Rate), "target_rate", fmt.Sprintf("%.4g", p.TargetRate),
				"p95", p.P95.Round(time.Microsecond), "requests", p.Requests, "errors", p.Errors)
		}
	}
	done = func() {
		mu.Lock()
		defer mu.Unlock()
		if printed {
			fmt.Fprintln(w)
			printed = false
		}
	}
	return progress, done
}
