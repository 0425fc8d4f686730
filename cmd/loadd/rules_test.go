package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadd/loadd/internal/tooltest"
)

// TestRulesCommand: `loadd rules` prints one rule per SLA objective of the
// demo config, and promtool accepts the file.
func TestRulesCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runMain([]string{"rules", "--config.file=../../demo/demo.yaml"}, &out, &errb); code != exitOK {
		t.Fatalf("rules exited %d:\n%s", code, errb.String())
	}
	for _, want := range []string{"LoaddLatencySLABreached", `scenario="api_open"`, "> 0.1", "LoaddErrorBudgetFastBurn"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("rules output lacks %q", want)
		}
	}
	promtool := tooltest.Path(t, "promtool")
	path := filepath.Join(t.TempDir(), "rules.yml")
	os.WriteFile(path, out.Bytes(), 0o644)
	if b, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, b)
	}
}

func TestRulesCommandBadConfig(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runMain([]string{"rules", "--config.file=testdata/invalid-kind.yaml"}, &out, &errb); code != exitConfig {
		t.Errorf("rules on a bad config exited %d, want 2", code)
	}
}
