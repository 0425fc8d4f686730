package httpload

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// maxDeferred bounds the request bytes a sendConn holds back: a larger
// request is written through at once, so a big body is never buffered twice.
const maxDeferred = 16 << 10

// sendConn is a plain TCP connection that holds a request's bytes back
// until the response is read, then writes them and waits for the answer
// in one step.
//
// A request–response client writes the request and reads at once; on a
// non-blocking socket that first read almost always finds nothing yet
// (EAGAIN), parks on the poller, and reads again when woken: two read
// system calls per response. sendConn writes from inside the poller's
// read wait instead (syscall.RawConn.Read arms the wait before calling
// back), so the goroutine parks straight after the write and the first
// read finds the response. Where a write cannot complete at once it falls
// back to the ordinary blocking Write.
type sendConn struct {
	*net.TCPConn
	raw     syscall.RawConn
	pending []byte
	// The read-wait callback and its state, bound once at dial so that an
	// exchange allocates nothing.
	writeOnce func(fd uintptr) bool
	sent      bool
	writeErr  error
	// The write deadline is applied only before a write that can block:
	// the write from the read wait never blocks, and setting a deadline
	// costs a runtime timer update per request.
	writeDeadline      time.Time
	writeDeadlineDirty bool
}

// SetWriteDeadline records t for the next write that can block.
func (c *sendConn) SetWriteDeadline(t time.Time) error {
	c.writeDeadline, c.writeDeadlineDirty = t, true
	return nil
}

// SetDeadline sets the read deadline now and the write deadline lazily.
func (c *sendConn) SetDeadline(t time.Time) error {
	if err := c.TCPConn.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// blockingWrite writes p the ordinary way, under the write deadline.
func (c *sendConn) blockingWrite(p []byte) (int, error) {
	if c.writeDeadlineDirty {
		if err := c.TCPConn.SetWriteDeadline(c.writeDeadline); err != nil {
			return 0, err
		}
		c.writeDeadlineDirty = false
	}
	return c.TCPConn.Write(p)
}

// dialSend dials addr over TCP within timeout and wraps the connection.
func dialSend(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	sc := &sendConn{TCPConn: tc, raw: raw}
	sc.writeOnce = sc.writeInWait
	return sc, nil
}

// Write holds p back for the next Read, unless the request is large.
func (c *sendConn) Write(p []byte) (int, error) {
	if len(c.pending)+len(p) <= maxDeferred {
		c.pending = append(c.pending, p...)
		return len(p), nil
	}
	if err := c.flush(); err != nil {
		return 0, err
	}
	return c.blockingWrite(p)
}

// Read first sends what Write held back, waiting for the response in the
// same poller wait, then reads.
func (c *sendConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		if err := c.sendAndWait(); err != nil {
			return 0, err
		}
	}
	return c.TCPConn.Read(p)
}

// sendAndWait writes the pending bytes from inside a read wait: the
// callback runs after the wait is armed, so a response that arrives right
// after the write wakes it.
func (c *sendConn) sendAndWait() error {
	c.sent, c.writeErr = false, nil
	err := c.raw.Read(c.writeOnce)
	if c.writeErr != nil {
		return c.writeErr
	}
	if err != nil {
		return err
	}
	return c.flush()
}

// writeInWait is the read-wait callback: the first call writes, and
// returns false (park) when the whole request went out; any later call
// means readable, or woken, and the caller's Read finds out which.
func (c *sendConn) writeInWait(fd uintptr) bool {
	if c.sent {
		return true
	}
	c.sent = true
	n, err := syscall.Write(int(fd), c.pending)
	switch {
	case err == nil && n == len(c.pending):
		c.pending = c.pending[:0]
		return false
	case err == nil:
		c.pending = c.pending[n:] // flush writes the rest
	case err == syscall.EAGAIN: // flush writes it all
	default:
		c.writeErr = &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("write", err)}
	}
	return true
}

// flush writes the pending bytes the ordinary way.
func (c *sendConn) flush() error {
	if len(c.pending) == 0 {
		return nil
	}
	_, err := c.blockingWrite(c.pending)
	c.pending = c.pending[:0]
	return err
}
