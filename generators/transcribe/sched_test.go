package transcribe

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/loadd/loadd/config"
)

// fakeConn records when each message was written; every write costs
// writeCost of (fake) time, as a syscall would.
type fakeConn struct {
	writeCost time.Duration
	mu        sync.Mutex
	frames    []time.Time
	texts     []string
	textAt    []time.Time
}

func (c *fakeConn) WriteMessage(mt int, b []byte) error {
	now := time.Now()
	time.Sleep(c.writeCost)
	c.mu.Lock()
	defer c.mu.Unlock()
	if mt == websocket.BinaryMessage {
		c.frames = append(c.frames, now)
	} else {
		c.texts = append(c.texts, string(b))
		c.textAt = append(c.textAt, now)
	}
	return nil
}

func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

func testPace(count int, silence time.Duration, keep *KeepAliveConfig, stopping *atomic.Bool, lags *[]time.Duration, mu *sync.Mutex) *pace {
	clip := &Clip{PCM: make([]byte, 32000), SampleRate: 16000} // 1 s
	return &pace{
		frames:   clip.Frames(100 * time.Millisecond),
		count:    count,
		interval: 100 * time.Millisecond,
		silence:  silence,
		keep:     keep,
		endMsg:   []byte(DefaultEndMessage),
		stopping: stopping,
		onFrame: func(lag time.Duration) {
			mu.Lock()
			*lags = append(*lags, lag)
			mu.Unlock()
		},
	}
}

// TestFramePacing runs streams on one scheduler shard, with writes that
// take 1 ms each, and checks every frame leaves within 5 ms of its
// real-time slot — no drift over 40 frames, no burst after a slow write.
func TestFramePacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		sched := newScheduler(ctx, 1)
		var (
			stopping atomic.Bool
			mu       sync.Mutex
			lags     []time.Duration
		)
		keep := &KeepAliveConfig{Every: config.Duration(200 * time.Millisecond), Message: DefaultKeepAlive}
		p := testPace(40, 500*time.Millisecond, keep, &stopping, &lags, &mu)
		const streams = 4
		conns := make([]*fakeConn, streams)
		starts := make([]time.Time, streams)
		for i := range conns {
			conns[i] = &fakeConn{writeCost: time.Millisecond}
			starts[i] = time.Now()
			sched.Add(starts[i], newStream(p, conns[i], func() {}, starts[i]))
			// Starts 250µs apart: each write (1ms) delays the streams
			// behind it, so a pacer that drifted by its own lateness
			// would fall further behind every frame.
			time.Sleep(250 * time.Microsecond)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for k, c := range conns {
			if len(c.frames) != 40 {
				t.Fatalf("stream %d sent %d frames, want 40", k, len(c.frames))
			}
			for i, at := range c.frames {
				slot := starts[k].Add(time.Duration(i) * 100 * time.Millisecond)
				if d := at.Sub(slot); d < 0 || d > 5*time.Millisecond {
					t.Errorf("stream %d frame %d left %s after its slot", k, i, d)
				}
			}
			audioEnd := c.frames[39]
			want := []string{DefaultKeepAlive, DefaultKeepAlive, DefaultEndMessage}
			if len(c.texts) != len(want) {
				t.Fatalf("stream %d texts = %q, want %q", k, c.texts, want)
			}
			for i, w := range want {
				if c.texts[i] != w {
					t.Errorf("stream %d text %d = %q, want %q", k, i, c.texts[i], w)
				}
			}
			if d := c.textAt[2].Sub(audioEnd); d < 500*time.Millisecond || d > 505*time.Millisecond {
				t.Errorf("stream %d end message %s after the last frame, want the 500ms silence", k, d)
			}
		}
		if len(lags) != streams*40 {
			t.Fatalf("%d lags recorded, want %d", len(lags), streams*40)
		}
		for _, l := range lags {
			if l > 5*time.Millisecond {
				t.Errorf("recorded lag %s above 5ms", l)
			}
		}
	})
}

// TestStoppingEndsAudioEarly checks a stopping run ends streams at their
// next tick with the end message, not after the whole clip.
func TestStoppingEndsAudioEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		sched := newScheduler(ctx, 2)
		var (
			stopping atomic.Bool
			mu       sync.Mutex
			lags     []time.Duration
		)
		p := testPace(100, time.Second, nil, &stopping, &lags, &mu)
		c := &fakeConn{}
		st := newStream(p, c, func() {}, time.Now())
		sched.Add(time.Now(), st)
		time.Sleep(950 * time.Millisecond)
		stopping.Store(true)
		time.Sleep(time.Second)
		synctest.Wait()
		if len(c.frames) != 10 {
			t.Errorf("sent %d frames, want 10 before the stop", len(c.frames))
		}
		if len(c.texts) != 1 || c.texts[0] != DefaultEndMessage {
			t.Fatalf("texts = %q, want just the end message", c.texts)
		}
		if d := c.textAt[0].Sub(c.frames[9]); d != 100*time.Millisecond {
			t.Errorf("end message %s after the last frame, want at the next slot (100ms)", d)
		}
		if got := time.Duration(st.endAt.Load()); got != time.Second {
			t.Errorf("end of audio at %s, want 1s", got)
		}
	})
}
