package httpload

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
)

// protoServer answers every request, recording its protocol, body,
// cookie and traceparent; the first response sets a cookie.
type protoServer struct {
	mu    sync.Mutex
	proto []int
	body  []string
	sid   []string
	trace []string
	host  []string
}

func (ps *protoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c, _ := r.Cookie("sid")
	ps.mu.Lock()
	ps.proto = append(ps.proto, r.ProtoMajor)
	ps.body = append(ps.body, string(b))
	if c != nil {
		ps.sid = append(ps.sid, c.Value)
	} else {
		ps.sid = append(ps.sid, "")
	}
	ps.trace = append(ps.trace, r.Header.Get("traceparent"))
	ps.host = append(ps.host, r.Host)
	ps.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "sid", Value: "abc"})
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok":true}`)
}

// tlsTarget trusts srv's certificate through a CA file.
func tlsTarget(t *testing.T, srv *httptest.Server) *generators.Target {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	tg := &generators.Target{BaseURL: srv.URL, TLS: generators.TLSConfig{CAFile: ca}}
	p := &config.Problems{}
	tg.Validate("targets.phoenix", "", p)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestTransports(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tls, http2 bool
		wantProto  int
	}{
		{"http/1.1 fasthttp", false, false, 1},
		{"https/1.1 fasthttp", true, false, 1},
		{"h2 over TLS", true, true, 2},
		{"h2c", false, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := &protoServer{}
			srv := httptest.NewUnstartedServer(ps)
			var tg *generators.Target
			if tc.tls {
				srv.EnableHTTP2 = true
				srv.StartTLS()
				tg = tlsTarget(t, srv)
			} else {
				srv.Config.Protocols = new(http.Protocols)
				srv.Config.Protocols.SetHTTP1(true)
				srv.Config.Protocols.SetUnencryptedHTTP2(true)
				srv.Start()
				tg = mustTarget(t, srv.URL, nil)
			}
			defer srv.Close()
			http2 := "false"
			if tc.http2 {
				http2 = "true"
			}
			sc, _ := build(t, `
kind: http
target: phoenix
rate: 1/s
http2: `+http2+`
tasks: [{name: create, post: /x, headers: {host: api.test}, json: {a: "{{ randInt 7 7 }}"}, check: {json: {"$.ok": {equals: true}}}}]
`, tg, generators.Deps{})
			id := sc.newIdentity(sc.spec.target)
			for range 2 {
				if o := execOnce(t, sc, id, "create"); o.Reason != exporter.ReasonNone || o.Code != 200 {
					t.Fatalf("outcome %+v", o)
				}
			}
			sc.transport.close()
			ps.mu.Lock()
			defer ps.mu.Unlock()
			for i := range 2 {
				if ps.proto[i] != tc.wantProto || ps.body[i] != `{"a":"7"}` || !traceparentRE.MatchString(ps.trace[i]) || ps.host[i] != "api.test" {
					t.Errorf("request %d: HTTP/%d body %q traceparent %q host %q", i, ps.proto[i], ps.body[i], ps.trace[i], ps.host[i])
				}
			}
			if ps.sid[0] != "" || ps.sid[1] != "abc" {
				t.Errorf("cookies sent %q: the second request should return the first's cookie", ps.sid)
			}
		})
	}
}
