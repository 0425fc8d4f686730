package demo

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log/level"
	"github.com/gorilla/websocket"
)

// WebSocket routes (registered by registerWebSocket):
//
//	GET  /ws/notifications  upgrade; token in "Authorization: Bearer", in
//	                        ?access_token=, or in a first message
//	                        {"type":"auth","token":"…"} sent within 5 s.
//	                        Every JSON message with an "id" is answered
//	                        {"type":"ack","id":<same>}; other messages are
//	                        echoed. Each session gets {"type":"event",…}
//	                        pushes every 5 s (see /-/ws/push).
//	GET  /-/ws/stats        {"sessions","accepted","rejected","received","sent","pushed","dropped"}
//	POST /-/ws/drop         {"fraction": 0.5, "code": 1001, "abrupt": false}: close that
//	                        share of the sessions (abrupt: without a close frame)
//	POST /-/ws/stall        {"duration": "10s"}: stop reading, answering and pushing
//	POST /-/ws/push         {"every": "1s"}: push interval; "0s" stops pushes
const (
	wsAuthWait     = 5 * time.Second
	wsWriteWait    = time.Second
	wsDefaultPush  = 5 * time.Second
	wsPushTick     = 100 * time.Millisecond
	wsMaxMessage   = 64 << 10
	wsBufferSize   = 1024
	wsCloseTimeout = time.Second
)

// wsHub holds the WebSocket sessions of one Target. It is created in
// registerWebSocket and reached only through the handlers' closures.
type wsHub struct {
	t        *Target
	upgrader websocket.Upgrader
	start    sync.Once

	bufs sync.Pool // read buffers, shared: idle sessions hold none

	mu    sync.Mutex
	conns map[*wsConn]struct{}

	seq        atomic.Uint64
	pushEvery  atomic.Int64 // nanoseconds; 0 disables pushes
	stallUntil atomic.Int64 // unix nanoseconds

	accepted, rejected, received, sent, pushed, dropped atomic.Uint64
}

// wsConn is one server-side session. Writes are serialised by mu: the
// reader answers, the push loop pushes.
type wsConn struct {
	c      *websocket.Conn
	bucket uint64
	mu     sync.Mutex
}

