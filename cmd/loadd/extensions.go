package main

import (
	"context"
	"io"
	"net/http"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadd/loadd/daemon"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/generators/httpload"
	"github.com/loadd/loadd/generators/transcribe"
	"github.com/loadd/loadd/generators/wsload"
)

// extensions wires the optional parts of the daemon — generator kinds,
// config sections (schedules, SLAs), their status and routes — in one place.
type extensions struct {
	logger log.Logger
	reg    *prometheus.Registry
	d      *daemon.Daemon
}

func newExtensions(logger log.Logger, reg *prometheus.Registry) *extensions {
	return &extensions{logger: logger, reg: reg}
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
	return &daemon.Loader{Kinds: kinds(), Sections: map[string]daemon.Section{}}
}

func (e *extensions) attach(d *daemon.Daemon) { e.d = d }

func (e *extensions) apply(ctx context.Context, c *daemon.Config) error { return nil }

func (e *extensions) status() map[string]any { return nil }

func (e *extensions) routes(mux *http.ServeMux) {}

func addExtraCommands(app *kingpin.Application, cmds map[string]func(context.Context, log.Logger) int, stdout, stderr io.Writer) {
}
