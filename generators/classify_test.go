package generators

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/loadd/loadd/exporter"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "fasthttp: timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: err}}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want exporter.Reason
	}{
		{"nil", nil, exporter.ReasonNone},
		{"login", fmt.Errorf("%w: POST /auth/token: status 500", ErrAuth), exporter.ReasonAuth},
		{"login timeout is auth", fmt.Errorf("%w: POST /t: %w", ErrAuth, context.DeadlineExceeded), exporter.ReasonAuth},
		{"context deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), exporter.ReasonTimeout},
		{"os deadline", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, exporter.ReasonTimeout},
		{"Timeout() method", timeoutErr{}, exporter.ReasonTimeout},
		{"url timeout", &url.Error{Op: "Get", URL: "http://x", Err: timeoutErr{}}, exporter.ReasonTimeout},
		{"etimedout", opErr("dial", syscall.ETIMEDOUT), exporter.ReasonTimeout},
		{"refused", opErr("dial", syscall.ECONNREFUSED), exporter.ReasonConnect},
		{"host unreachable", opErr("dial", syscall.EHOSTUNREACH), exporter.ReasonConnect},
		{"net unreachable", opErr("dial", syscall.ENETUNREACH), exporter.ReasonConnect},
		{"dns", &net.DNSError{Err: "no such host", Name: "x.invalid"}, exporter.ReasonConnect},
		{"cannot assign requested address", opErr("dial", syscall.EADDRNOTAVAIL), exporter.ReasonAddr},
		{"too many open files", opErr("dial", syscall.EMFILE), exporter.ReasonAddr},
		{"tls record header", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, exporter.ReasonTLS},
		{"unknown authority", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, exporter.ReasonTLS},
		{"hostname", x509.HostnameError{Host: "x", Certificate: &x509.Certificate{}}, exporter.ReasonTLS},
		{"tls alert", fmt.Errorf("remote error: %w", tls.AlertError(40)), exporter.ReasonTLS},
		{"reset", opErr("read", syscall.ECONNRESET), exporter.ReasonReset},
		{"broken pipe", opErr("write", syscall.EPIPE), exporter.ReasonReset},
		{"eof", fmt.Errorf("read: %w", io.EOF), exporter.ReasonReset},
		{"unexpected eof", io.ErrUnexpectedEOF, exporter.ReasonReset},
		{"fasthttp closed", errors.New("fasthttp: the server closed connection before returning the first response byte"), exporter.ReasonReset},
		{"malformed", errors.New(`net/http: HTTP/1.x transport connection broken: malformed HTTP response "x"`), exporter.ReasonProtocol},
		{"fasthttp header", errors.New("error when reading response headers: cannot find whitespace"), exporter.ReasonProtocol},
		{"other", errors.New("something else"), exporter.ReasonOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
			}
		})
	}
}

// TestClassifyReal checks errors produced by real dials and handshakes.
func TestClassifyReal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = net.DialTimeout("tcp", addr, time.Second)
	if got := Classify(err); got != exporter.ReasonConnect {
		t.Errorf("dial closed port: %v → %s, want connect", err, got)
	}

	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	_, err = (&http.Client{Timeout: 5 * time.Second}).Get(srv.URL)
	if got := Classify(err); got != exporter.ReasonTLS {
		t.Errorf("untrusted certificate: %v → %s, want tls", err, got)
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer slow.Close()
	_, err = (&http.Client{Timeout: 50 * time.Millisecond}).Get(slow.URL)
	if got := Classify(err); got != exporter.ReasonTimeout {
		t.Errorf("client timeout: %v → %s, want timeout", err, got)
	}
}
