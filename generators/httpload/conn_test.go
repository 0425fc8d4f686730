package httpload

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"

	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
)

// rawServer accepts connections on loopback and hands each to serve.
func rawServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// answerEach answers every request on c with a 200 whose body respond
// returns, until the client goes away.
func answerEach(c net.Conn, respond func(*http.Request) string) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body := respond(req)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
}

// echoLength answers every request on c with the length of its body.
func echoLength(c net.Conn) {
	answerEach(c, func(req *http.Request) string {
		n, _ := io.Copy(io.Discard, req.Body)
		return strconv.FormatInt(n, 10)
	})
}

// TestPlainTransportExchanges runs the HTTP/1.1 client (fasthttp over
// sendConn) against servers that answer, answer slowly, misbehave or are
// absent, and checks the body that arrived and the failure reason.
func TestPlainTransportExchanges(t *testing.T) {
	closed := func() string { // a port nothing listens on
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	stop := make(chan struct{})
	defer close(stop)
	cases := []struct {
		name    string
		serve   func(net.Conn)
		addr    string // instead of serve
		body    int
		want    string
		reason  exporter.Reason
		timeout time.Duration
	}{
		{name: "small", serve: echoLength, want: "0"},
		{name: "deferred body", serve: echoLength, body: maxDeferred - 200, want: strconv.Itoa(maxDeferred - 200)},
		{name: "written-through body", serve: echoLength, body: 1 << 20, want: strconv.Itoa(1 << 20)},
		// A body many reads long, most of them with no request pending.
		{name: "large response", serve: func(c net.Conn) {
			answerEach(c, func(*http.Request) string { return strings.Repeat("z", 1<<20) })
		}, want: strings.Repeat("z", 1<<20)},
		{name: "no answer", serve: func(c net.Conn) { io.Copy(io.Discard, c) }, reason: exporter.ReasonTimeout, timeout: 200 * time.Millisecond},
		{name: "closed without answer", serve: func(c net.Conn) {
			http.ReadRequest(bufio.NewReader(c))
		}, reason: exporter.ReasonReset},
		{name: "garbage", serve: func(c net.Conn) {
			http.ReadRequest(bufio.NewReader(c))
			c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n\r\n"))
		}, reason: exporter.ReasonProtocol},
		{name: "refused", addr: closed(), reason: exporter.ReasonConnect},
		// A server that never reads: the write-through blocks once the
		// socket buffers are full, and the write deadline ends it.
		{name: "body never read", serve: func(net.Conn) { <-stop }, body: 16 << 20, reason: exporter.ReasonTimeout, timeout: 300 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.addr
			if tc.serve != nil {
				addr = rawServer(t, tc.serve)
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			tr := newPlainTransport(addr, 4, timeout)
			defer tr.close()
			// Twice on one connection: keep-alive and the deferred write
			// must leave the connection usable.
			for i := range 2 {
				var req fasthttp.Request
				var resp fasthttp.Response
				req.SetRequestURI("http://" + addr + "/echo")
				if tc.body > 0 {
					req.Header.SetMethod(http.MethodPost)
					req.SetBody(bytes.Repeat([]byte("x"), tc.body))
				}
				err := tr.do(&req, &resp, timeout)
				if got := classify(err); got != tc.reason {
					t.Fatalf("request %d: reason %s (err %v), want %s", i, got, err, tc.reason)
				}
				if err != nil {
					return
				}
				if resp.StatusCode() != http.StatusOK || string(resp.Body()) != tc.want {
					t.Fatalf("request %d: %d %q, want 200 %q", i, resp.StatusCode(), resp.Body(), tc.want)
				}
			}
		})
	}
}

// TestSendConnDefersWrite checks that a request is held back until the
// response is read, and then sent whole.
func TestSendConnDefersWrite(t *testing.T) {
	addr := rawServer(t, echoLength)
	sc, err := dialSend(addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	req := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	if n, err := sc.Write([]byte(req)); n != len(req) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if string(sc.pending) != req {
		t.Fatalf("pending %q after Write, want the request held back", sc.pending)
	}
	br := bufio.NewReader(sc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "3" || len(sc.pending) != 0 {
		t.Fatalf("body %q, pending %d bytes; want \"3\" and nothing pending", body, len(sc.pending))
	}
	if !strings.HasPrefix(resp.Proto, "HTTP/1.1") {
		t.Fatalf("proto %q", resp.Proto)
	}
}

// TestSendConnPartialWrite fills both socket buffers, so the write from
// inside the read wait cannot complete: the rest must go out the ordinary
// way once the server reads, and the exchange still succeed.
func TestSendConnPartialWrite(t *testing.T) {
	// The receive buffer is set on the listener, so the accepted socket
	// advertises a small window from its first segment.
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		rc.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<10) })
		return err
	}}
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ln := l.(*net.TCPListener)
	sc, err := dialSend(ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.SetWriteBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	srv, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	served := make(chan error, 1)
	go func() {
		// Read nothing until the client's write has filled the buffers
		// (bytes are queued here), then serve.
		raw, err := srv.SyscallConn()
		if err != nil {
			served <- err
			return
		}
		deadline := time.Now().Add(5 * time.Second)
		for queued := 0; queued == 0; {
			if time.Now().After(deadline) {
				served <- fmt.Errorf("no request bytes arrived")
				return
			}
			raw.Control(func(fd uintptr) { queued, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
			runtime.Gosched()
		}
		echoLength(srv)
		served <- nil
	}()
	body := maxDeferred - 1024
	req := fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", body, strings.Repeat("y", body))
	if _, err := sc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	sc.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(sc), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if string(got) != strconv.Itoa(body) {
		t.Fatalf("server counted %q body bytes, want %d", got, body)
	}
	sc.Close()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// TestMaxConnections checks that max_connections caps the connections to
// the target while every arrival still runs (waiting for a connection, the
// wait counted in its latency), and that without it loadd opens more.
func TestMaxConnections(t *testing.T) {
	for _, c := range []struct {
		name    string
		setting string
		atMost  int
		atLeast int
	}{
		{"capped", "max_connections: 2\n", 2, 1},
		{"default", "", 1000, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			open, peak := 0, 0
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(20 * time.Millisecond) // the target's latency: 200/s needs ~4 connections
			}))
			srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
				mu.Lock()
				defer mu.Unlock()
				switch st {
				case http.StateNew:
					open++
					peak = max(peak, open)
				case http.StateClosed, http.StateHijacked:
					open--
				}
			}
			srv.Start()
			defer srv.Close()
			sc, reg := build(t, "kind: http\ntarget: phoenix\nrate: 200/s\n"+c.setting+"tasks:\n  - {name: get, get: /}\n",
				mustTarget(t, srv.URL, nil), generators.Deps{Duration: time.Second, Grace: 5 * time.Second})
			runFor(t, sc, 10*time.Second)
			mu.Lock()
			got := peak
			mu.Unlock()
			if got < c.atLeast || got > c.atMost {
				t.Errorf("peak connections %d, want %d–%d", got, c.atLeast, c.atMost)
			}
			if n := metricValue(t, reg, "loadd_requests_total", nil); n != 200 {
				t.Errorf("%v requests, want all 200 arrivals run", n)
			}
			if f := metricValue(t, reg, "loadd_request_failures_total", nil); f != 0 {
				t.Errorf("%v failures, want 0 (requests wait for a connection)", f)
			}
		})
	}
}

