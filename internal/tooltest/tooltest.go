// Package tooltest finds the external programs tests run against
// (promtool, prometheus, alertmanager, websocketd, chromium, kubectl,
// systemd-analyze) and builds the loadd binary for tests that run it.
package tooltest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildLoadd builds the loadd binary into dir and returns its path.
func BuildLoadd(dir string) (string, error) {
	bin := filepath.Join(dir, "loadd")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/loadd/loadd/cmd/loadd").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/loadd: %v\n%s", err, out)
	}
	return bin, nil
}

// Path returns the path of the first of names found on PATH. When none
// is, the test is skipped on a developer's machine, but fails when the
// environment variable CI is set: scripts/test.sh sets it after installing
// every tool, so in `make test` a missing tool is an error, not a skip.
func Path(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not installed, and CI is set: scripts/install-test-deps.sh installs it", names[0])
	}
	t.Skipf("%s not installed (scripts/install-test-deps.sh installs it)", names[0])
	return ""
}
