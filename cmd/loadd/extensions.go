package main

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"

	"github.com/loadd/loadd/daemon"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/generators/httpload"
	"github.com/loadd/loadd/generators/transcribe"
	"github.com/loadd/loadd/generators/wsload"
	"github.com/loadd/loadd/report"
	"github.com/loadd/loadd/runs"
	"github.com/loadd/loadd/sla"
)

// reportsPath is where the daemon serves the report directory.
const reportsPath = "/reports/"

// extensions wires the optional parts of the daemon — generator kinds,
// config sections (schedules, SLAs), scheduled runs, their status and
// routes — in one place.
type extensions struct {
	logger    log.Logger
	reports   *reportFlags
	d         *daemon.Daemon
	scheduler *runs.Scheduler
}

func newExtensions(logger log.Logger) *extensions {
	return &extensions{logger: logger}
}

// kinds returns every generator kind loadd knows.
func kinds() map[string]generators.Kind {
	return map[string]generators.Kind{
		"http":          httpload.Kind,
		"websocket":     wsload.Kind,
		"transcription": transcribe.Kind,
	}
}

func (e *extensions) loader() *daemon.Loader {
	return &daemon.Loader{Kinds: kinds(), Sections: runSections()}
}

// attach starts the scheduler of cron-triggered runs for daemon d.
func (e *extensions) attach(d *daemon.Daemon) error {
	e.d = d
	if e.reports == nil {
		e.reports = &reportFlags{dir: "loadd-reports", keep: 50}
	}
	writer, err := report.NewWriter(e.reports.dir, e.reports.keep)
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	runner, err := runs.New(runs.Options{Metrics: d.Metrics(), Logger: log.With(e.logger, "component", "runs"), Reports: writer})
	if err != nil {
		return err
	}
	e.scheduler = runs.NewScheduler(runs.SchedulerOptions{
		Runner: runner, Baseline: d, Logger: log.With(e.logger, "component", "scheduler"), ReportsURL: reportsPath,
	})
	return nil
}

// apply is called with every config that becomes active: it exports the
// SLA objectives as series for the shipped rules and dashboards and
// reconciles the schedules.
func (e *extensions) apply(ctx context.Context, c *daemon.Config) error {
	if e.d == nil {
		return nil
	}
	sla.Export(e.d.Metrics(), slasOf(c))
	if e.scheduler != nil {
		e.scheduler.Apply(runs.Setup{
			Crons: cronsOf(c),
			Specs: c.Specs,
			Deps: generators.Deps{
				Logger: e.logger, Shard: e.d.Shard(), Grace: c.File.Global.GracePeriod.D(),
			},
			SLAs: slasOf(c),
		})
	}
	return nil
}

// stop stops the scheduler, letting running runs finish their reports.
func (e *extensions) stop() {
	if e.scheduler != nil {
		e.scheduler.Stop()
	}
}

func (e *extensions) status() map[string]any {
	if e.scheduler == nil {
		return nil
	}
	return map[string]any{"schedules": e.scheduler.Status(), "active_runs": e.scheduler.Active()}
}

func (e *extensions) routes(mux *http.ServeMux) {
	if e.reports != nil {
		mux.Handle("GET "+reportsPath, http.StripPrefix(reportsPath[:len(reportsPath)-1], report.Handler(e.reports.dir, 50)))
	}
}

func addExtraCommands(app *kingpin.Application, cmds map[string]func(context.Context, log.Logger) int, stdout, stderr io.Writer) {
	addOnce(app, cmds, stdout, stderr)
	addRules(app, cmds, stdout, stderr)
}
