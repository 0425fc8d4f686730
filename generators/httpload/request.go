package httpload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-kit/log/level"
	"github.com/valyala/fasthttp"

	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
)

var (
	hdrTraceparent   = []byte("Traceparent") // as fasthttp would normalise it
	hdrAuthorization = []byte("Authorization")
	bearerPrefix     = []byte("Bearer ")
)

// call is the reusable state of one request: fasthttp's request and
// response objects and the buffers templates render into. Calls are
// pooled per scenario, so a static task allocates nothing.
type call struct {
	req     fasthttp.Request
	resp    fasthttp.Response
	uri     []byte
	body    []byte
	scratch []byte
	auth    []byte
	tp      traceparent
	// data is the template data: the scenario's pools, and the feeder
	// values of the current request.
	data map[string]any
}

func (s *scenario) newCall() *call {
	c := &call{data: make(map[string]any, len(s.pools)+len(s.spec.feeders))}
	for name, p := range s.pools {
		c.data[name] = p
	}
	return c
}

// exec runs task t as identity id and records its outcome, with latency
// measured from start.
func (s *scenario) exec(ctx context.Context, t *task, id *identity, start time.Time) {
	c := s.calls.Get().(*call)
	o := s.run(ctx, c, t, id, start)
	c.req.Reset()
	c.resp.Reset()
	s.calls.Put(c)
	s.handles[t.idx].Observe(o)
}

// run sends the request (and, after a 401, logs in afresh and sends it
// once more) and checks the response.
func (s *scenario) run(ctx context.Context, c *call, t *task, id *identity, start time.Time) exporter.Outcome {
	var o exporter.Outcome
	if err := s.prepare(c, t); err != nil {
		o.Latency, o.Reason = time.Since(start), exporter.ReasonOther
		if errors.Is(err, errEmptyPool) {
			o.Reason = exporter.ReasonAssertion
		}
		s.debug(t, o.Reason, "render request", err)
		return o
	}
	o.TraceID = exporter.TraceID(c.tp.traceID())
	tok, err := id.session.Token(ctx)
	if err == nil {
		s.authorize(c, tok)
		id.jar.apply(&c.req)
		err = s.send(ctx, c, t)
	}
	if err == nil && tok != "" && c.resp.StatusCode() == fasthttp.StatusUnauthorized && !t.check.status.Contains(fasthttp.StatusUnauthorized) {
		id.session.Invalidate(tok)
		if tok, err = id.session.Token(ctx); err == nil {
			s.authorize(c, tok)
			err = s.send(ctx, c, t)
		}
	}
	// One clock read: start carries the wall time.
	o.Latency = time.Since(start)
	o.End = start.UnixNano() + int64(o.Latency)
	if err != nil {
		o.Reason = classify(err)
		s.debug(t, o.Reason, "request", err)
		return o
	}
	o.Code = c.resp.StatusCode()
	id.jar.store(&c.resp)
	var detail string
	o.Reason, detail = s.check(t, c, o.Latency, tok != "")
	if o.Reason != exporter.ReasonNone {
		s.debug(t, o.Reason, detail, nil)
	}
	return o
}

// prepare renders t into c.req.
func (s *scenario) prepare(c *call, t *task) error {
	req := &c.req
	req.Header.SetMethodBytes(t.method)
	req.UseHostHeader = t.hostHeader
	if s.host != nil {
		req.Header.SetHostBytes(s.host) // a task's Host header replaces it
	}
	c.uri = append(c.uri[:0], s.base...)
	if t.static {
		c.uri = append(c.uri, t.uri...)
		req.SetRequestURIBytes(c.uri)
		for _, h := range t.headers {
			req.Header.SetBytesKV(h.key, h.val.static)
		}
		if len(t.rawBody) > 0 {
			req.SetBodyRaw(t.rawBody)
		}
	} else if err := s.render(c, t); err != nil {
		return err
	}
	if t.ctype != nil {
		req.Header.SetContentTypeBytes(t.ctype)
	}
	c.tp.fill()
	req.Header.SetCanonical(hdrTraceparent, c.tp[:])
	return nil
}

