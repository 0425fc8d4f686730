package deploy_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/loadd/loadd/deploy"
	"github.com/loadd/loadd/internal/tooltest"
)

// tmpDir holds what the tests build (the loadd binary); TestMain removes it.
var tmpDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "loadd-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		os.Exit(1)
	}
	tmpDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// loaddBinary builds ./cmd/loadd once into tmpDir.
func loaddBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() { builtBin, buildErr = tooltest.BuildLoadd(tmpDir) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// loaddConfig is the part of loadd.yaml these tests cross-check.
type loaddConfig struct {
	Global struct {
		GracePeriod string `yaml:"grace_period"`
	} `yaml:"global"`
	Targets map[string]struct {
		AllowNonLoopback bool `yaml:"allow_non_loopback"`
		Auth             struct {
			PasswordFile string `yaml:"password_file"`
		} `yaml:"auth"`
	} `yaml:"targets"`
}

func parseConfig(t *testing.T, s string) loaddConfig {
	t.Helper()
	var c loaddConfig
	if err := yaml.Unmarshal([]byte(s), &c); err != nil {
		t.Fatalf("loadd.yaml: %v", err)
	}
	return c
}

func gracePeriod(t *testing.T, c loaddConfig) time.Duration {
	t.Helper()
	if c.Global.GracePeriod == "" {
		return 10 * time.Second // daemon.DefaultGracePeriod
	}
	d, err := time.ParseDuration(c.Global.GracePeriod)
	if err != nil {
		t.Fatalf("global.grace_period: %v", err)
	}
	return d
}

func container(t *testing.T, m *manifests) corev1.Container {
	t.Helper()
	cs := m.sts.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("StatefulSet has %d containers, want 1", len(cs))
	}
	return cs[0]
}

func env(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestStatefulSet(t *testing.T) {
	m := render(t)
	c := container(t, m)
	pod := m.sts.Spec.Template.Spec
	conf := parseConfig(t, m.cm.Data["loadd.yaml"])
	var webPort int32
	for _, p := range c.Ports {
		if p.Name == "web" {
			webPort = p.ContainerPort
		}
	}
	replicas := int32(1)
	if m.sts.Spec.Replicas != nil {
		replicas = *m.sts.Spec.Replicas
	}
	probe := func(p *corev1.Probe) string {
		if p == nil || p.HTTPGet == nil {
			return "no HTTP probe"
		}
		return p.HTTPGet.Path + " on " + p.HTTPGet.Port.String()
	}
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"replicas", replicas, int32(2)},
		{"LOADD_SHARDS equals replicas", env(c, "LOADD_SHARDS"), strconv.Itoa(int(replicas))},
		{"--shard=auto", has(c.Args, "--shard=auto"), true},
		{"--web.listen-address", has(c.Args, fmt.Sprintf("--web.listen-address=:%d", webPort)), true},
		{"web port", webPort, int32(9470)},
		{"serviceName is the Service", m.sts.Spec.ServiceName, m.svc.Name},
		{"readiness probe", probe(c.ReadinessProbe), "/-/ready on web"},
		{"liveness probe", probe(c.LivenessProbe), "/-/healthy on web"},
		{"cpu request", !c.Resources.Requests.Cpu().IsZero(), true},
		{"memory request", !c.Resources.Requests.Memory().IsZero(), true},
		{"cpu limit", !c.Resources.Limits.Cpu().IsZero(), true},
		{"memory limit", !c.Resources.Limits.Memory().IsZero(), true},
		{"runAsNonRoot", pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot, true},
		{"readOnlyRootFilesystem", sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, true},
		{"no privilege escalation", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, true},
		{"terminationGracePeriodSeconds > grace_period", pod.TerminationGracePeriodSeconds != nil &&
			time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second > gracePeriod(t, conf), true},
		{"target may leave loopback", len(conf.Targets) > 0 && allNonLoopback(conf), true},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	checkMounts(t, m, c, conf)
}

func allNonLoopback(c loaddConfig) bool {
	for _, tg := range c.Targets {
		if !tg.AllowNonLoopback {
			return false
		}
	}
	return true
}

