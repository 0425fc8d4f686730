package transcribe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/loadd/loadd/generators"
)

// maxReply bounds how much of a reply is read.
const maxReply = 1 << 20

// batcher runs batch jobs: one upload of the clip per job. The request
// body is built once; every job reads it through its own bytes.Reader.
type batcher struct {
	client      *http.Client
	url         string
	body        []byte
	contentType string
	header      http.Header
	session     *generators.Session
	parser      *ResultParser // nil: the body is the transcript
	check       *Check
	audio       time.Duration
	timeout     time.Duration
}

// buildBody returns the request body and its content type: the WAV file
// as multipart form data with the model, response format and extra fields,
// or the WAV file alone when raw.
func buildBody(b *BatchConfig, wav []byte) ([]byte, string, error) {
	if b.RawBody {
		return wav, "audio/wav", nil
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range formFields(b) {
		if err := mw.WriteField(k, v); err != nil {
			return nil, "", fmt.Errorf("write form field %s: %w", k, err)
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename="audio.wav"`, b.FileField))
	h.Set("Content-Type", "audio/wav")
	part, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", fmt.Errorf("write form file: %w", err)
	}
	if _, err := part.Write(wav); err != nil {
		return nil, "", fmt.Errorf("write form file: %w", err)
	}
	if err := mw.Close(); err != nil {
		return nil, "", fmt.Errorf("close form: %w", err)
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// formFields are the fields sent besides the file.
func formFields(b *BatchConfig) map[string]string {
	f := make(map[string]string, len(b.Fields)+2)
	if b.Model != nil && *b.Model != "" {
		f["model"] = *b.Model
	}
	f["response_format"] = b.ResponseFormat
	for k, v := range b.Fields {
		f[k] = v
	}
	return f
}

// batchURL is the upload URL; in raw mode the fields go in the query.
func batchURL(base *url.URL, b *BatchConfig) string {
	u := strings.TrimSuffix(base.String(), "/") + b.Path
	if !b.RawBody {
		return u
	}
	q := url.Values{}
	for k, v := range formFields(b) {
		q.Set(k, v)
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + q.Encode()
}

// batchTimes are the instants of one upload, as offsets from t0 (0: not
// yet). The transport's goroutines set them, hence the atomics.
type batchTimes struct {
	t0                                 time.Time
	wroteHeaders, wroteBody, firstByte atomic.Int64
}

func (tm *batchTimes) mark(v *atomic.Int64) func() {
	return func() { v.Store(max(int64(time.Since(tm.t0)), 1)) }
}

func (b *batcher) run(ctx context.Context, intended time.Time) outcome {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	out, retry := b.attempt(ctx, intended, false)
	if retry {
		out, _ = b.attempt(ctx, intended, true)
	}
	return out
}

// attempt uploads once. A 401 on a fresh-looking token asks for one retry
// after the session logs in again.
func (b *batcher) attempt(ctx context.Context, intended time.Time, retried bool) (outcome, bool) {
	var tok string
	if b.session != nil {
		var err error
		if tok, err = b.session.Token(ctx); err != nil {
			return outcome{err: err}, false
		}
	}
	tm := &batchTimes{t0: time.Now()}
	wroteBody := tm.mark(&tm.wroteBody)
	trace := &httptrace.ClientTrace{
		WroteHeaders:         tm.mark(&tm.wroteHeaders),
		WroteRequest:         func(httptrace.WroteRequestInfo) { wroteBody() },
		GotFirstResponseByte: tm.mark(&tm.firstByte),
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, b.url, bytes.NewReader(b.body))
	if err != nil {
		return outcome{err: fmt.Errorf("build request: %w", err)}, false
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", b.contentType)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return outcome{err: fmt.Errorf("upload: %w", err), interrupted: ctx.Err() == context.Canceled}, false
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	resp.Body.Close()
	done := time.Now()
	out := outcome{code: resp.StatusCode, latency: done.Sub(intended)}
	if tm.wroteBody.Load() != 0 {
		out.audio = b.audio
	}
	switch {
	case err != nil:
		out.err = fmt.Errorf("read reply: %w", err)
	case resp.StatusCode == http.StatusUnauthorized && b.session != nil && tok != "" && !retried:
		b.session.Invalidate(tok)
		return out, true
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		out.err = errStatus{resp.StatusCode}
	default:
		b.measure(&out, tm, done)
		out.err = b.verify(body)
	}
	return out, false
}

func (b *batcher) measure(out *outcome, tm *batchTimes, done time.Time) {
	wh, wb, fb := tm.wroteHeaders.Load(), tm.wroteBody.Load(), tm.firstByte.Load()
	if wb == 0 || fb == 0 {
		return
	}
	out.timed, out.hasFirst = true, true
	out.firstResult = time.Duration(max(fb-wh, 0))
	out.final = max(done.Sub(tm.t0)-time.Duration(wb), 0)
	if b.audio > 0 {
		out.rtf = float64(out.final) / float64(b.audio)
	}
}

func (b *batcher) verify(body []byte) error {
	text := string(body)
	if b.parser != nil {
		var err error
		if text, err = b.parser.Transcript(body); err != nil {
			return err
		}
	}
	if b.check != nil {
		return b.check.Verify(text)
	}
	return nil
}
