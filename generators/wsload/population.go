package wsload

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/websocket"

	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
)

// population is the shared state of a scenario's sessions: configuration,
// connections' plumbing, and counters. The reconciler decides which slots
// get a session; each session's goroutine reports back through events.
type population struct {
	name        string
	cfg         *Config
	comp        *compiled
	dialers     []*websocket.Dialer
	auth        *generators.Session
	m           *exporter.WebSocket
	logger      log.Logger
	sched       *scheduler
	writers     *writers
	matchers    *matchers
	readBufs    sync.Pool
	pongTimeout time.Duration
	every       time.Duration
	// pendingSlots is the size of each session's table of unanswered messages.
	pendingSlots int
	observer     atomic.Pointer[Observer]

	ids      atomic.Uint64
	open     atomic.Int64
	dialing  atomic.Int64
	want     atomic.Int64
	rtts     atomic.Uint64
	dropped  atomic.Uint64
	connFail [len(ConnectReasons)]atomic.Uint64
	disc     [len(DisconnectReasons)]atomic.Uint64

	events chan ended
	wg     sync.WaitGroup // session goroutines
}

// ended is a session goroutine's last word to the reconciler.
type ended struct {
	slot      int
	connected bool
	reason    string
	uptime    time.Duration
}

// Observer receives every connection attempt and message round trip of a
// scenario, besides the metrics — e.g. a run's SLA recorder. It is an
// alias of an unnamed interface, so callers can assert the Scenario's
// SetObserver method without importing this package. It must be fast and
// safe for concurrent use.
type Observer = interface {
	ObserveRTT(scenario string, d time.Duration)
	ObserveConnect(scenario string, failed bool)
}

var errPongTimeout = errors.New("no pong or reply within pong_timeout")

func (p *population) observeRTT(d time.Duration) {
	p.m.RTT.Observe(d.Seconds())
	p.rtts.Add(1)
	if o := p.observer.Load(); o != nil {
		(*o).ObserveRTT(p.name, d)
	}
}

func (p *population) connectFailed(reason string, d time.Duration, err error) {
	p.m.ConnectFailure(reason).Inc()
	for i, r := range ConnectReasons {
		if r == reason {
			p.connFail[i].Add(1)
		}
	}
	if o := p.observer.Load(); o != nil {
		(*o).ObserveConnect(p.name, true)
	}
	level.Debug(p.logger).Log("msg", "Connect failed", "reason", reason, "err", err)
}

// runSession connects slot s. An open session is handed to a fresh reader
// goroutine: its stack then only grows as far as reading needs, instead of
// keeping the deep frames of the dial (HTTP, TLS) for the session's life.
// The session still has one goroutine at a time.
func (p *population) runSession(ctx context.Context, s *session) {
	c, err := p.connect(ctx, s)
	p.dialing.Add(-1)
	if err != nil {
		ev := ended{slot: s.slot}
		if s.ended() || ctx.Err() != nil {
			ev.reason = s.endReason()
		}
		p.events <- ev
		p.wg.Done()
		return
	}
	opened := time.Now()
	ok := p.publish(s, c)
	go p.readSession(s, c, ok, opened) // takes over this goroutine's wg count
}

// readSession reads until the session ends, then accounts for its end. It
// is kept lean: its frame sits under every idle reader's stack.
func (p *population) readSession(s *session, c *websocket.Conn, ok bool, opened time.Time) {
	reason := s.endReason()
	if ok {
		reason = s.read(c)
	}
	p.closed(s, c, reason, opened)
}

// closed accounts for a session's end and tells the reconciler.
//
//go:noinline
func (p *population) closed(s *session, c *websocket.Conn, reason string, opened time.Time) {
	defer p.wg.Done()
	p.sched.remove(s)
	c.Close()
	p.open.Add(-1)
	p.m.Sessions.Dec()
	p.m.Disconnect(reason).Inc()
	for i, r := range DisconnectReasons {
		if r == reason {
			p.disc[i].Add(1)
		}
	}
	p.events <- ended{slot: s.slot, connected: true, reason: reason, uptime: time.Since(opened)}
}

