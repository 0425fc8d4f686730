package demo

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/generators/transcribe"
	"github.com/loadd/loadd/schedule"
)

// runTranscription runs a transcription scenario from raw against the
// target at base for d and returns its status.
func runTranscription(t *testing.T, base string, raw map[string]any, d time.Duration) generators.Status {
	t.Helper()
	u, _ := url.Parse(base)
	env := &generators.Env{Targets: map[string]*generators.Target{"demo": {BaseURL: base, URL: u}}}
	p := &config.Problems{}
	spec := transcribe.Kind.Decode("scenarios.asr", raw, env, p)
	if spec == nil {
		t.Fatal(p)
	}
	m, err := exporter.New(prometheus.NewRegistry(), exporter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := spec.Build(generators.Deps{Name: "asr", Metrics: m, Shard: schedule.Whole, Duration: d, Grace: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sc.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return sc.Status()
}

type trStatsReply map[string]struct {
	Started, Completed, Failed float64
	AudioSeconds               float64 `json:"audio_seconds"`
}

func trStats(t *testing.T, base string) trStatsReply {
	t.Helper()
	resp, err := http.Get(base + "/-/transcription/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s trStatsReply
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTranscriptionEndpoints(t *testing.T) {
	tg, err := NewTarget(Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	ts := httptest.NewServer(tg.Handler())
	defer ts.Close()

	batch := runTranscription(t, ts.URL, map[string]any{"kind": "transcription", "target": "demo", "rate": "20/s",
		"audio": "builtin:speech", "check": map[string]any{"max_wer": "0%"}}, 300*time.Millisecond)
	stream := runTranscription(t, ts.URL, map[string]any{"kind": "transcription", "target": "demo", "mode": "streaming",
		"concurrency": 2, "audio": "builtin:speech", "streaming": map[string]any{"speed": "20x"},
		"check": map[string]any{"max_wer": "0%"}}, 300*time.Millisecond)
	// The target counts a stream when it sends the final result, which
	// can be an instant after loadd has it: wait until nothing is open.
	var s trStatsReply
	waitFor(t, "the target to settle its streams", func() bool {
		s = trStats(t, ts.URL)
		st := s["stream"]
		return st.Started == st.Completed+st.Failed
	})
	if b := s["batch"]; b.Completed < 5 || b.Completed != float64(batch.Completed) || len(batch.Failures) != 0 {
		t.Errorf("batch: target %+v, loadd %+v", b, batch)
	}
	if st := s["stream"]; st.Completed < 2 || st.Completed != float64(stream.Completed) || len(stream.Failures) != 0 {
		t.Errorf("stream: target %+v, loadd %+v", st, stream)
	}
	// Streams still sending at the stop end their audio early.
	if a := s["stream"].AudioSeconds; a <= 0 || a >= float64(stream.Completed)*9.68 {
		t.Errorf("stream audio %v s for %d streams", a, stream.Completed)
	}

	// Injected failures: every job fails, as a 500 or a 1011 close.
	trPost(t, ts.URL+"/-/transcription/faults", `{"error_ratio": "100%", "latency": "5ms"}`, http.StatusOK)
	batch = runTranscription(t, ts.URL, map[string]any{"kind": "transcription", "target": "demo", "rate": "20/s"}, 200*time.Millisecond)
	stream = runTranscription(t, ts.URL, map[string]any{"kind": "transcription", "target": "demo", "mode": "streaming",
		"concurrency": 1, "streaming": map[string]any{"speed": "20x"}}, 200*time.Millisecond)
	if batch.Failures["status"] == 0 || batch.Failures["status"] != batch.Completed {
		t.Errorf("batch under faults: %+v", batch)
	}
	if stream.Failures["status"] == 0 || stream.Failures["status"] != stream.Completed {
		t.Errorf("stream under faults: %+v", stream)
	}
}

func TestTranscriptionFaultsEndpoint(t *testing.T) {
	tg, err := NewTarget(Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	ts := httptest.NewServer(tg.Handler())
	defer ts.Close()
	for _, tc := range []struct {
		body string
		code int
		want string
	}{
		{`{"rtf": 0.5, "latency": "20ms", "transcript": "hello"}`, http.StatusOK, `"latency":"20ms"`},
		{`{"rtf": -1}`, http.StatusBadRequest, "rtf must be between 0 and 100"},
		{`{"error_ratio": "150%"}`, http.StatusBadRequest, "must be between"},
		{`{"latncy": "1s"}`, http.StatusBadRequest, "unknown field"},
	} {
		if got := trPost(t, ts.URL+"/-/transcription/faults", tc.body, tc.code); !strings.Contains(got, tc.want) {
			t.Errorf("POST %s = %s, want %q", tc.body, got, tc.want)
		}
	}
	// The settings from the first POST are kept, and a batch job honours
	// rtf × duration: 0.5 × 9.68 s would be too long, so use text.
	resp, err := http.Post(ts.URL+"/v1/audio/transcriptions?response_format=text", "audio/wav", strings.NewReader(strings.Repeat("\x00", 44+3200)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := make([]byte, 64)
	n, _ := resp.Body.Read(b)
	if resp.StatusCode != 200 || string(b[:n]) != "hello" {
		t.Errorf("raw upload: %d %q", resp.StatusCode, b[:n])
	}
}

func trPost(t *testing.T, u, body string, code int) string {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != code {
		t.Errorf("POST %s: %d %s, want %d", body, resp.StatusCode, sb.String(), code)
	}
	return sb.String()
}
