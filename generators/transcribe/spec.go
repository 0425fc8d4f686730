package transcribe

import (
	"fmt"
	"strings"
	"time"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/generators"
)

// Kind is the `kind: transcription` generator.
var Kind generators.Kind = kind{}

type kind struct{}

// Spec is a validated transcription scenario: its config, the target and
// the audio, loaded once.
type Spec struct {
	Config
	target *generators.Target
	clip   *Clip
	parser *ResultParser // nil for plain-text batch replies
}

var _ generators.Spec = (*Spec)(nil)

// Decode implements generators.Kind.
func (kind) Decode(path string, raw map[string]any, env *generators.Env, p *config.Problems) generators.Spec {
	var c Config
	if err := config.Decode(raw, &c); err != nil {
		config.DecodeErrors(err, path, p)
		return nil
	}
	before := p.Len()
	c.applyDefaults()
	s := &Spec{Config: c}
	s.validate(path, raw, env, p)
	if p.Len() > before {
		return nil
	}
	return s
}

func (s *Spec) validate(path string, raw map[string]any, env *generators.Env, p *config.Problems) {
	key := func(k string) string { return config.Key(path, k) }
	if s.Target == "" {
		p.Addf(key("target"), "required")
	} else if t, ok := env.Targets[s.Target]; !ok {
		p.Addf(key("target"), "unknown target %q", s.Target)
	} else {
		s.target = t
	}
	switch s.Mode {
	case ModeBatch:
		if _, ok := raw["streaming"]; ok {
			p.Addf(key("streaming"), "only for mode streaming (mode is batch)")
		}
	case ModeStreaming:
		if _, ok := raw["batch"]; ok {
			p.Addf(key("batch"), "only for mode batch (mode is streaming)")
		}
	default:
		p.Addf(key("mode"), "unknown mode %q (want batch or streaming)", s.Mode)
	}
	s.validateLoad(path, raw, p)
	if s.Timeout <= 0 {
		p.Addf(key("timeout"), "must be positive")
	}
	s.clip = s.Audio.Load(key("audio"), env.BaseDir, p)
	if s.Mode == ModeStreaming {
		s.validateStreaming(key("streaming"), p)
	} else {
		s.validateBatch(key("batch"), p)
	}
	s.validateCheck(key("check"), p)
}

func (s *Spec) validateLoad(path string, raw map[string]any, p *config.Problems) {
	if s.Concurrency < 0 {
		p.Addf(config.Key(path, "concurrency"), "must not be negative")
		return
	}
	if s.Concurrency > 0 {
		for _, k := range []string{"rate", "stages", "sine", "max_in_flight"} {
			if _, ok := raw[k]; ok {
				p.Addf(config.Key(path, k), "give a rate (open model) or concurrency, not both")
			}
		}
		return
	}
	if _, ok := raw["ramp"]; ok {
		p.Addf(config.Key(path, "ramp"), "only with concurrency")
	}
	if s.MaxInFlight < 0 {
		p.Addf(config.Key(path, "max_in_flight"), "must be positive")
	}
	if s.Rate <= 0 && len(s.Stages) == 0 {
		p.Addf(config.Key(path, "rate"), "a rate (e.g. 2/s), stages or concurrency is required")
		return
	}
	s.ShapeConfig.Validate(path, true, p)
}

func (s *Spec) validateBatch(path string, p *config.Problems) {
	b := &s.Batch
	if !strings.HasPrefix(b.Path, "/") {
		p.Addf(config.Key(path, "path"), "must start with /")
	}
	switch b.ResponseFormat {
	case "json", "verbose_json":
		rp, err := NewResultParser(b.TranscriptPath, "", "", "")
		if err != nil {
			p.Addf(config.Key(path, "transcript_path"), "%v", strings.TrimPrefix(err.Error(), "transcript_path: "))
		}
		s.parser = rp
	case "text", "srt", "vtt":
	default:
		p.Addf(config.Key(path, "response_format"), "unknown response format %q (want json, verbose_json, text, srt or vtt)", b.ResponseFormat)
	}
}