// TestIdleConnectionsRetire: after a burst opens many connections, a
// steady trickle reuses the most recent one and the rest are closed once
// idle (LIFO pool, idleConn); a FIFO pool would keep cycling them all.
func TestIdleConnectionsRetire(t *testing.T) {
	defer func(d time.Duration) { idleConn = d }(idleConn)
	idleConn = 300 * time.Millisecond
	addr := rawServer(t, func(c net.Conn) {
		answerEach(c, func(*http.Request) string {
			time.Sleep(20 * time.Millisecond) // the server's work
			return "ok"
		})
	})
	tr := newPlainTransport(addr, 100, 5*time.Second)
	defer tr.close()
	get := func() error {
		var req fasthttp.Request
		var resp fasthttp.Response
		req.SetRequestURI("http://" + addr + "/")
		return tr.do(&req, &resp, 5*time.Second)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := get(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := tr.count(); n != 20 {
		t.Fatalf("%d connections after 20 concurrent requests, want 20", n)
	}
	// One request at a time for three idle periods.
	for end := time.Now().Add(3 * idleConn); time.Now().Before(end); {
		if err := get(); err != nil {
			t.Fatal(err)
		}
	}
	if n := tr.count(); n > 2 {
		t.Errorf("%d connections after sequential requests, want the busy one (and at most one more)", n)
	}
}
