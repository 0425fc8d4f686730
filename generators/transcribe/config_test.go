package transcribe

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/generators"
)

func TestDecodeDefaults(t *testing.T) {
	s := mustSpec(t, "http://127.0.0.1:1", map[string]any{"kind": "transcription", "target": "phoenix", "mode": "streaming", "rate": "2/s", "audio": "builtin:10s",
		"check": map[string]any{"max_wer": "20%"}})
	st := s.Streaming
	if st.Path != DefaultStreamPath || st.Frame.D() != 100*time.Millisecond || st.Speed != 1 || *st.EndMessage != DefaultEndMessage ||
		st.TranscriptPath != defaultStreamPath || st.FinalPath != defaultFinalPath || st.TypePath != defaultTypePath || st.ResultType != "Results" {
		t.Errorf("streaming defaults = %+v", st)
	}
	if s.MaxInFlight != DefaultMaxInFlight || s.Timeout.D() != DefaultTimeout {
		t.Errorf("max_in_flight %d timeout %s", s.MaxInFlight, s.Timeout.D())
	}
	if s.Check.Expected != speechClip().Text {
		t.Errorf("check.expected = %q, want the built-in reference text", s.Check.Expected)
	}
	if s.streamAudio() != 10*time.Second {
		t.Errorf("stream audio %s, want the clip's 10s", s.streamAudio())
	}
	if got, want := s.Summary(), "transcription streaming → phoenix: open model 2/s, max_in_flight 1000, builtin:10s (10s), 10s per stream at 1x in 100ms frames"; got != want {
		t.Errorf("Summary = %q\nwant %q", got, want)
	}
	b := mustSpec(t, "http://127.0.0.1:1", map[string]any{"kind": "transcription", "target": "phoenix", "concurrency": 4,
		"batch": map[string]any{"headers": map[string]any{"X-Api-Key": "s3cret"}}})
	if b.Mode != ModeBatch || b.Batch.Path != DefaultBatchPath || b.Batch.FileField != "file" || *b.Batch.Model != "whisper-1" || b.Batch.ResponseFormat != "json" {
		t.Errorf("batch defaults = %+v", b.Batch)
	}
	if pub := b.Public().(Config); pub.Batch.Headers["X-Api-Key"] != "<secret>" {
		t.Errorf("public header = %q, want it masked", pub.Batch.Headers["X-Api-Key"])
	}
	if b.Tasks()[0] != TaskBatch || s.Tasks()[0] != TaskStream {
		t.Errorf("tasks %v %v", b.Tasks(), s.Tasks())
	}
}

func TestAudioFileRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "clip.wav"), wav(1, 1, 8000, 16, 1600), 0o644); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("http://127.0.0.1:1")
	env := &generators.Env{Targets: map[string]*generators.Target{"phoenix": {BaseURL: u.String(), URL: u}}, BaseDir: dir}
	p := &config.Problems{}
	spec := Kind.Decode("scenarios.asr", map[string]any{"kind": "transcription", "target": "phoenix", "rate": "1/s", "audio": "clip.wav"}, env, p)
	if spec == nil {
		t.Fatal(p)
	}
	if c := spec.(*Spec).clip; c.SampleRate != 8000 || c.Duration() != 100*time.Millisecond {
		t.Errorf("clip = %d Hz, %s", c.SampleRate, c.Duration())
	}
}

