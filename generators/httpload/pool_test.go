package httpload

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
)

// get sends one request through tr and returns its failure reason.
func get(tr transport, addr, method string, timeout time.Duration) (exporter.Reason, *fasthttp.Response) {
	var req fasthttp.Request
	resp := new(fasthttp.Response)
	req.SetRequestURI("http://" + addr + "/")
	req.Header.SetMethod(method)
	return classify(tr.do(&req, resp, timeout)), resp
}

// TestPlainTransportPool covers the pool's own decisions: reuse,
// connections the server closes, waiting for a free connection, and a
// watchdog deadline that lands on the next request.
func TestPlainTransportPool(t *testing.T) {
	// closeAfter answers n requests, the last with or without
	// "Connection: close", then closes.
	closeAfter := func(n int, announce bool) func(net.Conn) {
		return func(c net.Conn) {
			br := bufio.NewReader(c)
			for i := 1; i <= n; i++ {
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				hdr := ""
				if i == n && announce {
					hdr = "Connection: close\r\n"
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\n%sContent-Length: 2\r\n\r\nok", hdr)
			}
		}
	}
	cases := []struct {
		name  string
		serve func(net.Conn)
		// run sends requests and checks their reasons; conns is the
		// number of connections the pool should hold afterwards.
		run   func(t *testing.T, tr *plainTransport, addr string)
		conns int
	}{
		{name: "kept alive", serve: echoLength, conns: 1, run: func(t *testing.T, tr *plainTransport, addr string) {
			for i := range 3 {
				if r, resp := get(tr, addr, http.MethodGet, time.Second); r != exporter.ReasonNone || string(resp.Body()) != "0" {
					t.Fatalf("request %d: %s %q", i, r, resp.Body())
				}
			}
		}},
		{name: "Connection: close", serve: closeAfter(1, true), conns: 0, run: func(t *testing.T, tr *plainTransport, addr string) {
			for i := range 2 {
				if r, _ := get(tr, addr, http.MethodGet, time.Second); r != exporter.ReasonNone {
					t.Fatalf("request %d: %s, want a new connection each", i, r)
				}
			}
		}},
		// The server closes a kept-alive connection unannounced: a GET is
		// sent again on a new one; a POST is not repeated and fails.
		{name: "stale GET", serve: closeAfter(1, false), conns: 1, run: func(t *testing.T, tr *plainTransport, addr string) {
			for i := range 2 {
				if r, _ := get(tr, addr, http.MethodGet, time.Second); r != exporter.ReasonNone {
					t.Fatalf("request %d: %s", i, r)
				}
			}
		}},
		{name: "stale POST", serve: closeAfter(1, false), conns: 0, run: func(t *testing.T, tr *plainTransport, addr string) {
			if r, _ := get(tr, addr, http.MethodPost, time.Second); r != exporter.ReasonNone {
				t.Fatalf("first: %s", r)
			}
			if r, _ := get(tr, addr, http.MethodPost, time.Second); r != exporter.ReasonReset {
				t.Fatalf("second: %s, want %s", r, exporter.ReasonReset)
			}
		}},
		// The watchdog moves a connection's deadline into the past just
		// as its request finished: the next request on it must not fail.
		{name: "late expiry", serve: echoLength, conns: 1, run: func(t *testing.T, tr *plainTransport, addr string) {
			for i := range 3 {
				if r, _ := get(tr, addr, http.MethodGet, time.Second); r != exporter.ReasonNone {
					t.Fatalf("request %d: %s", i, r)
				}
				tr.mu.Lock()
				tr.idle[0].expire()
				tr.mu.Unlock()
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawServer(t, tc.serve)
			tr := newPlainTransport(addr, 4, time.Second)
			defer tr.close()
			tc.run(t, tr, addr)
			if n := tr.count(); n != tc.conns {
				t.Errorf("%d connections open, want %d", n, tc.conns)
			}
		})
	}
}

// TestPlainTransportTimeouts: a request times out no sooner than its
// timeout and within a few watchdog ticks after it, and a request that
// finds every connection busy gives up when its own timeout runs out.
func TestPlainTransportTimeouts(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	addr := rawServer(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			<-release
		}
	})
	const timeout = 200 * time.Millisecond
	tr := newPlainTransport(addr, 1, timeout)
	defer tr.close()
	if tr.tick != 10*time.Millisecond {
		t.Fatalf("tick %s, want a twentieth of %s", tr.tick, timeout)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		r, _ := get(tr, addr, http.MethodGet, timeout)
		if took := time.Since(start); r != exporter.ReasonTimeout || took < timeout || took > timeout+time.Second {
			t.Errorf("unanswered request: %s after %s, want %s after %s (+ a few ticks)", r, took, exporter.ReasonTimeout, timeout)
		}
	})
	// The only connection is taken (the server never answers on it):
	// wait until it is open, then ask for another.
	for tr.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	var req fasthttp.Request
	var resp fasthttp.Response
	req.SetRequestURI("http://" + addr + "/")
	start := time.Now()
	err := tr.do(&req, &resp, timeout/2)
	if took := time.Since(start); err != fasthttp.ErrNoFreeConns || took < timeout/2 {
		t.Errorf("waiting for a connection: %v after %s, want %v after %s", err, took, fasthttp.ErrNoFreeConns, timeout/2)
	}
	wg.Wait()
	if n := tr.count(); n != 0 {
		t.Errorf("%d connections open after a timeout, want it closed", n)
	}
}

// TestRequestLine checks what reaches the server from each transport:
// the target's path prefix, the path as the task wrote it (never
// normalised), the query, and the Host header (the URL's, or a task's).
func TestRequestLine(t *testing.T) {
	type seen struct{ line, host string }
	got := make(chan seen, 16)
	addr := rawServer(t, func(c net.Conn) {
		answerEach(c, func(r *http.Request) string {
			got <- seen{r.Method + " " + r.RequestURI + " " + r.Proto, r.Host}
			return "ok"
		})
	})
	const cfg = `
kind: http
target: phoenix
rate: 1/s
tasks:
  - {name: query, get: "/encounters?page=1&status=active"}
  - {name: dots, get: "/a/../b//c"}
  - {name: templated, get: "/soap/{{ 6 }}"}
  - {name: host, get: /x, headers: {Host: other.example}}
`
	want := map[string]seen{
		"query":     {"GET /api/encounters?page=1&status=active HTTP/1.1", addr},
		"dots":      {"GET /api/a/../b//c HTTP/1.1", addr},
		"templated": {"GET /api/soap/6 HTTP/1.1", addr},
		"host":      {"GET /api/x HTTP/1.1", "other.example"},
	}
	sc, _ := build(t, cfg, mustTarget(t, "http://"+addr+"/api/", nil), generators.Deps{})
	defer sc.transport.close()
	if _, ok := sc.transport.(*plainTransport); !ok {
		t.Fatalf("transport %T, want *plainTransport for http://", sc.transport)
	}
	id := sc.newIdentity(sc.spec.target)
	for _, tk := range sc.spec.tasks {
		sc.exec(t.Context(), tk, id, time.Now())
		var s seen
		select {
		case s = <-got:
		default:
			t.Fatalf("task %s: nothing reached the server", tk.name)
		}
		if s != want[tk.name] {
			t.Errorf("task %s: server saw %q with Host %q, want %q with %q", tk.name, s.line, s.host, want[tk.name].line, want[tk.name].host)
		}
	}
}
