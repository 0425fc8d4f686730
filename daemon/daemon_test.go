package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/generators"
)

// fakeKind decodes {kind: fake, target: x, rate: N, tasks: [..]}.
type fakeKind struct{ runs *atomic.Int64 }

type fakeSpec struct {
	Kind     string   `yaml:"kind" json:"kind"`
	Target   string   `yaml:"target" json:"target"`
	Rate     float64  `yaml:"rate" json:"rate"`
	TaskList []string `yaml:"tasks" json:"tasks"`
	runs     *atomic.Int64
}

func (k fakeKind) Decode(path string, raw map[string]any, env *generators.Env, p *config.Problems) generators.Spec {
	s := &fakeSpec{runs: k.runs}
	if err := config.Decode(raw, s); err != nil {
		config.DecodeErrors(err, path, p)
		return nil
	}
	if _, ok := env.Targets[s.Target]; !ok {
		p.Addf(config.Key(path, "target"), "unknown target %q", s.Target)
		return nil
	}
	if s.Rate <= 0 {
		p.Addf(config.Key(path, "rate"), "must be positive")
		return nil
	}
	return s
}

func (s *fakeSpec) Summary() string { return "fake" }
func (s *fakeSpec) Tasks() []string { return s.TaskList }
func (s *fakeSpec) Public() any     { return s }
func (s *fakeSpec) Build(d generators.Deps) (generators.Scenario, error) {
	return &fakeScenario{spec: s, deps: d}, nil
}

type fakeScenario struct {
	spec *fakeSpec
	deps generators.Deps
}

func (f *fakeScenario) Run(ctx context.Context) error {
	f.spec.runs.Add(1)
	sc := f.deps.Metrics.Scenario(f.deps.Name, f.spec.TaskList...)
	sc.SetTargetRate(f.spec.Rate)
	<-ctx.Done()
	return nil
}

func (f *fakeScenario) Status() generators.Status {
	return generators.Status{Kind: "fake", Model: "open", TargetRate: f.spec.Rate}
}

func newLoader(runs *atomic.Int64) *Loader {
	return &Loader{Kinds: map[string]generators.Kind{"fake": fakeKind{runs}}}
}

const goodConfig = `
targets:
  phoenix: {base_url: "http://127.0.0.1:1", auth: {kind: bearer, token: s3cr3t-token}}
scenarios:
  api: {kind: fake, target: phoenix, rate: 5, tasks: [a, b]}
  ws: {kind: fake, target: phoenix, rate: 1, tasks: [c]}
`

