package wsload

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/theory/jsonpath"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/generators"
)

// Config is the YAML of a websocket scenario.
type Config struct {
	Kind string `yaml:"kind" json:"kind"`
	// Target names a configured target; the URL is its base URL with ws(s).
	Target string `yaml:"target" json:"target"`
	// Path is the WebSocket endpoint, e.g. /ws/notifications.
	Path string `yaml:"path" json:"path"`
	// Sessions is how many sessions to hold (before sharding and scaling).
	Sessions int `yaml:"sessions" json:"sessions"`
	// Ramp is how fast sessions are opened (and closed when shrinking);
	// reconnects count against it too. Default 100/s.
	Ramp config.Rate `yaml:"ramp" json:"ramp"`
	// SessionLifetime closes and reopens sessions after Mean±Jitter.
	SessionLifetime Lifetime `yaml:"session_lifetime" json:"session_lifetime,omitzero"`
	// MessageEvery is the interval of messages (and pings); 0 sends none.
	MessageEvery config.Duration `yaml:"message_every" json:"message_every,omitempty"`
	// Headers are added to the upgrade request (after the target's).
	Headers      map[string]string `yaml:"headers" json:"headers,omitempty"`
	Subprotocols []string          `yaml:"subprotocols" json:"subprotocols,omitempty"`
	Auth         AuthConfig        `yaml:"auth" json:"auth"`
	// Subscribe is a template sent once after connecting (and authenticating).
	Subscribe string `yaml:"subscribe" json:"subscribe,omitempty"`
	// Message is a template sent every MessageEvery; with Correlation it
	// must contain {{ .ID }}.
	Message string `yaml:"message" json:"message,omitempty"`
	// Correlation is the JSON path of the correlation ID in replies; when
	// empty, round trips are measured with ping/pong.
	Correlation string `yaml:"correlation" json:"correlation,omitempty"`
	// ReadLimit is the largest message accepted, in bytes (default 65536).
	ReadLimit int64 `yaml:"read_limit" json:"read_limit"`
	// ConnectTimeout bounds TCP+TLS+upgrade (default 10s).
	ConnectTimeout config.Duration `yaml:"connect_timeout" json:"connect_timeout"`
	// IdleTimeout closes a session that received nothing for this long; 0 never.
	IdleTimeout config.Duration `yaml:"idle_timeout" json:"idle_timeout,omitempty"`
	// PongTimeout closes a session whose ping or message got no answer in
	// time (default 10s).
	PongTimeout config.Duration `yaml:"pong_timeout" json:"pong_timeout"`
	// SourceAddresses spread connections over local addresses and ranges.
	SourceAddresses []string `yaml:"source_addresses" json:"source_addresses,omitempty"`
	Backoff         Backoff  `yaml:"backoff" json:"backoff"`
}

// AuthConfig says how a session authenticates. Mode "bearer" sends the
// target's token as "Authorization: Bearer" on the upgrade request;
// "message" sends Message (a template, usually with {{ .Token }}) first;
// "none" sends nothing. The default is bearer when the target has auth.
type AuthConfig struct {
	Mode    string `yaml:"mode" json:"mode"`
	Message string `yaml:"message" json:"message,omitempty"`
}

// Authentication modes.
const (
	AuthNone    = "none"
	AuthBearer  = "bearer"
	AuthMessage = "message"
)

// Defaults of fields left unset.
const (
	DefaultRamp           = 100.0
	DefaultReadLimit      = 64 << 10
	DefaultConnectTimeout = 10 * time.Second
	DefaultPongTimeout    = 10 * time.Second
)

// maxSessions bounds sessions per scenario (before sharding).
const maxSessions = 10_000_000

func (c *Config) setDefaults(t *generators.Target) {
	if c.Ramp == 0 {
		c.Ramp = DefaultRamp
	}
	if c.ReadLimit == 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = config.Duration(DefaultConnectTimeout)
	}
	if c.PongTimeout == 0 {
		c.PongTimeout = config.Duration(DefaultPongTimeout)
	}
	if c.Backoff.Initial == 0 {
		c.Backoff.Initial = config.Duration(DefaultBackoffInitial)
	}
	if c.Backoff.Max == 0 {
		c.Backoff.Max = config.Duration(max(DefaultBackoffMax, c.Backoff.Initial.D()))
	}
	if c.Auth.Mode == "" {
		switch {
		case c.Auth.Message != "":
			c.Auth.Mode = AuthMessage
		case t != nil && t.Auth != nil:
			c.Auth.Mode = AuthBearer
		default:
			c.Auth.Mode = AuthNone
		}
	}
}

// compiled is what validation prepares for Build.
type compiled struct {
	target      *generators.Target
	url         string
	header      http.Header
	sources     []net.IP
	authMsg     *tmpl
	subscribe   *tmpl
	message     *tmpl
	correlation *jsonpath.Path
}