func (t *Target) registerWebSocket(mux *http.ServeMux) {
	h := &wsHub{t: t, conns: map[*wsConn]struct{}{}}
	h.bufs.New = func() any { return new(bytes.Buffer) }
	h.pushEvery.Store(int64(wsDefaultPush))
	h.upgrader = websocket.Upgrader{
		ReadBufferSize:  wsBufferSize,
		WriteBufferSize: wsBufferSize,
		WriteBufferPool: &sync.Pool{}, // empty on purpose: buffers only while writing
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	mux.HandleFunc("GET /ws/notifications", h.serve)
	mux.HandleFunc("GET /-/ws/stats", h.handleStats)
	mux.HandleFunc("POST /-/ws/drop", h.handleDrop)
	mux.HandleFunc("POST /-/ws/stall", h.handleStall)
	mux.HandleFunc("POST /-/ws/push", h.handlePush)
}

func (h *wsHub) serve(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("access_token")
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		tok = v
	}
	if tok != "" {
		if _, ok := h.t.tokens.lookup(tok, h.t.now()); !ok {
			h.rejected.Add(1)
			w.Header().Set("WWW-Authenticate", `Bearer realm="phoenix", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid or expired token")
			return
		}
	}
	c, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		level.Debug(h.t.logger).Log("msg", "WebSocket upgrade failed", "err", err)
		return
	}
	c.SetReadLimit(wsMaxMessage)
	c.SetPingHandler(func(data string) error { return h.pong(c, data) })
	if tok == "" && !h.authByMessage(c) {
		h.rejected.Add(1)
		h.closeWith(c, websocket.ClosePolicyViolation, "authentication required")
		return
	}
	h.start.Do(func() { go h.pushLoop() })
	wc := &wsConn{c: c, bucket: h.seq.Add(1)}
	h.mu.Lock()
	h.conns[wc] = struct{}{}
	h.mu.Unlock()
	h.accepted.Add(1)
	// A fresh goroutine reads: this one's stack grew deep serving HTTP and
	// would stay that size for the session's life.
	go func() {
		h.read(wc)
		h.mu.Lock()
		delete(h.conns, wc)
		h.mu.Unlock()
		c.Close()
	}()
}

// authByMessage waits for {"type":"auth","token":…} as the first message.
func (h *wsHub) authByMessage(c *websocket.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(wsAuthWait))
	_, b, err := c.ReadMessage()
	if err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Time{})
	h.received.Add(1)
	var m struct {
		Type  string `json:"type"`
		Token string `json:"token"`
	}
	if json.Unmarshal(b, &m) != nil || m.Type != "auth" {
		return false
	}
	_, ok := h.t.tokens.lookup(m.Token, h.t.now())
	return ok
}

func (h *wsHub) closeWith(c *websocket.Conn, code int, text string) {
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(wsCloseTimeout))
	c.Close()
}

// pong answers a ping, unless a stall is in force: then the ping is
// ignored, as a stuck server would.
func (h *wsHub) pong(c *websocket.Conn, data string) error {
	if time.Now().UnixNano() < h.stallUntil.Load() {
		return nil
	}
	err := c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(wsWriteWait))
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	return err
}

// read answers the session's messages until it ends.
func (h *wsHub) read(wc *wsConn) {
	for {
		h.waitStall()
		_, r, err := wc.c.NextReader()
		if err != nil {
			return
		}
		buf := h.bufs.Get().(*bytes.Buffer)
		buf.Reset()
		_, err = buf.ReadFrom(r)
		if err == nil {
			h.received.Add(1)
			h.waitStall()
			err = h.answer(wc, buf.Bytes())
		}
		if buf.Cap() <= 4*wsBufferSize {
			h.bufs.Put(buf)
		}
		if err != nil {
			return
		}
	}
}

// answer acknowledges a message carrying an "id", or echoes it.
func (h *wsHub) answer(wc *wsConn, msg []byte) error {
	var m struct {
		ID json.RawMessage `json:"id"`
	}
	reply := msg
	if json.Unmarshal(msg, &m) == nil && len(m.ID) > 0 {
		reply = append(append([]byte(`{"type":"ack","id":`), m.ID...), '}')
	}
	return h.write(wc, reply)
}

func (h *wsHub) write(wc *wsConn, msg []byte) error {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	_ = wc.c.SetWriteDeadline(time.Now().Add(wsWriteWait))
	if err := wc.c.WriteMessage(websocket.TextMessage, msg); err != nil {
		return err
	}
	h.sent.Add(1)
	return nil
}

// waitStall blocks while a stall is in force (or until the target closes).
func (h *wsHub) waitStall() {
	for {
		d := time.Until(time.Unix(0, h.stallUntil.Load()))
		if d <= 0 {
			return
		}
		select {
		case <-time.After(d):
		case <-h.t.ctx.Done():
			return
		}
	}
}

// pushLoop pushes an event to every session once per push interval, a
// slice of the sessions each tick so pushes spread evenly; when the target
// closes it closes every session with 1001.
func (h *wsHub) pushLoop() {
	tick := time.NewTicker(wsPushTick)
	defer tick.Stop()
	var n uint64
	for {
		select {
		case <-h.t.ctx.Done():
			for _, wc := range h.snapshot(1, 0) {
				h.closeWith(wc.c, websocket.CloseGoingAway, "target stopping")
			}
			return
		case <-tick.C:
		}
		n++
		every := time.Duration(h.pushEvery.Load())
		if every <= 0 || time.Now().UnixNano() < h.stallUntil.Load() {
			continue
		}
		buckets := uint64(max(every/wsPushTick, 1))
		msg := []byte(`{"type":"event","event":"notification","ts":` + strconv.FormatInt(time.Now().UnixMilli(), 10) + `}`)
		for _, wc := range h.snapshot(buckets, n%buckets) {
			if h.write(wc, msg) == nil {
				h.pushed.Add(1)
			}
		}
	}
}

// snapshot returns the sessions of bucket b of n.
func (h *wsHub) snapshot(n, b uint64) []*wsConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*wsConn, 0, len(h.conns)/int(n)+1)
	for wc := range h.conns {
		if wc.bucket%n == b {
			out = append(out, wc)
		}
	}
	return out
}

type wsStats struct {
	Sessions int    `json:"sessions"`
	Accepted uint64 `json:"accepted"`
	Rejected uint64 `json:"rejected"`
	Received uint64 `json:"received"`
	Sent     uint64 `json:"sent"`
	Pushed   uint64 `json:"pushed"`
	Dropped  uint64 `json:"dropped"`
}

func (h *wsHub) handleStats(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	open := len(h.conns)
	h.mu.Unlock()
	writeJSON(w, http.StatusOK, wsStats{
		Sessions: open, Accepted: h.accepted.Load(), Rejected: h.rejected.Load(),
		Received: h.received.Load(), Sent: h.sent.Load(), Pushed: h.pushed.Load(), Dropped: h.dropped.Load(),
	})
}

func (h *wsHub) handleDrop(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Fraction float64 `json:"fraction"`
		Code     int     `json:"code"`
		Abrupt   bool    `json:"abrupt"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Fraction <= 0 || req.Fraction > 1 {
		writeError(w, http.StatusBadRequest, "fraction must be in (0, 1]")
		return
	}
	if req.Code == 0 {
		req.Code = websocket.CloseGoingAway
	}
	if req.Code < 1000 || req.Code > 4999 {
		writeError(w, http.StatusBadRequest, "code must be a WebSocket close code (1000-4999)")
		return
	}
	n := 0
	for _, wc := range h.snapshot(1, 0) {
		if rand.Float64() >= req.Fraction {
			continue
		}
		n++
		if req.Abrupt {
			wc.c.Close()
		} else {
			wc.mu.Lock()
			h.closeWith(wc.c, req.Code, "dropped on request")
			wc.mu.Unlock()
		}
	}
	h.dropped.Add(uint64(n))
	writeJSON(w, http.StatusOK, map[string]int{"dropped": n})
}

func (h *wsHub) handleStall(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Duration string `json:"duration"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil || d < 0 || d > time.Hour {
		writeError(w, http.StatusBadRequest, "duration must be between 0s and 1h (e.g. \"10s\")")
		return
	}
	until := time.Now().Add(d)
	h.stallUntil.Store(until.UnixNano())
	writeJSON(w, http.StatusOK, map[string]string{"stalled_until": until.UTC().Format(time.RFC3339Nano)})
}

func (h *wsHub) handlePush(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Every string `json:"every"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	d, err := time.ParseDuration(req.Every)
	if err != nil || d < 0 || (d > 0 && d < wsPushTick) {
		writeError(w, http.StatusBadRequest, "every must be 0s (no pushes) or at least 100ms")
		return
	}
	h.pushEvery.Store(int64(d))
	writeJSON(w, http.StatusOK, map[string]string{"every": d.String()})
}
