package wsload

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/generators"
)

const (
	mSessions    = "loadd_ws_sessions"
	mTarget      = "loadd_ws_sessions_target"
	mConnect     = "loadd_ws_connect_duration_seconds"
	mRTT         = "loadd_ws_message_rtt_seconds"
	mConnFail    = "loadd_ws_connect_failures_total"
	mDisconnects = "loadd_ws_disconnects_total"
	mMessages    = "loadd_ws_messages_total"
)

func bearer(tok string) *generators.AuthConfig {
	return &generators.AuthConfig{Kind: "bearer", Token: config.Secret(tok)}
}

// TestConnectAuthSubscribeCorrelate walks the whole session state machine:
// bearer token on the upgrade, subscribe message first, then correlated
// messages whose echoed IDs give round trips.
func TestConnectAuthSubscribeCorrelate(t *testing.T) {
	var mu sync.Mutex
	var firsts []string
	srv := newWSServer(t, "secret", func(c *websocket.Conn) {
		_, b, err := c.ReadMessage()
		if err != nil {
			return
		}
		mu.Lock()
		firsts = append(firsts, string(b))
		mu.Unlock()
		echo(c)
	})
	f := newFixture(t, srv.URL, bearer("secret"), map[string]any{
		"sessions":      8,
		"subscribe":     `{"type":"subscribe","session":{{ .Session }}}`,
		"message":       `{"type":"ping","id":"{{ .ID }}","seq":{{ .Seq }}}`,
		"correlation":   "$.id",
		"message_every": "20ms",
	}, generators.Deps{})
	f.start(t)

	eventually(t, 5*time.Second, "8 open sessions", func() bool { return f.value(t, mSessions, "") == 8 })
	eventually(t, 5*time.Second, "40 round trips", func() bool { return f.value(t, mRTT, "") >= 40 })
	if got := f.value(t, mConnect, ""); got != 8 {
		t.Errorf("connect durations observed = %v, want 8", got)
	}
	if got := f.value(t, mTarget, ""); got != 8 {
		t.Errorf("sessions target = %v, want 8", got)
	}
	if got := srv.refused.Load(); got != 0 {
		t.Errorf("server refused %d upgrades: token not sent", got)
	}
	mu.Lock()
	seen := map[string]bool{}
	for _, m := range firsts {
		var v struct {
			Type    string
			Session int
		}
		if err := json.Unmarshal([]byte(m), &v); err != nil || v.Type != "subscribe" {
			t.Errorf("first message %q is not the subscribe message", m)
		}
		seen[m] = true
	}
	mu.Unlock()
	if len(seen) != 8 {
		t.Errorf("distinct subscribe messages = %d, want 8 (one per slot)", len(seen))
	}
	st := f.sc.Status()
	if st.Model != "sessions" || st.Users != 8 || st.UsersTarget != 8 || st.Completed < 40 {
		t.Errorf("status = %+v", st)
	}
	sent, recv := f.value(t, mMessages, "sent"), f.value(t, mMessages, "received")
	if sent < 48 || recv < 40 {
		t.Errorf("messages sent=%v received=%v, want ≥48 and ≥40", sent, recv)
	}
}

// TestPingPongRTT times round trips with pings when no correlation is set.
func TestPingPongRTT(t *testing.T) {
	srv := newWSServer(t, "", drain)
	f := newFixture(t, srv.URL, nil, map[string]any{"sessions": 3, "message_every": "20ms"}, generators.Deps{})
	f.start(t)
	eventually(t, 5*time.Second, "20 ping round trips", func() bool { return f.value(t, mRTT, "") >= 20 })
	if got := f.value(t, mMessages, "sent"); got != 0 {
		t.Errorf("sent %v messages without a message template", got)
	}
}

