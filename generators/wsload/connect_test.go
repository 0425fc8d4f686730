package wsload

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
)

// TestConnectFailureReasons dials real failing peers and checks the reason
// each failure is counted under.
func TestConnectFailureReasons(t *testing.T) {
	closedPort := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}
	status := func(code int) func(t *testing.T) string {
		return func(t *testing.T) string {
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }))
			t.Cleanup(s.Close)
			return s.URL
		}
	}
	silent := func(t *testing.T) string { // accepts TCP, never answers the upgrade
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() })
			}
		}()
		return "http://" + l.Addr().String()
	}
	plainAsTLS := func(t *testing.T) string {
		s := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(s.Close)
		return "https" + s.URL[len("http"):]
	}
	for _, tc := range []struct {
		name   string
		url    func(t *testing.T) string
		extra  map[string]any
		reason string
	}{
		{"refused", closedPort, nil, ConnRefused},
		{"handshake status", status(http.StatusInternalServerError), nil, ConnHandshake},
		{"unauthorized", status(http.StatusUnauthorized), nil, ConnAuth},
		{"timeout", silent, map[string]any{"connect_timeout": "100ms"}, ConnTimeout},
		{"tls", plainAsTLS, nil, ConnTLS},
		{"address unavailable", silent, map[string]any{"source_addresses": []any{"192.0.2.1"}}, ConnAddress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := map[string]any{"sessions": 1, "backoff": map[string]any{"initial": "1s", "max": "1s"}}
			for k, v := range tc.extra {
				raw[k] = v
			}
			f := newFixture(t, tc.url(t), nil, raw, generators.Deps{})
			f.start(t)
			eventually(t, 5*time.Second, tc.reason+" failure", func() bool { return f.value(t, mConnFail, tc.reason) >= 1 })
			var total float64
			for _, r := range ConnectReasons {
				total += f.value(t, mConnFail, r)
			}
			if total != f.value(t, mConnFail, tc.reason) {
				t.Errorf("failures counted under other reasons too: total %v", total)
			}
			if st := f.sc.Status(); st.Failures["connect_"+tc.reason] < 1 {
				t.Errorf("status failures = %v", st.Failures)
			}
		})
	}
}

func TestClassifyRead(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&websocket.CloseError{Code: websocket.CloseNormalClosure}, DiscServerClose},
		{&websocket.CloseError{Code: websocket.CloseGoingAway}, DiscServerClose},
		{&websocket.CloseError{Code: websocket.CloseInternalServerErr}, DiscServerError},
		{&websocket.CloseError{Code: 4001}, DiscServerError},
		{&websocket.CloseError{Code: websocket.CloseMessageTooBig}, DiscReadLimit},
		{&websocket.CloseError{Code: websocket.CloseAbnormalClosure}, DiscReadError},
		{&websocket.CloseError{Code: websocket.CloseNoStatusReceived}, DiscServerClose},
		{&websocket.CloseError{Code: websocket.CloseProtocolError}, DiscProtocol},
		{websocket.ErrReadLimit, DiscReadLimit},
		{&net.OpError{Op: "read", Err: timeoutErr{}}, DiscIdleTimeout},
		{&net.OpError{Op: "read", Err: net.ErrClosed}, DiscReadError},
	} {
		if got := classifyRead(tc.err); got != tc.want {
			t.Errorf("classifyRead(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestWSS connects over TLS (wss://) with the target's TLS settings.
func TestWSS(t *testing.T) {
	up := websocket.Upgrader{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		echo(c)
	}))
	defer srv.Close()
	target := &generators.Target{BaseURL: srv.URL, TLS: generators.TLSConfig{InsecureSkipVerify: true}}
	p := &config.Problems{}
	target.Validate("targets.t", "", p)
	raw := map[string]any{"kind": "websocket", "target": "t", "path": "/ws", "sessions": 2,
		"message": `{"id":"{{.ID}}"}`, "correlation": "$.id", "message_every": "20ms"}
	spec := Kind.Decode("s", raw, &generators.Env{Targets: map[string]*generators.Target{"t": target}}, p)
	if p.Len() > 0 {
		t.Fatal(p.Error())
	}
	if u := spec.(*Spec).comp.url; !strings.HasPrefix(u, "wss://") {
		t.Fatalf("url = %s", u)
	}
	f := &fixture{reg: prometheus.NewRegistry()}
	m, err := exporter.New(f.reg, exporter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := spec.Build(generators.Deps{Name: "ws", Metrics: m, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f.sc = sc.(*Scenario)
	f.start(t)
	eventually(t, 5*time.Second, "round trips over wss", func() bool { return f.value(t, mRTT, "") >= 4 })
}

// TestHeadersAndSubprotocols sends the target's and the scenario's headers
// and offers the subprotocols on the upgrade.
func TestHeadersAndSubprotocols(t *testing.T) {
	got := make(chan http.Header, 4)
	up := websocket.Upgrader{Subprotocols: []string{"notify.v2"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		drain(c)
	}))
	defer srv.Close()
	f := newFixture(t, srv.URL, nil, map[string]any{"sessions": 1,
		"headers": map[string]any{"X-Tenant": "t-1"}, "subprotocols": []any{"notify.v1", "notify.v2"}}, generators.Deps{})
	f.start(t)
	select {
	case h := <-got:
		if h.Get("X-Tenant") != "t-1" || h.Get("Sec-Websocket-Protocol") != "notify.v1, notify.v2" {
			t.Errorf("upgrade headers = %v", h)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no upgrade request")
	}
	eventually(t, 5*time.Second, "1 session", func() bool { return f.value(t, mSessions, "") == 1 })
}
