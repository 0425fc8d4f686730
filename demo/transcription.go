package demo

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log/level"
	"github.com/gorilla/websocket"

	"github.com/loadd/loadd/config"
)

// Transcription routes (registered by registerTranscription). A bearer
// token, when sent, must be valid; none is required.
//
//	POST /v1/audio/transcriptions  OpenAI-style: multipart with the WAV in
//	                     field "file" (response_format json, verbose_json or
//	                     text), or a raw audio/wav body. Replies
//	                     {"text": transcript} after rtf × audio duration + latency.
//	GET  /v1/listen      WebSocket, Deepgram-style: binary frames of 16-bit
//	                     PCM (?sample_rate=, default 16000); a partial result
//	                     {"type":"Results","is_final":false,…} every 500 ms of
//	                     audio; after {"type":"CloseStream"} it waits latency,
//	                     sends the final result and closes (1000).
//	                     KeepAlive and other text messages are ignored.
//	GET  /-/transcription/faults   the settings below
//	POST /-/transcription/faults   change them: {"rtf": 0.1, "latency": "200ms",
//	                     "error_ratio": "5%", "transcript": "…"}; failed batch
//	                     jobs answer 500, failed streams close with 1011.
//	GET  /-/transcription/stats    {"batch": {...}, "stream": {...}}: jobs
//	                     started, completed, failed, audio_seconds.
const (
	trDefaultRTF     = 0.05
	trPartialEvery   = 500 * time.Millisecond
	trDefaultRate    = 16000
	trMaxUpload      = 64 << 20
	trMaxFrame       = 1 << 20
	trCloseWait      = 2 * time.Second
	trBufferSize     = 4096
	trDefaultSayings = "The patient reports mild chest pain since yesterday. Blood pressure is one hundred twenty over eighty. Continue the current medication and follow up in two weeks."
)

// trSettings are the transcription faults, changed as a whole.
type trSettings struct {
	RTF        float64
	Latency    time.Duration
	ErrorRatio float64
	Transcript string
}

type trSettingsJSON struct {
	RTF        *float64         `json:"rtf,omitempty"`
	Latency    *config.Duration `json:"latency,omitempty"`
	ErrorRatio *config.Ratio    `json:"error_ratio,omitempty"`
	Transcript *string          `json:"transcript,omitempty"`
}

// trCounts are one mode's job counts.
type trCounts struct {
	started, completed, failed atomic.Uint64
	audioNanos                 atomic.Int64 // batch: sum of durations
}

func (c *trCounts) snapshot(seconds float64) map[string]any {
	return map[string]any{"started": c.started.Load(), "completed": c.completed.Load(), "failed": c.failed.Load(), "audio_seconds": seconds}
}

// trHub holds the transcription endpoints' state.
type trHub struct {
	t         *Target
	settings  atomic.Pointer[trSettings]
	mu        sync.Mutex // serialises settings writers
	batch     trCounts
	stream    trCounts
	streamSec atomic.Uint64 // micro-seconds of streamed audio
	upgrader  websocket.Upgrader
}

func (t *Target) registerTranscription(mux *http.ServeMux) {
	h := &trHub{t: t}
	h.settings.Store(&trSettings{RTF: trDefaultRTF, Transcript: trDefaultSayings})
	h.upgrader = websocket.Upgrader{
		ReadBufferSize:  trBufferSize,
		WriteBufferSize: 1024,
		WriteBufferPool: &sync.Pool{}, // empty on purpose: buffers only while writing
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	mux.HandleFunc("POST /v1/audio/transcriptions", h.serveBatch)
	mux.HandleFunc("GET /v1/listen", h.serveStream)
	mux.HandleFunc("GET /-/transcription/faults", h.handleGetFaults)
	mux.HandleFunc("POST /-/transcription/faults", h.handlePostFaults)
	mux.HandleFunc("GET /-/transcription/stats", h.handleStats)
}

// authorized checks the bearer token if one was sent.
func (h *trHub) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return true
	}
	if _, valid := h.t.tokens.lookup(tok, h.t.now()); !valid {
		writeError(w, http.StatusUnauthorized, "invalid or expired token")
		return false
	}
	return true
}

func (h *trHub) serveBatch(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(w, r) {
		return
	}
	h.batch.started.Add(1)
	wav, format, err := readUpload(r)
	if err != nil {
		h.batch.failed.Add(1)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	dur := wavDuration(wav)
	h.batch.audioNanos.Add(int64(dur))
	s := h.settings.Load()
	if err := h.t.wait(r.Context(), time.Duration(s.RTF*float64(dur))+s.Latency); err != nil {
		h.batch.failed.Add(1)
		return
	}
	if rand.Float64() < s.ErrorRatio {
		h.batch.failed.Add(1)
		writeError(w, http.StatusInternalServerError, "injected transcription failure")
		return
	}
	h.batch.completed.Add(1)
	switch format {
	case "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, s.Transcript)
	case "verbose_json":
		writeJSON(w, http.StatusOK, map[string]any{"task": "transcribe", "language": "english", "duration": dur.Seconds(), "text": s.Transcript})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"text": s.Transcript})
	}
}

// readUpload returns the WAV bytes and the response format of a batch
// request: a multipart form with a "file" part, or a raw audio body.
func readUpload(r *http.Request) ([]byte, string, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, trMaxUpload)
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		b, err := io.ReadAll(r.Body)
		return b, r.URL.Query().Get("response_format"), err
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", fmt.Errorf("read form: %w", err)
	}
	var wav []byte
	format := "json"
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("read form: %w", err)
		}
		b, err := io.ReadAll(part)
		if err != nil {
			return nil, "", fmt.Errorf("read form part %s: %w", part.FormName(), err)
		}
		switch part.FormName() {
		case "file":
			wav = b
		case "response_format":
			format = string(b)
		}
	}
	if wav == nil {
		return nil, "", errors.New(`no "file" part in the form`)
	}
	return wav, format, nil
}