// TestAuthMessage sends the token as the first message when auth.mode is message.
func TestAuthMessage(t *testing.T) {
	got := make(chan string, 10)
	srv := newWSServer(t, "", func(c *websocket.Conn) {
		_, b, err := c.ReadMessage()
		if err == nil {
			got <- string(b)
		}
		drain(c)
	})
	f := newFixture(t, srv.URL, bearer("tok-1"), map[string]any{
		"sessions": 1,
		"auth":     map[string]any{"message": `{"type":"auth","token":{{ json .Token }}}`},
	}, generators.Deps{})
	f.start(t)
	select {
	case m := <-got:
		if m != `{"type":"auth","token":"tok-1"}` {
			t.Errorf("first message = %s", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no auth message received")
	}
}

// TestReconnectWithBackoff drops every session, then takes the server away:
// sessions come back to N, refused dials back off exponentially, and the
// reasons are counted.
func TestReconnectWithBackoff(t *testing.T) {
	srv := newWSServer(t, "", drain)
	f := newFixture(t, srv.URL, nil, map[string]any{"sessions": 5, "ramp": "10000/s",
		"backoff": map[string]any{"initial": "40ms", "max": "320ms"}}, generators.Deps{})
	f.start(t)
	eventually(t, 5*time.Second, "5 sessions", func() bool { return f.value(t, mSessions, "") == 5 })

	srv.dropAll()
	eventually(t, 5*time.Second, "5 server_close disconnects", func() bool { return f.value(t, mDisconnects, DiscServerClose) == 5 })
	eventually(t, 5*time.Second, "population back to 5", func() bool { return f.value(t, mSessions, "") == 5 && srv.live.Load() == 5 })

	// Take the listener away: dials are refused and back off.
	srv.Listener.Close()
	srv.dropAll()
	time.Sleep(1500 * time.Millisecond) // the window in which attempts are counted
	refused := f.value(t, mConnFail, ConnRefused)
	t.Logf("refused dials in 1.5s over 5 slots: %v", refused)
	// Delays per slot are at least 20, 40, 80, 160, 160… ms: ≤ 11 attempts in 1.5 s.
	if refused < 5 || refused > 5*11 {
		t.Errorf("refused dials in 1.5s = %v, want between 5 and 55 (backoff)", refused)
	}
	if f.value(t, mSessions, "") != 0 {
		t.Errorf("sessions gauge should be 0 while the target is down")
	}
}

// TestPongTimeout ends sessions whose peer stops answering pings.
func TestPongTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := newWSServer(t, "", func(c *websocket.Conn) { <-block }) // never reads: no pongs
	defer close(block)
	f := newFixture(t, srv.URL, nil, map[string]any{"sessions": 2, "message_every": "50ms", "pong_timeout": "150ms"}, generators.Deps{})
	f.start(t)
	eventually(t, 5*time.Second, "pong timeouts", func() bool { return f.value(t, mDisconnects, DiscPongTimeout) >= 2 })
}

// TestReplyTimeout ends sessions whose correlated messages go unanswered,
// even when many are sent within one pong timeout.
func TestReplyTimeout(t *testing.T) {
	srv := newWSServer(t, "", drain) // reads, answers pings, never replies
	f := newFixture(t, srv.URL, nil, map[string]any{"sessions": 2, "message": `{"id":"{{.ID}}"}`, "correlation": "$.id",
		"message_every": "10ms", "pong_timeout": "150ms"}, generators.Deps{})
	f.start(t)
	eventually(t, 5*time.Second, "reply timeouts", func() bool { return f.value(t, mDisconnects, DiscPongTimeout) >= 2 })
	if got := f.value(t, mRTT, ""); got != 0 {
		t.Errorf("round trips = %v without replies", got)
	}
}

// TestIdleAndReadLimit covers the two receive-side limits.
func TestIdleAndReadLimit(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		srv := newWSServer(t, "", drain)
		f := newFixture(t, srv.URL, nil, map[string]any{"sessions": 1, "idle_timeout": "100ms"}, generators.Deps{})
		f.start(t)
		eventually(t, 5*time.Second, "idle timeout", func() bool { return f.value(t, mDisconnects, DiscIdleTimeout) >= 1 })
	})
	t.Run("read_limit", func(t *testing.T) {
		srv := newWSServer(t, "", func(c *websocket.Conn) {
			_ = c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 4096)))
			drain(c)
		})
		f := newFixture(t, srv.URL, nil, map[string]any{"sessions": 1, "read_limit": 1024}, generators.Deps{})
		f.start(t)
		eventually(t, 5*time.Second, "read limit", func() bool { return f.value(t, mDisconnects, DiscReadLimit) >= 1 })
	})
}

// TestLifetimeChurn closes sessions at the end of their lifetime and
// reopens them at once.
func TestLifetimeChurn(t *testing.T) {
	srv := newWSServer(t, "", drain)
	f := newFixture(t, srv.URL, nil, map[string]any{"sessions": 4, "session_lifetime": "100ms±50ms"}, generators.Deps{})
	f.start(t)
	eventually(t, 5*time.Second, "12 lifetime ends", func() bool { return f.value(t, mDisconnects, DiscLifetime) >= 12 })
	eventually(t, 5*time.Second, "population back at 4", func() bool { return f.value(t, mSessions, "") == 4 })
	if n := f.value(t, mConnFail, ConnOther) + f.value(t, mDisconnects, DiscReadError); n != 0 {
		t.Errorf("churn caused %v failures", n)
	}
}

