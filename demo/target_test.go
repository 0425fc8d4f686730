package demo

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

// fakeClock is a settable clock for token expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a target served on loopback by httptest.
type fixture struct {
	t      *testing.T
	target *Target
	srv    *httptest.Server
}

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	tg, err := NewTarget(o, nil)
	if err != nil {
		t.Fatalf("NewTarget: %v", err)
	}
	srv := httptest.NewServer(tg.Handler())
	t.Cleanup(func() {
		tg.Close()
		srv.Close()
	})
	return &fixture{t: t, target: tg, srv: srv}
}

// do sends a request with an optional token and JSON body and returns the
// status and the body.
func (f *fixture) do(method, path, token string, body any) (int, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (f *fixture) login(user, password string) string {
	f.t.Helper()
	code, b := f.do("POST", "/auth/token", "", map[string]string{
		"grant_type": "password", "username": user, "password": password, "tenant_id": "t1"})
	if code != http.StatusOK {
		f.t.Fatalf("login %s: status %d: %s", user, code, b)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &tr); err != nil || tr.AccessToken == "" || tr.TokenType != "bearer" || tr.ExpiresIn <= 0 {
		f.t.Fatalf("login reply %s: %+v %v", b, tr, err)
	}
	return tr.AccessToken
}

func TestAuthToken(t *testing.T) {
	f := newFixture(t, Options{AdminPassword: "s3cret"})
	tests := []struct {
		name string
		body string
		want int
	}{
		{"physician default password", `{"grant_type":"password","username":"physician","password":"physician-password"}`, 200},
		{"admin own password", `{"grant_type":"password","username":"admin","password":"s3cret","tenant_id":"admin-tenant"}`, 200},
		{"admin default password refused", `{"grant_type":"password","username":"admin","password":"admin-password"}`, 401},
		{"wrong password", `{"grant_type":"password","username":"physician","password":"nope"}`, 401},
		{"unknown user", `{"grant_type":"password","username":"mallory","password":"x"}`, 401},
		{"other grant", `{"grant_type":"client_credentials","username":"physician","password":"physician-password"}`, 400},
		{"not JSON", `grant_type=password`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(f.srv.URL+"/auth/token", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

func TestBearerRequired(t *testing.T) {
	f := newFixture(t, Options{})
	for _, rt := range routes {
		if rt.role == "" {
			continue
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.ReplaceAll(path, "{id}", "enc-000001")
		for _, tok := range []string{"", "not-a-token"} {
			if code, _ := f.do(method, path, tok, nil); code != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q: status %d, want 401", method, path, tok, code)
			}
		}
	}
}

func TestTokenExpiry(t *testing.T) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newFixture(t, Options{TokenTTL: 90 * time.Second, Now: clock.Now})
	code, b := f.do("POST", "/auth/token", "", map[string]string{"grant_type": "password", "username": "physician", "password": "physician-password"})
	if code != 200 || !strings.Contains(string(b), `"expires_in":90`) {
		t.Fatalf("login: %d %s, want expires_in 90", code, b)
	}
	tok := f.login("physician", "physician-password")
	clock.Advance(89 * time.Second)
	if code, _ := f.do("GET", "/dashboard/metrics", tok, nil); code != 200 {
		t.Fatalf("before expiry: status %d, want 200", code)
	}
	clock.Advance(time.Second)
	if code, _ := f.do("GET", "/dashboard/metrics", tok, nil); code != 401 {
		t.Fatalf("at expiry: status %d, want 401", code)
	}
	tok = f.login("physician", "physician-password")
	if code, _ := f.do("GET", "/dashboard/metrics", tok, nil); code != 200 {
		t.Fatalf("after fresh login: status %d, want 200", code)
	}
}

func TestAdminOnly(t *testing.T) {
	f := newFixture(t, Options{})
	doc := f.login("physician", "physician-password")
	adm := f.login("admin", "admin-password")
	for _, path := range []string{"/admin/dashboard", "/admin/audit/logs?limit=10&days=1"} {
		if code, _ := f.do("GET", path, doc, nil); code != http.StatusForbidden {
			t.Errorf("physician GET %s: %d, want 403", path, code)
		}
		if code, b := f.do("GET", path, adm, nil); code != http.StatusOK {
			t.Errorf("admin GET %s: %d %s, want 200", path, code, b)
		}
	}
	// The audit log saw both logins, newest first.
	_, b := f.do("GET", "/admin/audit/logs?limit=2", adm, nil)
	var got struct{ Items []auditEntry }
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 2 || got.Items[0].User != "admin" || got.Items[1].User != "physician" {
		t.Errorf("audit log %s: want admin then physician logins", b)
	}
	if code, _ := f.do("GET", "/admin/audit/logs?days=0", adm, nil); code != 400 {
		t.Errorf("days=0: %d, want 400", code)
	}
}

func TestStatsCount(t *testing.T) {
	f := newFixture(t, Options{})
	tok := f.login("physician", "physician-password")
	for range 7 {
		f.do("GET", "/encounters", tok, nil)
	}
	for range 3 {
		f.do("GET", "/encounters/enc-999999", tok, nil) // 404 still counts
	}
	f.do("GET", "/admin/dashboard", tok, nil) // 403 still counts
	f.do("GET", "/-/stats", "", nil)          // control routes are not counted
	want := map[string]uint64{"auth_token": 1, "list_encounters": 7, "view_encounter": 3, "admin_dashboard": 1}
	got := f.target.Stats()
	if len(got) != len(routes) {
		t.Errorf("Stats has %d routes, want every one of %d", len(got), len(routes))
	}
	for name, n := range got {
		if n != want[name] {
			t.Errorf("Stats()[%s] = %d, want %d", name, n, want[name])
		}
	}
	_, b := f.do("GET", "/-/stats", "", nil)
	var js struct{ Routes map[string]routeStatsJSON }
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	if r := js.Routes["view_encounter"]; r.Requests != 3 || r.Codes["404"] != 3 {
		t.Errorf("/-/stats view_encounter = %+v, want 3 requests, 3×404", r)
	}
	if r := js.Routes["admin_dashboard"]; r.Codes["403"] != 1 {
		t.Errorf("/-/stats admin_dashboard = %+v, want 1×403", r)
	}
}

func TestNewTargetValidates(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"negative ttl", Options{TokenTTL: -time.Second}, "token_ttl: -1s must not be negative"},
		{"negative encounters", Options{Encounters: -1}, "encounters: -1 must not be negative"},
		{"seed above cap", Options{Encounters: 20, MaxEncounters: 10}, "encounters: 20 seeded is above max_encounters 10"},
		{"unknown route", Options{Faults: map[string]Fault{"nope": {}}}, "faults: nope: unknown route"},
		{"bad ratio", Options{Faults: map[string]Fault{"*": {ErrorRatio: 2}}}, "faults: *: error_ratio 2 must be between 0 and 1"},
		{"bad code", Options{Faults: map[string]Fault{"list_encounters": {ErrorCode: 404}}}, "faults: list_encounters: error_code 404 must be a 5xx status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewTarget(tc.o, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewTarget error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestAddFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    map[string]Fault
		wantErr string
	}{
		{"none", nil, nil, ""},
		{"all routes", []string{"--target.latency=20ms", "--target.jitter=10ms", "--target.error-ratio=1%", "--target.error-code=503"},
			map[string]Fault{"*": {Base: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, ErrorRatio: 0.01, ErrorCode: 503}}, ""},
		{"per route", []string{`--target.faults={"list_encounters":{"base":"50ms","dist":"exponential","jitter":"5ms"}}`},
			map[string]Fault{"list_encounters": {Base: 50 * time.Millisecond, Jitter: 5 * time.Millisecond, Dist: DistExponential}}, ""},
		{"bad dist", []string{"--target.latency-dist=normal"}, nil, `dist "normal" must be uniform or exponential`},
		{"bad route", []string{`--target.faults={"x":{}}`}, nil, "x: unknown route"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := kingpin.New("t", "")
			var o Options
			AddFlags(app.Command("target", ""), &o)
			_, err := app.Parse(append([]string{"target"}, tc.args...))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.PhysicianPassword != DefaultPhysicianPassword || o.TokenTTL != DefaultTokenTTL || o.Encounters != DefaultEncounters {
				t.Errorf("defaults not applied: %+v", o)
			}
			if len(o.Faults) != len(tc.want) {
				t.Fatalf("faults %+v, want %+v", o.Faults, tc.want)
			}
			for k, v := range tc.want {
				if o.Faults[k] != v {
					t.Errorf("faults[%s] = %+v, want %+v", k, o.Faults[k], v)
				}
			}
			if _, err := NewTarget(o, nil); err != nil {
				t.Errorf("NewTarget from flags: %v", err)
			}
		})
	}
}