// connect dials and upgrades; failures are counted unless the session was
// stopped meanwhile.
func (p *population) connect(ctx context.Context, s *session) (*websocket.Conn, error) {
	start := time.Now()
	if p.cfg.Auth.Mode != AuthNone && p.comp.target.Auth != nil {
		tok, err := p.auth.Token(ctx)
		if err != nil {
			if !s.ended() && ctx.Err() == nil {
				p.connectFailed(ConnAuth, time.Since(start), err)
			}
			return nil, err
		}
		s.token = tok
	}
	hdr := p.comp.header.Clone()
	if p.cfg.Auth.Mode == AuthBearer && s.token != "" {
		hdr.Set("Authorization", "Bearer "+s.token)
	}
	d := p.dialers[s.slot%len(p.dialers)]
	start = time.Now()
	c, resp, err := d.DialContext(ctx, p.comp.url, hdr)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	took := time.Since(start)
	if err != nil {
		if s.ended() || ctx.Err() != nil {
			return nil, err
		}
		reason := classifyConnect(err, resp)
		if reason == ConnAuth && s.token != "" {
			p.auth.Invalidate(s.token)
		}
		p.connectFailed(reason, took, err)
		return nil, err
	}
	p.m.ConnectDuration.Observe(took.Seconds())
	if o := p.observer.Load(); o != nil {
		(*o).ObserveConnect(p.name, false)
	}
	return c, nil
}

// publish makes a connected session live, sends its setup messages and
// schedules it. It reports whether the session should be read (false:
// it was stopped meanwhile, or setup failed; its reason is set).
func (p *population) publish(s *session, c *websocket.Conn) bool {
	c.SetReadLimit(p.cfg.ReadLimit)
	c.SetPongHandler(s.onPong)
	s.mu.Lock()
	stopped := s.ended()
	if !stopped {
		s.conn = c
	}
	s.mu.Unlock()
	p.open.Add(1)
	p.m.Sessions.Inc()
	if stopped || !p.setup(s, c) {
		return false
	}
	p.schedule(s)
	return true
}

// setup sends the auth message and the subscribe message, if configured.
func (p *population) setup(s *session, c *websocket.Conn) bool {
	var buf bytes.Buffer
	d := TemplateData{Token: s.token, Session: s.slot}
	for _, t := range []*tmpl{p.comp.authMsg, p.comp.subscribe} {
		if t == nil {
			continue
		}
		if err := t.render(&buf, d); err != nil {
			s.fail(c, DiscWriteError, err)
			return false
		}
		_ = c.SetWriteDeadline(writeDeadline(time.Now(), p.pongTimeout))
		if err := c.WriteMessage(websocket.TextMessage, buf.Bytes()); err != nil {
			s.fail(c, DiscWriteError, err)
			return false
		}
		p.m.Sent.Inc()
	}
	return true
}

// schedule registers s with the scheduler: its first message at a random
// point of the first interval (so sessions opened together do not send
// together), its end of life drawn from session_lifetime.
func (p *population) schedule(s *session) {
	now := time.Now().UnixNano()
	if p.every > 0 {
		s.nextSend = now + int64(rand.Float64()*float64(p.every))
	}
	if lt := p.cfg.SessionLifetime.Pick(rand.Float64()); lt > 0 {
		s.endOfLife = now + int64(lt)
	}
	if due := earliest(s.nextSend, s.endOfLife); due > 0 {
		p.sched.add(s, due)
	}
}

// tick is the scheduler's work for one due session: end its life, time
// out unanswered pings and messages, or queue its next send.
func (p *population) tick(s *session, now int64) int64 {
	if s.ended() {
		return 0
	}
	if s.endOfLife != 0 && now >= s.endOfLife {
		s.stop(DiscLifetime, nil)
		return 0
	}
	check := int64(0)
	if t := s.oldestUnanswered(); t != 0 {
		if now-t >= int64(p.pongTimeout) {
			if c := s.getConn(); c != nil {
				s.fail(c, DiscPongTimeout, errPongTimeout)
			}
			return 0
		}
		check = t + int64(p.pongTimeout)
	}
	if s.nextSend != 0 && now >= s.nextSend {
		if s.queued.CompareAndSwap(false, true) {
			if p.writers.submit(job{s: s}, nil) {
				check = earliest(check, now+int64(p.pongTimeout))
			} else {
				s.queued.Store(false)
				p.dropped.Add(1)
			}
		} else {
			p.dropped.Add(1) // the previous send has not finished: skip, no catch-up
		}
		s.nextSend += int64(p.every)
		if s.nextSend <= now {
			s.nextSend = now + int64(p.every)
		}
	}
	return earliest(earliest(s.nextSend, s.endOfLife), check)
}

// earliest returns the smaller of two times, where 0 means "never".
func earliest(a, b int64) int64 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}
