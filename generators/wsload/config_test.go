package wsload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/schedule"
)

func mustShard(t *testing.T, i, n int) schedule.Shard {
	t.Helper()
	s, err := schedule.NewShard(i, n)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testEnv(t *testing.T) *generators.Env {
	t.Helper()
	p := &config.Problems{}
	withAuth := &generators.Target{BaseURL: "http://127.0.0.1:8080", Auth: bearer("x")}
	withAuth.Validate("targets.phoenix", "", p)
	plain := &generators.Target{BaseURL: "https://127.0.0.1:8443/api"}
	plain.Validate("targets.plain", "", p)
	if p.Len() > 0 {
		t.Fatal(p.Error())
	}
	return &generators.Env{Targets: map[string]*generators.Target{"phoenix": withAuth, "plain": plain}}
}

func decode(t *testing.T, raw map[string]any) (*Spec, *config.Problems) {
	t.Helper()
	full := map[string]any{"kind": "websocket", "target": "phoenix", "path": "/ws/notifications", "sessions": 100}
	for k, v := range raw {
		if v == nil {
			delete(full, k)
			continue
		}
		full[k] = v
	}
	p := &config.Problems{}
	s := Kind.Decode("scenarios.n", full, testEnv(t), p)
	if s == nil {
		return nil, p
	}
	return s.(*Spec), p
}

func TestDecodeDefaults(t *testing.T) {
	s, p := decode(t, nil)
	if p.Len() > 0 {
		t.Fatal(p.Error())
	}
	c := s.cfg
	if c.Auth.Mode != AuthBearer || float64(c.Ramp) != DefaultRamp || c.ReadLimit != DefaultReadLimit ||
		c.PongTimeout.D() != DefaultPongTimeout || c.Backoff.Initial.D() != DefaultBackoffInitial || c.Backoff.Max.D() != DefaultBackoffMax {
		t.Errorf("defaults not applied: %+v", c)
	}
	if s.comp.url != "ws://127.0.0.1:8080/ws/notifications" {
		t.Errorf("url = %s", s.comp.url)
	}
	s, p = decode(t, map[string]any{"target": "plain", "path": "/ws"})
	if p.Len() > 0 {
		t.Fatal(p.Error())
	}
	if s.comp.url != "wss://127.0.0.1:8443/api/ws" || s.cfg.Auth.Mode != AuthNone {
		t.Errorf("url = %s, auth = %s", s.comp.url, s.cfg.Auth.Mode)
	}
	if !strings.Contains(s.Summary(), "100 sessions at 100/s") {
		t.Errorf("summary = %q", s.Summary())
	}
}

func TestDecodeProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  map[string]any
		path string
		msg  string
	}{
		{"unknown key", map[string]any{"sesions": 3}, "scenarios.n.sesions", `unknown key "sesions"`},
		{"no target", map[string]any{"target": nil}, "scenarios.n.target", "required"},
		{"unknown target", map[string]any{"target": "nope"}, "scenarios.n.target", `unknown target "nope"`},
		{"no path", map[string]any{"path": nil}, "scenarios.n.path", "required"},
		{"zero sessions", map[string]any{"sessions": 0}, "scenarios.n.sessions", "must be between 1"},
		{"bad ramp", map[string]any{"ramp": "fast"}, "scenarios.n.ramp", "invalid rate"},
		{"bad lifetime", map[string]any{"session_lifetime": "1m±2m"}, "scenarios.n.session_lifetime", "jitter is larger than the mean"},
		{"bad auth mode", map[string]any{"auth": map[string]any{"mode": "basic"}}, "scenarios.n.auth.mode", `unknown mode "basic"`},
		{"bearer without auth", map[string]any{"target": "plain", "auth": map[string]any{"mode": "bearer"}}, "scenarios.n.auth.mode", `bearer needs auth on target "plain"`},
		{"auth message missing", map[string]any{"auth": map[string]any{"mode": "message"}}, "scenarios.n.auth.message", "required"},
		{"template syntax", map[string]any{"subscribe": "{{ .Nope"}, "scenarios.n.subscribe", "invalid template"},
		{"template field", map[string]any{"subscribe": "{{ .Nope }}"}, "scenarios.n.subscribe", "template fails"},
		{"correlation needs message", map[string]any{"correlation": "$.id"}, "scenarios.n.message", "required with correlation"},
		{"message needs id", map[string]any{"correlation": "$.id", "message": `{"a":1}`, "message_every": "1s"}, "scenarios.n.message", "must contain the correlation ID"},
		{"bad json path", map[string]any{"correlation": "$[", "message": `{{.ID}}`, "message_every": "1s"}, "scenarios.n.correlation", "invalid JSON path"},
		{"message needs interval", map[string]any{"message": "hi"}, "scenarios.n.message_every", "required when message is set"},
		{"bad source", map[string]any{"source_addresses": []any{"127.0.0.2", "127.0.0.9-127.0.0.3"}}, "scenarios.n.source_addresses[1]", "ends before it starts"},
		{"backoff order", map[string]any{"backoff": map[string]any{"initial": "10s", "max": "1s"}}, "scenarios.n.backoff.max", "must not be below"},
		{"handshake header", map[string]any{"headers": map[string]any{"Upgrade": "x"}}, "scenarios.n.headers.Upgrade", "set by the WebSocket handshake"},
		{"read limit", map[string]any{"read_limit": 10}, "scenarios.n.read_limit", "at least 128"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, p := decode(t, tc.raw)
			if s != nil {
				t.Fatalf("decoded without problems, want %s: %s", tc.path, tc.msg)
			}
			for _, pr := range p.List {
				if pr.Path == tc.path && strings.Contains(pr.Msg, tc.msg) {
					return
				}
			}
			t.Errorf("want problem at %s containing %q, got:\n%v", tc.path, tc.msg, p.Error())
		})
	}
}