// render executes a templated task's path, query, headers and body.
func (s *scenario) render(c *call, t *task) error {
	for _, name := range t.feeders {
		c.data[name] = s.spec.feeders[name].value()
	}
	var err error
	if c.uri, err = t.renderURI(c.uri, c.data); err != nil {
		return err
	}
	c.req.SetRequestURIBytes(c.uri)
	for _, h := range t.headers {
		if h.val.isStatic() {
			c.req.Header.SetBytesKV(h.key, h.val.static)
			continue
		}
		if c.scratch, err = h.val.render(c.scratch[:0], c.data); err != nil {
			return err
		}
		c.req.Header.SetBytesKV(h.key, c.scratch)
	}
	if len(t.body) > 0 {
		if c.body, c.scratch, err = t.renderBody(c.body[:0], c.scratch, c.data); err != nil {
			return err
		}
		c.req.SetBodyRaw(c.body)
	}
	return nil
}

// authorize sets the bearer token, if any.
func (s *scenario) authorize(c *call, tok string) {
	if tok == "" {
		return
	}
	c.auth = append(append(c.auth[:0], bearerPrefix...), tok...)
	c.req.Header.SetBytesKV(hdrAuthorization, c.auth)
}

// send sends c.req with the task's timeout; a cancelled ctx (the grace
// period ran out) stops requests from being sent at all.
func (s *scenario) send(ctx context.Context, c *call, t *task) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	timeout := t.timeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	return s.transport.do(&c.req, &c.resp, timeout)
}

// check applies the task's checks and captures to a response.
func (s *scenario) check(t *task, c *call, latency time.Duration, authed bool) (exporter.Reason, string) {
	code := c.resp.StatusCode()
	if !t.check.status.Contains(code) {
		if code == fasthttp.StatusUnauthorized && authed {
			return exporter.ReasonAuth, "token refused after a fresh login"
		}
		return exporter.ReasonStatus, fmt.Sprintf("status %d", code)
	}
	body := c.resp.Body()
	var (
		doc    any
		docErr error
	)
	if t.check.needJSON {
		doc, docErr = decodeJSON(body)
	}
	if docErr == nil {
		for _, cp := range t.captures {
			p := s.pools[cp.pool]
			for _, n := range cp.path.Select(doc) {
				p.add(captureString(n))
			}
		}
	}
	if m := t.check.maxLatency; m > 0 && latency > m {
		return exporter.ReasonAssertion, fmt.Sprintf("latency %s over max_latency %s", latency, m)
	}
	if b := t.check.bodyContains; len(b) > 0 && !bytes.Contains(body, b) {
		return exporter.ReasonAssertion, fmt.Sprintf("body does not contain %q", b)
	}
	if len(t.check.json) > 0 && docErr != nil {
		return exporter.ReasonAssertion, docErr.Error()
	}
	for i := range t.check.json {
		if ok, why := t.check.json[i].eval(doc); !ok {
			return exporter.ReasonAssertion, why
		}
	}
	return exporter.ReasonNone, ""
}

// classify maps fasthttp's own errors, then everything else through
// generators.Classify.
func classify(err error) exporter.Reason {
	switch {
	case errors.Is(err, fasthttp.ErrNoFreeConns), errors.Is(err, fasthttp.ErrDialTimeout):
		return exporter.ReasonTimeout
	case errors.Is(err, fasthttp.ErrConnectionClosed):
		return exporter.ReasonReset
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return exporter.ReasonProtocol
	}
	return generators.Classify(err)
}

// debugEvery spaces per-request failure logs: a failing target at 20k/s
// must not flood the log even at debug level.
const debugEvery = int64(100 * time.Millisecond)

func (s *scenario) debug(t *task, r exporter.Reason, what string, err error) {
	now := time.Now().UnixNano()
	last := s.lastDebug.Load()
	if now-last < debugEvery || !s.lastDebug.CompareAndSwap(last, now) {
		return
	}
	kv := []any{"msg", "request failed", "task", t.name, "reason", r.String(), "detail", what}
	if err != nil {
		kv = append(kv, "err", err)
	}
	level.Debug(s.logger).Log(kv...)
}
