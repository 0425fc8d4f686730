package wsload

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log/level"
	"github.com/gorilla/websocket"
)

// pendingSlots is how many correlated messages a session tracks at once:
// enough for every message sent within one pong timeout, so none is
// forgotten before it could time out.
func pendingSlots(pong, every time.Duration) int {
	if every <= 0 {
		return 1
	}
	return int(min(max(pong/every+2, 2), 64))
}

// pendingMsg is a message waiting for its reply.
type pendingMsg struct {
	id uint64
	at int64 // unix nanoseconds sent; 0 when the entry is free
}

// session is one WebSocket connection of a slot. Its reader goroutine owns
// the read side; the shared scheduler and writers drive the write side.
type session struct {
	pop    *population
	slot   int
	token  string
	reason atomic.Uint32 // index+1 into DisconnectReasons; 0 while alive
	queued atomic.Bool   // a writer job for it is queued or running

	mu      sync.Mutex // guards conn, seq, pending, pingAt
	conn    *websocket.Conn
	seq     uint64
	pending []pendingMsg // allocated on the first correlated send
	pingAt  int64        // unix nanoseconds of the oldest unanswered ping; 0 none

	// Scheduler state: hidx and unsched under scheduler.mu; nextSend and
	// endOfLife are set before the session is first added and then used
	// only by the scheduler's goroutine.
	hidx      int   // index in the heap, -1 when not in it
	nextSend  int64 // when the next message/ping is due; 0 never
	endOfLife int64 // when session_lifetime runs out; 0 never
	unsched   bool  // removed for good
}

func newSession(p *population, slot int) *session {
	return &session{pop: p, slot: slot, hidx: -1}
}

// end records why the session ends (one of DisconnectReasons); the first
// reason wins. It reports whether this call set it.
func (s *session) end(reason string) bool {
	idx := 0
	for i, r := range DisconnectReasons {
		if r == reason {
			idx = i
		}
	}
	// Callers pass only the Disc* constants; anything else would count as
	// the first reason rather than escape the closed label set.
	return s.reason.CompareAndSwap(0, uint32(idx+1))
}

// ended reports whether an end reason is set.
func (s *session) ended() bool { return s.reason.Load() != 0 }

// endReason returns the reason set by end, or "".
func (s *session) endReason() string {
	if r := s.reason.Load(); r != 0 {
		return DisconnectReasons[r-1]
	}
	return ""
}

func (s *session) getConn() *websocket.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// stop ends the session for reason (lifetime, scale_down, shutdown) with a
// close handshake done by a writer. When no writer can take it (block
// false and the queue is full), the connection is closed at once.
func (s *session) stop(reason string, block <-chan struct{}) {
	if !s.end(reason) {
		return
	}
	c := s.getConn()
	if c == nil {
		return // still dialing: the dialer sees the reason and gives up
	}
	if !s.pop.writers.submit(job{s: s, close: true}, block) {
		c.Close()
	}
}

// closeHandshake sends a close frame and gives the peer a moment to answer;
// the reader then ends on the peer's close frame or the deadline.
func (s *session) closeHandshake(c *websocket.Conn) {
	code := websocket.CloseNormalClosure
	if s.endReason() == DiscShutdown {
		code = websocket.CloseGoingAway
	}
	now := time.Now()
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), now.Add(time.Second)); err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(now.Add(2 * time.Second))
}

// send writes the session's periodic traffic: the message (when there is a
// template) and a ping (when round trips are timed by ping/pong).
func (s *session) send(buf *bytes.Buffer) {
	c := s.getConn()
	if c == nil || s.ended() {
		return
	}
	p := s.pop
	now := time.Now()
	deadline := writeDeadline(now, p.pongTimeout)
	if p.comp.message != nil {
		id := p.ids.Add(1)
		s.mu.Lock()
		s.seq++
		seq := s.seq
		if p.comp.correlation != nil {
			s.addPendingLocked(id, now.UnixNano())
		}
		s.mu.Unlock()
		d := TemplateData{Token: s.token, Session: s.slot, Seq: seq, ID: strconv.FormatUint(id, 10)}
		if err := p.comp.message.render(buf, d); err != nil {
			level.Debug(p.logger).Log("msg", "Cannot render message", "err", err)
			return
		}
		_ = c.SetWriteDeadline(deadline)
		if err := c.WriteMessage(websocket.TextMessage, buf.Bytes()); err != nil {
			s.fail(c, DiscWriteError, err)
			return
		}
		p.m.Sent.Inc()
	}
	if p.comp.correlation == nil {
		var payload [8]byte
		binary.BigEndian.PutUint64(payload[:], uint64(now.UnixNano()))
		s.mu.Lock()
		if s.pingAt == 0 {
			s.pingAt = now.UnixNano()
		}
		s.mu.Unlock()
		if err := c.WriteControl(websocket.PingMessage, payload[:], deadline); err != nil {
			s.fail(c, DiscWriteError, err)
		}
	}
}

