package alerts

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/loadd/loadd/internal/tooltest"
)

// runPromtool runs promtool with args in dir and fails the test, showing
// its output, unless it exits 0.
func runPromtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return runTool(t, tooltest.Path(t, "promtool"), dir, args...)
}

// runTool runs the command path with args in dir and fails the test,
// showing its output, unless it exits 0.
func runTool(t *testing.T, path, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool %v in %s: %v\n%s", args, dir, err, out.String())
	}
	return out.String()
}

// shippedRuleFiles lists the shipped rule files.
func shippedRuleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("loadd-*.rules.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files found (%v)", err)
	}
	return files
}

// parseRules parses and validates a rule file with Prometheus' own parser.
func parseRules(t *testing.T, name string, content []byte) *rulefmt.RuleGroups {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	rgs, errs := rulefmt.Parse(content, false, model.UTF8Validation, parser.NewParser(parser.Options{}), logger)
	for _, err := range errs {
		t.Errorf("%s: %v", name, err)
	}
	if rgs == nil {
		t.FailNow()
	}
	return rgs
}

// readRules reads and parses a rule file.
func readRules(t *testing.T, path string) *rulefmt.RuleGroups {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseRules(t, path, b)
}