// checkMounts checks that --config.file is the generated ConfigMap's
// loadd.yaml and every password_file a key of the generated Secret.
func checkMounts(t *testing.T, m *manifests, c corev1.Container, conf loaddConfig) {
	t.Helper()
	files := map[string]bool{} // paths the mounts provide
	for _, vm := range c.VolumeMounts {
		for _, v := range m.sts.Spec.Template.Spec.Volumes {
			switch {
			case v.Name != vm.Name:
			case v.ConfigMap != nil && v.ConfigMap.Name == m.cm.Name:
				for k := range m.cm.Data {
					files[vm.MountPath+"/"+k] = true
				}
			case v.Secret != nil && v.Secret.SecretName == m.secret.Name:
				for k := range m.secret.Data {
					files[vm.MountPath+"/"+k] = true
				}
			}
		}
	}
	var configFile string
	for _, a := range c.Args {
		if f, ok := strings.CutPrefix(a, "--config.file="); ok {
			configFile = f
		}
	}
	if !files[configFile] || filepath.Base(configFile) != "loadd.yaml" {
		t.Errorf("--config.file=%s is not loadd.yaml of a mounted ConfigMap %s (mounted: %v)", configFile, m.cm.Name, files)
	}
	for name, tg := range conf.Targets {
		if pf := tg.Auth.PasswordFile; pf != "" && !files[pf] {
			t.Errorf("target %s: password_file %s is not a key of the mounted Secret %s (mounted: %v)", name, pf, m.secret.Name, files)
		}
	}
}

func TestServiceAndServiceMonitor(t *testing.T) {
	m := render(t)
	svcSel := labels.SelectorFromSet(m.svc.Spec.Selector)
	smSel, err := metav1.LabelSelectorAsSelector(&m.sm.Spec.Selector)
	if err != nil {
		t.Fatalf("ServiceMonitor selector: %v", err)
	}
	var svcPorts []string
	for _, p := range m.svc.Spec.Ports {
		if p.Name == "web" && p.Port == 9470 && p.TargetPort.String() == "web" {
			svcPorts = append(svcPorts, p.Name)
		}
	}
	var smPorts []string
	for _, e := range m.sm.Spec.Endpoints {
		smPorts = append(smPorts, e.Port)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"Service is headless", m.svc.Spec.ClusterIP, corev1.ClusterIPNone},
		{"Service port web 9470", svcPorts, []string{"web"}},
		{"Service selects the pods", !svcSel.Empty() && svcSel.Matches(labels.Set(m.sts.Spec.Template.Labels)), true},
		{"ServiceMonitor selects the Service", !smSel.Empty() && smSel.Matches(labels.Set(m.svc.Labels)), true},
		{"ServiceMonitor scrapes the web port", smPorts, []string{"web"}},
		{"job label (the Service name) is the one alerts/ expect", m.svc.Name, "loadd"},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestPrometheusRuleEqualsAlerts(t *testing.T) {
	m := render(t)
	files, err := deploy.RuleFiles("../alerts")
	if err != nil {
		t.Fatal(err)
	}
	var want []monitoringv1.RuleGroup
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf struct {
			Groups []monitoringv1.RuleGroup `json:"groups"`
		}
		if err := sigsyaml.UnmarshalStrict(b, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want = append(want, rf.Groups...)
	}
	if len(want) == 0 {
		t.Fatal("alerts/ has no groups")
	}
	if !reflect.DeepEqual(m.rule.Spec.Groups, want) {
		t.Errorf("PrometheusRule groups differ from alerts/%s: run go run ./deploy/gen", deploy.RulesGlob)
	}
}

func TestPrometheusRuleFileIsGenerated(t *testing.T) {
	want, err := deploy.PrometheusRule("../alerts")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("kubernetes/prometheusrule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Error("kubernetes/prometheusrule.yaml is stale: run go run ./deploy/gen")
	}
}

func TestConfigMapPassesLoaddCheck(t *testing.T) {
	m := render(t)
	bin := loaddBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "loadd.yaml")
	if err := os.WriteFile(cfg, []byte(m.cm.Data["loadd.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	pw := m.secret.Data["physician-password"]
	if !strings.Contains(string(pw), "REPLACE") {
		t.Errorf("the Secret's placeholder should say to replace it, got %q", pw)
	}
	pwFile := filepath.Join(dir, "physician-password")
	if err := os.WriteFile(pwFile, pw, 0o600); err != nil {
		t.Fatal(err)
	}
	// The Secret's mount path does not exist here: point password_file at
	// the Secret's content (checkMounts ties the real path to the Secret).
	out, err := exec.Command(bin, "check", "--config.file="+cfg,
		"--config.set=targets.phoenix.auth.password_file="+pwFile).CombinedOutput()
	if err != nil {
		t.Fatalf("loadd check: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), ": OK") {
		t.Errorf("loadd check said:\n%s", out)
	}
}
