package transcribe

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/schedule"
)

// fakeASR is a Deepgram-like streaming server: a partial result every
// partialEvery binary frames, a final one after CloseStream, then a close.
type fakeASR struct {
	partialEvery int
	closeCode    int  // when set, close with this code after the first frame
	noFinal      bool // close normally without a final result
	jobs         atomic.Int64
	bytes        atomic.Int64
	keepalives   atomic.Int64
	configs      atomic.Int64
}

func (f *fakeASR) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	f.jobs.Add(1)
	frames := 0
	send := func(final bool, text string) error {
		b, _ := json.Marshal(map[string]any{"type": "Results", "is_final": final,
			"channel": map[string]any{"alternatives": []any{map[string]any{"transcript": text}}}})
		return c.WriteMessage(websocket.TextMessage, b)
	}
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if mt == websocket.BinaryMessage {
			frames++
			f.bytes.Add(int64(len(msg)))
			if f.closeCode != 0 {
				c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(f.closeCode, "boom"))
				for { // until the client's close: an abrupt TCP close could reset it first
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			}
			if frames%f.partialEvery == 0 {
				_ = send(false, "the patient")
				_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"Metadata"}`))
			}
			continue
		}
		switch string(msg) {
		case `{"type":"KeepAlive"}`:
			f.keepalives.Add(1)
		case `{"type":"CloseStream"}`:
			if !f.noFinal {
				_ = send(true, speechText)
			}
			c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			c.ReadMessage() // wait for the client's close
			return
		default:
			f.configs.Add(1)
		}
	}
}

func runScenario(t *testing.T, spec *Spec, d generators.Deps) *Scenario {
	t.Helper()
	sc, err := spec.Build(d)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sc.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return sc.(*Scenario)
}

func TestStreamingAgainstFakeServer(t *testing.T) {
	srv := &fakeASR{partialEvery: 5}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	m, reg := newMetrics(t)
	spec := mustSpec(t, ts.URL, map[string]any{
		"kind": "transcription", "target": "phoenix", "mode": "streaming", "concurrency": 3,
		"audio": "builtin:speech", "check": map[string]any{"max_wer": "10%", "contains": "chest pain"},
		"streaming": map[string]any{"speed": "20x", "config_message": `{"encoding":"linear16"}`,
			"silence": "60ms", "keepalive": map[string]any{"every": "20ms"}},
	})
	sc := runScenario(t, spec, generators.Deps{Name: "asr", Metrics: m, Shard: schedule.Whole, Duration: 1200 * time.Millisecond, Grace: 5 * time.Second, Logger: testLogger(t)})

	jobs := float64(srv.jobs.Load())
	t.Logf("streams %v, frames %+v, keepalives %d", jobs, sc.Frames(), srv.keepalives.Load())
	if jobs < 3 {
		t.Fatalf("server saw %v streams, want at least 3", jobs)
	}
	lbl := map[string]string{"scenario": "asr", "mode": "streaming"}
	for _, name := range []string{"loadd_transcription_first_result_seconds", "loadd_transcription_final_latency_seconds", "loadd_transcription_realtime_factor"} {
		if got := metricValue(t, reg, name, lbl); got != jobs {
			t.Errorf("%s count = %v, want %v (server's streams)", name, got, jobs)
		}
	}
	if got := metricValue(t, reg, "loadd_requests_total", map[string]string{"scenario": "asr", "task": "stream"}); got != jobs {
		t.Errorf("requests = %v, want %v", got, jobs)
	}
	if got := metricValue(t, reg, "loadd_transcription_failures_total", lbl); got != 0 {
		t.Errorf("failures = %v, want 0: %v", got, sc.Status().Failures)
	}
	frame := spec.clip.Frames(DefaultFrame)
	wantBytes := float64(srv.bytes.Load())
	audio := metricValue(t, reg, "loadd_transcription_audio_seconds_total", lbl)
	if got := audio * float64(spec.clip.SampleRate*2); got < wantBytes-1 || got > wantBytes+1 {
		t.Errorf("audio seconds %v = %v bytes, server got %v", audio, got, wantBytes)
	}
	if f := sc.Frames(); f.Sent != uint64(wantBytes)/uint64(frame.Size()) {
		t.Errorf("frames sent %d, server got %v bytes of %d-byte frames", f.Sent, wantBytes, frame.Size())
	}
	if srv.configs.Load() != srv.jobs.Load() {
		t.Errorf("config messages %d for %d streams", srv.configs.Load(), srv.jobs.Load())
	}
	// Streams cut by the stop skip their silence; the others send two.
	if srv.keepalives.Load() == 0 {
		t.Errorf("no keep-alive from %d streams with 60ms silence, one every 20ms", srv.jobs.Load())
	}
	if st := sc.Status(); st.Completed != uint64(jobs) || st.UsersTarget != 3 || st.Model != "closed" || st.MaxInFlight != 0 {
		t.Errorf("status = %+v", st)
	}
}

func TestStreamingFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		srv    http.Handler
		check  map[string]any
		reason string
	}{
		{"server error close", &fakeASR{partialEvery: 5, closeCode: websocket.CloseInternalServerErr}, nil, "status"},
		{"no final result", &fakeASR{partialEvery: 5, noFinal: true}, nil, "protocol"},
		{"handshake refused", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }), nil, "status"},
		{"wrong transcript", &fakeASR{partialEvery: 5}, map[string]any{"contains": "broken leg"}, "assertion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(tc.srv)
			defer ts.Close()
			m, reg := newMetrics(t)
			raw := map[string]any{"kind": "transcription", "target": "phoenix", "mode": "streaming", "rate": "5/s",
				"audio": "builtin:speech", "streaming": map[string]any{"speed": "50x"}}
			if tc.check != nil {
				raw["check"] = tc.check
			}
			sc := runScenario(t, mustSpec(t, ts.URL, raw), generators.Deps{Name: "asr", Metrics: m, Shard: schedule.Whole, Duration: 500 * time.Millisecond, Grace: 5 * time.Second, Logger: testLogger(t)})
			t.Logf("failures %v", sc.Status().Failures)
			lbl := map[string]string{"scenario": "asr", "mode": "streaming"}
			all := metricValue(t, reg, "loadd_transcription_failures_total", lbl)
			lbl["reason"] = tc.reason
			if got := metricValue(t, reg, "loadd_transcription_failures_total", lbl); got == 0 || got != all {
				t.Errorf("failures with reason %s = %v of %v", tc.reason, got, all)
			}
			req := metricValue(t, reg, "loadd_requests_total", map[string]string{"scenario": "asr"})
			if req != all {
				t.Errorf("requests %v != failures %v", req, all)
			}
		})
	}
}

// countingConn counts the writes of a connection by size.
type countingConn struct {
	net.Conn
	mu     *sync.Mutex
	writes map[int]int
}

func (c countingConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.writes[len(b)]++
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// TestOneWritePerFrame checks the write buffer fits a frame: each 100 ms
// frame (3,200 bytes at 16 kHz) leaves in one write of the frame plus its
// 8-byte masked header.
func TestOneWritePerFrame(t *testing.T) {
	srv := &fakeASR{partialEvery: 5}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	m, _ := newMetrics(t)
	spec := mustSpec(t, ts.URL, map[string]any{"kind": "transcription", "target": "phoenix", "mode": "streaming", "concurrency": 1,
		"audio": "builtin:speech", "streaming": map[string]any{"speed": "50x"}})
	built, err := spec.Build(generators.Deps{Name: "asr", Metrics: m, Shard: schedule.Whole, Duration: 100 * time.Millisecond, Grace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sc := built.(*Scenario)
	var mu sync.Mutex
	writes := map[int]int{}
	d := sc.job.(*streamer).dialer
	dial := d.NetDialContext
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, mu: &mu, writes: writes}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sc.Run(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	frames := sc.Frames().Sent
	if frames == 0 || uint64(writes[3200+8]) != frames {
		t.Errorf("%d frames sent in writes of sizes %v, want one 3208-byte write each", frames, writes)
	}
	for size, n := range writes {
		if size > 3208 || (size > 200 && size != 3208) {
			t.Errorf("%d writes of %d bytes: frames split or merged", n, size)
		}
	}
}