// validate checks c (defaults applied) at path and compiles it.
func (c *Config) validate(path string, env *generators.Env, p *config.Problems) *compiled {
	out := &compiled{}
	key := func(k string) string { return config.Key(path, k) }
	switch t, ok := env.Targets[c.Target]; {
	case c.Target == "":
		p.Addf(key("target"), "required: the name of a target")
	case !ok:
		p.Addf(key("target"), "unknown target %q", c.Target)
	default:
		out.target = t
	}
	c.setDefaults(out.target)
	if !strings.HasPrefix(c.Path, "/") {
		p.Addf(key("path"), "required: the WebSocket endpoint, starting with / (e.g. /ws/notifications)")
	} else if out.target != nil && out.target.URL != nil {
		out.url = out.target.WebSocketURL(c.Path)
	}
	if c.Sessions <= 0 || c.Sessions > maxSessions {
		p.Addf(key("sessions"), "must be between 1 and %d, not %d", maxSessions, c.Sessions)
	}
	if c.ReadLimit < 128 {
		p.Addf(key("read_limit"), "must be at least 128 bytes, not %d", c.ReadLimit)
	}
	if c.Backoff.Max < c.Backoff.Initial {
		p.Addf(key("backoff.max"), "must not be below backoff.initial (%s)", c.Backoff.Initial.D())
	}
	if c.MessageEvery > 0 && c.MessageEvery.D() < 10*time.Millisecond {
		p.Addf(key("message_every"), "must be at least 10ms, not %s", c.MessageEvery.D())
	}
	out.header = c.validateHeaders(path, out.target, p)
	out.sources = parseSourceAddresses(key("source_addresses"), c.SourceAddresses, p)
	c.validateTemplates(path, out, p)
	return out
}

func (c *Config) validateHeaders(path string, t *generators.Target, p *config.Problems) http.Header {
	h := http.Header{}
	if t != nil {
		for k, v := range t.Headers {
			h.Set(k, v)
		}
	}
	for k, v := range c.Headers {
		switch http.CanonicalHeaderKey(k) {
		case "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions", "Sec-Websocket-Protocol":
			p.Addf(config.Key(config.Key(path, "headers"), k), "set by the WebSocket handshake; use subprotocols for Sec-WebSocket-Protocol")
			continue
		}
		h.Set(k, v)
	}
	for i, s := range c.Subprotocols {
		if s == "" || strings.ContainsAny(s, " ,\t") {
			p.Addf(config.Index(config.Key(path, "subprotocols"), i), "invalid subprotocol %q", s)
		}
	}
	return h
}

func (c *Config) validateTemplates(path string, out *compiled, p *config.Problems) {
	key := func(k string) string { return config.Key(path, k) }
	switch c.Auth.Mode {
	case AuthNone:
		if c.Auth.Message != "" {
			p.Addf(key("auth.message"), "given, but auth.mode is none")
		}
	case AuthBearer:
		if out.target != nil && out.target.Auth == nil {
			p.Addf(key("auth.mode"), "bearer needs auth on target %q", c.Target)
		}
		if c.Auth.Message != "" {
			p.Addf(key("auth.message"), "given, but auth.mode is bearer (use mode: message)")
		}
	case AuthMessage:
		if c.Auth.Message == "" {
			p.Addf(key("auth.message"), "required for auth.mode message (e.g. '{\"type\":\"auth\",\"token\":{{ json .Token }}}')")
		}
		out.authMsg = compileTemplate(key("auth.message"), c.Auth.Message, false, p)
	default:
		p.Addf(key("auth.mode"), "unknown mode %q (want bearer, message or none)", c.Auth.Mode)
	}
	out.subscribe = compileTemplate(key("subscribe"), c.Subscribe, false, p)
	out.message = compileTemplate(key("message"), c.Message, c.Correlation != "", p)
	if c.Message != "" && c.MessageEvery == 0 {
		p.Addf(key("message_every"), "required when message is set (e.g. 5s)")
	}
	if c.Correlation != "" {
		jp, err := jsonpath.Parse(c.Correlation)
		if err != nil {
			p.Addf(key("correlation"), "invalid JSON path: %v", err)
		}
		out.correlation = jp
		if c.Message == "" {
			p.Addf(key("message"), "required with correlation: the message whose reply carries the ID")
		}
	}
}

// summary is the one-line description of c for `loadd check`.
func (c *Config) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "websocket → %s%s: %d sessions at %g/s", c.Target, c.Path, c.Sessions, float64(c.Ramp))
	switch {
	case c.MessageEvery > 0 && c.Correlation != "":
		fmt.Fprintf(&b, ", a message every %s matched by %s", c.MessageEvery.D(), c.Correlation)
	case c.MessageEvery > 0:
		fmt.Fprintf(&b, ", a ping every %s", c.MessageEvery.D())
	}
	if c.SessionLifetime.Mean > 0 {
		b.WriteString(", lifetime ")
		lt, _ := c.SessionLifetime.MarshalText()
		b.Write(lt)
	}
	if len(c.SourceAddresses) > 0 {
		fmt.Fprintf(&b, ", from %s", strings.Join(c.SourceAddresses, ","))
	}
	return b.String()
}
