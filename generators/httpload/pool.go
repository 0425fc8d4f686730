package httpload

import (
	"bufio"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// plainTransport is the HTTP/1.1 path for http:// targets: fasthttp
// writes each request and parses each response, over sendConns from a
// pool of the transport's own.
//
// fasthttp's HostClient, over the same connections, also costs per
// request five clock reads, a runtime timer update for the read deadline,
// a lookup of the remote address and the bookkeeping of features loadd
// does not use. Without them loadd's user CPU at the maximum rate against
// nginx fell from 2.03–2.21 to 1.72–1.81 µs a request (4 interleaved
// rounds, loadd on one CPU and nginx on the other).
//
// Timeouts are kept by a watchdog rather than by deadlines set per
// request: a request stamps when it expires, and the watchdog, ticking
// every twentieth of the shortest timeout, ends an overdue one by moving
// its connection's read deadline into the past. A request times out
// between its timeout and one tick later.
type plainTransport struct {
	addr     string
	maxConns int
	tick     time.Duration

	mu      sync.Mutex
	idle    []*plainConn // the most recently used last
	conns   []*plainConn // every open connection, for the watchdog
	open    int          // connections open or being dialled
	waiters []chan *plainConn
	closed  bool

	// now is monoNow at the watchdog's last tick: when a connection went
	// idle, without a clock read per request.
	now  atomic.Int64
	stop chan struct{}
	done chan struct{}
}

// plainConn is a pooled connection with its buffers.
type plainConn struct {
	*sendConn
	br        *bufio.Reader
	bw        *bufio.Writer
	slot      int   // index in plainTransport.conns; under mu
	idleSince int64 // by the watchdog's clock; under mu
}

// Tick bounds: under 1 ms the watchdog's wake-ups would cost more than
// the deadlines it saves; over 100 ms a 10 s timeout would run 1 % long.
const (
	minTick = time.Millisecond
	maxTick = 100 * time.Millisecond
)

// userAgent is sent when a task sets none.
var userAgent = []byte("loadd")

// errTransportClosed is returned for a request after close.
var errTransportClosed = errors.New("http transport closed")

// newPlainTransport returns a client for addr with at most maxConns
// connections, whose watchdog suits timeouts of minTimeout and up.
func newPlainTransport(addr string, maxConns int, minTimeout time.Duration) *plainTransport {
	t := &plainTransport{
		addr: addr, maxConns: max(1, maxConns),
		tick: min(max(minTimeout/20, minTick), maxTick),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	t.now.Store(monoNow())
	go t.watch()
	return t
}

// do sends req and reads resp within timeout. An idempotent request whose
// kept-alive connection the server had closed is sent once more; any
// other failure counts.
func (t *plainTransport) do(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	if timeout <= 0 {
		return fasthttp.ErrTimeout
	}
	expires := monoNow() + int64(timeout)
	if len(req.Header.Host()) == 0 {
		// A full URL: fasthttp parses it for the Host header and the
		// request line, and must leave the path as the task wrote it.
		req.URI().DisablePathNormalizing = true
	}
	if len(req.Header.UserAgent()) == 0 {
		req.Header.SetUserAgentBytes(userAgent)
	}
	for attempt := 1; ; attempt++ {
		c, err := t.acquire(expires)
		if err != nil {
			return err
		}
		err = c.exchange(req, resp, expires)
		if err == nil && !req.ConnectionClose() && !resp.ConnectionClose() {
			t.release(c)
			return nil
		}
		t.discard(c)
		switch {
		case err == nil:
			return nil
		case err == io.EOF && attempt < 2 && idempotent(req.Header.Method()):
			continue
		case err == io.EOF:
			return fasthttp.ErrConnectionClosed
		}
		return err
	}
}

// exchange writes req and reads the response into resp.
func (c *plainConn) exchange(req *fasthttp.Request, resp *fasthttp.Response, expires int64) error {
	c.expires.Store(expires)
	resp.Reset()
	resp.SkipBody = req.Header.IsHead()
	if err := req.Write(c.bw); err != nil {
		return err
	}
	if err := c.bw.Flush(); err != nil {
		return err
	}
	err := resp.ReadLimitBody(c.br, maxBody)
	c.expires.Store(0)
	return err
}

// acquire returns the most recently used idle connection, or a new one
// while fewer than maxConns are open, or else waits for one until expires.
func (t *plainTransport) acquire(expires int64) (*plainConn, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, errTransportClosed
	}
	if n := len(t.idle); n > 0 {
		c := t.idle[n-1]
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return c, nil
	}
	if t.open < t.maxConns {
		t.open++
		t.mu.Unlock()
		return t.dial(expires)
	}
	w := make(chan *plainConn, 1)
	t.waiters = append(t.waiters, w)
	t.mu.Unlock()
	timer := time.NewTimer(monoUntil(expires))
	defer timer.Stop()
	select {
	case c := <-w:
		if c != nil {
			return c, nil
		}
		return t.dial(expires) // granted a closed connection's slot
	case <-timer.C:
	}
	t.mu.Lock()
	if i := slices.Index(t.waiters, w); i >= 0 {
		t.waiters = slices.Delete(t.waiters, i, i+1)
		t.mu.Unlock()
		return nil, fasthttp.ErrNoFreeConns
	}
	t.mu.Unlock()
	// Granted as the timer fired: hand it on.
	if c := <-w; c != nil {
		t.release(c)
	} else {
		t.free()
	}
	return nil, fasthttp.ErrNoFreeConns
}

// dial opens a connection in a slot already counted in open.
func (t *plainTransport) dial(expires int64) (*plainConn, error) {
	sc, err := dialSend(t.addr, monoUntil(expires))
	if err != nil {
		t.free()
		return nil, err
	}
	c := &plainConn{sendConn: sc, br: bufio.NewReaderSize(sc, 8<<10), bw: bufio.NewWriterSize(sc, 4<<10)}
	t.mu.Lock()
	c.slot = len(t.conns)
	t.conns = append(t.conns, c)
	t.mu.Unlock()
	return c, nil
}

// release returns c to the pool, or hands it to the longest waiter.
func (t *plainTransport) release(c *plainConn) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		t.discard(c)
		return
	}
	if w := t.nextWaiter(); w != nil {
		t.mu.Unlock()
		w <- c
		return
	}
	c.idleSince = t.now.Load()
	t.idle = append(t.idle, c)
	t.mu.Unlock()
}

