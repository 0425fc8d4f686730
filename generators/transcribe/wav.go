package transcribe

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Audio format limits: loadd sends 16-bit little-endian mono PCM.
const (
	minSampleRate = 8000
	maxSampleRate = 48000
	bitDepth      = 16
	bytesPerSamp  = bitDepth / 8
	wavHeaderLen  = 44

	formatPCM        = 1
	formatExtensible = 0xFFFE
)

// ErrBadAudio wraps every problem with an audio file's contents.
var ErrBadAudio = errors.New("unsupported audio")

// WAVInfo describes the PCM data of a parsed WAV file.
type WAVInfo struct {
	SampleRate int
	Channels   int
	Bits       int
	// Data is the PCM payload, a sub-slice of the file's bytes.
	Data []byte
}

// ParseWAV parses a RIFF/WAVE file and validates that it holds 16-bit
// integer PCM, mono, at 8–48 kHz. The error says what is wrong (truncated
// header, format, channels, bit depth, sample rate) and wraps ErrBadAudio.
func ParseWAV(b []byte) (WAVInfo, error) {
	var info WAVInfo
	if len(b) < 12 {
		return info, fmt.Errorf("%w: truncated header: %d bytes, a WAV file needs at least %d", ErrBadAudio, len(b), wavHeaderLen)
	}
	if string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return info, fmt.Errorf("%w: not a WAV file (no RIFF/WAVE header)", ErrBadAudio)
	}
	var haveFmt bool
	for off := 12; ; {
		if off+8 > len(b) {
			if !haveFmt {
				return info, fmt.Errorf("%w: truncated header: no fmt chunk", ErrBadAudio)
			}
			return info, fmt.Errorf("%w: truncated header: no data chunk", ErrBadAudio)
		}
		id := string(b[off : off+4])
		size := int(binary.LittleEndian.Uint32(b[off+4 : off+8]))
		body := off + 8
		switch id {
		case "fmt ":
			if size < 16 || body+size > len(b) {
				return info, fmt.Errorf("%w: truncated header: fmt chunk of %d bytes", ErrBadAudio, min(size, len(b)-body))
			}
			if err := parseFmt(b[body:body+size], &info); err != nil {
				return info, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return info, fmt.Errorf("%w: data chunk before fmt chunk", ErrBadAudio)
			}
			if size > len(b)-body {
				return info, fmt.Errorf("%w: truncated data: header declares %d bytes, file has %d", ErrBadAudio, size, len(b)-body)
			}
			info.Data = b[body : body+size : body+size]
			if len(info.Data) < bytesPerSamp {
				return info, fmt.Errorf("%w: no audio samples", ErrBadAudio)
			}
			if len(info.Data)%bytesPerSamp != 0 {
				info.Data = info.Data[: len(info.Data)-1 : len(info.Data)-1]
			}
			return info, nil
		}
		if size > len(b)-body {
			return info, fmt.Errorf("%w: truncated header: %q chunk declares %d bytes, file has %d", ErrBadAudio, id, size, len(b)-body)
		}
		off = body + size + size&1 // chunks are padded to even sizes
	}
}

func parseFmt(c []byte, info *WAVInfo) error {
	le := binary.LittleEndian
	format := le.Uint16(c[0:2])
	info.Channels = int(le.Uint16(c[2:4]))
	info.SampleRate = int(le.Uint32(c[4:8]))
	info.Bits = int(le.Uint16(c[14:16]))
	if format == formatExtensible && len(c) >= 26 {
		format = le.Uint16(c[24:26]) // first two bytes of the sub-format GUID
	}
	if format != formatPCM {
		return fmt.Errorf("%w: format %d (%s); only integer PCM is supported", ErrBadAudio, format, formatName(format))
	}
	return checkPCM(info.SampleRate, info.Channels, info.Bits)
}

// checkPCM validates a PCM layout against what loadd sends.
func checkPCM(rate, channels, bits int) error {
	if bits != bitDepth {
		return fmt.Errorf("%w: bit depth %d; want %d-bit PCM (convert with: sox in.wav -b 16 out.wav)", ErrBadAudio, bits, bitDepth)
	}
	if channels != 1 {
		return fmt.Errorf("%w: %d channels; want mono (convert with: sox in.wav -c 1 out.wav)", ErrBadAudio, channels)
	}
	if rate < minSampleRate || rate > maxSampleRate {
		return fmt.Errorf("%w: sample rate %d Hz; want %d to %d Hz (16000 is usual)", ErrBadAudio, rate, minSampleRate, maxSampleRate)
	}
	return nil
}

func formatName(f uint16) string {
	switch f {
	case 3:
		return "IEEE float"
	case 6:
		return "A-law"
	case 7:
		return "µ-law"
	case 0x11:
		return "IMA ADPCM"
	case 0x55:
		return "MP3"
	}
	return "compressed"
}

// EncodeWAV returns a canonical 44-byte-header WAV file around 16-bit mono
// PCM data at rate.
func EncodeWAV(pcm []byte, rate int) []byte {
	b := make([]byte, wavHeaderLen, wavHeaderLen+len(pcm))
	le := binary.LittleEndian
	copy(b[0:], "RIFF")
	le.PutUint32(b[4:], uint32(36+len(pcm)))
	copy(b[8:], "WAVEfmt ")
	le.PutUint32(b[16:], 16)
	le.PutUint16(b[20:], formatPCM)
	le.PutUint16(b[22:], 1)
	le.PutUint32(b[24:], uint32(rate))
	le.PutUint32(b[28:], uint32(rate*bytesPerSamp))
	le.PutUint16(b[32:], bytesPerSamp)
	le.PutUint16(b[34:], bitDepth)
	copy(b[36:], "data")
	le.PutUint32(b[40:], uint32(len(pcm)))
	return append(b, pcm...)
}
