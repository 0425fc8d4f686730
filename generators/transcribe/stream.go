package transcribe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/loadd/loadd/generators"
)

// writeStall bounds one write on the shared scheduler: a server that stops
// reading audio (its socket buffer full: seconds of audio) fails its
// stream with reason timeout instead of stalling the streams of its
// scheduler shard for longer. It is set just before the write, and long
// enough that a loadd thread descheduled on a crowded machine does not
// fail a write the server would have taken.
const writeStall = time.Second

// unset marks an offset that has not happened yet.
const unset = -1

// frameWriter is the writing side of a WebSocket connection.
type frameWriter interface {
	WriteMessage(messageType int, data []byte) error
	SetWriteDeadline(t time.Time) error
}

// pace is what every stream of a scenario shares: the frames, their
// timing, and where lag and audio are recorded.
type pace struct {
	frames   *Frames
	count    int           // frames per stream
	interval time.Duration // frame duration / speed
	silence  time.Duration
	keep     *KeepAliveConfig
	endMsg   []byte
	stopping *atomic.Bool // set when the run stops: streams end their audio early
	onFrame  func(lag time.Duration)
}

// stream is one stream's writing state, advanced by the scheduler's ticks.
// Only tick touches the unexported plain fields; the atomics are read by
// the stream's reader.
type stream struct {
	p     *pace
	w     frameWriter
	close func()
	start time.Time

	sent     int
	audioEnd time.Time
	nextKeep time.Time

	firstByte atomic.Int64 // offset from start, or unset
	endAt     atomic.Int64 // offset of the end message, or unset
	frames    atomic.Int64 // frames sent
	done      atomic.Bool  // set by the reader: stop ticking
	errMu     sync.Mutex
	err       error
}

func newStream(p *pace, w frameWriter, closeConn func(), start time.Time) *stream {
	s := &stream{p: p, w: w, close: closeConn, start: start}
	s.firstByte.Store(unset)
	s.endAt.Store(unset)
	return s
}

var _ ticker = (*stream)(nil)

// tick sends the frame due now; after the last frame it sends keep-alives
// through the silence, then the end message.
func (s *stream) tick(now time.Time) (time.Time, bool) {
	if s.done.Load() {
		return time.Time{}, false
	}
	p := s.p
	if s.audioEnd.IsZero() {
		if s.sent < p.count && !p.stopping.Load() {
			return s.sendFrame(now)
		}
		s.audioEnd = now
	}
	if silenceEnd := s.audioEnd.Add(p.silence); now.Before(silenceEnd) && !p.stopping.Load() {
		return s.keepAlive(now, silenceEnd)
	}
	// Stored before the write: the reply may beat the write's return.
	s.endAt.Store(int64(now.Sub(s.start)))
	if len(p.endMsg) > 0 {
		if err := s.write(websocket.TextMessage, p.endMsg); err != nil {
			return s.fail(err)
		}
	}
	return time.Time{}, false
}

func (s *stream) slot(i int) time.Time { return s.start.Add(time.Duration(i) * s.p.interval) }

func (s *stream) sendFrame(now time.Time) (time.Time, bool) {
	if s.sent == 0 {
		s.firstByte.Store(int64(now.Sub(s.start)))
	}
	s.p.onFrame(now.Sub(s.slot(s.sent)))
	if err := s.write(websocket.BinaryMessage, s.p.frames.At(s.sent)); err != nil {
		return s.fail(err)
	}
	s.sent++
	s.frames.Store(int64(s.sent))
	if s.sent < s.p.count {
		return s.slot(s.sent), true
	}
	return s.tick(now) // audio done: silence or end message now
}

func (s *stream) keepAlive(now, silenceEnd time.Time) (time.Time, bool) {
	k := s.p.keep
	if k == nil {
		return silenceEnd, true
	}
	if s.nextKeep.IsZero() {
		s.nextKeep = s.audioEnd.Add(k.Every.D())
	}
	if !now.Before(s.nextKeep) {
		if err := s.write(websocket.TextMessage, []byte(k.Message)); err != nil {
			return s.fail(err)
		}
		s.nextKeep = s.nextKeep.Add(k.Every.D())
	}
	if s.nextKeep.Before(silenceEnd) {
		return s.nextKeep, true
	}
	return silenceEnd, true
}

func (s *stream) write(mt int, b []byte) error {
	if err := s.w.SetWriteDeadline(time.Now().Add(writeStall)); err != nil {
		return err
	}
	return s.w.WriteMessage(mt, b)
}

// fail records a write error and closes the connection so the reader
// returns.
func (s *stream) fail(err error) (time.Time, bool) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = fmt.Errorf("send audio: %w", err)
	}
	s.errMu.Unlock()
	s.close()
	return time.Time{}, false
}

func (s *stream) writeErr() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// streamer runs streaming jobs: dial, config message, frames on the shared
// scheduler, results read on the job's goroutine.
type streamer struct {
	url          string
	dialer       *websocket.Dialer
	header       http.Header
	session      *generators.Session
	parser       *ResultParser
	check        *Check
	timeout      time.Duration
	configMsg    []byte
	closeOnFinal bool
	pace         *pace
	sched        func() *scheduler
}

