package transcribe

import (
	_ "embed"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/generators"
)

//go:embed clips/speech.wav
var speechWAV []byte

//go:embed clips/speech.txt
var speechText string

// builtinGap is the silence after each repetition of the speech clip in
// builtin:<duration> audio.
const builtinGap = 500 * time.Millisecond

// Clip is audio ready to send: 16-bit little-endian mono PCM.
type Clip struct {
	// PCM holds the samples.
	PCM []byte
	// SampleRate is in Hz.
	SampleRate int
	// Text is the reference transcript, "" when unknown.
	Text string
	// Source describes where the clip came from, for summaries.
	Source string
	// WAV is the clip as a WAV file, for batch uploads.
	WAV []byte
}

// Duration returns the length of the clip.
func (c *Clip) Duration() time.Duration {
	return bytesDuration(len(c.PCM), c.SampleRate)
}

func bytesDuration(n, rate int) time.Duration {
	return time.Duration(int64(n/bytesPerSamp) * int64(time.Second) / int64(rate))
}

// Frames cuts clips into equal frames without copying them per frame.
type Frames struct {
	data []byte
	size int
	n    int
	// Dur is the duration of one frame.
	Dur time.Duration
}

// Frames returns the clip cut into frames of d. The clip is padded with
// silence once, here, to a whole number of frames so that every frame
// (the clip loops) is a sub-slice of one buffer. d must be a whole number
// of samples (see frameSize).
func (c *Clip) Frames(d time.Duration) *Frames {
	size := frameSize(d, c.SampleRate)
	data := c.PCM
	if rem := len(data) % size; rem != 0 {
		data = make([]byte, len(c.PCM)+size-rem)
		copy(data, c.PCM)
	}
	return &Frames{data: data, size: size, n: len(data) / size, Dur: d}
}

// frameSize returns the bytes in a frame of d at rate, or 0 when d is not
// a whole, positive number of samples.
func frameSize(d time.Duration, rate int) int {
	samples := int64(d) * int64(rate)
	if d <= 0 || samples%int64(time.Second) != 0 {
		return 0
	}
	return int(samples/int64(time.Second)) * bytesPerSamp
}

// At returns frame i; frames past the end of the clip loop back to its
// start. The slice aliases the clip: callers must not modify it.
func (f *Frames) At(i int) []byte {
	j := i % f.n
	return f.data[j*f.size : (j+1)*f.size : (j+1)*f.size]
}

// Size returns the bytes in one frame.
func (f *Frames) Size() int { return f.size }

// Len returns the number of distinct frames before the clip loops.
func (f *Frames) Len() int { return f.n }

// AudioConfig selects the audio. It decodes from a string —
// "builtin:speech", "builtin:10s" or "file:clip.wav" (a bare path means a
// file) — or from a mapping with one of file or raw.
type AudioConfig struct {
	// Builtin is "speech" or a duration: the shipped speech clip repeated
	// with 500 ms gaps and padded with silence (or cut) to that length.
	Builtin string `yaml:"builtin" json:"builtin,omitempty"`
	// File is a WAV file (16-bit PCM mono, 8–48 kHz).
	File string `yaml:"file" json:"file,omitempty"`
	// Raw is a headerless PCM file with a declared layout.
	Raw *RawAudio `yaml:"raw" json:"raw,omitempty"`
}

// RawAudio is headerless little-endian PCM.
type RawAudio struct {
	File       string `yaml:"file" json:"file"`
	SampleRate int    `yaml:"sample_rate" json:"sample_rate"`
	// Channels must be 1 (default 1); it is declared so a mistake is caught.
	Channels int `yaml:"channels" json:"channels,omitempty"`
	// BitDepth must be 16 (default 16).
	BitDepth int `yaml:"bit_depth" json:"bit_depth,omitempty"`
}

// UnmarshalText implements encoding.TextUnmarshaler for the string form.
func (a *AudioConfig) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	switch {
	case strings.HasPrefix(s, "builtin:"):
		*a = AudioConfig{Builtin: strings.TrimPrefix(s, "builtin:")}
	case strings.HasPrefix(s, "file:"):
		*a = AudioConfig{File: strings.TrimPrefix(s, "file:")}
	case s == "":
		return fmt.Errorf("empty audio (want builtin:speech, builtin:10s, file: clip.wav or raw: {...})")
	default:
		*a = AudioConfig{File: s}
	}
	return nil
}

// String describes the audio, e.g. "builtin:10s".
func (a AudioConfig) String() string {
	switch {
	case a.Raw != nil:
		return fmt.Sprintf("raw:%s@%dHz", a.Raw.File, a.Raw.SampleRate)
	case a.File != "":
		return "file:" + a.File
	case a.Builtin != "":
		return "builtin:" + a.Builtin
	}
	return "builtin:speech"
}

