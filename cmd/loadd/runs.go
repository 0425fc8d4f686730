package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/daemon"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/report"
	"github.com/loadd/loadd/runs"
	"github.com/loadd/loadd/schedule"
	"github.com/loadd/loadd/sla"
)

// Names of the config sections decoded outside the daemon package.
const (
	sectionSchedules = "schedules"
	sectionSLAs      = "slas"
)

// runSections decodes and validates the schedules and slas sections.
func runSections() map[string]daemon.Section {
	return map[string]daemon.Section{
		sectionSchedules: func(f *daemon.File, scenarios map[string][]string, p *config.Problems) any {
			return schedule.DecodeCrons(sectionSchedules, f.Schedules, scenarios, p)
		},
		sectionSLAs: func(f *daemon.File, scenarios map[string][]string, p *config.Problems) any {
			return sla.Decode(sectionSLAs, f.SLAs, scenarios, p)
		},
	}
}

// cronsOf and slasOf return the decoded sections of a loaded config.
func cronsOf(c *daemon.Config) schedule.Crons {
	cs, _ := c.Sections[sectionSchedules].(schedule.Crons)
	return cs
}

func slasOf(c *daemon.Config) sla.List {
	l, _ := c.Sections[sectionSLAs].(sla.List)
	return l
}

// reportFlags say where run reports go.
type reportFlags struct {
	dir  string
	keep int
}

func addReportFlags(cmd *kingpin.CmdClause, def string) *reportFlags {
	rf := &reportFlags{}
	cmd.Flag("report.dir", "Directory for run reports (summary.json, report.html, junit.xml, CSV), one sub-directory per run.").
		Default(def).StringVar(&rf.dir)
	cmd.Flag("report.keep", "How many run reports to keep (0 keeps all).").Default("50").IntVar(&rf.keep)
	return rf
}

// onceFlags are the flags of `loadd once`.
type onceFlags struct {
	cf       *configFlags
	rf       *reportFlags
	schedule string
	duration time.Duration
	listen   string
	shard    string
	progress time.Duration
}

func addOnce(app *kingpin.Application, cmds map[string]func(context.Context, log.Logger) int, stdout, stderr io.Writer) {
	cmd := app.Command("once", "Run one run — a named schedule's, or the scenarios as configured for --duration — and exit 0 if every SLA held, 1 if one was breached or the run was invalid, 2 on bad config or usage.")
	of := &onceFlags{cf: addConfigFlags(cmd, true), rf: addReportFlags(cmd, "loadd-reports")}
	cmd.Flag("schedule", "Run this schedule's run (its scenarios, stages and length).").StringVar(&of.schedule)
	cmd.Flag("duration", "Run the configured scenarios for this long (without --schedule).").DurationVar(&of.duration)
	cmd.Flag("web.listen-address", "Serve /metrics on this address while running (e.g. :9470); empty: no server.").StringVar(&of.listen)
	cmd.Flag("shard", "This replica's share of the load: i/N (0-based), or auto.").Default("0/1").StringVar(&of.shard)
	cmd.Flag("progress.interval", "Off a terminal, log progress this often.").Default("5s").DurationVar(&of.progress)
	cmds[cmd.FullCommand()] = func(ctx context.Context, logger log.Logger) int {
		return runOnce(ctx, logger, of, stdout, stderr)
	}
}

func runOnce(ctx context.Context, logger log.Logger, of *onceFlags, stdout, stderr io.Writer) int {
	if (of.schedule == "") == (of.duration <= 0) {
		fmt.Fprintln(stderr, "loadd once: give either --schedule NAME or --duration (e.g. --duration=5m)")
		return exitConfig
	}
	shard, err := schedule.ParseShard(of.shard, schedule.Hostname(), os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "loadd once: %v\n", err)
		return exitConfig
	}
	writer, err := report.NewWriter(of.rf.dir, of.rf.keep)
	if err != nil {
		fmt.Fprintf(stderr, "loadd once: %v\n", err)
		return exitConfig
	}
	cfg, ok := loadConfig("once", of.cf, logger, stderr)
	if !ok {
		return exitConfig
	}
	reg := newRegistry()
	plan, err := oncePlan(cfg, of)
	if err != nil {
		fmt.Fprintf(stderr, "loadd once: %v\n", err)
		return exitConfig
	}
	m, err := exporter.New(reg, exporter.Options{Buckets: cfg.File.Global.Buckets})
	if err != nil {
		level.Error(logger).Log("msg", "Cannot register metrics", "err", err)
		return exitFailed
	}
	sla.Export(m, plan.SLAs)
	plan.Deps = generators.Deps{Metrics: m, Logger: logger, Shard: shard, Grace: cfg.File.Global.GracePeriod.D()}
	if of.listen != "" {
		stop, err := serveMetrics(of.listen, reg, logger)
		if err != nil {
			level.Error(logger).Log("msg", "Cannot serve metrics", "err", err)
			return exitFailed
		}
		defer stop()
	}
	show, done := runs.ProgressPrinter(stderr, isTerminal(stderr), logger, of.progress)
	runner, err := runs.New(runs.Options{Metrics: m, Logger: logger, Reports: writer, Progress: show})
	if err != nil {
		level.Error(logger).Log("msg", "Cannot start", "err", err)
		return exitFailed
	}
	ctx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	res, err := runner.Run(ctx, plan)
	done()
	if res == nil {
		level.Error(logger).Log("msg", "Run could not start", "err", err)
		return exitFailed
	}
	printVerdict(stdout, res)
	if err != nil {
		level.Error(logger).Log("msg", "Writing reports failed", "err", err)
	}
	return res.ExitCode()
}

// oncePlan is the plan of `loadd once`: a schedule's run, or every
// scenario as configured for --duration.
func oncePlan(cfg *daemon.Config, of *onceFlags) (runs.Plan, error) {
	if of.schedule != "" {
		cs := cronsOf(cfg)
		c, ok := cs[of.schedule]
		if !ok {
			return runs.Plan{}, fmt.Errorf("unknown schedule %q (have %s)", of.schedule, strings.Join(cs.Names(), ", "))
		}
		return runs.PlanFor(of.schedule, c, cfg.Specs, generators.Deps{}, slasOf(cfg)), nil
	}
	return runs.Plan{Name: "once", Scenarios: cfg.Specs, Duration: of.duration, SLAs: slasOf(cfg)}, nil
}

// serveMetrics serves /metrics on addr until stop is called.
func serveMetrics(addr string, reg prometheus.Gatherer, logger log.Logger) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			level.Error(logger).Log("msg", "Metrics server failed", "err", err)
		}
	}()
	level.Info(logger).Log("msg", "Serving metrics", "address", l.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// printVerdict writes the run's verdict and report paths to w.
func printVerdict(w io.Writer, r *runs.Result) {
	fmt.Fprintf(w, "run %s: %s\n", r.ID, strings.ToUpper(r.Outcome))
	for _, c := range r.Verdict.Checks {
		mark := "ok  "
		if !c.Passed {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %s\n", mark, c.Message)
	}
	for _, why := range r.Verdict.Invalid {
		fmt.Fprintf(w, "  INVALID %s\n", why)
	}
	if r.Reports.Dir != "" {
		fmt.Fprintf(w, "reports: %s\n", r.Reports.Dir)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && runs.IsTerminal(f)
}
