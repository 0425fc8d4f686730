package demo

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsTarget serves a demo target and returns it with a physician token.
func wsTarget(t *testing.T) (*Target, *httptest.Server, string) {
	t.Helper()
	tg, err := NewTarget(Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tg.Handler())
	t.Cleanup(func() {
		tg.Close()
		srv.Close()
	})
	resp, err := http.Post(srv.URL+"/auth/token", "application/json",
		strings.NewReader(`{"grant_type":"password","username":"physician","password":"`+DefaultPhysicianPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("login: %v", err)
	}
	return tg, srv, tok.AccessToken
}

func wsDial(t *testing.T, srv *httptest.Server, tok string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws/notifications", h)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

func wsPost(t *testing.T, srv *httptest.Server, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func wsStatsOf(t *testing.T, srv *httptest.Server) wsStats {
	t.Helper()
	resp, err := http.Get(srv.URL + "/-/ws/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s wsStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// readUntil reads messages until one contains want, failing after 3 s.
func readUntil(t *testing.T, c *websocket.Conn, want string) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		if strings.Contains(string(b), want) {
			return string(b)
		}
	}
}

func TestWSAuth(t *testing.T) {
	_, srv, tok := wsTarget(t)
	if _, resp, err := wsDial(t, srv, "forged"); !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged token: err %v, want 401", err)
	}
	// No token on the upgrade: the first message must carry one.
	c, _, err := wsDial(t, srv, "")
	if err != nil {
		t.Fatal(err)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"auth","token":"forged"}`))
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Errorf("bad auth message: %v, want close 1008", err)
	}
	c, _, err = wsDial(t, srv, "")
	if err != nil {
		t.Fatal(err)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"auth","token":"`+tok+`"}`))
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"id":"a1"}`))
	readUntil(t, c, `"id":"a1"`)
	if s := wsStatsOf(t, srv); s.Rejected != 2 || s.Accepted != 1 {
		t.Errorf("stats = %+v, want 2 rejected, 1 accepted", s)
	}
}

func TestWSAckEchoPush(t *testing.T) {
	_, srv, tok := wsTarget(t)
	if code, body := wsPost(t, srv, "/-/ws/push", `{"every":"100ms"}`); code != http.StatusOK {
		t.Fatalf("push: %d %s", code, body)
	}
	c, _, err := wsDial(t, srv, tok)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","id":42}`))
	if got := readUntil(t, c, `"ack"`); got != `{"type":"ack","id":42}` {
		t.Errorf("ack = %s", got)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte(`hello`))
	readUntil(t, c, "hello")
	readUntil(t, c, `"type":"event"`)
	wsWaitFor(t, "a push counted", func() bool { return wsStatsOf(t, srv).Pushed >= 1 })
	if s := wsStatsOf(t, srv); s.Sessions != 1 || s.Received != 2 {
		t.Errorf("stats = %+v", s)
	}
	if code, _ := wsPost(t, srv, "/-/ws/push", `{"every":"1ms"}`); code != http.StatusBadRequest {
		t.Errorf("push every 1ms accepted")
	}
}

func TestWSDrop(t *testing.T) {
	_, srv, tok := wsTarget(t)
	var conns []*websocket.Conn
	for range 4 {
		c, _, err := wsDial(t, srv, tok)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	wsWaitFor(t, "4 sessions", func() bool { return wsStatsOf(t, srv).Sessions == 4 })
	code, body := wsPost(t, srv, "/-/ws/drop", `{"fraction":1,"code":1012}`)
	if code != http.StatusOK || !strings.Contains(body, `"dropped":4`) {
		t.Fatalf("drop: %d %s", code, body)
	}
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseServiceRestart {
			t.Errorf("dropped session read %v, want close 1012", err)
		}
	}
	for _, bad := range []string{`{"fraction":0}`, `{"fraction":1,"code":7}`, `{"share":1}`} {
		if code, _ := wsPost(t, srv, "/-/ws/drop", bad); code != http.StatusBadRequest {
			t.Errorf("drop %s: %d, want 400", bad, code)
		}
	}
}

// TestWSStall: while stalled, pings get no pong and messages no answer;
// afterwards the answer arrives.
func TestWSStall(t *testing.T) {
	_, srv, tok := wsTarget(t)
	c, _, err := wsDial(t, srv, tok)
	if err != nil {
		t.Fatal(err)
	}
	pongs := make(chan time.Time, 4)
	c.SetPongHandler(func(string) error { pongs <- time.Now(); return nil })
	if code, body := wsPost(t, srv, "/-/ws/stall", `{"duration":"400ms"}`); code != http.StatusOK {
		t.Fatalf("stall: %d %s", code, body)
	}
	start := time.Now()
	_ = c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"id":7}`))
	readUntil(t, c, `"id":7`)
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Errorf("answer came after %s, during the 400ms stall", d)
	}
	// A ping sent during the stall is either dropped (the reader was in a
	// read) or answered once the stall ends (the reader was waiting it
	// out): never answered while it lasts.
	select {
	case at := <-pongs:
		if d := at.Sub(start); d < 350*time.Millisecond {
			t.Errorf("a ping sent during the stall was answered after %s, within the 400ms stall", d)
		}
	default:
	}
	_ = c.WriteControl(websocket.PingMessage, []byte("q"), time.Now().Add(time.Second))
	go func() { _, _, _ = c.ReadMessage() }() // pongs are handled while reading
	select {
	case <-pongs:
	case <-time.After(3 * time.Second):
		t.Errorf("no pong after the stall")
	}
}

// TestWSCloseEndsSessions: closing the target closes its sessions with 1001.
func TestWSCloseEndsSessions(t *testing.T) {
	tg, srv, tok := wsTarget(t)
	c, _, err := wsDial(t, srv, tok)
	if err != nil {
		t.Fatal(err)
	}
	wsWaitFor(t, "1 session", func() bool { return wsStatsOf(t, srv).Sessions == 1 })
	tg.Close()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("after Close: %v, want close 1001", err)
	}
}

func wsWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
