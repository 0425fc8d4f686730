package transcribe

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

// wav builds a WAV file with the given fmt fields and data length, and
// lets a test cut or change it.
func wav(format, channels uint16, rate uint32, bits uint16, data int) []byte {
	b := EncodeWAV(make([]byte, data), int(rate))
	le := binary.LittleEndian
	le.PutUint16(b[20:], format)
	le.PutUint16(b[22:], channels)
	le.PutUint16(b[34:], bits)
	return b
}

// withChunk inserts a chunk between fmt and data.
func withChunk(b []byte, id string, body []byte) []byte {
	c := make([]byte, 8, 8+len(body)+1)
	copy(c, id)
	binary.LittleEndian.PutUint32(c[4:], uint32(len(body)))
	c = append(c, body...)
	if len(body)%2 == 1 {
		c = append(c, 0)
	}
	out := append([]byte{}, b[:36]...)
	out = append(out, c...)
	return append(out, b[36:]...)
}

func extensible(sub uint16) []byte {
	b := wav(formatExtensible, 1, 16000, 16, 320)
	le := binary.LittleEndian
	// Grow fmt to 40 bytes: cbSize, valid bits, channel mask, sub-format GUID.
	ext := make([]byte, 24)
	le.PutUint16(ext[0:], 22)
	le.PutUint16(ext[2:], 16)
	le.PutUint16(ext[8:], sub)
	le.PutUint32(b[16:], 40)
	out := append([]byte{}, b[:36]...)
	out = append(out, ext...)
	return append(out, b[36:]...)
}

func TestParseWAV(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		wantErr string // "" for a good file
		rate    int
		samples int
	}{
		{"canonical", wav(1, 1, 16000, 16, 3200), "", 16000, 1600},
		{"8 kHz", wav(1, 1, 8000, 16, 16), "", 8000, 8},
		{"48 kHz", wav(1, 1, 48000, 16, 16), "", 48000, 8},
		{"extra chunk before data", withChunk(wav(1, 1, 16000, 16, 64), "LIST", []byte("odd")), "", 16000, 32},
		{"extensible PCM", extensible(formatPCM), "", 16000, 160},
		{"shipped speech", speechWAV, "", 16000, -1},
		{"empty", nil, "truncated header: 0 bytes", 0, 0},
		{"cut in RIFF header", wav(1, 1, 16000, 16, 10)[:10], "truncated header: 10 bytes", 0, 0},
		{"not RIFF", append([]byte("RIFX"), wav(1, 1, 16000, 16, 10)[4:]...), "not a WAV file", 0, 0},
		{"not WAVE", append(append([]byte{}, wav(1, 1, 16000, 16, 10)[:8]...), []byte("AVI LIST")...), "not a WAV file", 0, 0},
		{"cut in fmt", wav(1, 1, 16000, 16, 10)[:30], "truncated header: fmt chunk", 0, 0},
		{"no data chunk", wav(1, 1, 16000, 16, 10)[:36], "truncated header: no data chunk", 0, 0},
		{"no fmt chunk", append(append([]byte{}, wav(1, 1, 16000, 16, 10)[:12]...), wav(1, 1, 16000, 16, 10)[36:]...), "data chunk before fmt chunk", 0, 0},
		{"data truncated", wav(1, 1, 16000, 16, 3200)[:1000], "truncated data: header declares 3200 bytes, file has 956", 0, 0},
		{"no samples", wav(1, 1, 16000, 16, 0), "no audio samples", 0, 0},
		{"float", wav(3, 1, 16000, 32, 64), "format 3 (IEEE float); only integer PCM", 0, 0},
		{"mp3", wav(0x55, 1, 16000, 16, 64), "format 85 (MP3)", 0, 0},
		{"extensible float", extensible(3), "format 3 (IEEE float)", 0, 0},
		{"stereo", wav(1, 2, 16000, 16, 64), "2 channels; want mono", 0, 0},
		{"8-bit", wav(1, 1, 16000, 8, 64), "bit depth 8; want 16-bit PCM", 0, 0},
		{"24-bit", wav(1, 1, 16000, 24, 64), "bit depth 24", 0, 0},
		{"96 kHz", wav(1, 1, 96000, 16, 64), "sample rate 96000 Hz; want 8000 to 48000 Hz", 0, 0},
		{"4 kHz", wav(1, 1, 4000, 16, 64), "sample rate 4000 Hz", 0, 0},
		{"chunk overruns file", withChunk(wav(1, 1, 16000, 16, 64), "LIST", []byte("x"))[:44], `truncated header: "LIST" chunk declares 1 bytes, file has 0`, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := ParseWAV(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if !errors.Is(err, ErrBadAudio) {
					t.Errorf("err %v does not wrap ErrBadAudio", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if info.SampleRate != tc.rate || info.Channels != 1 || info.Bits != 16 {
				t.Errorf("info = %d Hz, %d ch, %d bits", info.SampleRate, info.Channels, info.Bits)
			}
			if tc.samples >= 0 && len(info.Data) != 2*tc.samples {
				t.Errorf("data = %d bytes, want %d", len(info.Data), 2*tc.samples)
			}
		})
	}
}

func TestSpeechClip(t *testing.T) {
	c := speechClip()
	if d := c.Duration(); d < 9*time.Second || d > 10*time.Second {
		t.Errorf("speech clip lasts %s, want 9-10 s", d)
	}
	if !strings.HasPrefix(c.Text, "The patient reports") {
		t.Errorf("reference text = %q", c.Text)
	}
	for _, tc := range []struct {
		name  string
		reps  int
		known bool
	}{{"10s", 1, true}, {"25s", 2, true}, {"5s", 0, false}} {
		b, err := builtinClip(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.Duration().String(); got != tc.name {
			t.Errorf("builtin:%s lasts %s", tc.name, got)
		}
		if got := strings.Count(b.Text, "The patient reports"); got != tc.reps || (b.Text != "") != tc.known {
			t.Errorf("builtin:%s text has %d sentences: %q", tc.name, got, b.Text)
		}
		if _, err := ParseWAV(b.WAV); err != nil {
			t.Errorf("builtin:%s WAV: %v", tc.name, err)
		}
	}
}

func TestFramesAliasTheClip(t *testing.T) {
	clip := &Clip{PCM: make([]byte, 3300), SampleRate: 16000} // 103.125 ms
	f := clip.Frames(50 * time.Millisecond)
	if f.Size() != 1600 || f.Len() != 3 {
		t.Fatalf("size %d len %d, want 1600 and 3 (padded)", f.Size(), f.Len())
	}
	if &f.At(0)[0] != &f.At(3)[0] || &f.At(1)[0] != &f.At(4)[0] {
		t.Error("looped frames do not share the clip's memory")
	}
	if cap(f.At(0)) != 1600 {
		t.Errorf("frame cap %d lets appends overwrite the next frame", cap(f.At(0)))
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = f.At(7) }); allocs != 0 {
		t.Errorf("At allocates %v times", allocs)
	}
	whole := &Clip{PCM: make([]byte, 3200), SampleRate: 16000}
	if g := whole.Frames(100 * time.Millisecond); &g.At(0)[0] != &whole.PCM[0] {
		t.Error("a clip of whole frames was copied")
	}
}
