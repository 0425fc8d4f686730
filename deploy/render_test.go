package deploy_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/loadd/loadd/internal/tooltest"
)

// manifests are the objects `kubectl kustomize kubernetes` renders.
type manifests struct {
	sts    *appsv1.StatefulSet
	svc    *corev1.Service
	cm     *corev1.ConfigMap
	secret *corev1.Secret
	sm     *monitoringv1.ServiceMonitor
	rule   *monitoringv1.PrometheusRule
}

// kinds maps apiVersion/kind to a new typed object to decode strictly into.
var kinds = map[string]func() any{
	"apps/v1/StatefulSet": func() any { return &appsv1.StatefulSet{} },
	"v1/Service":          func() any { return &corev1.Service{} },
	"v1/ConfigMap":        func() any { return &corev1.ConfigMap{} },
	"v1/Secret":           func() any { return &corev1.Secret{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule": func() any { return &monitoringv1.PrometheusRule{} },
}

// decodeDoc decodes one YAML document strictly into its Kubernetes type.
func decodeDoc(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := sigsyaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, fmt.Errorf("unexpected kind %s/%s", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	if err := sigsyaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return obj, nil
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

var (
	renderOnce sync.Once
	rendered   *manifests
	renderErr  error
)

// render renders kubernetes/ once (kubectl kustomize, or a standalone
// kustomize) and decodes every document.
func render(t *testing.T) *manifests {
	t.Helper()
	bin := tooltest.Path(t, "kubectl", "kustomize")
	cmd := []string{bin, "kustomize", "kubernetes"}
	if filepath.Base(bin) == "kustomize" {
		cmd = []string{bin, "build", "kubernetes"}
	}
	renderOnce.Do(func() { rendered, renderErr = kustomize(cmd) })
	if renderErr != nil {
		t.Fatal(renderErr)
	}
	return rendered
}

// kustomize runs cmd (kubectl kustomize, or kustomize build) and decodes
// what it prints: one object of each of kinds, nothing else.
func kustomize(cmd []string) (*manifests, error) {
	out, err := exec.Command(cmd[0], cmd[1:]...).Output()
	if err != nil {
		return nil, fmt.Errorf("%v: %v %s", cmd, err, exitStderr(err))
	}
	m := &manifests{}
	seen := map[string]bool{}
	for _, doc := range docSep.Split(string(out), -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj, err := decodeDoc([]byte(doc))
		if err != nil {
			return nil, err
		}
		kind := reflect.TypeOf(obj).Elem().Name()
		if seen[kind] {
			return nil, fmt.Errorf("two %s objects", kind)
		}
		seen[kind] = true
		switch o := obj.(type) {
		case *appsv1.StatefulSet:
			m.sts = o
		case *corev1.Service:
			m.svc = o
		case *corev1.ConfigMap:
			m.cm = o
		case *corev1.Secret:
			m.secret = o
		case *monitoringv1.ServiceMonitor:
			m.sm = o
		case *monitoringv1.PrometheusRule:
			m.rule = o
		}
	}
	if len(seen) != len(kinds) {
		return nil, fmt.Errorf("rendered kinds %v, want one of each of %d", seen, len(kinds))
	}
	return m, nil
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func TestDecodeDocRejects(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", "unexpected kind"},
		{"misplaced field", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec: {replica: 2}\n", "unknown field"},
		{"bad quantity", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: web}]}\n", "port"},
		{"unknown rule field", "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: x}\nspec: {groups: [{name: g, rules: [{alert: A, expr: up, fro: 5m}]}]}\n", "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeDoc([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("decodeDoc = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
