package deploy_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/loadd/loadd/deploy"
	"github.com/loadd/loadd/internal/tooltest"
)

func TestPrometheusAndAlertmanagerConfigs(t *testing.T) {
	files, err := deploy.RuleFiles("../alerts")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tool string
		args []string
		want string // in the output
	}{
		{"promtool", []string{"check", "config", "prometheus/prometheus.yml"}, fmt.Sprintf("SUCCESS: %d rule files found", len(files))},
		{"amtool", []string{"check-config", "prometheus/alertmanager.yml"}, "SUCCESS"},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			bin := tooltest.Path(t, tc.tool)
			out, err := exec.Command(bin, tc.args...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s %v: %v\n%s", tc.tool, tc.args, err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("%s output lacks %q:\n%s", tc.tool, tc.want, out)
			}
		})
	}
}

// TestAlertmanagerRoutesEverySeverity: each severity the shipped alerts use
// has its own route.
func TestAlertmanagerRoutesEverySeverity(t *testing.T) {
	files, err := deploy.RuleFiles("../alerts")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, f := range files {
		var rf struct {
			Groups []struct {
				Rules []struct {
					Alert  string            `yaml:"alert"`
					Labels map[string]string `yaml:"labels"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		readYAML(t, f, &rf)
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					used[r.Labels["severity"]] = true
				}
			}
		}
	}
	var am struct {
		Route struct {
			Routes []struct {
				Matchers []string `yaml:"matchers"`
			} `yaml:"routes"`
		} `yaml:"route"`
	}
	readYAML(t, "prometheus/alertmanager.yml", &am)
	sev := regexp.MustCompile(`^severity="([^"]*)"$`)
	routed := map[string]bool{}
	for _, r := range am.Route.Routes {
		for _, m := range r.Matchers {
			if s := sev.FindStringSubmatch(m); s != nil {
				routed[s[1]] = true
			}
		}
	}
	if got, want := keys(routed), keys(used); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("alertmanager.yml routes severities %v, alerts/ uses %v", got, want)
	}
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func keys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// unit is a systemd unit file: section → key → values in order.
type unit map[string]map[string][]string

func parseUnit(s string) unit {
	u := unit{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			if k, v, ok := strings.Cut(line, "="); ok && section != "" {
				u[section][k] = append(u[section][k], v)
			}
		}
	}
	return u
}

func (u unit) get(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// systemdSeconds parses a systemd time span such as 30s, 1min or 90.
func systemdSeconds(s string) time.Duration {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(strings.ReplaceAll(s, "min", "m"))
	if err != nil {
		return 0
	}
	return d
}

// checkUnit returns what is wrong with a loadd unit file; grace is the
// longest grace period it must outlast.
func checkUnit(s string, grace time.Duration) []string {
	u := parseUnit(s)
	var bad []string
	expect := func(ok bool, what string) {
		if !ok {
			bad = append(bad, what)
		}
	}
	exec := strings.Fields(u.get("Service", "ExecStart"))
	expect(u.get("Service", "Type") == "simple", "Type=simple")
	expect(len(exec) > 1 && filepath.Base(exec[0]) == "loadd" && exec[1] == "run", "ExecStart=…/loadd run")
	expect(has(exec, "--config.file=/etc/loadd/loadd.yaml"), "ExecStart has --config.file")
	expect(has(exec, "--web.listen-address=:9470"), "ExecStart has --web.listen-address=:9470")
	expect(u.get("Service", "ExecReload") == "/bin/kill -HUP $MAINPID", "ExecReload sends SIGHUP")
	expect(u.get("Service", "KillSignal") == "SIGTERM", "KillSignal=SIGTERM")
	expect(systemdSeconds(u.get("Service", "TimeoutStopSec")) > grace, fmt.Sprintf("TimeoutStopSec > %v", grace))
	expect(u.get("Service", "LimitNOFILE") != "", "LimitNOFILE")
	expect(u.get("Service", "DynamicUser") == "yes" || u.get("Service", "User") != "", "DynamicUser=yes or User=")
	expect(u.get("Service", "NoNewPrivileges") == "yes", "NoNewPrivileges=yes")
	expect(u.get("Service", "ProtectSystem") == "strict", "ProtectSystem=strict")
	expect(u.get("Service", "ProtectHome") == "yes", "ProtectHome=yes")
	expect(u.get("Install", "WantedBy") == "multi-user.target", "WantedBy=multi-user.target")
	return bad
}

// unitGrace is the longest grace period the unit must outlast: loadd's
// default and the shipped example config's.
func unitGrace(t *testing.T) time.Duration {
	b, err := os.ReadFile("kubernetes/loadd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return max(10*time.Second, gracePeriod(t, parseConfig(t, string(b))))
}

func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("systemd/loadd.service")
	if err != nil {
		t.Fatal(err)
	}
	good := string(b)
	grace := unitGrace(t)
	checkMutations(t, good, func(s string) []string { return checkUnit(s, grace) }, []mutation{
		{"shipped", "", "", ""},
		{"short stop timeout", "TimeoutStopSec=30s", "TimeoutStopSec=5s", "TimeoutStopSec"},
		{"SIGKILL", "KillSignal=SIGTERM", "KillSignal=SIGKILL", "KillSignal"},
		{"no hardening", "ProtectSystem=strict", "ProtectSystem=full", "ProtectSystem"},
		{"no reload", "ExecReload=", "#ExecReload=", "ExecReload"},
	})
}

// TestSystemdAnalyzeVerify runs systemd's own checks on the unit, with
// ExecStart pointed at a freshly built loadd (verify wants it to exist).
func TestSystemdAnalyzeVerify(t *testing.T) {
	sa := tooltest.Path(t, "systemd-analyze")
	b, err := os.ReadFile("systemd/loadd.service")
	if err != nil {
		t.Fatal(err)
	}
	bin := loaddBinary(t)
	s := strings.Replace(string(b), "ExecStart=/usr/local/bin/loadd ", "ExecStart="+bin+" ", 1)
	if s == string(b) {
		t.Fatal("ExecStart does not start /usr/local/bin/loadd")
	}
	file := filepath.Join(t.TempDir(), "loadd.service")
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", file).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