// TestShutdownCounts stops the scenario: every session ends with reason
// shutdown after a close handshake, and the gauges return to zero.
func TestShutdownCounts(t *testing.T) {
	codes := make(chan int, 16)
	srv := newWSServer(t, "", func(c *websocket.Conn) {
		_, _, err := c.ReadMessage()
		if ce, ok := err.(*websocket.CloseError); ok {
			codes <- ce.Code
		}
	})
	f := newFixture(t, srv.URL, nil, map[string]any{"sessions": 6}, generators.Deps{})
	stop := f.start(t)
	eventually(t, 5*time.Second, "6 sessions", func() bool { return f.value(t, mSessions, "") == 6 })
	stop()
	if got := f.value(t, mDisconnects, DiscShutdown); got != 6 {
		t.Errorf("shutdown disconnects = %v, want 6", got)
	}
	if f.value(t, mSessions, "") != 0 || f.value(t, mTarget, "") != 0 {
		t.Errorf("gauges not back to 0 after Run returned")
	}
	for range 6 {
		select {
		case c := <-codes:
			if c != websocket.CloseGoingAway {
				t.Errorf("close code = %d, want 1001", c)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("server did not see 6 close frames")
		}
	}
}

// TestResize grows and shrinks the running population through Update.
func TestResize(t *testing.T) {
	srv := newWSServer(t, "", drain)
	f := newFixture(t, srv.URL, nil, map[string]any{"sessions": 10}, generators.Deps{})
	f.start(t)
	eventually(t, 5*time.Second, "10 sessions", func() bool { return f.value(t, mSessions, "") == 10 })
	change := func(n int, extra map[string]any) error {
		c := f.spec.cfg
		c.Sessions = n
		for k, v := range extra {
			if k == "path" {
				c.Path = v.(string)
			}
		}
		return f.sc.Update(&Spec{cfg: c, comp: f.spec.comp})
	}
	if err := change(4, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "4 sessions", func() bool { return f.value(t, mSessions, "") == 4 && srv.live.Load() == 4 })
	if got := f.value(t, mDisconnects, DiscScaleDown); got != 6 {
		t.Errorf("scale_down disconnects = %v, want 6", got)
	}
	if err := change(7, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "7 sessions", func() bool { return f.value(t, mSessions, "") == 7 })
	if err := change(7, map[string]any{"path": "/other"}); err != ErrRebuild {
		t.Errorf("Update with a new path = %v, want ErrRebuild", err)
	}
	moved := *f.spec.comp
	tg := *moved.target
	tg.BaseURL = "http://127.0.0.1:1"
	moved.target = &tg
	if err := f.sc.Update(&Spec{cfg: f.spec.cfg, comp: &moved}); err != ErrRebuild {
		t.Errorf("Update with a moved target = %v, want ErrRebuild", err)
	}
}

// TestSourceAddresses spreads sessions over local addresses.
func TestSourceAddresses(t *testing.T) {
	srv := newWSServer(t, "", drain)
	f := newFixture(t, srv.URL, nil, map[string]any{"sessions": 6, "source_addresses": []any{"127.0.0.2-127.0.0.3", "127.0.0.4"}}, generators.Deps{})
	f.start(t)
	eventually(t, 5*time.Second, "6 sessions", func() bool { return f.value(t, mSessions, "") == 6 })
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for _, a := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		if !srv.remotes[a] {
			t.Errorf("no session came from %s (saw %v)", a, srv.remotes)
		}
	}
}

// TestShardAndScale gives this process its share of the sessions.
func TestShardAndScale(t *testing.T) {
	srv := newWSServer(t, "", drain)
	f := newFixture(t, srv.URL, nil, map[string]any{"sessions": 10}, generators.Deps{Scale: 2, Shard: mustShard(t, 1, 3)})
	if got := f.sc.Status().UsersTarget; got != 7 { // 20 split 6/7/7
		t.Errorf("target of shard 1/3 at 2x = %d, want 7", got)
	}
}

func TestObserver(t *testing.T) {
	srv := newWSServer(t, "", drain)
	f := newFixture(t, srv.URL, nil, map[string]any{"sessions": 2, "message_every": "20ms"}, generators.Deps{})
	obs := &countObserver{}
	f.sc.SetObserver(obs)
	f.start(t)
	eventually(t, 5*time.Second, "observed round trips", func() bool {
		obs.mu.Lock()
		defer obs.mu.Unlock()
		return obs.connects == 2 && obs.rtts >= 4
	})
	// The interface is assertable without naming this package's type.
	var sc generators.Scenario = f.sc
	if _, ok := sc.(interface {
		SetObserver(interface {
			ObserveRTT(string, time.Duration)
			ObserveConnect(string, bool)
		})
	}); !ok {
		t.Error("Scenario has no SetObserver taking the unnamed interface")
	}
}

type countObserver struct {
	mu             sync.Mutex
	connects, rtts int
	failed         int
}

func (c *countObserver) ObserveRTT(string, time.Duration) {
	c.mu.Lock()
	c.rtts++
	c.mu.Unlock()
}

func (c *countObserver) ObserveConnect(_ string, failed bool) {
	c.mu.Lock()
	c.connects++
	if failed {
		c.failed++
	}
	c.mu.Unlock()
}
