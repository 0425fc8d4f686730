package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/daemon"
	"github.com/loadd/loadd/demo"
	"github.com/loadd/loadd/schedule"
)

// defaultListen is loadd's registered default port.
const defaultListen = ":9470"

// serveFlags are the flags of commands that run the daemon.
type serveFlags struct {
	web       *web.FlagConfig
	reports   *reportFlags
	lifecycle bool
	shard     string
}

func addServeFlags(cmd *kingpin.CmdClause) *serveFlags {
	s := &serveFlags{web: kingpinflag.AddFlags(cmd, defaultListen), reports: addReportFlags(cmd, "loadd-reports")}
	cmd.Flag("web.enable-lifecycle", "Enable shutdown and reload via HTTP request (POST /-/quit, /-/reload).").BoolVar(&s.lifecycle)
	cmd.Flag("shard", "This replica's share of the load: i/N (0-based), or auto (ordinal of a StatefulSet pod name, N from LOADD_SHARDS).").
		Default("0/1").StringVar(&s.shard)
	return s
}

func addRun(app *kingpin.Application, cmds map[string]func(context.Context, log.Logger) int, stdout io.Writer) {
	cmd := app.Command("run", "Run the load daemon with a configuration file.")
	cf := addConfigFlags(cmd, true)
	sf := addServeFlags(cmd)
	cmds[cmd.FullCommand()] = func(ctx context.Context, logger log.Logger) int {
		src, err := cf.source(nil, nil)
		if err != nil {
			level.Error(logger).Log("msg", "Bad flags", "err", err)
			return exitConfig
		}
		return serve(ctx, logger, src, sf, nil)
	}
}

func addDemo(app *kingpin.Application, cmds map[string]func(context.Context, log.Logger) int) {
	cmd := app.Command("demo", "Run the daemon and the embedded reference target, with the embedded demo config.")
	cf := addConfigFlags(cmd, false)
	sf := addServeFlags(cmd)
	var targetAddr string
	cmd.Flag("target.listen-address", "Address of the embedded demo target (loopback only).").Default("127.0.0.1:0").StringVar(&targetAddr)
	opts := &demo.Options{}
	demo.AddFlags(cmd, opts)
	cmds[cmd.FullCommand()] = func(ctx context.Context, logger log.Logger) int {
		t, err := demo.NewTarget(*opts, log.With(logger, "component", "target"))
		if err != nil {
			level.Error(logger).Log("msg", "Invalid target options", "err", err)
			return exitConfig
		}
		defer t.Close()
		l, err := listenLoopback(targetAddr)
		if err != nil {
			level.Error(logger).Log("msg", "Cannot listen for the demo target", "err", err)
			return exitFailed
		}
		srv := &http.Server{Handler: t.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(l)
		defer srv.Close()
		base := "http://" + l.Addr().String()
		level.Info(logger).Log("msg", "Demo target listening", "url", base)
		data := demo.Config
		if cf.file != "" {
			data = nil
		} else {
			cf.file = "embedded demo config"
		}
		src, err := cf.source(data, map[string]any{"targets.phoenix.base_url": base})
		if err != nil {
			level.Error(logger).Log("msg", "Bad flags", "err", err)
			return exitConfig
		}
		return serve(ctx, logger, src, sf, func(addr string) {
			level.Info(logger).Log("msg", "Demo running: watch the load", "metrics", "http://"+addr+"/metrics",
				"status", "http://"+addr+"/api/v1/status", "page", "http://"+addr+"/", "target", base)
		})
	}
}

func addTarget(app *kingpin.Application, cmds map[string]func(context.Context, log.Logger) int) {
	cmd := app.Command("target", "Run the reference target service alone.")
	var addr string
	cmd.Flag("target.listen-address", "Address to listen on (loopback only).").Default("127.0.0.1:8080").StringVar(&addr)
	opts := &demo.Options{}
	demo.AddFlags(cmd, opts)
	cmds[cmd.FullCommand()] = func(ctx context.Context, logger log.Logger) int {
		t, err := demo.NewTarget(*opts, logger)
		if err != nil {
			level.Error(logger).Log("msg", "Invalid target options", "err", err)
			return exitConfig
		}
		defer t.Close()
		l, err := listenLoopback(addr)
		if err != nil {
			level.Error(logger).Log("msg", "Cannot listen", "err", err)
			return exitFailed
		}
		srv := &http.Server{Handler: t.Handler(), ReadHeaderTimeout: 10 * time.Second}
		level.Info(logger).Log("msg", "Target listening", "address", l.Addr().String())
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		}()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			level.Error(logger).Log("msg", "Target server failed", "err", err)
			return exitFailed
		}
		level.Info(logger).Log("msg", "Target stopped")
		return exitOK
	}
}