func TestLoaderProblems(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"no scenarios", "targets: {}\n", []string{"scenarios: at least one scenario"}},
		{"unknown kind", "scenarios:\n  api: {kind: grpc}\n", []string{`line 2: scenarios.api.kind: unknown kind "grpc" (want one of fake)`}},
		{"missing kind", "scenarios:\n  api: {rate: 1}\n", []string{"scenarios.api.kind: required"}},
		{"bad name", "targets: {t: {base_url: 'http://127.0.0.1'}}\nscenarios:\n  'a b': {kind: fake, target: t, rate: 1}\n", []string{`invalid name "a b"`}},
		{"unknown target", "scenarios:\n  api: {kind: fake, target: nope, rate: 1}\n", []string{`line 2: scenarios.api.target: unknown target "nope"`}},
		{"non-loopback target", "targets:\n  t: {base_url: 'http://10.0.0.1:80'}\nscenarios:\n  api: {kind: fake, target: t, rate: 1}\n", []string{"line 2: targets.t.base_url:", "not a loopback address"}},
		{"bad auth", "targets:\n  t:\n    base_url: 'http://127.0.0.1'\n    auth: {kind: password}\nscenarios:\n  api: {kind: fake, target: t, rate: 1}\n",
			[]string{"line 4: targets.t.auth.token_url: required", "targets.t.auth.username: required"}},
		{"unknown top key", "scenarioz: {}\n", []string{`line 1: scenarioz: unknown key "scenarioz"`}},
		{"bad buckets", "global: {buckets: [1, 0.5]}\nscenarios: {}\n", []string{"global.buckets[1]: buckets must be positive and increasing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := newLoader(&atomic.Int64{}).Load(config.Source{File: "c.yaml", Data: []byte(c.yaml)})
			if err == nil {
				t.Fatal("want error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestSummaryAndSecrets(t *testing.T) {
	c, err := newLoader(&atomic.Int64{}).Load(config.Source{File: "c.yaml", Data: []byte(goodConfig)})
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Summary(); !strings.Contains(s, "2 scenario(s)") || !strings.Contains(s, "tasks: a, b") {
		t.Errorf("summary:\n%s", s)
	}
	b, _ := json.Marshal(c.Public())
	if strings.Contains(string(b), "s3cr3t") || !strings.Contains(string(b), `secret`) {
		t.Errorf("public config must mask secrets: %s", b)
	}
}

func startDaemon(t *testing.T, path string, runs *atomic.Int64) (*Daemon, *prometheus.Registry, *httptest.Server) {
	t.Helper()
	reg := prometheus.NewRegistry()
	d, err := New(Options{Source: config.Source{File: path}, Loader: newLoader(runs), Registry: reg, Lifecycle: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	deadline := time.Now().Add(5 * time.Second)
	for !d.ready.Load() {
		if time.Now().After(deadline) {
			t.Fatal("daemon not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return d, reg, srv
}

func TestReloadKeepsOldConfigOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(goodConfig), 0o644)
	runs := &atomic.Int64{}
	d, reg, srv := startDaemon(t, path, runs)

	os.WriteFile(path, []byte("scenarios:\n  api: {kind: fake, target: phoenix, rate: -1}\n"), 0o644)
	resp, err := http.Post(srv.URL+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "scenarios.api") {
		t.Errorf("bad reload: %d %s", resp.StatusCode, body)
	}
	if v := testutil.ToFloat64(d.metrics.ReloadSuccessful); v != 0 {
		t.Errorf("loadd_config_last_reload_successful = %v, want 0", v)
	}
	if st := d.Status(); len(st.Scenarios) != 2 || st.LastReload.Success {
		t.Errorf("old config must keep running: %+v", st)
	}

	// A good reload that drops "ws" and changes "api" restarts api and deletes ws's series.
	os.WriteFile(path, []byte(strings.Replace(strings.Replace(goodConfig, "rate: 5", "rate: 7", 1), "  ws: {kind: fake, target: phoenix, rate: 1, tasks: [c]}\n", "", 1)), 0o644)
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(d.metrics.ReloadSuccessful); v != 1 {
		t.Errorf("reload gauge = %v, want 1", v)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runs.Load() != 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if runs.Load() != 3 {
		t.Errorf("scenario runs = %d, want 3 (api, ws, then api again)", runs.Load())
	}
	n, err := testutil.GatherAndCount(reg, "loadd_target_rate")
	if err != nil || n != 1 {
		t.Errorf("loadd_target_rate series = %d (%v), want 1 after ws was removed", n, err)
	}
	var st Status
	get(t, srv.URL+"/api/v1/status", &st)
	if len(st.Scenarios) != 1 || st.Scenarios[0].TargetRate != 7 {
		t.Errorf("status after reload: %+v", st.Scenarios)
	}
}

func TestEndpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(goodConfig), 0o644)
	_, _, srv := startDaemon(t, path, &atomic.Int64{})
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/-/healthy", 200, "Healthy"},
		{"GET", "/-/ready", 200, "Ready"},
		{"GET", "/metrics", 200, "loadd_build_info"},
		{"GET", "/", 200, "<title>loadd status</title>"},
		{"GET", "/api/v1/status", 200, `"target_rate": 5`},
		{"GET", "/debug/pprof/", 200, "goroutine"},
		{"GET", "/debug/pprof/heap?debug=1", 200, "heap profile"},
		{"GET", "/debug/pprof/cmdline", 404, ""},
		{"GET", "/nope", 404, ""},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(b), c.body) {
			t.Errorf("%s %s = %d, body lacks %q:\n%.300s", c.method, c.path, resp.StatusCode, c.body, b)
		}
		if strings.Contains(string(b), "s3cr3t") {
			t.Errorf("%s leaks the secret", c.path)
		}
	}
}

func TestLifecycleDisabled(t *testing.T) {
	reg := prometheus.NewRegistry()
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(goodConfig), 0o644)
	d, err := New(Options{Source: config.Source{File: path}, Loader: newLoader(&atomic.Int64{}), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/-/quit", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("/-/quit without --web.enable-lifecycle = %d, want 403", resp.StatusCode)
	}
	if r, _ := http.Get(srv.URL + "/-/ready"); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/-/ready before Run = %d, want 503", r.StatusCode)
	}
}

func get(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// updScenario can change its rate in place, like a WebSocket population.
type updScenario struct {
	fakeScenario
	rate atomic.Uint64
}

func (u *updScenario) Update(spec generators.Spec) error {
	ns := spec.(*updSpec).fakeSpec
	if ns.Target != u.spec.Target {
		return errors.New("rebuild")
	}
	u.rate.Store(uint64(ns.Rate))
	return nil
}

func (u *updScenario) Status() generators.Status {
	st := u.fakeScenario.Status()
	if r := u.rate.Load(); r != 0 {
		st.TargetRate = float64(r)
	}
	return st
}

type updKind struct{ fakeKind }

func (k updKind) Decode(path string, raw map[string]any, env *generators.Env, p *config.Problems) generators.Spec {
	s := k.fakeKind.Decode(path, raw, env, p)
	if s == nil {
		return nil
	}
	return &updSpec{s.(*fakeSpec)}
}

type updSpec struct{ *fakeSpec }

func (s *updSpec) Build(d generators.Deps) (generators.Scenario, error) {
	return &updScenario{fakeScenario: fakeScenario{spec: s.fakeSpec, deps: d}}, nil
}

func TestReloadUpdatesInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	cfg := "targets: {t: {base_url: 'http://127.0.0.1:1'}}\nscenarios:\n  ws: {kind: fake, target: t, rate: 1}\n"
	os.WriteFile(path, []byte(cfg), 0o644)
	runs := &atomic.Int64{}
	reg := prometheus.NewRegistry()
	d, err := New(Options{Source: config.Source{File: path}, Registry: reg,
		Loader: &Loader{Kinds: map[string]generators.Kind{"fake": updKind{fakeKind{runs}}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for runs.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	os.WriteFile(path, []byte(strings.Replace(cfg, "rate: 1", "rate: 3", 1)), 0o644)
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if st := d.Status(); st.Scenarios[0].TargetRate != 3 {
		t.Errorf("target rate %v, want 3 after an in-place update", st.Scenarios[0].TargetRate)
	}
	if runs.Load() != 1 {
		t.Errorf("scenario restarted (%d runs): an in-place update must not rebuild it", runs.Load())
	}
}

// TestReloadRestartsOnRotatedSecret checks that a reload which changes
// only a credential restarts the scenarios (the public config, secrets
// masked, is the same), and that an unchanged file restarts nothing.
func TestReloadRestartsOnRotatedSecret(t *testing.T) {
	dir := t.TempDir()
	path, pw := filepath.Join(dir, "c.yaml"), filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("first\n"), 0o600)
	os.WriteFile(path, []byte(`
targets:
  t: {base_url: "http://127.0.0.1:1", auth: {kind: password, token_url: /auth, username: u, password_file: pw}}
scenarios:
  api: {kind: fake, target: t, rate: 1}
`), 0o644)
	runs := &atomic.Int64{}
	d, _, _ := startDaemon(t, path, runs)
	waitRuns := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for runs.Load() < want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := runs.Load(); got != want {
			t.Fatalf("scenario started %d times, want %d", got, want)
		}
	}
	waitRuns(1)
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := runs.Load(); got != 1 {
		t.Fatalf("an unchanged reload restarted the scenario (%d starts)", got)
	}
	os.WriteFile(pw, []byte("second\n"), 0o600)
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	waitRuns(2)
}
