package transcribe

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/schedule"
)

// Modes of a transcription scenario.
const (
	ModeBatch     = "batch"
	ModeStreaming = "streaming"
)

// Defaults of a transcription scenario.
const (
	DefaultBatchPath      = "/v1/audio/transcriptions"
	DefaultStreamPath     = "/v1/listen"
	DefaultFrame          = 100 * time.Millisecond
	DefaultEndMessage     = `{"type":"CloseStream"}`
	DefaultKeepAlive      = `{"type":"KeepAlive"}`
	DefaultTimeout        = 30 * time.Second
	DefaultMaxInFlight    = 1000
	DefaultRamp           = 100.0 // streams started per second in concurrency mode
	defaultModel          = "whisper-1"
	defaultFormat         = "json"
	defaultBatchPath      = "$.text"
	defaultStreamPath     = "$.channel.alternatives[0].transcript"
	defaultFinalPath      = "$.is_final"
	defaultTypePath       = "$.type"
	defaultResultType     = "Results"
	maxFrame              = 5 * time.Second
	maxSpeed              = 100.0
	defaultKeepAliveEvery = 5 * time.Second
)

// Config is the YAML of a `kind: transcription` scenario.
type Config struct {
	Kind   string `yaml:"kind" json:"kind"`
	Target string `yaml:"target" json:"target"`
	// Mode is batch (multipart uploads) or streaming (WebSocket streams).
	Mode string `yaml:"mode" json:"mode"`
	// The open-model shape: rate, stages or sine.
	schedule.ShapeConfig `yaml:",squash"`
	// MaxInFlight bounds the open model's running jobs (default 1000).
	MaxInFlight int `yaml:"max_in_flight" json:"max_in_flight,omitempty"`
	// Concurrency, instead of a rate, keeps this many jobs running back to back.
	Concurrency int `yaml:"concurrency" json:"concurrency,omitempty"`
	// Ramp is how fast concurrency jobs start (default 100/s).
	Ramp      config.Rate     `yaml:"ramp" json:"ramp,omitempty"`
	Audio     AudioConfig     `yaml:"audio" json:"audio"`
	Batch     BatchConfig     `yaml:"batch" json:"batch,omitempty"`
	Streaming StreamingConfig `yaml:"streaming" json:"streaming,omitempty"`
	Check     *Check          `yaml:"check" json:"check,omitempty"`
	// Timeout bounds a batch request; in streaming mode the handshake, and
	// the wait for the final result after the end of audio (default 30s).
	Timeout config.Duration `yaml:"timeout" json:"timeout,omitempty"`
}

// BatchConfig is how a clip is uploaded.
type BatchConfig struct {
	Path string `yaml:"path" json:"path"`
	// FileField is the multipart field of the audio (default file).
	FileField string `yaml:"file_field" json:"file_field"`
	// Model and ResponseFormat are sent as form fields (defaults whisper-1
	// and json); an empty model is not sent.
	Model          *string           `yaml:"model" json:"model"`
	ResponseFormat string            `yaml:"response_format" json:"response_format"`
	Fields         map[string]string `yaml:"fields" json:"fields,omitempty"`
	Headers        map[string]string `yaml:"headers" json:"headers,omitempty"`
	// RawBody sends the WAV file itself (Content-Type: audio/wav); model,
	// response_format and fields then go in the query string.
	RawBody bool `yaml:"raw_body" json:"raw_body,omitempty"`
	// TranscriptPath is the JSON path of the transcript (default $.text);
	// response formats text, srt and vtt take the whole body instead.
	TranscriptPath string `yaml:"transcript_path" json:"transcript_path"`
}

