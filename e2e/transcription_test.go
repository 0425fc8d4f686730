package e2e

import (
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// transcriptionConfig drives the demo target at addr with a batch and a
// streaming scenario whose load ends by itself (a 3 s hold, then a ramp
// to 0), so their counts can be compared with the target's once quiet.
func transcriptionConfig(addr string) string {
	return fmt.Sprintf(`
targets:
  demo:
    base_url: http://%s
scenarios:
  asr_batch:
    kind: transcription
    target: demo
    mode: batch
    rate: 10/s
    stages: [{hold: 3s}, {ramp: 1ms, to: 0}]
    audio: builtin:speech
    check: {max_wer: 10%%}
  asr_stream:
    kind: transcription
    target: demo
    mode: streaming
    rate: 2/s
    stages: [{hold: 3s}, {ramp: 1ms, to: 0}]
    audio: builtin:speech
    streaming: {speed: 2x, keepalive: {every: 100ms}, silence: 300ms}
    check: {contains: "chest pain"}
`, addr)
}

type trStats struct {
	Started      float64 `json:"started"`
	Completed    float64 `json:"completed"`
	Failed       float64 `json:"failed"`
	AudioSeconds float64 `json:"audio_seconds"`
}

// TestTranscriptionBothModes runs the real loadd against the real demo
// target in batch and streaming mode and checks that every histogram
// counted exactly the jobs the target completed, with no failure, and
// that every audio frame's lag was recorded.
func TestTranscriptionBothModes(t *testing.T) {
	target := DemoTarget(t)
	// A little processing time: 5 % of the audio, plus 20 ms.
	if code, body := Post(t, "http://"+target.Addr+"/-/transcription/faults", `{"rtf": 0.05, "latency": "20ms"}`); code != 200 {
		t.Fatalf("set faults: %d %s", code, body)
	}
	loadd := LoaddRun(t, WriteFile(t, "loadd.yaml", transcriptionConfig(target.Addr)))

	var stats map[string]trStats
	// Both scenarios end after ~3 s of arrivals; streams last 4.8 s + 0.3 s.
	Eventually(t, 30*time.Second, func() error {
		GetJSON(t, "http://"+target.Addr+"/-/transcription/stats", &stats)
		fams := Scrape(t, loadd.Addr)
		for scenario, mode := range map[string]string{"asr_batch": "batch", "asr_stream": "stream"} {
			st := stats[mode]
			got := Sum(fams, "loadd_requests_total", map[string]string{"scenario": scenario})
			if st.Started < 5 || st.Completed != st.Started || got != st.Completed {
				return fmt.Errorf("%s: loadd counted %v jobs, target %+v", scenario, got, st)
			}
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // nothing more may arrive: check it stays put
	GetJSON(t, "http://"+target.Addr+"/-/transcription/stats", &stats)
	fams := Scrape(t, loadd.Addr)
	t.Logf("target counted %+v", stats)

	for scenario, modes := range map[string][2]string{"asr_batch": {"batch", "batch"}, "asr_stream": {"streaming", "stream"}} {
		lbl := map[string]string{"scenario": scenario, "mode": modes[0]}
		want := stats[modes[1]].Completed
		for _, h := range []string{"loadd_transcription_first_result_seconds", "loadd_transcription_final_latency_seconds", "loadd_transcription_realtime_factor"} {
			if got := Sum(fams, h, lbl); got != want {
				t.Errorf("%s{%s} count = %v, target completed %v jobs", h, scenario, got, want)
			}
		}
		if got := Sum(fams, "loadd_transcription_failures_total", lbl); got != 0 {
			t.Errorf("%s: %v failures", scenario, got)
		}
		if got := Sum(fams, "loadd_request_failures_total", map[string]string{"scenario": scenario}); got != 0 {
			t.Errorf("%s: %v request failures", scenario, got)
		}
		audio := Sum(fams, "loadd_transcription_audio_seconds_total", lbl)
		if d := audio - stats[modes[1]].AudioSeconds; d > 0.01 || d < -0.01 {
			t.Errorf("%s: loadd sent %.3f s of audio, target received %.3f s", scenario, audio, stats[modes[1]].AudioSeconds)
		}
	}
	// Every frame of the streams had its lag recorded: 100 ms frames.
	frames := Sum(fams, "loadd_transcription_frame_lag_seconds", map[string]string{"scenario": "asr_stream"})
	if audio := stats["stream"].AudioSeconds; frames < audio*10-0.5 || frames > audio*10+0.5 {
		t.Errorf("frame lag count %v, want one per 100 ms frame of %.1f s audio", frames, audio)
	}
	// The final latency includes the injected 20 ms: none may be below it.
	if below := bucketBelow(fams, "loadd_transcription_final_latency_seconds", "asr_stream", 0.01); below != 0 {
		t.Errorf("%v streams had a final result within 10 ms, below the injected 20 ms", below)
	}
}

// bucketBelow returns the cumulative count of the classic bucket with
// upper bound le of scenario's histogram name.
func bucketBelow(fams map[string]*dto.MetricFamily, name, scenario string, le float64) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
	for _, m := range f.GetMetric() {
		match := false
		for _, l := range m.GetLabel() {
			if l.GetName() == "scenario" && l.GetValue() == scenario {
				match = true
			}
		}
		if !match || m.GetHistogram() == nil {
			continue
		}
		for _, b := range m.GetHistogram().GetBucket() {
			if b.GetUpperBound() == le {
				return float64(b.GetCumulativeCount())
			}
		}
	}
	return -1
}

// TestTranscriptionFaults makes the demo target fail every job and checks
// that loadd counts each one as a failure with reason status, in both
// modes, exactly as many as the target failed.
func TestTranscriptionFaults(t *testing.T) {
	target := DemoTarget(t)
	if code, body := Post(t, "http://"+target.Addr+"/-/transcription/faults", `{"error_ratio": "100%"}`); code != 200 {
		t.Fatalf("set faults: %d %s", code, body)
	}
	loadd := LoaddRun(t, WriteFile(t, "loadd.yaml", transcriptionConfig(target.Addr)))
	Eventually(t, 30*time.Second, func() error {
		var stats map[string]trStats
		GetJSON(t, "http://"+target.Addr+"/-/transcription/stats", &stats)
		fams := Scrape(t, loadd.Addr)
		for scenario, modes := range map[string][2]string{"asr_batch": {"batch", "batch"}, "asr_stream": {"streaming", "stream"}} {
			st := stats[modes[1]]
			failed := Sum(fams, "loadd_transcription_failures_total", map[string]string{"scenario": scenario, "mode": modes[0], "reason": "status"})
			requests := Sum(fams, "loadd_requests_total", map[string]string{"scenario": scenario})
			if st.Started < 5 || st.Failed != st.Started || failed != st.Failed || requests != failed {
				return fmt.Errorf("%s: loadd counted %v requests, %v failures with reason status; target %+v", scenario, requests, failed, st)
			}
			if got := Sum(fams, "loadd_transcription_final_latency_seconds", map[string]string{"scenario": scenario}); got != 0 {
				t.Errorf("%s: %v final results recorded for failed jobs", scenario, got)
			}
		}
		return nil
	})
}