// discard closes c and frees its slot.
func (t *plainTransport) discard(c *plainConn) {
	_ = c.Close()
	t.mu.Lock()
	t.unlist(c)
	t.freeLocked()
}

// unlist removes c from conns; mu is held.
func (t *plainTransport) unlist(c *plainConn) {
	last := len(t.conns) - 1
	t.conns[c.slot] = t.conns[last]
	t.conns[c.slot].slot = c.slot
	t.conns[last] = nil
	t.conns = t.conns[:last]
}

// free gives a closed connection's slot to the longest waiter, to dial,
// or else makes it available.
func (t *plainTransport) free() {
	t.mu.Lock()
	t.freeLocked()
}

// freeLocked is free with mu held; it unlocks mu.
func (t *plainTransport) freeLocked() {
	if w := t.nextWaiter(); w != nil {
		t.mu.Unlock()
		w <- nil
		return
	}
	t.open--
	t.mu.Unlock()
}

// nextWaiter removes and returns the longest waiter, or nil; mu is held.
func (t *plainTransport) nextWaiter() chan *plainConn {
	if len(t.waiters) == 0 {
		return nil
	}
	w := t.waiters[0]
	t.waiters = slices.Delete(t.waiters, 0, 1)
	return w
}

// dropIdle takes the n longest idle connections out of the pool, to be
// closed; mu is held. (No request waits while any is idle.)
func (t *plainTransport) dropIdle(n int) []*plainConn {
	drop := slices.Clone(t.idle[:n])
	t.idle = slices.Delete(t.idle, 0, n)
	for _, c := range drop {
		t.unlist(c)
	}
	t.open -= n
	return drop
}

// watch runs the watchdog until close.
func (t *plainTransport) watch() {
	defer close(t.done)
	tick := time.NewTicker(t.tick)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.sweep(monoNow())
		}
	}
}

// sweep ends overdue requests and closes connections idle for idleConn.
func (t *plainTransport) sweep(now int64) {
	t.now.Store(now)
	t.mu.Lock()
	for _, c := range t.conns {
		if e := c.expires.Load(); e != 0 && e <= now {
			c.expire()
		}
	}
	// The pool is last in, first out: the longest idle are first.
	n := 0
	for n < len(t.idle) && now-t.idle[n].idleSince >= int64(idleConn) {
		n++
	}
	stale := t.dropIdle(n)
	t.mu.Unlock()
	for _, c := range stale {
		_ = c.Close()
	}
}

// count returns the number of open connections.
func (t *plainTransport) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// close stops the watchdog and closes the idle connections; a connection
// still in use is closed when released.
func (t *plainTransport) close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	idle := t.dropIdle(len(t.idle))
	t.mu.Unlock()
	close(t.stop)
	<-t.done
	for _, c := range idle {
		_ = c.Close()
	}
}