// StreamingConfig is how audio is streamed over a WebSocket.
type StreamingConfig struct {
	// Path (with any query string) on the target; default /v1/listen.
	Path    string            `yaml:"path" json:"path"`
	Headers map[string]string `yaml:"headers" json:"headers,omitempty"`
	// Frame is the audio in one binary message (default 100ms).
	Frame config.Duration `yaml:"frame" json:"frame"`
	// Speed is the pace relative to real time ("1x", "2x", "0.5x").
	Speed Speed `yaml:"speed" json:"speed"`
	// Duration is the audio sent per stream; the clip loops (default: the clip once).
	Duration config.Duration `yaml:"duration" json:"duration,omitempty"`
	// Silence is a pause after the audio, before the end message, during
	// which only keep-alive messages are sent.
	Silence       config.Duration `yaml:"silence" json:"silence,omitempty"`
	ConfigMessage string          `yaml:"config_message" json:"config_message,omitempty"`
	// EndMessage ends the stream (default {"type":"CloseStream"}; "" sends none).
	EndMessage *string          `yaml:"end_message" json:"end_message"`
	KeepAlive  *KeepAliveConfig `yaml:"keepalive" json:"keepalive,omitempty"`
	// Result parsing; defaults fit Deepgram-style results.
	TranscriptPath string `yaml:"transcript_path" json:"transcript_path"`
	FinalPath      string `yaml:"final_path" json:"final_path"`
	TypePath       string `yaml:"type_path" json:"type_path"`
	ResultType     string `yaml:"result_type" json:"result_type"`
	// CloseOnFinal ends the stream at the first final result after the end
	// of audio instead of waiting for the server to close it.
	CloseOnFinal bool `yaml:"close_on_final" json:"close_on_final,omitempty"`
}

// KeepAliveConfig is a text message sent every so often during silence.
type KeepAliveConfig struct {
	Every   config.Duration `yaml:"every" json:"every"`
	Message string          `yaml:"message" json:"message"`
}

// Speed is a multiple of real time, decoded from "2x" or 2.
type Speed float64

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Speed) UnmarshalText(b []byte) error {
	t := strings.TrimSuffix(strings.TrimSpace(string(b)), "x")
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 || v > maxSpeed {
		return fmt.Errorf("invalid speed %q (want a multiple of real time above 0 and up to %gx, e.g. 1x)", string(b), maxSpeed)
	}
	*s = Speed(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (s Speed) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(s), 'g', -1, 64) + "x"), nil
}

func (c *Config) applyDefaults() {
	if c.Mode == "" {
		c.Mode = ModeBatch
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.Ramp == 0 {
		c.Ramp = DefaultRamp
	}
	if c.Timeout == 0 {
		c.Timeout = config.Duration(DefaultTimeout)
	}
	b := &c.Batch
	b.Path = or(b.Path, DefaultBatchPath)
	b.FileField = or(b.FileField, "file")
	if b.Model == nil {
		m := defaultModel
		b.Model = &m
	}
	b.ResponseFormat = or(b.ResponseFormat, defaultFormat)
	b.TranscriptPath = or(b.TranscriptPath, defaultBatchPath)
	s := &c.Streaming
	s.Path = or(s.Path, DefaultStreamPath)
	if s.Frame == 0 {
		s.Frame = config.Duration(DefaultFrame)
	}
	if s.Speed == 0 {
		s.Speed = 1
	}
	if s.EndMessage == nil {
		m := DefaultEndMessage
		s.EndMessage = &m
	}
	if k := s.KeepAlive; k != nil {
		if k.Every == 0 {
			k.Every = config.Duration(defaultKeepAliveEvery)
		}
		k.Message = or(k.Message, DefaultKeepAlive)
	}
	s.TranscriptPath = or(s.TranscriptPath, defaultStreamPath)
	s.FinalPath = or(s.FinalPath, defaultFinalPath)
	s.TypePath = or(s.TypePath, defaultTypePath)
	s.ResultType = or(s.ResultType, defaultResultType)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// textFormat reports whether a batch response format returns plain text.
func textFormat(f string) bool { return f == "text" || f == "srt" || f == "vtt" }
