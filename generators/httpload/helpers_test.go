package httpload

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
)

const scenarioPath = "scenarios.api"

// decodeYAML decodes a scenario's YAML against targets.
func decodeYAML(t testing.TB, src string, targets map[string]*generators.Target) (generators.Spec, *config.Problems) {
	t.Helper()
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(src), &raw); err != nil {
		t.Fatalf("test YAML: %v", err)
	}
	return decodeYAMLMap(raw, targets)
}

// decodeYAMLMap decodes a scenario's raw map against targets.
func decodeYAMLMap(raw map[string]any, targets map[string]*generators.Target) (generators.Spec, *config.Problems) {
	p := &config.Problems{}
	return Kind.Decode(scenarioPath, raw, &generators.Env{Targets: targets}, p), p
}

// mustTarget validates a target at base (with optional auth).
func mustTarget(t testing.TB, base string, auth *generators.AuthConfig) *generators.Target {
	t.Helper()
	tg := &generators.Target{BaseURL: base, Auth: auth}
	p := &config.Problems{}
	tg.Validate("targets.phoenix", "", p)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	return tg
}

// passwordAuth logs in as physician/pw at /auth/token.
func passwordAuth() *generators.AuthConfig {
	return &generators.AuthConfig{Kind: "password", TokenURL: "/auth/token", Username: "physician", Password: "pw"}
}

// build decodes src against a target and builds it with deps d.
func build(t testing.TB, src string, target *generators.Target, d generators.Deps) (*scenario, *prometheus.Registry) {
	t.Helper()
	s, p := decodeYAML(t, src, map[string]*generators.Target{"phoenix": target})
	if err := p.Err(); err != nil {
		t.Fatalf("decode: %v", err)
	}
	reg := prometheus.NewRegistry()
	m, err := exporter.New(reg, exporter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Metrics = m
	if d.Name == "" {
		d.Name = "api"
	}
	sc, err := s.Build(d)
	if err != nil {
		t.Fatal(err)
	}
	return sc.(*scenario), reg
}

// runFor runs sc until it ends by itself (Duration) and fails the test if
// that takes longer than limit.
func runFor(t testing.TB, sc *scenario, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(limit + 5*time.Second):
		t.Fatal("Run did not return")
	}
}

// metricValue returns the value of the counter or gauge name whose labels
// include want (0 when there is none).
func metricValue(t testing.TB, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// phoenix is a small fake of the target API: token logins, encounters with
// IDs, a cookie, and a switch that refuses tokens.
type phoenix struct {
	*httptest.Server
	logins   atomic.Int64
	requests atomic.Int64
	// refuse makes every bearer token issued before it invalid.
	refuseBefore atomic.Int64

	mu       sync.Mutex
	seen     []*http.Request
	mrns     []string
	users    []string // username:password of every login
	nextID   int
	ids      map[string]bool
	cookieOK atomic.Int64
}

func newPhoenix(t testing.TB) *phoenix {
	ph := &phoenix{ids: map[string]bool{"e-1": true, "e-2": true, "e-3": true}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/token", func(w http.ResponseWriter, r *http.Request) {
		var login map[string]string
		if err := json.NewDecoder(r.Body).Decode(&login); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ph.mu.Lock()
		ph.users = append(ph.users, login["username"]+":"+login["password"])
		ph.mu.Unlock()
		n := ph.logins.Add(1)
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s" + strconv.FormatInt(n, 10)})
		fmt.Fprintf(w, `{"access_token":"tok-%d","expires_in":3600}`, n)
	})
	mux.HandleFunc("GET /encounters", ph.guard(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"items":[{"id":"e-1"},{"id":"e-2"},{"id":"e-3"}],"total":3}`)
	}))
	mux.HandleFunc("POST /encounters", ph.guard(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ph.mu.Lock()
		ph.mrns = append(ph.mrns, fmt.Sprint(body["patient_mrn"]))
		ph.nextID++
		id := fmt.Sprintf("n-%d", ph.nextID)
		ph.ids[id] = true
		ph.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q,"patient_mrn":%q}`, id, body["patient_mrn"])
	}))
	mux.HandleFunc("GET /encounters/{id}", ph.guard(func(w http.ResponseWriter, r *http.Request) {
		ph.mu.Lock()
		ok := ph.ids[r.PathValue("id")]
		ph.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"id":%q,"status":"active"}`, r.PathValue("id"))
	}))
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	})
	ph.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ph.requests.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(ph.Close)
	return ph
}

// guard records the request and enforces bearer tokens when a token was
// presented or logins happened.
func (ph *phoenix) guard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ph.mu.Lock()
		ph.seen = append(ph.seen, r.Clone(context.Background()))
		ph.mu.Unlock()
		if c, err := r.Cookie("sid"); err == nil && c.Value != "" {
			ph.cookieOK.Add(1)
		}
		if auth := r.Header.Get("Authorization"); auth != "" {
			n, err := strconv.ParseInt(strings.TrimPrefix(auth, "Bearer tok-"), 10, 64)
			if err != nil || n <= ph.refuseBefore.Load() {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		h(w, r)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