// fail ends the session for reason after an I/O error and closes it.
func (s *session) fail(c *websocket.Conn, reason string, err error) {
	if s.end(reason) {
		level.Debug(s.pop.logger).Log("msg", "Session failed", "slot", s.slot, "reason", reason, "err", err)
	}
	c.Close()
}

// addPendingLocked tracks a sent message. When every slot is taken the
// new message goes untracked (its reply then counts as a push): the oldest
// stays, so an unanswered session still times out.
func (s *session) addPendingLocked(id uint64, at int64) {
	if s.pending == nil {
		s.pending = make([]pendingMsg, s.pop.pendingSlots)
	}
	for i := range s.pending {
		if s.pending[i].at == 0 {
			s.pending[i] = pendingMsg{id: id, at: at}
			return
		}
	}
}

// oldestUnanswered returns when the oldest unanswered ping or message was
// sent, or 0.
func (s *session) oldestUnanswered() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.pingAt
	for _, pm := range s.pending {
		if pm.at != 0 && (t == 0 || pm.at < t) {
			t = pm.at
		}
	}
	return t
}

// onPong times the ping whose send time the pong echoes.
func (s *session) onPong(data string) error {
	now := time.Now().UnixNano()
	if len(data) == 8 {
		sent := int64(binary.BigEndian.Uint64([]byte(data)))
		if rtt := now - sent; rtt >= 0 && rtt < int64(time.Hour) {
			s.pop.observeRTT(time.Duration(rtt))
		}
	}
	s.mu.Lock()
	s.pingAt = 0
	s.mu.Unlock()
	return nil
}

// match looks for a correlation ID in msg and times its message.
func (s *session) match(msg []byte, now int64) {
	p := s.pop
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return // not JSON: a push in some other format
	}
	var id uint64
	found := false
	for n := range p.comp.correlation.Select(v).All() {
		var err error
		switch x := n.(type) {
		case string:
			id, err = strconv.ParseUint(x, 10, 64)
		case json.Number:
			id, err = strconv.ParseUint(x.String(), 10, 64)
		default:
			continue
		}
		found = err == nil
		break
	}
	if !found {
		return
	}
	s.mu.Lock()
	var sent int64
	for i := range s.pending {
		if s.pending[i].at != 0 && s.pending[i].id == id {
			sent = s.pending[i].at
			s.pending[i] = pendingMsg{}
			break
		}
	}
	s.mu.Unlock()
	if sent != 0 && now >= sent {
		p.observeRTT(time.Duration(now - sent))
	}
}

// read runs the session's receive loop until the connection ends and
// returns the reason. Its frame sits under every idle reader's stack, so
// the work on a message is done in consume.
func (s *session) read(c *websocket.Conn) string {
	for {
		s.armIdle(c)
		mt, r, err := c.NextReader()
		if err == nil {
			err = s.consume(mt, r)
		}
		if err != nil {
			return s.readEnded(err)
		}
	}
}

// armIdle sets the idle deadline, unless the session is closing.
//
//go:noinline
func (s *session) armIdle(c *websocket.Conn) {
	if idle := s.pop.cfg.IdleTimeout.D(); idle > 0 && !s.ended() {
		_ = c.SetReadDeadline(time.Now().Add(idle))
	}
}

// consume counts a received message and, with correlation, hands it to
// the matchers (parsing JSON takes a deep stack, which would otherwise
// stay with every reader for good).
//
//go:noinline
func (s *session) consume(mt int, r io.Reader) error {
	p := s.pop
	p.m.Received.Inc()
	if p.comp.correlation == nil || (mt != websocket.TextMessage && mt != websocket.BinaryMessage) {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	buf := p.readBufs.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		p.readBufs.Put(buf)
		return err
	}
	p.matchers.submit(matchJob{s: s, msg: buf, at: time.Now().UnixNano()})
	return nil
}

// readEnded classifies the reader's error unless the session already has
// a reason (the scheduler or the population ended it).
//
//go:noinline
func (s *session) readEnded(err error) string {
	reason := classifyRead(err)
	if s.end(reason) && !errors.Is(err, context.Canceled) {
		level.Debug(s.pop.logger).Log("msg", "Session ended", "slot", s.slot, "reason", reason, "err", err)
	}
	return s.endReason()
}
