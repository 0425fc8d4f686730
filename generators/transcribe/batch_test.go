package transcribe

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/schedule"
)

// fakeBatch is an OpenAI-style transcription endpoint that records what it
// was sent and answers with reply.
type fakeBatch struct {
	status int
	reply  string
	jobs   atomic.Int64
	mu     sync.Mutex
	last   *http.Request
	form   map[string]string
	file   []byte
	raw    []byte
}

func (f *fakeBatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.jobs.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = r
	if r.Header.Get("Content-Type") == "audio/wav" {
		f.raw, _ = io.ReadAll(r.Body)
	} else if err := r.ParseMultipartForm(1 << 20); err == nil {
		f.form = map[string]string{}
		for k, v := range r.MultipartForm.Value {
			f.form[k] = v[0]
		}
		if fh := r.MultipartForm.File["file"]; len(fh) == 1 {
			fl, _ := fh[0].Open()
			f.file, _ = io.ReadAll(fl)
			fl.Close()
		}
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
	}
	io.WriteString(w, f.reply)
}

func okReply(text string) string {
	b, _ := json.Marshal(map[string]string{"text": text})
	return string(b)
}

func TestBatchUpload(t *testing.T) {
	srv := &fakeBatch{reply: okReply(speechText)}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	m, reg := newMetrics(t)
	spec := mustSpec(t, ts.URL, map[string]any{"kind": "transcription", "target": "phoenix", "rate": "20/s", "audio": "builtin:speech",
		"batch": map[string]any{"fields": map[string]any{"language": "en"}, "headers": map[string]any{"X-Api-Key": "k"}},
		"check": map[string]any{"max_wer": 0.05}})
	sc := runScenario(t, spec, generators.Deps{Name: "asr", Metrics: m, Shard: schedule.Whole, Duration: 500 * time.Millisecond, Grace: 5 * time.Second})
	jobs := float64(srv.jobs.Load())
	if jobs < 5 {
		t.Fatalf("server saw %v uploads in 0.5 s at 20/s", jobs)
	}
	lbl := map[string]string{"scenario": "asr", "mode": "batch"}
	for _, name := range []string{"loadd_transcription_first_result_seconds", "loadd_transcription_final_latency_seconds", "loadd_transcription_realtime_factor"} {
		if got := metricValue(t, reg, name, lbl); got != jobs {
			t.Errorf("%s count = %v, want %v", name, got, jobs)
		}
	}
	if got, want := metricValue(t, reg, "loadd_transcription_audio_seconds_total", lbl), jobs*speechClip().Duration().Seconds(); got < want-1e-6 || got > want+1e-6 {
		t.Errorf("audio seconds = %v, want %v", got, want)
	}
	if got := metricValue(t, reg, "loadd_responses_total", map[string]string{"scenario": "asr", "task": "batch", "code": "200"}); got != jobs {
		t.Errorf("200 responses = %v, want %v", got, jobs)
	}
	if st := sc.Status(); st.Completed != uint64(jobs) || len(st.Failures) != 0 {
		t.Errorf("status = %+v", st)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.form["model"] != "whisper-1" || srv.form["response_format"] != "json" || srv.form["language"] != "en" {
		t.Errorf("form fields = %v", srv.form)
	}
	if !bytes.Equal(srv.file, speechWAV) {
		t.Errorf("uploaded file is %d bytes, not the %d-byte clip", len(srv.file), len(speechWAV))
	}
	if srv.last.Header.Get("X-Api-Key") != "k" || srv.last.URL.Path != DefaultBatchPath {
		t.Errorf("request %s with headers %v", srv.last.URL, srv.last.Header)
	}
}

func TestBatchRawBody(t *testing.T) {
	srv := &fakeBatch{reply: "the patient reports mild chest pain"}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	m, reg := newMetrics(t)
	spec := mustSpec(t, ts.URL, map[string]any{"kind": "transcription", "target": "phoenix", "concurrency": 1, "audio": "builtin:speech",
		"batch": map[string]any{"raw_body": true, "path": "/asr?lang=en", "response_format": "text", "model": ""},
		"check": map[string]any{"contains": "chest pain"}})
	runScenario(t, spec, generators.Deps{Name: "asr", Metrics: m, Shard: schedule.Whole, Duration: 200 * time.Millisecond, Grace: 5 * time.Second})
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if !bytes.Equal(srv.raw, speechWAV) {
		t.Errorf("raw body is %d bytes, not the clip", len(srv.raw))
	}
	if q := srv.last.URL.Query(); q.Get("lang") != "en" || q.Get("response_format") != "text" || q.Has("model") {
		t.Errorf("query = %v", q)
	}
	if got := metricValue(t, reg, "loadd_transcription_failures_total", nil); got != 0 {
		t.Errorf("failures = %v", got)
	}
}

func TestBatchFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		srv    *fakeBatch
		check  map[string]any
		reason string
	}{
		{"server error", &fakeBatch{status: 503, reply: "busy"}, nil, "status"},
		{"reply not JSON", &fakeBatch{reply: "<html>"}, nil, "protocol"},
		{"no transcript", &fakeBatch{reply: `{"txt":"x"}`}, nil, "protocol"},
		{"wrong words", &fakeBatch{reply: okReply("something else entirely")}, map[string]any{"max_wer": "20%"}, "assertion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(tc.srv)
			defer ts.Close()
			m, reg := newMetrics(t)
			raw := map[string]any{"kind": "transcription", "target": "phoenix", "rate": "20/s", "audio": "builtin:speech"}
			if tc.check != nil {
				raw["check"] = tc.check
			}
			runScenario(t, mustSpec(t, ts.URL, raw), generators.Deps{Name: "asr", Metrics: m, Shard: schedule.Whole, Duration: 300 * time.Millisecond, Grace: 5 * time.Second})
			jobs := float64(tc.srv.jobs.Load())
			if got := metricValue(t, reg, "loadd_transcription_failures_total", map[string]string{"reason": tc.reason}); got != jobs || jobs == 0 {
				t.Errorf("failures with reason %s = %v, want all %v jobs", tc.reason, got, jobs)
			}
			if got := metricValue(t, reg, "loadd_request_failures_total", map[string]string{"task": "batch", "reason": tc.reason}); got != jobs {
				t.Errorf("request failures = %v, want %v", got, jobs)
			}
		})
	}
}

func TestBatchTimeoutAndDrops(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(release)
	m, reg := newMetrics(t)
	spec := mustSpec(t, ts.URL, map[string]any{"kind": "transcription", "target": "phoenix", "rate": "50/s", "max_in_flight": 2,
		"timeout": "200ms", "audio": "builtin:speech"})
	sc := runScenario(t, spec, generators.Deps{Name: "asr", Metrics: m, Shard: schedule.Whole, Duration: 500 * time.Millisecond, Grace: 5 * time.Second})
	timeouts := metricValue(t, reg, "loadd_transcription_failures_total", map[string]string{"reason": "timeout"})
	dropped := metricValue(t, reg, "loadd_transcription_failures_total", map[string]string{"reason": "dropped"})
	if timeouts < 2 || dropped < 10 {
		t.Errorf("timeouts %v, dropped %v: want jobs to time out and arrivals over max_in_flight 2 dropped", timeouts, dropped)
	}
	if st := sc.Status(); float64(st.Dropped) != dropped || st.MaxInFlight != 2 {
		t.Errorf("status dropped %d (metrics %v), max_in_flight %d (want 2)", st.Dropped, dropped, st.MaxInFlight)
	}
}
