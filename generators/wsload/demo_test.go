package wsload

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/demo"
	"github.com/loadd/loadd/generators"
)

// TestAgainstDemoTarget runs a population against the demo target's
// /ws/notifications: password login, bearer upgrade, correlated acks,
// pushes; then the target drops half the sessions and stalls.
func TestAgainstDemoTarget(t *testing.T) {
	tg, err := demo.NewTarget(demo.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tg.Handler())
	defer srv.Close()
	defer tg.Close()
	post := func(path, body string) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
	post("/-/ws/push", `{"every":"200ms"}`)

	auth := &generators.AuthConfig{Kind: "password", TokenURL: "/auth/token", Username: "physician", Password: config.Secret(demo.DefaultPhysicianPassword)}
	f := newFixture(t, srv.URL, auth, map[string]any{
		"path":          "/ws/notifications",
		"sessions":      20,
		"subscribe":     `{"type":"subscribe","topics":["encounters"]}`,
		"message":       `{"type":"ping","id":"{{ .ID }}"}`,
		"correlation":   "$.id",
		"message_every": "50ms",
		"pong_timeout":  "300ms",
	}, generators.Deps{})
	f.start(t)
	eventually(t, 5*time.Second, "20 sessions", func() bool { return f.value(t, mSessions, "") == 20 })
	eventually(t, 5*time.Second, "100 round trips", func() bool { return f.value(t, mRTT, "") >= 100 })
	// Pushes arrive besides acks.
	eventually(t, 5*time.Second, "pushes", func() bool {
		return f.value(t, mMessages, "received") > f.value(t, mRTT, "")+20
	})

	post("/-/ws/drop", `{"fraction":0.5}`)
	eventually(t, 5*time.Second, "server_close disconnects", func() bool { return f.value(t, mDisconnects, DiscServerClose) >= 1 })
	eventually(t, 5*time.Second, "population back to 20", func() bool { return f.value(t, mSessions, "") == 20 })

	post("/-/ws/stall", `{"duration":"1s"}`)
	eventually(t, 5*time.Second, "pong timeouts", func() bool { return f.value(t, mDisconnects, DiscPongTimeout) >= 20 })
	eventually(t, 10*time.Second, "population back to 20 after the stall", func() bool { return f.value(t, mSessions, "") == 20 })
	if n := f.value(t, mConnFail, ConnAuth); n != 0 {
		t.Errorf("auth failures: %v", n)
	}
}
