package alerts

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"gopkg.in/yaml.v3"

	"github.com/loadd/loadd/internal/tooltest"
)

func TestPromtoolCheckRules(t *testing.T) {
	files := shippedRuleFiles(t)
	out := runPromtool(t, ".", append([]string{"check", "rules"}, files...)...)
	if n := strings.Count(out, "SUCCESS"); n != len(files) {
		t.Errorf("promtool check rules: %d of %d files succeeded:\n%s", n, len(files), out)
	}
}

func TestExampleConfigs(t *testing.T) {
	out := runPromtool(t, "examples", "check", "config", "prometheus.yml")
	if !strings.Contains(out, "4 rule files found") {
		t.Errorf("examples/prometheus.yml should load the 4 shipped rule files:\n%s", out)
	}
	runTool(t, tooltest.Path(t, "amtool"), "examples", "check-config", "alertmanager.yml")
}

func TestPromtoolUnitTests(t *testing.T) {
	tests, err := filepath.Glob("tests/*.test.yml")
	if err != nil || len(tests) == 0 {
		t.Fatalf("no promtool unit tests found (%v)", err)
	}
	for _, f := range tests {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out := runPromtool(t, ".", "test", "rules", f)
			if !strings.Contains(out, "SUCCESS") {
				t.Errorf("promtool test rules %s:\n%s", f, out)
			}
		})
	}
}

// unitTestFile is the part of a promtool unit-test file these tests read.
type unitTestFile struct {
	RuleFiles      []string `yaml:"rule_files"`
	GroupEvalOrder []string `yaml:"group_eval_order"`
	Tests          []struct {
		Name       string `yaml:"name"`
		AlertTests []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				Labels map[string]string `yaml:"exp_labels"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readUnitTests(t *testing.T) map[string]unitTestFile {
	t.Helper()
	files, err := filepath.Glob("tests/*.test.yml")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]unitTestFile{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var u unitTestFile
		if err := yaml.Unmarshal(b, &u); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = u
	}
	return out
}

// TestEveryAlertIsUnitTested requires, for every alerting rule (an alert
// name with its static labels, e.g. each burn-rate window pair), a unit
// test in which it fires, and for every alert name one in which it must not.
func TestEveryAlertIsUnitTested(t *testing.T) {
	units := readUnitTests(t)
	fired := map[string][]map[string]string{}
	quiet := map[string]bool{}
	for _, u := range units {
		for _, tc := range u.Tests {
			for _, at := range tc.AlertTests {
				if len(at.ExpAlerts) == 0 {
					quiet[at.Alertname] = true
				}
				for _, a := range at.ExpAlerts {
					fired[at.Alertname] = append(fired[at.Alertname], a.Labels)
				}
			}
		}
	}
	for _, f := range shippedRuleFiles(t) {
		for _, g := range readRules(t, f).Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				if !quiet[r.Alert] {
					t.Errorf("%s: no unit test where %s must not fire", f, r.Alert)
				}
				if !slices.ContainsFunc(fired[r.Alert], func(got map[string]string) bool { return containsLabels(got, r.Labels) }) {
					t.Errorf("%s: no unit test where %s %v fires", f, r.Alert, r.Labels)
				}
			}
		}
	}
}

func containsLabels(set, sub map[string]string) bool {
	for k, v := range sub {
		if set[k] != v {
			return false
		}
	}
	return true
}

// TestUnitTestsFixGroupOrder checks every unit-test file orders all groups
// of its rule files, recording rules first: promtool otherwise evaluates
// them in an unspecified order and "for" timings become flaky.
func TestUnitTestsFixGroupOrder(t *testing.T) {
	for f, u := range readUnitTests(t) {
		var groups []string
		for _, rf := range u.RuleFiles {
			for _, g := range readRules(t, filepath.Join("tests", rf)).Groups {
				groups = append(groups, g.Name)
			}
		}
		if len(groups) > 0 && len(u.RuleFiles) == 1 {
			continue // one file: its own order is used
		}
		slices.Sort(groups)
		order := slices.Sorted(slices.Values(u.GroupEvalOrder))
		if !slices.Equal(groups, order) {
			t.Errorf("%s: group_eval_order %v, want every group of its rule files %v", f, u.GroupEvalOrder, groups)
		}
		lastRecording, firstAlerts := -1, len(u.GroupEvalOrder)
		for i, g := range u.GroupEvalOrder {
			if strings.HasSuffix(g, ".rules") {
				lastRecording = i
			} else if i < firstAlerts {
				firstAlerts = i
			}
		}
		if lastRecording > firstAlerts {
			t.Errorf("%s: group_eval_order must list the recording groups (*.rules) before the alert groups", f)
		}
	}
}

var (
	severities = []string{"page", "ticket", "warning"}
	heading    = regexp.MustCompile(`(?m)^## (Loadd\w+)$`)
)

// TestAlertConventions checks what on-call relies on: a severity, a summary
// and description, and a runbook_url whose section exists.
func TestAlertConventions(t *testing.T) {
	runbookMD, err := os.ReadFile("RUNBOOK.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(string(runbookMD), -1) {
		sections[strings.ToLower(m[1])] = true
	}
	alerts := map[string]bool{}
	for _, f := range shippedRuleFiles(t) {
		for _, g := range readRules(t, f).Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				alerts[strings.ToLower(r.Alert)] = true
				checkAlert(t, f, r, sections)
			}
		}
	}
	for s := range sections {
		if !alerts[s] {
			t.Errorf("RUNBOOK.md has a section %q for an alert no rule file has", s)
		}
	}
}

