package wsload

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"
)

// bufferSize is the size of each session's read buffer and of the pooled
// write buffers: large enough for typical notification messages, small
// enough that 10,000 idle sessions cost little.
const bufferSize = 1024

// newDialers returns one dialer per source address (one without a local
// address when sources is empty). They share one write buffer pool, which
// must stay a bare sync.Pool: with a New function, gorilla would get a
// buffer for every idle connection and the pool would save nothing.
func newDialers(c *Config, comp *compiled) []*websocket.Dialer {
	pool := &sync.Pool{}
	mk := func(local net.Addr) *websocket.Dialer {
		nd := &net.Dialer{LocalAddr: local, KeepAlive: -1}
		if local != nil {
			nd.Control = bindAddressNoPort
		}
		var tlsConf = comp.target.TLSClient
		if tlsConf != nil {
			tlsConf = tlsConf.Clone()
			tlsConf.NextProtos = nil // HTTP/1.1 upgrade only
		}
		return &websocket.Dialer{
			NetDialContext:   nd.DialContext,
			TLSClientConfig:  tlsConf,
			HandshakeTimeout: c.ConnectTimeout.D(),
			ReadBufferSize:   bufferSize,
			WriteBufferSize:  bufferSize,
			WriteBufferPool:  pool,
			Subprotocols:     c.Subprotocols,
		}
	}
	if len(comp.sources) == 0 {
		return []*websocket.Dialer{mk(nil)}
	}
	out := make([]*websocket.Dialer, len(comp.sources))
	for i, ip := range comp.sources {
		out[i] = mk(&net.TCPAddr{IP: ip})
	}
	return out
}

// bindAddressNoPort sets IP_BIND_ADDRESS_NO_PORT, so binding a source
// address does not reserve an ephemeral port before connect: the kernel
// then picks the port per (source, destination) pair, and each source
// address gets its own ~28k ports towards one destination.
func bindAddressNoPort(network, address string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return fmt.Errorf("set IP_BIND_ADDRESS_NO_PORT: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("set IP_BIND_ADDRESS_NO_PORT: %w", serr)
	}
	return nil
}

// fileReserve is how many descriptors are kept for everything but
// sessions: listeners, scrapes, logs, other scenarios' HTTP connections.
const fileReserve = 256

// ErrFileLimit is returned when the process may not open enough files for
// the sessions asked for.
var ErrFileLimit = errors.New("file descriptor limit too low")

// fileLimit raises the soft RLIMIT_NOFILE to the hard limit and returns both.
func fileLimit() (soft, hard uint64, err error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	if r.Cur < r.Max {
		raised := unix.Rlimit{Cur: r.Max, Max: r.Max}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &raised); err == nil {
			r.Cur = r.Max
		}
	}
	return r.Cur, r.Max, nil
}

// openFiles counts the descriptors the process holds now.
func openFiles() (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("count open files: %w", err)
	}
	return len(ents), nil
}

// checkFileLimit fails, before anything is opened, when sessions more
// connections (on top of inUse descriptors already open) do not fit under
// the soft limit, and says what to raise.
func checkFileLimit(scenario string, sessions, inUse int, soft, hard uint64) error {
	need := uint64(sessions + inUse + fileReserve)
	if need <= soft {
		return nil
	}
	return fmt.Errorf("%w: scenario %s wants %d sessions, which with %d files already open and %d in reserve need %d descriptors, "+
		"but RLIMIT_NOFILE allows %d (hard limit %d). Raise the hard limit (systemd: LimitNOFILE=%d in the unit; "+
		"containers: --ulimit nofile=%d:%d or the runtime's default ulimit), or shard the scenario over more loadd "+
		"processes (--shard i/N, each holds a share) or lower sessions",
		ErrFileLimit, scenario, sessions, inUse, fileReserve, need, soft, hard, need, need, need)
}

// writeDeadline is the time to allow a write, bounded by the pong timeout
// so a stalled peer cannot hold a shared writer for long.
func writeDeadline(now time.Time, pong time.Duration) time.Time {
	return now.Add(min(pong, 5*time.Second))
}