// errStatus is an unexpected HTTP status: reason status.
type errStatus struct{ code int }

func (e errStatus) Error() string { return fmt.Sprintf("unexpected status %d", e.code) }

// errServerClose is a close frame with an error code: reason status.
var errServerClose = errors.New("server closed the stream")

func (g *streamer) run(ctx context.Context, _ time.Time) outcome {
	conn, code, err := g.dial(ctx)
	if err != nil {
		return outcome{code: code, err: err, interrupted: ctx.Err() != nil}
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if len(g.configMsg) > 0 {
		if err := conn.WriteMessage(websocket.TextMessage, g.configMsg); err != nil {
			return outcome{code: code, err: fmt.Errorf("send config message: %w", err)}
		}
	}
	start := time.Now()
	st := newStream(g.pace, conn, func() { conn.Close() }, start)
	p := g.pace
	wall := time.Duration(p.count)*p.interval + p.silence + g.timeout
	if err := conn.SetReadDeadline(start.Add(wall)); err != nil {
		return outcome{code: code, err: err}
	}
	g.sched().Add(start, st)
	rd := g.read(conn, st)
	st.done.Store(true)
	out := g.finish(st, rd)
	out.code = code
	out.interrupted = ctx.Err() != nil && out.err != nil
	return out
}

func (g *streamer) dial(ctx context.Context) (*websocket.Conn, int, error) {
	h := g.header
	if g.session != nil {
		tok, err := g.session.Token(ctx)
		if err != nil {
			return nil, 0, err
		}
		if tok != "" {
			h = h.Clone()
			h.Set("Authorization", "Bearer "+tok)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	conn, resp, err := g.dialer.DialContext(dctx, g.url, h)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			if resp.StatusCode == http.StatusUnauthorized && g.session != nil {
				g.session.Invalidate(strings.TrimPrefix(h.Get("Authorization"), "Bearer "))
			}
			return nil, resp.StatusCode, fmt.Errorf("open stream: %w", errStatus{resp.StatusCode})
		}
		return nil, 0, fmt.Errorf("open stream: %w", err)
	}
	return conn, http.StatusSwitchingProtocols, nil
}

// readState is what the reader saw.
type readState struct {
	err         error
	firstResult int64 // offset from start, or unset
	lastFinal   int64
	finals      []string
}

func (g *streamer) read(conn *websocket.Conn, st *stream) readState {
	rd := readState{firstResult: unset, lastFinal: unset}
	for {
		mt, msg, err := conn.ReadMessage()
		if err != nil {
			rd.err = err
			return rd
		}
		if mt != websocket.TextMessage {
			continue
		}
		r, err := g.parser.Parse(msg)
		if err != nil {
			rd.err = err
			return rd
		}
		if !r.IsResult {
			continue
		}
		at := int64(time.Since(st.start))
		if rd.firstResult == unset {
			rd.firstResult = at
		}
		if !r.Final {
			continue
		}
		rd.finals = append(rd.finals, r.Transcript)
		rd.lastFinal = at
		if g.closeOnFinal && st.endAt.Load() != unset {
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return rd
		}
	}
}

// finish turns what the reader saw into an outcome.
func (g *streamer) finish(st *stream, rd readState) outcome {
	audio := time.Duration(st.frames.Load()) * g.pace.frames.Dur
	out := outcome{audio: audio}
	end := st.endAt.Load()
	var ce *websocket.CloseError
	// A write fails after the server's close frame: the close says why.
	serverClosed := errors.As(rd.err, &ce) && ce.Code != websocket.CloseAbnormalClosure
	if werr := st.writeErr(); werr != nil && !serverClosed {
		out.err = werr
		return out
	}
	if rd.err != nil {
		switch {
		case serverClosed && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseNoStatusReceived) && end != unset:
			// The server closed the stream after the end of audio: done.
		case serverClosed && ce.Code == websocket.CloseNormalClosure:
			out.err = fmt.Errorf("%w: closed before the end of audio", ErrProtocol)
			return out
		case serverClosed:
			out.err = fmt.Errorf("%w with code %d %q", errServerClose, ce.Code, ce.Text)
			return out
		default:
			out.err = fmt.Errorf("read results: %w", rd.err)
			return out
		}
	}
	if len(rd.finals) == 0 {
		out.err = fmt.Errorf("%w: no final result", ErrProtocol)
		return out
	}
	first := max(st.firstByte.Load(), 0)
	out.timed = true
	if rd.firstResult != unset {
		out.hasFirst = true
		out.firstResult = time.Duration(max(rd.firstResult-first, 0))
	}
	out.final = time.Duration(max(rd.lastFinal-end, 0))
	out.latency = out.final
	if audio > 0 {
		out.rtf = float64(rd.lastFinal-first) / float64(audio)
	}
	if g.check != nil {
		out.err = g.check.Verify(strings.Join(rd.finals, " "))
	}
	return out
}