func checkAlert(t *testing.T, file string, r rulefmt.Rule, sections map[string]bool) {
	t.Helper()
	if !slices.Contains(severities, r.Labels["severity"]) {
		t.Errorf("%s: %s: severity %q, want one of %v", file, r.Alert, r.Labels["severity"], severities)
	}
	for _, a := range []string{"summary", "description", "runbook_url"} {
		if strings.TrimSpace(r.Annotations[a]) == "" {
			t.Errorf("%s: %s: no %s annotation", file, r.Alert, a)
		}
	}
	if extra := slices.DeleteFunc(slices.Collect(maps.Keys(r.Annotations)), func(k string) bool {
		return k == "summary" || k == "description" || k == "runbook_url"
	}); len(extra) > 0 {
		t.Errorf("%s: %s: unexpected annotations %v", file, r.Alert, extra)
	}
	if want := runbook + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
		t.Errorf("%s: %s: runbook_url %q, want %q", file, r.Alert, r.Annotations["runbook_url"], want)
	}
	if !sections[strings.ToLower(r.Alert)] {
		t.Errorf("%s: %s: RUNBOOK.md has no section \"## %s\"", file, r.Alert, r.Alert)
	}
	if r.For == 0 {
		t.Errorf("%s: %s: no for: a single bad evaluation would notify", file, r.Alert)
	}
	if !strings.Contains(r.Annotations["description"], "$labels.") && !strings.HasPrefix(r.Expr, "absent(") {
		t.Errorf("%s: %s: the description does not say which scenario/instance it is about", file, r.Alert)
	}
}

// TestShippedBurnWindowsMatchExplicit keeps the burn-rate windows, factors
// and for durations of loadd-sla.rules.yml and of Explicit the same.
func TestShippedBurnWindowsMatchExplicit(t *testing.T) {
	var shipped []rulefmt.Rule
	for _, g := range readRules(t, "loadd-sla.rules.yml").Groups {
		for _, r := range g.Rules {
			if strings.HasPrefix(r.Alert, "LoaddErrorBudget") {
				shipped = append(shipped, r)
			}
		}
	}
	if len(shipped) != len(burnWindows) {
		t.Fatalf("%d burn-rate rules shipped, Explicit has %d windows", len(shipped), len(burnWindows))
	}
	for i, w := range burnWindows {
		r := shipped[i]
		factor := formatFloat(w.factor) + " * "
		if w.factor == 1 {
			factor = ""
		}
		want := []string{
			"ratio_rate" + w.long + "\n", "ratio_rate" + w.short + "\n",
			"(" + factor + "job_scenario_task:loadd_sla_error_ratio_objective:max)",
		}
		if w.factor == 1 {
			want[2] = "> on (job, scenario, task) job_scenario_task:loadd_sla_error_ratio_objective:max"
		}
		for _, s := range want {
			if !strings.Contains(r.Expr, s) {
				t.Errorf("shipped %s %s/%s: expr lacks %q:\n%s", r.Alert, w.long, w.short, s, r.Expr)
			}
		}
		if r.Alert != w.alert || r.Labels["severity"] != w.severity || r.Labels["long_window"] != w.long ||
			r.Labels["short_window"] != w.short || r.For.String() != w.forDur {
			t.Errorf("shipped rule %d: %s %v for %s, Explicit has %+v", i, r.Alert, r.Labels, model.Duration(r.For), w)
		}
	}
}