func TestDecodeProblems(t *testing.T) {
	dir := t.TempDir()
	stereo := filepath.Join(dir, "stereo.wav")
	if err := os.WriteFile(stereo, wav(1, 2, 16000, 16, 640), 0o644); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "audio.pcm")
	if err := os.WriteFile(raw, make([]byte, 640), 0o644); err != nil {
		t.Fatal(err)
	}
	base := func(kv ...any) map[string]any {
		m := map[string]any{"kind": "transcription", "target": "phoenix", "rate": "1/s"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		raw  map[string]any
		want string // "path: message" of one problem
	}{
		{"unknown key", base("batch", map[string]any{"pth": "/x"}), `scenarios.asr.batch.pth: unknown key "pth"`},
		{"unknown target", base("target", "nope"), `scenarios.asr.target: unknown target "nope"`},
		{"bad mode", base("mode", "live"), `scenarios.asr.mode: unknown mode "live" (want batch or streaming)`},
		{"no load", base("rate", nil), `scenarios.asr.rate: a rate (e.g. 2/s), stages or concurrency is required`},
		{"rate and concurrency", base("concurrency", 5), `scenarios.asr.rate: give a rate (open model) or concurrency, not both`},
		{"ramp without concurrency", base("ramp", "5/s"), `scenarios.asr.ramp: only with concurrency`},
		{"bad rate", base("rate", "fast"), `scenarios.asr.rate: invalid rate "fast"`},
		{"streaming keys in batch", base("streaming", map[string]any{"frame": "20ms"}), `scenarios.asr.streaming: only for mode streaming (mode is batch)`},
		{"batch keys in streaming", base("mode", "streaming", "batch", map[string]any{"model": "x"}), `scenarios.asr.batch: only for mode batch (mode is streaming)`},
		{"unknown builtin", base("audio", "builtin:music"), `scenarios.asr.audio.builtin: unknown built-in audio "music" (want speech or a duration such as 10s)`},
		{"missing file", base("audio", map[string]any{"file": filepath.Join(dir, "none.wav")}), `scenarios.asr.audio.file: cannot read: open ` + filepath.Join(dir, "none.wav")},
		{"stereo file", base("audio", "file:"+stereo), `scenarios.asr.audio.file: ` + stereo + `: unsupported audio: 2 channels; want mono`},
		{"raw without rate", base("audio", map[string]any{"raw": map[string]any{"file": raw}}), `scenarios.asr.audio.raw.sample_rate: required (e.g. 16000)`},
		{"raw 24-bit", base("audio", map[string]any{"raw": map[string]any{"file": raw, "sample_rate": 16000, "bit_depth": 24}}), `scenarios.asr.audio.raw.bit_depth: unsupported audio: bit depth 24`},
		{"raw stereo", base("audio", map[string]any{"raw": map[string]any{"file": raw, "sample_rate": 16000, "channels": 2}}), `scenarios.asr.audio.raw.channels: unsupported audio: 2 channels`},
		{"raw rate too high", base("audio", map[string]any{"raw": map[string]any{"file": raw, "sample_rate": 192000}}), `scenarios.asr.audio.raw.sample_rate: unsupported audio: sample rate 192000 Hz`},
		{"two audio sources", base("audio", map[string]any{"file": stereo, "builtin": "speech"}), `scenarios.asr.audio: give one of builtin, file or raw`},
		{"frame not whole samples", base("mode", "streaming", "streaming", map[string]any{"frame": "100us"}), `scenarios.asr.streaming.frame: 100µs is not a whole number of samples at 16000 Hz`},
		{"frame too long", base("mode", "streaming", "streaming", map[string]any{"frame": "10s"}), `scenarios.asr.streaming.frame: must be above 0 and at most 5s`},
		{"bad speed", base("mode", "streaming", "streaming", map[string]any{"speed": "fast"}), `scenarios.asr.streaming.speed: invalid speed "fast"`},
		{"bad final path", base("mode", "streaming", "streaming", map[string]any{"final_path": "$["}), `scenarios.asr.streaming.final_path: invalid JSON path "$["`},
		{"no end message", base("mode", "streaming", "streaming", map[string]any{"end_message": ""}), `scenarios.asr.streaming.end_message: without an end message`},
		{"bad transcript path", base("batch", map[string]any{"transcript_path": "text"}), `scenarios.asr.batch.transcript_path: invalid JSON path "text"`},
		{"bad response format", base("batch", map[string]any{"response_format": "xml"}), `scenarios.asr.batch.response_format: unknown response format "xml"`},
		{"empty check", base("check", map[string]any{}), `scenarios.asr.check: give contains, max_wer or both`},
		{"bad max_wer", base("check", map[string]any{"max_wer": "150%"}), `scenarios.asr.check.max_wer: ratio "150%" must be between 0% and 100%`},
		{"max_wer without text", base("audio", "builtin:5s", "check", map[string]any{"max_wer": 0.2}), `scenarios.asr.check.expected: max_wer needs the expected text: this audio has no reference text`},
		{"negative timeout", base("timeout", "-1s"), `scenarios.asr.timeout: negative duration "-1s"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, p := decodeSpec(t, "http://127.0.0.1:1", tc.raw)
			if s != nil {
				t.Fatalf("decoded without problems, want %q", tc.want)
			}
			found := false
			for _, pr := range p.List {
				if strings.HasPrefix(pr.Path+": "+pr.Msg, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("problems:\n%v\nwant one starting %q", p, tc.want)
			}
		})
	}
}
