package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"

	"github.com/loadd/loadd/config"
	"github.com/prometheus/client_golang/prometheus"
)

func addCheck(app *kingpin.Application, cmds map[string]func(context.Context, log.Logger) int, stdout, stderr io.Writer) {
	cmd := app.Command("check", "Validate a configuration: print every problem with its key path and line (exit 2), or a summary of what would run (exit 0).")
	cf := addConfigFlags(cmd, true)
	cmds[cmd.FullCommand()] = func(_ context.Context, logger log.Logger) int {
		src, err := cf.source(nil, nil)
		if err != nil {
			fmt.Fprintf(stderr, "loadd check: %v\n", err)
			return exitConfig
		}
		ext := newExtensions(logger, prometheus.NewRegistry())
		c, err := ext.loader().Load(src)
		if err != nil {
			var p *config.Problems
			if errors.As(err, &p) {
				fmt.Fprintf(stderr, "%s: %d problem(s):\n%s\n", cf.file, p.Len(), p.Error())
			} else {
				fmt.Fprintf(stderr, "loadd check: %v\n", err)
			}
			return exitConfig
		}
		fmt.Fprintf(stdout, "%s: OK\n%s", cf.file, c.Summary())
		return exitOK
	}
}