// wavDuration reads a WAV header's rate and data size; anything else is
// taken as 16 kHz 16-bit PCM after a 44-byte header.
func wavDuration(b []byte) time.Duration {
	rate, data := trDefaultRate, len(b)-44
	if len(b) >= 44 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WAVE" {
		if r := int(binary.LittleEndian.Uint32(b[24:28])); r > 0 {
			rate = r
		}
	}
	if data <= 0 {
		return 0
	}
	return time.Duration(int64(data/2) * int64(time.Second) / int64(rate))
}

func (h *trHub) serveStream(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(w, r) {
		return
	}
	rate := trDefaultRate
	if v, err := strconv.Atoi(r.URL.Query().Get("sample_rate")); err == nil && v > 0 {
		rate = v
	}
	c, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		level.Debug(h.t.logger).Log("msg", "transcription upgrade failed", "err", err)
		return
	}
	defer c.Close()
	c.SetReadLimit(trMaxFrame)
	h.stream.started.Add(1)
	ok, err := h.stream1(r.Context(), c, rate)
	if !ok {
		h.stream.failed.Add(1)
		level.Debug(h.t.logger).Log("msg", "transcription stream failed", "err", err)
		return
	}
	// Counted before the close handshake, which may wait for a client
	// that already has its result.
	h.stream.completed.Add(1)
	h.closeWith(c, websocket.CloseNormalClosure, "")
}

// stream1 runs one stream up to its final result; it reports whether
// that result was sent. The caller closes a stream that succeeded.
func (h *trHub) stream1(ctx context.Context, c *websocket.Conn, rate int) (bool, error) {
	s := h.settings.Load()
	if rand.Float64() < s.ErrorRatio {
		h.closeWith(c, websocket.CloseInternalServerErr, "injected transcription failure")
		return false, errors.New("injected failure")
	}
	words := strings.Fields(s.Transcript)
	partialBytes := int(int64(rate) * 2 * int64(trPartialEvery) / int64(time.Second))
	var received, sinceLast int
	for {
		mt, r, err := c.NextReader()
		if err != nil {
			return false, fmt.Errorf("read: %w", err)
		}
		if mt == websocket.BinaryMessage {
			// Audio is only counted: io.Discard reads it without allocating.
			n64, err := io.Copy(io.Discard, r)
			if err != nil {
				return false, fmt.Errorf("read audio: %w", err)
			}
			n := int(n64)
			received += n
			sinceLast += n
			h.streamSec.Add(uint64(int64(n/2) * 1e6 / int64(rate)))
			if sinceLast >= partialBytes {
				sinceLast = 0
				n := min(len(words), 1+received/partialBytes)
				if err := h.result(c, false, strings.Join(words[:n], " ")); err != nil {
					return false, err
				}
			}
			continue
		}
		msg, err := io.ReadAll(r)
		if err != nil {
			return false, fmt.Errorf("read message: %w", err)
		}
		var m struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(msg, &m) != nil || m.Type != "CloseStream" {
			continue // KeepAlive, configuration and the like
		}
		if err := h.t.wait(ctx, s.Latency); err != nil {
			return false, err
		}
		if err := h.result(c, true, s.Transcript); err != nil {
			return false, err
		}
		return true, nil
	}
}

// result sends a Deepgram-style result.
func (h *trHub) result(c *websocket.Conn, final bool, text string) error {
	b, err := json.Marshal(map[string]any{
		"type": "Results", "is_final": final, "speech_final": final,
		"channel": map[string]any{"alternatives": []any{map[string]any{"transcript": text, "confidence": 0.98}}},
	})
	if err != nil {
		return err
	}
	if err := c.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("send result: %w", err)
	}
	return nil
}

// closeWith sends a close frame and waits briefly for the client's reply.
func (h *trHub) closeWith(c *websocket.Conn, code int, text string) {
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	_ = c.SetReadDeadline(time.Now().Add(trCloseWait))
	for {
		if _, _, err := c.NextReader(); err != nil {
			return
		}
	}
}

func (h *trHub) handleGetFaults(w http.ResponseWriter, _ *http.Request) {
	s := h.settings.Load()
	writeJSON(w, http.StatusOK, map[string]any{"rtf": s.RTF, "latency": s.Latency.String(), "error_ratio": s.ErrorRatio, "transcript": s.Transcript})
}

func (h *trHub) handlePostFaults(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var in trSettingsJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "transcription faults: "+err.Error())
		return
	}
	if in.RTF != nil && (*in.RTF < 0 || *in.RTF > 100) {
		writeError(w, http.StatusBadRequest, "transcription faults: rtf must be between 0 and 100")
		return
	}
	h.mu.Lock()
	next := *h.settings.Load()
	if in.RTF != nil {
		next.RTF = *in.RTF
	}
	if in.Latency != nil {
		next.Latency = in.Latency.D()
	}
	if in.ErrorRatio != nil {
		next.ErrorRatio = float64(*in.ErrorRatio)
	}
	if in.Transcript != nil {
		next.Transcript = *in.Transcript
	}
	h.settings.Store(&next)
	h.mu.Unlock()
	h.handleGetFaults(w, r)
}

func (h *trHub) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"batch":  h.batch.snapshot(time.Duration(h.batch.audioNanos.Load()).Seconds()),
		"stream": h.stream.snapshot(float64(h.streamSec.Load()) / 1e6),
	})
}
