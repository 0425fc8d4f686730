package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/loadd/loadd/internal/tooltest"
)

// wsConfig is a loadd config holding sessions against the WebSocket
// endpoint path of the server at addr, with correlated messages.
func wsConfig(addr, auth, path string, sessions int, extra string) string {
	return fmt.Sprintf(`
targets:
  ws:
    base_url: http://%s
%s
scenarios:
  notifications:
    kind: websocket
    target: ws
    path: %s
    sessions: %d
    ramp: 500/s
    message_every: 200ms
    message: '{"type":"ping","id":"{{ .ID }}"}'
    correlation: $.id
    pong_timeout: 2s
    backoff: {initial: 100ms, max: 1s}
%s`, addr, auth, path, sessions, extra)
}

const demoAuth = `    auth: {kind: password, token_url: /auth/token, username: physician, password: physician-password}`

// wsValue scrapes loadd and sums a loadd_ws_* family, optionally one reason.
func wsValue(t *testing.T, addr, name, reason string) float64 {
	t.Helper()
	match := map[string]string{"scenario": "notifications"}
	if reason != "" {
		match["reason"] = reason
	}
	return Sum(Scrape(t, addr), name, match)
}

func waitSessions(t *testing.T, addr string, want float64, within time.Duration) {
	t.Helper()
	Eventually(t, within, func() error {
		if got := wsValue(t, addr, "loadd_ws_sessions", ""); got != want {
			return fmt.Errorf("loadd_ws_sessions = %v, want %v", got, want)
		}
		return nil
	})
}

// TestWebSocketTargetRestart holds 100 sessions against the demo target,
// kills the target, and restarts it: the population returns to 100, the
// refused reconnects back off instead of storming, the reasons are
// counted, and loadd neither panics nor loses count on shutdown. Then the
// target stalls: sessions time out and come back.
func TestWebSocketTargetRestart(t *testing.T) {
	target := DemoTarget(t)
	addr := target.Addr
	cfg := WriteFile(t, "loadd.yaml", wsConfig(addr, demoAuth, "/ws/notifications", 100, ""))
	loadd := LoaddRun(t, cfg)
	waitSessions(t, loadd.Addr, 100, 20*time.Second)
	Eventually(t, 10*time.Second, func() error {
		if n := wsValue(t, loadd.Addr, "loadd_ws_message_rtt_seconds", ""); n < 200 {
			return fmt.Errorf("%v round trips so far", n)
		}
		return nil
	})

	target.Kill()
	waitSessions(t, loadd.Addr, 0, 10*time.Second)
	before := wsValue(t, loadd.Addr, "loadd_ws_connect_failures_total", "refused")
	time.Sleep(3 * time.Second)
	refused := wsValue(t, loadd.Addr, "loadd_ws_connect_failures_total", "refused") - before
	// Backoff 100ms doubling to 1s (with jitter ≥ half) allows at most
	// about 8 attempts per session in 3 s; without it, the 500/s ramp
	// would allow 1,500.
	if refused < 100 || refused > 800 {
		t.Errorf("refused reconnects in 3 s = %v, want 100..800 (backoff)", refused)
	}
	// The kill is seen by the reader (read_error) or, when a message was
	// being sent at that moment, by its writer (write_error).
	if n := wsValue(t, loadd.Addr, "loadd_ws_disconnects_total", "read_error") +
		wsValue(t, loadd.Addr, "loadd_ws_disconnects_total", "write_error"); n != 100 {
		t.Errorf("read_error + write_error disconnects after the kill = %v, want 100\n%s", n, wsReasons(t, loadd.Addr))
	}

	restarted := Start(t, loaddBin, "target", "--target.listen-address="+addr)
	restarted.WaitListen(20 * time.Second)
	waitSessions(t, loadd.Addr, 100, 20*time.Second)
	// The new target forgot the old token: upgrades were refused with 401
	// until loadd logged in again.
	t.Logf("auth failures after the restart: %v", wsValue(t, loadd.Addr, "loadd_ws_connect_failures_total", "auth"))
	var stats struct {
		Sessions int `json:"sessions"`
	}
	GetJSON(t, "http://"+addr+"/-/ws/stats", &stats)
	if stats.Sessions != 100 {
		t.Errorf("the target holds %d sessions, loadd 100", stats.Sessions)
	}

	// A stalled target answers nothing: every session times out (2 s)
	// and the population comes back once the stall is over.
	if code, body := Post(t, "http://"+addr+"/-/ws/stall", `{"duration":"3s"}`); code != 200 {
		t.Fatalf("stall: %d %s", code, body)
	}
	Eventually(t, 10*time.Second, func() error {
		if n := wsValue(t, loadd.Addr, "loadd_ws_disconnects_total", "pong_timeout"); n < 100 {
			return fmt.Errorf("%v pong timeouts", n)
		}
		return nil
	})
	waitSessions(t, loadd.Addr, 100, 20*time.Second)

	if code := loadd.Stop(); code != 0 {
		t.Errorf("loadd exited %d", code)
	}
	out := loadd.Output()
	if strings.Contains(out, "panic") {
		t.Errorf("loadd panicked:\n%s", tail(out, 4000))
	}
	if !strings.Contains(out, "Session population reached its target") {
		t.Errorf("no ramp completion logged")
	}
}

// TestWebSocketWebsocketd holds sessions against Debian's websocketd (a
// server loadd did not write) running cat: every message comes back as
// is, so correlation IDs match.
func TestWebSocketWebsocketd(t *testing.T) {
	bin := tooltest.Path(t, "websocketd")
	addr := FreeAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	wsd := Start(t, bin, "--address="+host, "--port="+port, "--loglevel=error", "cat")
	Eventually(t, 10*time.Second, func() error {
		if wsd.Exited() {
			t.Fatalf("websocketd exited:\n%s", wsd.Output())
		}
		return wsProbe(addr)
	})
	cfg := WriteFile(t, "loadd.yaml", wsConfig(addr, "", "/", 10, ""))
	loadd := LoaddRun(t, cfg)
	waitSessions(t, loadd.Addr, 10, 20*time.Second)
	Eventually(t, 10*time.Second, func() error {
		if n := wsValue(t, loadd.Addr, "loadd_ws_message_rtt_seconds", ""); n < 50 {
			return fmt.Errorf("%v round trips so far", n)
		}
		return nil
	})
	if code := loadd.Stop(); code != 0 {
		t.Errorf("loadd exited %d", code)
	}
	out := loadd.Output()
	for _, bad := range []string{"panic", "level=error"} {
		if strings.Contains(out, bad) {
			t.Errorf("loadd output has %q:\n%s", bad, tail(out, 4000))
		}
	}
}

// wsProbe reports whether something accepts TCP connections at addr.
func wsProbe(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// wsReasons lists the non-zero disconnect and connect-failure counts.
func wsReasons(t *testing.T, addr string) string {
	t.Helper()
	var b strings.Builder
	fams := Scrape(t, addr)
	for _, name := range []string{"loadd_ws_disconnects_total", "loadd_ws_connect_failures_total"} {
		for _, m := range fams[name].GetMetric() {
			if v := m.GetCounter().GetValue(); v > 0 {
				fmt.Fprintf(&b, "%s%v %v\n", name, m.GetLabel(), v)
			}
		}
	}
	return b.String()
}