// Load validates the audio config at path and reads the clip, resolving
// relative file names against baseDir (the config file's directory);
// problems go to p and the clip is nil then. Empty means builtin:speech.
func (a AudioConfig) Load(path, baseDir string, p *config.Problems) *Clip {
	a.File = generators.ResolvePath(baseDir, a.File)
	if a.Raw != nil {
		raw := *a.Raw
		raw.File = generators.ResolvePath(baseDir, raw.File)
		a.Raw = &raw
	}
	set := 0
	for _, s := range []bool{a.Builtin != "", a.File != "", a.Raw != nil} {
		if s {
			set++
		}
	}
	if set > 1 {
		p.Addf(path, "give one of builtin, file or raw")
		return nil
	}
	switch {
	case a.File != "":
		b, err := os.ReadFile(a.File)
		if err != nil {
			p.Addf(config.Key(path, "file"), "cannot read: %v", err)
			return nil
		}
		info, err := ParseWAV(b)
		if err != nil {
			p.Addf(config.Key(path, "file"), "%s: %v", a.File, err)
			return nil
		}
		return &Clip{PCM: info.Data, SampleRate: info.SampleRate, Source: a.String(), WAV: b}
	case a.Raw != nil:
		return a.Raw.load(config.Key(path, "raw"), p)
	default:
		c, err := builtinClip(a.Builtin)
		if err != nil {
			p.Addf(config.Key(path, "builtin"), "%v", err)
			return nil
		}
		return c
	}
}

func (r *RawAudio) load(path string, p *config.Problems) *Clip {
	before := p.Len()
	if r.File == "" {
		p.Addf(config.Key(path, "file"), "required")
	}
	if r.SampleRate == 0 {
		p.Addf(config.Key(path, "sample_rate"), "required (e.g. 16000): raw PCM has no header to read it from")
	} else if err := checkPCM(r.SampleRate, 1, bitDepth); err != nil {
		p.Addf(config.Key(path, "sample_rate"), "%v", err)
	}
	if r.Channels != 0 && r.Channels != 1 {
		p.Addf(config.Key(path, "channels"), "%v", checkPCM(minSampleRate, r.Channels, bitDepth))
	}
	if r.BitDepth != 0 && r.BitDepth != bitDepth {
		p.Addf(config.Key(path, "bit_depth"), "%v", checkPCM(minSampleRate, 1, r.BitDepth))
	}
	if p.Len() > before {
		return nil
	}
	b, err := os.ReadFile(r.File)
	if err != nil {
		p.Addf(config.Key(path, "file"), "cannot read: %v", err)
		return nil
	}
	if len(b) < bytesPerSamp {
		p.Addf(config.Key(path, "file"), "%s: %v: no audio samples", r.File, ErrBadAudio)
		return nil
	}
	b = b[: len(b)&^1 : len(b)&^1]
	return &Clip{PCM: b, SampleRate: r.SampleRate, Source: (AudioConfig{Raw: r}).String(), WAV: EncodeWAV(b, r.SampleRate)}
}

// speechClip returns the shipped speech clip.
func speechClip() *Clip {
	info, err := ParseWAV(speechWAV)
	if err != nil {
		panic("transcribe: embedded speech clip is broken: " + err.Error()) // a build defect, caught by tests
	}
	return &Clip{PCM: info.Data, SampleRate: info.SampleRate, Text: strings.TrimSpace(speechText), Source: "builtin:speech", WAV: speechWAV}
}

// builtinClip returns "speech" as shipped, or whole repetitions of the
// speech clip, each followed by a 500 ms gap, padded with silence to a
// duration. Its reference text holds one sentence per repetition; a
// duration shorter than the clip cuts it, and the text is then unknown.
func builtinClip(name string) (*Clip, error) {
	sp := speechClip()
	if name == "" || name == "speech" {
		return sp, nil
	}
	d, err := config.ParseDuration(name)
	if err != nil || d <= 0 {
		return nil, fmt.Errorf("unknown built-in audio %q (want speech or a duration such as 10s)", name)
	}
	if d > time.Hour {
		return nil, fmt.Errorf("built-in audio %s is longer than 1h", d)
	}
	n := int(int64(d)*int64(sp.SampleRate)/int64(time.Second)) * bytesPerSamp
	gap := int(int64(builtinGap)*int64(sp.SampleRate)/int64(time.Second)) * bytesPerSamp
	pcm := make([]byte, n)
	var texts []string
	for off := 0; off+len(sp.PCM) <= n; off += len(sp.PCM) + gap {
		copy(pcm[off:], sp.PCM)
		texts = append(texts, sp.Text)
	}
	if texts == nil {
		copy(pcm, sp.PCM)
	}
	return &Clip{PCM: pcm, SampleRate: sp.SampleRate, Text: strings.Join(texts, " "), Source: "builtin:" + name, WAV: EncodeWAV(pcm, sp.SampleRate)}, nil
}