func (s *Spec) validateStreaming(path string, p *config.Problems) {
	st := &s.Streaming
	key := func(k string) string { return config.Key(path, k) }
	if !strings.HasPrefix(st.Path, "/") {
		p.Addf(key("path"), "must start with /")
	}
	switch f := st.Frame.D(); {
	case f <= 0 || f > maxFrame:
		p.Addf(key("frame"), "must be above 0 and at most %s", maxFrame)
	case s.clip != nil && frameSize(f, s.clip.SampleRate) == 0:
		p.Addf(key("frame"), "%s is not a whole number of samples at %d Hz", f, s.clip.SampleRate)
	}
	if st.Duration > 0 && st.Duration < st.Frame {
		p.Addf(key("duration"), "must be at least one frame (%s)", st.Frame.D())
	}
	if k := st.KeepAlive; k != nil && k.Every <= 0 {
		p.Addf(key("keepalive.every"), "must be positive")
	}
	if *st.EndMessage == "" && !st.CloseOnFinal {
		p.Addf(key("end_message"), "without an end message the server cannot know the audio ended; set close_on_final: true to end streams at their final result")
	}
	rp, err := NewResultParser(st.TranscriptPath, st.FinalPath, st.TypePath, st.ResultType)
	if err != nil {
		k, msg, _ := strings.Cut(err.Error(), ": ")
		p.Addf(key(k), "%s", msg)
	}
	s.parser = rp
}

func (s *Spec) validateCheck(path string, p *config.Problems) {
	c := s.Check
	if c == nil {
		return
	}
	if c.Contains == "" && c.MaxWER == nil {
		p.Addf(path, "give contains, max_wer or both")
	}
	if c.MaxWER != nil && c.Expected == "" {
		if s.clip == nil || s.clip.Text == "" {
			p.Addf(config.Key(path, "expected"), "max_wer needs the expected text: this audio has no reference text")
			return
		}
		c.Expected = s.clip.Text
	}
	if s.Mode == ModeBatch && textFormat(s.Batch.ResponseFormat) && s.Batch.ResponseFormat != "text" {
		p.Addf(path, "checks need response_format json, verbose_json or text, not %s", s.Batch.ResponseFormat)
	}
}

// streamAudio returns the audio sent per stream.
func (s *Spec) streamAudio() time.Duration {
	if d := s.Streaming.Duration.D(); d > 0 {
		return d
	}
	return s.clip.Duration()
}

// Summary implements generators.Spec.
func (s *Spec) Summary() string {
	load := fmt.Sprintf("open model %s, max_in_flight %d", s.ShapeConfig.String(), s.MaxInFlight)
	if s.Concurrency > 0 {
		load = fmt.Sprintf("%d concurrent jobs", s.Concurrency)
	}
	audio := fmt.Sprintf("%s (%s)", s.clip.Source, s.clip.Duration().Round(time.Millisecond))
	if s.Mode == ModeStreaming {
		audio = fmt.Sprintf("%s, %s per stream at %gx in %s frames", audio, s.streamAudio().Round(time.Millisecond), float64(s.Streaming.Speed), s.Streaming.Frame.D())
	}
	return fmt.Sprintf("transcription %s → %s: %s, %s", s.Mode, s.Config.Target, load, audio)
}

// Tasks implements generators.Spec: one task, "batch" or "stream".
func (s *Spec) Tasks() []string { return []string{s.task()} }

// Task names under which jobs are recorded as requests.
const (
	TaskBatch  = "batch"
	TaskStream = "stream"
)

func (s *Spec) task() string {
	if s.Mode == ModeStreaming {
		return TaskStream
	}
	return TaskBatch
}

// Public implements generators.Spec: the config with header values
// masked, since they may carry credentials (auth proper lives on the target).
func (s *Spec) Public() any {
	c := s.Config
	c.Batch.Headers = masked(c.Batch.Headers)
	c.Streaming.Headers = masked(c.Streaming.Headers)
	return c
}

func masked(h map[string]string) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k := range h {
		out[k] = config.SecretMask
	}
	return out
}
