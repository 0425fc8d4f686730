package wsload

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"

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
