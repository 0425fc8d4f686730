// Command loadd is a Prometheus-native continuous load daemon. This file
// parses flags and wires packages together; the work lives in the packages.

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"
	"gopkg.in/yaml.v3"

	"github.com/loadd/loadd/config"
)

// Exit codes of loadd once / check.
const (
	exitOK     = 0
	exitFailed = 1
	exitConfig = 2
)

func main() { os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr)) }

// devVersion is reported when the build did not set one with -ldflags.
const devVersion = "0.1.0-dev"

// defaultGCPercent trades a little CPU for memory: a process holding
// 10,000 WebSocket sessions stays under 10 KB a session (measured: 12.1 KB
// at the Go default of 100, 9.9 KB at 50). GOGC in the environment wins.
const defaultGCPercent = 50

func init() {
	if version.Version == "" {
		version.Version = devVersion
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// logFlags are the logging flags shared by every command.
type logFlags struct {
	level, format string
}

func (l *logFlags) logger(w io.Writer) log.Logger {
	var lg log.Logger
	if l.format == "json" {
		lg = log.NewJSONLogger(log.NewSyncWriter(w))
	} else {
		lg = log.NewLogfmtLogger(log.NewSyncWriter(w))
	}
	lg = log.With(lg, "ts", log.DefaultTimestampUTC, "caller", log.Caller(5))
	return level.NewFilter(lg, level.Allow(level.ParseDefault(l.level, level.InfoValue())))
}

// configFlags locate the config and its flag overrides.
type configFlags struct {
	file string
	set  []string
}

func addConfigFlags(cmd *kingpin.CmdClause, required bool) *configFlags {
	c := &configFlags{}
	f := cmd.Flag("config.file", "loadd configuration file (YAML).")
	if required {
		f = f.Required()
	}
	f.StringVar(&c.file)
	cmd.Flag("config.set", "Override a config key, e.g. --config.set=scenarios.api.rate=300/s (repeatable; applied after LOADD_* environment overrides).").
		PlaceHolder("KEY=VALUE").StringsVar(&c.set)
	return c
}

// source builds the config source: the file, LOADD_* environment and flags.
func (c *configFlags) source(data []byte, extra map[string]any) (config.Source, error) {
	src := config.Source{File: c.file, Data: data, Environ: os.Environ, Overrides: map[string]any{}}
	for k, v := range extra {
		src.Overrides[k] = v
	}
	for _, kv := range c.set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return src, fmt.Errorf("--config.set %q: want KEY=VALUE", kv)
		}
		var typed any
		if err := yaml.Unmarshal([]byte(v), &typed); err != nil || typed == nil {
			typed = v
		}
		src.Overrides[k] = typed
	}
	return src, nil
}

func runMain(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("loadd", "Prometheus-native continuous load daemon.")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	app.Terminate(nil)
	app.Version(version.Print("loadd"))
	app.HelpFlag.Short('h')
	lf := &logFlags{}
	app.Flag("log.level", "Only log messages with the given severity or above: debug, info, warn, error.").
		Default("info").EnumVar(&lf.level, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages: logfmt or json.").
		Default("logfmt").EnumVar(&lf.format, "logfmt", "json")

	cmds := map[string]func(ctx context.Context, logger log.Logger) int{}
	addRun(app, cmds, stdout)
	addCheck(app, cmds, stdout, stderr)
	addDemo(app, cmds)
	addTarget(app, cmds)
	addExtraCommands(app, cmds, stdout, stderr)
	app.Command("version", "Print version information.")
	cmds["version"] = func(context.Context, log.Logger) int {
		fmt.Fprintln(stdout, version.Print("loadd"))
		return exitOK
	}

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "loadd: %v (try --help)\n", err)
		return exitConfig
	}
	if cmd == "" {
		return exitOK // --help or --version already printed
	}
	f, ok := cmds[cmd]
	if !ok {
		fmt.Fprintf(stderr, "loadd: unknown command %q\n", cmd)
		return exitConfig
	}
	return f(context.Background(), lf.logger(stderr))
}