// listenLoopback listens on addr, which must be a loopback address.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("listen address %q: the target listens on loopback only", addr)
	}
	return net.Listen("tcp", addr)
}

// newRegistry returns a registry with the Go and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// serve runs the daemon, its web server and signal handling in one
// run.Group until SIGTERM/SIGINT or POST /-/quit. onListen is called with
// the bound address once the web server listens.
func serve(ctx context.Context, logger log.Logger, src config.Source, sf *serveFlags, onListen func(addr string)) int {
	shard, err := schedule.ParseShard(sf.shard, schedule.Hostname(), os.Getenv)
	if err != nil {
		level.Error(logger).Log("msg", "Bad --shard", "err", err)
		return exitConfig
	}
	level.Info(logger).Log("msg", "Starting loadd", "version", version.Info(), "config", src.File)
	reg := newRegistry()
	ext := newExtensions(logger)
	ext.reports = sf.reports
	d, err := daemon.New(daemon.Options{
		Source: src, Loader: ext.loader(), Shard: shard, Logger: logger, Registry: reg,
		Lifecycle: sf.lifecycle, Apply: ext.apply, StatusExtra: ext.status,
	})
	if err != nil {
		var p *config.Problems
		if errors.As(err, &p) {
			level.Error(logger).Log("msg", "Invalid configuration", "err", err)
			return exitConfig
		}
		level.Error(logger).Log("msg", "Cannot start", "err", err)
		return exitFailed
	}
	if err := ext.attach(d); err != nil {
		level.Error(logger).Log("msg", "Cannot start", "err", err)
		return exitConfig
	}
	mux := d.Handler()
	ext.routes(mux)

	var g run.Group
	{
		term := make(chan os.Signal, 1)
		signal.Notify(term, os.Interrupt, syscall.SIGTERM)
		cancel := make(chan struct{})
		g.Add(func() error {
			select {
			case s := <-term:
				level.Info(logger).Log("msg", "Received signal, exiting gracefully...", "signal", s)
			case <-d.Quit():
				level.Info(logger).Log("msg", "Received termination request via web service, exiting gracefully...")
			case <-cancel:
			}
			return nil
		}, func(error) {
			signal.Stop(term)
			close(cancel)
		})
	}
	{
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		cancel := make(chan struct{})
		g.Add(func() error {
			for {
				select {
				case <-hup:
					level.Info(logger).Log("msg", "Received SIGHUP, reloading configuration")
					_ = d.Reload()
				case <-cancel:
					return nil
				}
			}
		}, func(error) {
			signal.Stop(hup)
			close(cancel)
		})
	}
	scenariosDone := make(chan struct{})
	{
		runCtx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			defer close(scenariosDone)
			err := d.Run(runCtx)
			ext.stop()
			level.Info(logger).Log("msg", "Scheduled runs stopped")
			level.Info(logger).Log("msg", "Scenarios stopped")
			return err
		}, func(error) {
			level.Info(logger).Log("msg", "Stopping scenarios (grace period applies)")
			cancel()
		})
	}
	{
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		slogger := slog.New(newSlogHandler(logger))
		addrs := *sf.web.WebListenAddresses
		if onListen != nil && len(addrs) > 0 {
			onListen(displayAddr(addrs[0]))
		}
		g.Add(func() error {
			if err := web.ListenAndServe(srv, sf.web, slogger); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("web server: %w", err)
			}
			return nil
		}, func(error) {
			// Keep /metrics up while scenarios drain, so the last counts can be scraped.
			select {
			case <-scenariosDone:
			case <-time.After(d.Config().File.Global.GracePeriod.D() + 5*time.Second):
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
			level.Info(logger).Log("msg", "Web server stopped")
		})
	}
	if err := g.Run(); err != nil {
		level.Error(logger).Log("msg", "loadd failed", "err", err)
		return exitFailed
	}
	level.Info(logger).Log("msg", "See you next time!")
	return exitOK
}

// displayAddr turns ":9470" into "localhost:9470" for messages.
func displayAddr(a string) string {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host != "" {
		return a
	}
	return "localhost:" + port
}