func TestParseLifetime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Lifetime
		err  bool
	}{
		{"10m±1m", Lifetime{10 * time.Minute, time.Minute}, false},
		{"10m+-30s", Lifetime{10 * time.Minute, 30 * time.Second}, false},
		{"90s", Lifetime{90 * time.Second, 0}, false},
		{"0", Lifetime{}, false},
		{"1m±2m", Lifetime{}, true},
		{"soon", Lifetime{}, true},
		{"1m±x", Lifetime{}, true},
	} {
		got, err := ParseLifetime(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseLifetime(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	l := Lifetime{10 * time.Minute, time.Minute}
	if l.Pick(0) != 9*time.Minute || l.Pick(0.5) != 10*time.Minute {
		t.Errorf("Pick spans the wrong interval: %s %s", l.Pick(0), l.Pick(0.5))
	}
	if b, _ := l.MarshalText(); string(b) != "10m0s±1m0s" {
		t.Errorf("MarshalText = %s", b)
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: config.Duration(100 * time.Millisecond), Max: config.Duration(time.Second)}
	for _, tc := range []struct {
		failures int
		u        float64
		want     time.Duration
	}{
		{0, 0, 50 * time.Millisecond},
		{0, 0.999999, 100 * time.Millisecond},
		{1, 0, 100 * time.Millisecond},
		{3, 0, 400 * time.Millisecond},
		{4, 0, 500 * time.Millisecond}, // capped at max: 1s/2
		{60, 0.5, 750 * time.Millisecond},
	} {
		if got := b.Delay(tc.failures, tc.u); got.Round(time.Millisecond) != tc.want {
			t.Errorf("Delay(%d, %v) = %s, want %s", tc.failures, tc.u, got, tc.want)
		}
	}
}

func TestParseSourceAddresses(t *testing.T) {
	p := &config.Problems{}
	ips := parseSourceAddresses("s", []string{"127.0.0.2-127.0.0.8", "127.0.1.1", "::1"}, p)
	if p.Len() > 0 {
		t.Fatal(p.Error())
	}
	if len(ips) != 9 || ips[0].String() != "127.0.0.2" || ips[6].String() != "127.0.0.8" || ips[8].String() != "::1" {
		t.Errorf("expanded = %v", ips)
	}
	for _, bad := range []string{"x", "127.0.0.1-::1", "10.0.0.0-10.2.0.0", "127.0.0.1-y"} {
		p := &config.Problems{}
		if parseSourceAddresses("s", []string{bad}, p); p.Len() != 1 || p.List[0].Path != "s[0]" {
			t.Errorf("%q: problems %v", bad, p.List)
		}
	}
}

func TestFileLimitMessage(t *testing.T) {
	err := checkFileLimit("notifications", 50000, 40, 20000, 20000)
	if !errors.Is(err, ErrFileLimit) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"notifications", "50000 sessions", "LimitNOFILE", "ulimit", "--shard"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
	if err := checkFileLimit("n", 1000, 40, 20000, 20000); err != nil {
		t.Errorf("1000 sessions under 20000: %v", err)
	}
	// Build refuses before opening anything.
	s, p := decode(t, map[string]any{"sessions": 5_000_000})
	if p.Len() > 0 {
		t.Fatal(p.Error())
	}
	m := newMetrics(t)
	if _, err := s.Build(generators.Deps{Name: "n", Metrics: m}); !errors.Is(err, ErrFileLimit) {
		t.Errorf("Build with 5M sessions: %v, want ErrFileLimit", err)
	}
	// A shard's share fits.
	if _, err := s.Build(generators.Deps{Name: "n2", Metrics: m, Shard: mustShard(t, 0, 1000)}); err != nil {
		t.Errorf("Build of a 1/1000 shard: %v", err)
	}
}

func TestWriteBufferPoolIsEmpty(t *testing.T) {
	s, p := decode(t, map[string]any{"source_addresses": []any{"127.0.0.2-127.0.0.3"}})
	if p.Len() > 0 {
		t.Fatal(p.Error())
	}
	ds := newDialers(&s.cfg, s.comp)
	if len(ds) != 2 {
		t.Fatalf("dialers = %d, want one per source address", len(ds))
	}
	pool, ok := ds[0].WriteBufferPool.(*sync.Pool)
	if !ok || pool.New != nil || ds[1].WriteBufferPool != ds[0].WriteBufferPool {
		t.Errorf("write buffer pool must be one shared sync.Pool without New")
	}
	if ds[0].ReadBufferSize != bufferSize || ds[0].WriteBufferSize != bufferSize {
		t.Errorf("buffers = %d/%d, want %d", ds[0].ReadBufferSize, ds[0].WriteBufferSize, bufferSize)
	}
}

// TestTemplateFastPath renders plain-field templates without text/template
// and exactly as text/template would.
func TestTemplateFastPath(t *testing.T) {
	d := TemplateData{Token: `to"k`, Session: 7, Seq: 42, ID: "1001"}
	for _, tc := range []struct {
		src  string
		fast bool
	}{
		{`{"type":"ping","id":"{{ .ID }}","seq":{{.Seq}},"s":{{ .Session }}}`, true},
		{`{{.Token}}`, true},
		{`plain text`, true},
		{`{"token":{{ json .Token }}}`, false},
		{`{{ if .Seq }}x{{ end }}`, false},
		{`{{ $x := .ID }}{{ $x }}`, false},
	} {
		p := &config.Problems{}
		tm := compileTemplate("m", tc.src, false, p)
		if p.Len() > 0 {
			t.Fatalf("%s: %v", tc.src, p.Error())
		}
		if (tm.fast != nil) != tc.fast {
			t.Errorf("%s: fast = %v, want %v", tc.src, tm.fast != nil, tc.fast)
		}
		var got, want bytes.Buffer
		if err := tm.render(&got, d); err != nil {
			t.Fatal(err)
		}
		if err := tm.t.Execute(&want, d); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%s: fast render %q, text/template %q", tc.src, got.String(), want.String())
		}
	}
}

// TestShapeTarget follows a scheduled run's stages: they start from the
// configured sessions (1x), "2x" doubles them, an absolute target is a
// session count, and the run ends after a shape that ends at zero.
func TestShapeTarget(t *testing.T) {
	s, p := decode(t, map[string]any{"sessions": 100})
	if p.Len() > 0 {
		t.Fatal(p.Error())
	}
	two, abs, zero := schedule.StageTarget{Factor: 2}, schedule.StageTarget{PerSecond: 40}, schedule.StageTarget{}
	shape := &schedule.ShapeConfig{Stages: []schedule.StageConfig{
		{Ramp: config.Duration(10 * time.Second), To: &two},
		{Hold: config.Duration(10 * time.Second)},
		{Ramp: config.Duration(10 * time.Second), To: &abs},
		{Ramp: config.Duration(10 * time.Second), To: &zero},
	}}
	built, err := s.Build(generators.Deps{Name: "n", Metrics: newMetrics(t), Shape: shape, Shard: mustShard(t, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	sc := built.(*Scenario)
	for _, tc := range []struct {
		at   time.Duration
		want int
	}{{0, 50}, {5 * time.Second, 75}, {10 * time.Second, 100}, {15 * time.Second, 100}, {30 * time.Second, 20}, {35 * time.Second, 10}, {40 * time.Second, 0}} {
		// Shard 0 of 2 holds half of the whole population.
		if got := sc.target(tc.at); got != tc.want {
			t.Errorf("target at %s = %d, want %d", tc.at, got, tc.want)
		}
	}
	if got := sc.peak(); got != 100 {
		t.Errorf("peak = %d, want 100", got)
	}
	ctx, cancel := sc.runContext(context.Background())
	defer cancel()
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > 40*time.Second || time.Until(dl) < 39*time.Second {
		t.Errorf("run should end with the shape, after 40s: %v %v", dl, ok)
	}
}

func TestPublicMasksHeaders(t *testing.T) {
	s, p := decode(t, map[string]any{"headers": map[string]any{"X-Api-Key": "k-123"}})
	if p.Len() > 0 {
		t.Fatal(p.Error())
	}
	b, err := json.Marshal(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "k-123") || !strings.Contains(string(b), "X-Api-Key") {
		t.Errorf("public config = %s", b)
	}
	if s.comp.header.Get("X-Api-Key") != "k-123" {
		t.Errorf("the header itself must still be sent")
	}
}

// TestDocExample decodes the example of the package documentation.
func TestDocExample(t *testing.T) {
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(`
kind: websocket
target: phoenix
path: /ws/notifications
sessions: 10000
ramp: 500/s
message_every: 5s
subscribe: '{"type":"subscribe","topics":["encounters"]}'
message: '{"type":"ping","id":"{{ .ID }}"}'
correlation: $.id
source_addresses: [127.0.0.2-127.0.0.7]
`), &raw); err != nil {
		t.Fatal(err)
	}
	p := &config.Problems{}
	if Kind.Decode("scenarios.notifications", raw, testEnv(t), p) == nil {
		t.Fatal(p.Error())
	}
}
