package generators

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadd/loadd/config"
)

// tokenServer issues "tok-N" tokens valid for expiresIn seconds and records
// the login bodies it saw.
type tokenServer struct {
	*httptest.Server
	logins    atomic.Int64
	expiresIn float64
	status    int

	mu     sync.Mutex
	bodies []map[string]string
}

func newTokenServer(t *testing.T, expiresIn float64) *tokenServer {
	ts := &tokenServer{expiresIn: expiresIn, status: http.StatusOK}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.URL.Path != "/auth/token" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		ts.mu.Lock()
		ts.bodies = append(ts.bodies, body)
		ts.mu.Unlock()
		if ts.status != http.StatusOK {
			w.WriteHeader(ts.status)
			return
		}
		n := ts.logins.Add(1)
		fmt.Fprintf(w, `{"access_token":"tok-%d","expires_in":%g}`, n, ts.expiresIn)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func passwordTarget(t *testing.T, base string, renew time.Duration) *Target {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return &Target{BaseURL: base, URL: u, Auth: &AuthConfig{
		Kind: "password", TokenURL: "/auth/token", Username: "physician",
		Password: config.Secret("pw"), Extra: map[string]string{"tenant_id": "t1"},
		RenewBefore: config.Duration(renew),
	}}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestSessionLoginAndRenewal(t *testing.T) {
	ts := newTokenServer(t, 300)
	s := NewSession(passwordTarget(t, ts.URL, 30*time.Second), ts.Client())
	clk := &fakeClock{now: time.Unix(1_000_000, 0)}
	s.SetClock(clk.Now)
	ctx := context.Background()

	steps := []struct {
		advance time.Duration
		want    string
	}{
		{0, "tok-1"},                 // first use logs in
		{100 * time.Second, "tok-1"}, // well before expiry
		{169 * time.Second, "tok-1"}, // 269s: 31s left
		{2 * time.Second, "tok-2"},   // 271s: inside renew_before: renewed
		{time.Second, "tok-2"},
	}
	for i, st := range steps {
		clk.Add(st.advance)
		got, err := s.Token(ctx)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got != st.want {
			t.Fatalf("step %d: token %q, want %q", i, got, st.want)
		}
	}
	ts.mu.Lock()
	body := ts.bodies[0]
	ts.mu.Unlock()
	want := map[string]string{"grant_type": "password", "username": "physician", "password": "pw", "tenant_id": "t1"}
	if fmt.Sprint(body) != fmt.Sprint(want) {
		t.Errorf("login body %v, want %v", body, want)
	}
}

// A token living shorter than renew_before is renewed halfway through its
// life, not on every use.
func TestSessionShortLivedToken(t *testing.T) {
	ts := newTokenServer(t, 10)
	s := NewSession(passwordTarget(t, ts.URL, 0), ts.Client())
	clk := &fakeClock{now: time.Unix(1_000_000, 0)}
	s.SetClock(clk.Now)
	for range 4 {
		if _, err := s.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Second)
	}
	if n := ts.logins.Load(); n != 1 {
		t.Fatalf("%d logins within the first half of a 10s token, want 1", n)
	}
	clk.Add(2 * time.Second) // 6s: past half-life
	if tok, _ := s.Token(context.Background()); tok != "tok-2" {
		t.Fatalf("after half-life: token %q, want tok-2", tok)
	}
}

func TestSessionInvalidate(t *testing.T) {
	ts := newTokenServer(t, 0)
	s := NewSession(passwordTarget(t, ts.URL, 0), ts.Client())
	ctx := context.Background()
	tok, _ := s.Token(ctx)
	s.Invalidate("some-older-token") // a stale 401 does not drop the current token
	if again, _ := s.Token(ctx); again != tok {
		t.Fatalf("stale invalidate dropped the token: %q → %q", tok, again)
	}
	s.Invalidate(tok)
	if again, _ := s.Token(ctx); again != "tok-2" {
		t.Fatalf("after invalidate: token %q, want tok-2", again)
	}
}

func TestSessionLoginFailure(t *testing.T) {
	ts := newTokenServer(t, 0)
	ts.status = http.StatusUnauthorized
	s := NewSession(passwordTarget(t, ts.URL, 0), ts.Client())
	_, err := s.Token(context.Background())
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("error %v does not wrap ErrAuth", err)
	}
	if err.Error() != "login failed: POST /auth/token: status 401" {
		t.Errorf("message %q", err)
	}
}

func TestSessionNoAuthAndBearer(t *testing.T) {
	none := NewSession(&Target{}, http.DefaultClient)
	if tok, err := none.Token(context.Background()); tok != "" || err != nil {
		t.Errorf("no auth: %q, %v", tok, err)
	}
	b := NewSession(&Target{Auth: &AuthConfig{Kind: "bearer", Token: "static"}}, http.DefaultClient)
	if tok, err := b.Token(context.Background()); tok != "static" || err != nil {
		t.Errorf("bearer: %q, %v", tok, err)
	}
}

func TestRenewAt(t *testing.T) {
	start := time.Unix(0, 0)
	for _, tc := range []struct {
		expiresIn float64
		before    time.Duration
		want      time.Duration // after start; -1 for never
	}{
		{0, 0, -1},
		{3600, 0, 3600*time.Second - defaultRenewBefore},
		{3600, time.Minute, 3540 * time.Second},
		{20, 0, 10 * time.Second},
		{1e12, 0, -1},
	} {
		got := renewAt(start, tc.expiresIn, tc.before)
		if tc.want < 0 {
			if !got.IsZero() {
				t.Errorf("renewAt(%g, %s) = %v, want never", tc.expiresIn, tc.before, got)
			}
			continue
		}
		if d := got.Sub(start); d != tc.want {
			t.Errorf("renewAt(%g, %s) = +%s, want +%s", tc.expiresIn, tc.before, d, tc.want)
		}
	}
}
