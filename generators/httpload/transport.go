package httpload

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"
)

// maxBody bounds a response body read into memory.
const maxBody = 64 << 20

// idleConn is how long an unused keep-alive connection is kept: under
// the 5 s idle timeout common servers (Apache, Node.js) close them at, so
// loadd does not send on a connection the server is closing.
var idleConn = 4 * time.Second

// transport sends one request and fills resp, giving up after timeout.
// A timeout rather than a deadline: fasthttp works in timeouts, and
// converting to a deadline and back costs two clock reads per request.
type transport interface {
	do(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error
	close()
}

// fastTransport is the HTTP/1.1 path for https:// targets: a fasthttp
// HostClient with keep-alive connections and no per-request allocation.
// (http:// targets take plainTransport.)
type fastTransport struct {
	hc *fasthttp.HostClient
}

// newFastTransport returns a TLS client for addr allowing maxConns
// connections.
func newFastTransport(addr string, tc *tls.Config, maxConns int, timeout time.Duration) *fastTransport {
	if tc != nil {
		tc = tc.Clone()
	}
	hc := &fasthttp.HostClient{
		Addr:                addr,
		Name:                "loadd",
		IsTLS:               true,
		TLSConfig:           tc,
		MaxConns:            maxConns,
		MaxConnWaitTimeout:  timeout,
		MaxIdleConnDuration: idleConn,
		// The most recently used connection goes first: after a burst the
		// steady load keeps a few connections hot and the rest idle out,
		// where FIFO would keep cycling all of them (measured: about 5 %
		// less CPU per request at 10k and 20k/s).
		ConnPoolStrategy:    fasthttp.LIFO,
		ReadBufferSize:      8 << 10,
		MaxResponseBodySize: maxBody,
		// One retry, only for an idempotent request whose kept-alive
		// connection the server closed before answering: a real failure
		// must count, not hide behind retries.
		MaxIdemponentCallAttempts: 2,
		RetryIfErr:                retryStale,
		DisablePathNormalizing:    true,
	}
	return &fastTransport{hc: hc}
}

func retryStale(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	return false, attempts < 2 && errors.Is(err, io.EOF) && idempotent(req.Header.Method())
}

func idempotent(m []byte) bool {
	switch string(m) {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

func (t *fastTransport) do(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	return t.hc.DoTimeout(req, resp, timeout)
}

func (t *fastTransport) close() { t.hc.CloseIdleConnections() }

// stdTransport is the net/http path, used for HTTP/2: requests are
// converted from and responses into fasthttp's types so the rest of the
// generator has one representation.
type stdTransport struct {
	client *http.Client
	rt     *http.Transport
}

// newStdTransport returns an HTTP/2 client (h2c prior knowledge for
// http:// targets, ALPN for https://).
func newStdTransport(isTLS bool, tc *tls.Config, maxConns int) *stdTransport {
	rt := &http.Transport{
		TLSClientConfig:     tc,
		MaxIdleConnsPerHost: maxConns,
		MaxConnsPerHost:     0,
		IdleConnTimeout:     30 * time.Second,
		ForceAttemptHTTP2:   true,
		DisableCompression:  true,
	}
	if tc != nil {
		rt.TLSClientConfig = tc.Clone()
	}
	protos := new(http.Protocols)
	if isTLS {
		protos.SetHTTP2(true)
	} else {
		protos.SetUnencryptedHTTP2(true)
	}
	rt.Protocols = protos
	return &stdTransport{client: &http.Client{Transport: rt, CheckRedirect: noRedirect}, rt: rt}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (t *stdTransport) do(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var body io.Reader
	if b := req.Body(); len(b) > 0 {
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, string(req.Header.Method()), string(req.URI().FullURI()), body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	for k, v := range req.Header.All() {
		switch string(k) {
		case fasthttp.HeaderHost:
			if req.UseHostHeader {
				hr.Host = string(v)
			}
			continue
		case fasthttp.HeaderContentLength, fasthttp.HeaderConnection:
			continue
		}
		hr.Header.Add(string(k), string(v))
	}
	if hr.Header.Get(fasthttp.HeaderUserAgent) == "" {
		hr.Header.Set(fasthttp.HeaderUserAgent, "loadd")
	}
	res, err := t.client.Do(hr)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	resp.Reset()
	resp.SetStatusCode(res.StatusCode)
	for k, vs := range res.Header {
		for _, v := range vs {
			resp.Header.Add(k, v)
		}
	}
	w := resp.BodyWriter()
	n, err := io.Copy(w, io.LimitReader(res.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if n > maxBody {
		return fasthttp.ErrBodyTooLarge
	}
	return nil
}

func (t *stdTransport) close() { t.rt.CloseIdleConnections() }
