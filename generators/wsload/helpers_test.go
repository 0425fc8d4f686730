package wsload

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
)

// wsServer is a WebSocket peer for tests: it upgrades on any path, checks
// a bearer token when one is set, and hands each connection to handle.
type wsServer struct {
	*httptest.Server
	token    string
	handle   func(c *websocket.Conn)
	upgrades atomic.Int64
	live     atomic.Int64
	refused  atomic.Int64

	mu      sync.Mutex
	conns   []*websocket.Conn
	remotes map[string]bool
}

func newWSServer(t *testing.T, token string, handle func(c *websocket.Conn)) *wsServer {
	t.Helper()
	s := &wsServer{token: token, handle: handle, remotes: map[string]bool{}}
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.token != "" && r.Header.Get("Authorization") != "Bearer "+s.token {
			s.refused.Add(1)
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.upgrades.Add(1)
		s.live.Add(1)
		defer s.live.Add(-1)
		s.mu.Lock()
		s.conns = append(s.conns, c)
		host, _, _ := strings.Cut(r.RemoteAddr, ":")
		s.remotes[host] = true
		s.mu.Unlock()
		defer c.Close()
		s.handle(c)
	}))
	t.Cleanup(func() {
		s.dropAll()
		s.Close()
	})
	return s
}

// dropAll closes every server-side connection with a close frame.
func (s *wsServer) dropAll() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"), time.Now().Add(time.Second))
		c.Close()
	}
}

// echo reads until the connection ends and answers every text message
// with itself (so a {"id":…} message carries its ID back).
func echo(c *websocket.Conn) {
	for {
		mt, b, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(mt, b); err != nil {
			return
		}
	}
}

// drain reads (answering pings) until the connection ends.
func drain(c *websocket.Conn) {
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

// fixture decodes a scenario against a target at url and builds it.
type fixture struct {
	reg  *prometheus.Registry
	m    *exporter.Metrics
	spec *Spec
	sc   *Scenario
}

func newFixture(t *testing.T, url string, auth *generators.AuthConfig, raw map[string]any, d generators.Deps) *fixture {
	t.Helper()
	target := &generators.Target{BaseURL: url, Auth: auth}
	p := &config.Problems{}
	target.Validate("targets.t", "", p)
	base := map[string]any{"kind": "websocket", "target": "t", "path": "/ws", "sessions": 5, "ramp": "1000/s",
		"backoff": map[string]any{"initial": "20ms", "max": "200ms"}}
	for k, v := range raw {
		base[k] = v
	}
	spec := Kind.Decode("scenarios.ws", base, &generators.Env{Targets: map[string]*generators.Target{"t": target}}, p)
	if p.Len() > 0 {
		t.Fatalf("config problems:\n%v", p.Error())
	}
	reg := prometheus.NewRegistry()
	m, err := exporter.New(reg, exporter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Name, d.Metrics = "ws", m
	if d.Grace == 0 {
		d.Grace = 2 * time.Second
	}
	sc, err := spec.Build(d)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{reg: reg, m: m, spec: spec.(*Spec), sc: sc.(*Scenario)}
}

// start runs the scenario until the test ends (or stop is called).
func (f *fixture) start(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.sc.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return within 10s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// value returns the value of a counter/gauge, or the sample count of a
// histogram, of the ws metric name with the given reason/direction label.
func (f *fixture) value(t *testing.T, name, label string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && !hasLabelValue(m, label) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func hasLabelValue(m *dto.Metric, v string) bool {
	for _, lp := range m.GetLabel() {
		if lp.GetName() != exporter.LabelScenario && lp.GetValue() == v {
			return true
		}
	}
	return false
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newMetrics(t *testing.T) *exporter.Metrics {
	t.Helper()
	m, err := exporter.New(prometheus.NewRegistry(), exporter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
