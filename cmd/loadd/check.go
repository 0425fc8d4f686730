package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/daemon"
)

func addCheck(app *kingpin.Application, cmds map[string]func(context.Context, log.Logger) int, stdout, stderr io.Writer) {
	cmd := app.Command("check", "Validate a configuration: print every problem with its key path and line (exit 2), or a summary of what would run (exit 0).")
	cf := addConfigFlags(cmd, true)
	cmds[cmd.FullCommand()] = func(_ context.Context, logger log.Logger) int {
		c, ok := loadConfig("check", cf, logger, stderr)
		if !ok {
			return exitConfig
		}
		fmt.Fprintf(stdout, "%s: OK\n%s", cf.file, c.Summary())
		return exitOK
	}
}

// loadConfig loads the config of a one-shot command (check, rules, once).
// On failure it prints every problem, or the error, to stderr under the
// command's name and reports false: the caller exits 2.
func loadConfig(command string, cf *configFlags, logger log.Logger, stderr io.Writer) (*daemon.Config, bool) {
	src, err := cf.source(nil, nil)
	if err != nil {
		fmt.Fprintf(stderr, "loadd %s: %v\n", command, err)
		return nil, false
	}
	c, err := newExtensions(logger).loader().Load(src)
	if err != nil {
		var p *config.Problems
		if errors.As(err, &p) {
			fmt.Fprintf(stderr, "%s: %d problem(s):\n%s\n", cf.file, p.Len(), p.Error())
		} else {
			fmt.Fprintf(stderr, "loadd %s: %v\n", command, err)
		}
		return nil, false
	}
	return c, true
}
