package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleConfigsLoad loads every example config shipped in the repo.
func TestExampleConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	files = append(files, "../../demo/demo.yaml")
	if len(files) < 2 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := runMain([]string{"check", "--config.file=" + f}, &out, &errb); code != exitOK {
				t.Fatalf("check %s exited %d:\n%s", f, code, errb.String())
			}
			if !strings.Contains(out.String(), "OK") {
				t.Errorf("no summary:\n%s", out.String())
			}
		})
	}
}

// TestInvalidConfigs maps every testdata/invalid-*.yaml to the message its
// first line announces ("# want: …"), and exit code 2.
func TestInvalidConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid-*.yaml")
	if len(files) == 0 {
		t.Fatal("no invalid configs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(b), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("%s: first line must be '# want: <message>'", f)
			}
			var out, errb bytes.Buffer
			code := runMain([]string{"check", "--config.file=" + f}, &out, &errb)
			if code != exitConfig {
				t.Errorf("exit %d, want %d", code, exitConfig)
			}
			if !strings.Contains(errb.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, errb.String())
			}
			if strings.Contains(errb.String(), "panic") {
				t.Errorf("panic:\n%s", errb.String())
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runMain([]string{"run"}, &out, &errb); code != exitConfig {
		t.Errorf("run without --config.file exited %d, want 2", code)
	}
	if code := runMain([]string{"bogus"}, &out, &errb); code != exitConfig {
		t.Errorf("unknown command exited %d, want 2", code)
	}
	out.Reset()
	if code := runMain([]string{"version"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "loadd") {
		t.Errorf("version: %d %q", code, out.String())
	}
}
