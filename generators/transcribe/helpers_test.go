package transcribe

import (
	"github.com/go-kit/log"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
)

// testLogger logs through t.
func testLogger(t *testing.T) log.Logger {
	return log.LoggerFunc(func(kv ...any) error {
		t.Log(kv...)
		return nil
	})
}

// newMetrics returns metrics on a fresh registry.
func newMetrics(t *testing.T) (*exporter.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := exporter.New(reg, exporter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// metricValue sums the counter values or histogram sample counts of the
// series of name whose labels include match.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, match map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !labelsMatch(m, match) {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func labelsMatch(m *dto.Metric, match map[string]string) bool {
	for k, v := range match {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// decodeSpec decodes a scenario against one target named phoenix at base.
func decodeSpec(t *testing.T, base string, raw map[string]any) (*Spec, *config.Problems) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	env := &generators.Env{Targets: map[string]*generators.Target{"phoenix": {BaseURL: base, URL: u}}}
	p := &config.Problems{}
	spec := Kind.Decode("scenarios.asr", raw, env, p)
	if spec == nil {
		return nil, p
	}
	return spec.(*Spec), p
}

func mustSpec(t *testing.T, base string, raw map[string]any) *Spec {
	t.Helper()
	s, p := decodeSpec(t, base, raw)
	if s == nil {
		t.Fatalf("decode: %v", p)
	}
	return s
}
