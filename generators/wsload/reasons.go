package wsload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"

	"github.com/gorilla/websocket"

	"github.com/loadd/loadd/generators"
)

// Connect-failure reasons: the closed set of the reason label of
// loadd_ws_connect_failures_total.
const (
	ConnRefused     = "refused"             // nothing listens (ECONNREFUSED)
	ConnTimeout     = "timeout"             // connect_timeout passed during TCP, TLS or upgrade
	ConnHandshake   = "handshake"           // the upgrade was answered with a status other than 101 (and not 401/403)
	ConnAuth        = "auth"                // login failed, or the upgrade was answered 401/403
	ConnTLS         = "tls"                 // TLS handshake or certificate error
	ConnAddress     = "address_unavailable" // no local address/port (EADDRNOTAVAIL)
	ConnFileLimit   = "file_limit"          // out of file descriptors (EMFILE/ENFILE)
	ConnReset       = "reset"               // the connection broke during the handshake
	ConnUnreachable = "unreachable"         // no route, or the name did not resolve
	ConnOther       = "other"
)

// ConnectReasons lists every connect-failure reason.
var ConnectReasons = [...]string{ConnRefused, ConnTimeout, ConnHandshake, ConnAuth, ConnTLS, ConnAddress, ConnFileLimit, ConnReset, ConnUnreachable, ConnOther}

// Disconnect reasons: the closed set of the reason label of
// loadd_ws_disconnects_total.
const (
	DiscServerClose = "server_close" // close frame 1000/1001/1005/1012/1013: normal, going away, no status, restart
	DiscServerError = "server_error" // close frame with any other code (1008 policy, 1011 error, 4xxx…)
	DiscReadError   = "read_error"   // the connection broke without a close frame (EOF, reset)
	DiscWriteError  = "write_error"  // sending a message, ping or subscribe failed
	DiscPongTimeout = "pong_timeout" // a ping or message got no answer within pong_timeout
	DiscIdleTimeout = "idle_timeout" // nothing received within idle_timeout
	DiscReadLimit   = "read_limit"   // a message was larger than read_limit
	DiscProtocol    = "protocol"     // the server broke the WebSocket protocol
	DiscLifetime    = "lifetime"     // session_lifetime ran out (churn)
	DiscScaleDown   = "scale_down"   // the population shrank
	DiscShutdown    = "shutdown"     // the scenario stopped
)

// DisconnectReasons lists every disconnect reason.
var DisconnectReasons = [...]string{DiscServerClose, DiscServerError, DiscReadError, DiscWriteError, DiscPongTimeout, DiscIdleTimeout, DiscReadLimit, DiscProtocol, DiscLifetime, DiscScaleDown, DiscShutdown}

// planned reports whether r is a disconnect loadd asked for.
func planned(r string) bool {
	return r == DiscLifetime || r == DiscScaleDown || r == DiscShutdown
}

// classifyConnect maps a dial error (and the handshake response, if any)
// to a connect-failure reason.
func classifyConnect(err error, resp *http.Response) string {
	if errors.Is(err, generators.ErrAuth) {
		return ConnAuth
	}
	if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return ConnAuth
		}
		return ConnHandshake
	}
	var (
		ne       net.Error
		certErr  *tls.CertificateVerificationError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
		unkAuth  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		dnsErr   *net.DNSError
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ConnRefused
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return ConnAddress
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return ConnFileLimit
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH), errors.As(err, &dnsErr):
		return ConnUnreachable
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &alertErr),
		errors.As(err, &unkAuth), errors.As(err, &hostErr):
		return ConnTLS
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return ConnTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ConnReset
	case errors.Is(err, websocket.ErrBadHandshake):
		return ConnHandshake
	}
	return ConnOther
}

// classifyRead maps the error that ended a session's reader to a
// disconnect reason.
func classifyRead(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		switch ce.Code {
		case websocket.CloseAbnormalClosure:
			return DiscReadError // gorilla's code for a connection that ended without a close frame
		case websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseServiceRestart,
			websocket.CloseTryAgainLater, websocket.CloseNoStatusReceived:
			return DiscServerClose
		case websocket.CloseMessageTooBig:
			return DiscReadLimit
		case websocket.CloseProtocolError, websocket.CloseUnsupportedData, websocket.CloseInvalidFramePayloadData:
			return DiscProtocol
		}
		return DiscServerError
	}
	var ne net.Error
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		return DiscReadLimit
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return DiscIdleTimeout
	case isProtocolError(err):
		return DiscProtocol
	}
	return DiscReadError
}

// isProtocolError recognises gorilla's protocol errors ("websocket: bad
// opcode", "websocket: invalid close code"…), which have no exported type.
func isProtocolError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return false
	}
	return strings.HasPrefix(err.Error(), "websocket: ")
}
