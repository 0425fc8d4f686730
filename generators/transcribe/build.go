package transcribe

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/gorilla/websocket"

	"github.com/loadd/loadd/generators"
)

// wsReadBuffer is the read buffer of a stream: results are small JSON.
const wsReadBuffer = 1024

// Build implements generators.Spec: it sets up the HTTP client or the
// WebSocket dialer, the request body or the frames, and the metric handles
// once.
func (s *Spec) Build(d generators.Deps) (generators.Scenario, error) {
	if d.Metrics == nil {
		return nil, errors.New("build transcription scenario: no metrics")
	}
	if s.target == nil || s.clip == nil {
		return nil, errors.New("build transcription scenario: spec was not validated")
	}
	logger := d.Logger
	if logger == nil {
		logger = log.NewNopLogger()
	}
	sc := &Scenario{
		spec:   s,
		deps:   d,
		logger: logger,
		scen:   d.Metrics.Scenario(d.Name, s.task()),
		tr:     d.Metrics.Transcription(d.Name, s.Mode, reasons),
	}
	sc.task = sc.scen.Task(s.task())
	scale := d.Scale
	if scale <= 0 {
		scale = 1
	}
	shape := s.ShapeConfig.Overridden(d.Shape)
	if s.Concurrency > 0 {
		sc.usersN = int64(scaledCount(s.Concurrency, scale, d.Shard))
	} else {
		sc.pacer = shape.Pacer(d.Shard.Rate(scale))
		sc.scen.SetTargetRate(sc.pacer.Rate(0))
	}
	var session *generators.Session
	if s.target.Auth != nil {
		session = generators.NewSession(s.target, &http.Client{Transport: s.transport(4), Timeout: s.Timeout.D()})
	}
	var err error
	if s.Mode == ModeStreaming {
		sc.job = s.buildStreamer(sc, session)
	} else {
		sc.job, err = s.buildBatcher(session)
	}
	if err != nil {
		return nil, fmt.Errorf("build transcription scenario %s: %w", d.Name, err)
	}
	return sc, nil
}

// transport is an HTTP/1.1 transport to the target keeping up to idle
// connections alive.
func (s *Spec) transport(idle int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: s.Timeout.D(), KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     s.target.TLSClient,
		TLSHandshakeTimeout: s.Timeout.D(),
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

func (s *Spec) buildBatcher(session *generators.Session) (*batcher, error) {
	body, ctype, err := buildBody(&s.Batch, s.clip.WAV)
	if err != nil {
		return nil, err
	}
	idle := s.MaxInFlight
	if s.Concurrency > 0 {
		idle = s.Concurrency
	}
	return &batcher{
		client:      &http.Client{Transport: s.transport(idle)},
		url:         batchURL(s.target.URL, &s.Batch),
		body:        body,
		contentType: ctype,
		header:      headers(s.target.Headers, s.Batch.Headers),
		session:     session,
		parser:      s.parser,
		check:       s.Check,
		audio:       s.clip.Duration(),
		timeout:     s.Timeout.D(),
	}, nil
}

func (s *Spec) buildStreamer(sc *Scenario, session *generators.Session) *streamer {
	st := &s.Streaming
	frames := s.clip.Frames(st.Frame.D())
	count := int((s.streamAudio() + frames.Dur - 1) / frames.Dur)
	frameSec := frames.Dur.Seconds()
	p := &pace{
		frames:   frames,
		count:    count,
		interval: time.Duration(float64(frames.Dur) / float64(st.Speed)),
		silence:  st.Silence.D(),
		keep:     st.KeepAlive,
		stopping: &sc.stopping,
		onFrame: func(lag time.Duration) {
			sc.onFrame(lag)
			sc.tr.AudioSeconds.Add(frameSec)
		},
	}
	if *st.EndMessage != "" {
		p.endMsg = []byte(*st.EndMessage)
	}
	g := &streamer{
		url: s.target.WebSocketURL(st.Path),
		dialer: &websocket.Dialer{
			NetDialContext:   (&net.Dialer{Timeout: s.Timeout.D()}).DialContext,
			HandshakeTimeout: s.Timeout.D(),
			TLSClientConfig:  s.target.TLSClient,
			ReadBufferSize:   wsReadBuffer,
			// One frame per write, one syscall per frame (gorilla adds
			// room for the frame header itself).
			WriteBufferSize: frames.Size(),
			// Buffers go back to the pool between frames, so idle streams
			// hold none; an empty pool (no New) as gorilla wants.
			WriteBufferPool: &sync.Pool{},
		},
		header:       headers(s.target.Headers, st.Headers),
		session:      session,
		parser:       s.parser,
		check:        s.Check,
		timeout:      s.Timeout.D(),
		closeOnFinal: st.CloseOnFinal,
		pace:         p,
		sched:        sc.sched.Load,
	}
	if st.ConfigMessage != "" {
		g.configMsg = []byte(st.ConfigMessage)
	}
	return g
}

// headers merges header maps, later ones winning.
func headers(maps ...map[string]string) http.Header {
	h := http.Header{}
	for _, m := range maps {
		for k, v := range m {
			h.Set(k, v)
		}
	}
	return h
}
