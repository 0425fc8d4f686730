package generators

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/loadd/loadd/exporter"
)

// Classify maps an error from a request, dial or login to the closed set of
// failure reasons that may become the reason label. A nil error is
// exporter.ReasonNone; an error it does not recognise is exporter.ReasonOther.
// Order matters: a login failure caused by a timeout is still ReasonAuth,
// and a TLS handshake that timed out is ReasonTimeout.
func Classify(err error) exporter.Reason {
	switch {
	case err == nil:
		return exporter.ReasonNone
	case errors.Is(err, ErrAuth):
		return exporter.ReasonAuth
	case isTimeout(err):
		return exporter.ReasonTimeout
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return exporter.ReasonAddr
	case isConnect(err):
		return exporter.ReasonConnect
	case isTLS(err):
		return exporter.ReasonTLS
	case isReset(err):
		return exporter.ReasonReset
	case isProtocol(err):
		return exporter.ReasonProtocol
	}
	return exporter.ReasonOther
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func isConnect(err error) bool {
	for _, e := range []error{syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.ENETDOWN} {
		if errors.Is(err, e) {
			return true
		}
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isTLS(err error) bool {
	var (
		rh    tls.RecordHeaderError
		alert tls.AlertError
		cv    *tls.CertificateVerificationError
		ua    x509.UnknownAuthorityError
		hn    x509.HostnameError
		ci    x509.CertificateInvalidError
	)
	if errors.As(err, &rh) || errors.As(err, &alert) || errors.As(err, &cv) ||
		errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) {
		return true
	}
	return strings.Contains(err.Error(), "tls: ")
}

func isReset(err error) bool {
	for _, e := range []error{syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED, io.EOF, io.ErrUnexpectedEOF, net.ErrClosed} {
		if errors.Is(err, e) {
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "server closed connection") || strings.Contains(msg, "connection reset")
}

func isProtocol(err error) bool {
	msg := err.Error()
	for _, s := range []string{"malformed HTTP", "cannot parse", "error when reading response headers", "http2: ", "body size exceeds", "unexpected status line"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
