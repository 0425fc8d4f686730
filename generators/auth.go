package generators

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ErrAuth wraps every login failure, so Classify maps it to reason auth.
var ErrAuth = errors.New("login failed")

// defaultRenewBefore renews tokens this long before they expire.
const defaultRenewBefore = 30 * time.Second

// Session is one logged-in identity on a target: it logs in on first use,
// renews the token before it expires and logs in afresh when told the
// token was refused. Safe for concurrent use.
type Session struct {
	target *Target
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	token   string
	renewAt time.Time // zero: no expiry known
}

// NewSession returns a session for target, logging in with client (which
// carries the target's TLS settings and, for closed-model users, a cookie jar).
func NewSession(target *Target, client *http.Client) *Session {
	return &Session{target: target, client: client, now: time.Now}
}

// SetClock replaces the clock the session reads expiry times from (for
// tests). Call it before the session is used.
func (s *Session) SetClock(now func() time.Time) { s.now = now }

// Token returns a valid bearer token, logging in when there is none or it
// is about to expire. It returns "" with no error when the target has no auth.
func (s *Session) Token(ctx context.Context) (string, error) {
	a := s.target.Auth
	if a == nil {
		return "", nil
	}
	if a.Kind == "bearer" {
		return a.Token.Reveal(), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && (s.renewAt.IsZero() || s.now().Before(s.renewAt)) {
		return s.token, nil
	}
	return s.loginLocked(ctx)
}

// Invalidate drops the token if it is still tok (the server refused it with
// 401), so the next Token call logs in afresh.
func (s *Session) Invalidate(tok string) {
	s.mu.Lock()
	if s.token == tok {
		s.token = ""
	}
	s.mu.Unlock()
}

type tokenReply struct {
	AccessToken string  `json:"access_token"`
	ExpiresIn   float64 `json:"expires_in"`
}

func (s *Session) loginLocked(ctx context.Context) (string, error) {
	a := s.target.Auth
	body := map[string]string{"grant_type": "password", "username": a.Username, "password": a.Password.Reveal()}
	for k, v := range a.Extra {
		body[k] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		return "", fmt.Errorf("%w: encode request: %v", ErrAuth, err)
	}
	u := a.TokenURL
	if !strings.Contains(u, "://") {
		u = strings.TrimSuffix(s.target.URL.String(), "/") + "/" + strings.TrimPrefix(u, "/")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrAuth, err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range s.target.Headers {
		req.Header.Set(k, v)
	}
	start := s.now()
	resp, err := s.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: POST %s: %w", ErrAuth, a.TokenURL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("%w: read token reply: %w", ErrAuth, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("%w: POST %s: status %d", ErrAuth, a.TokenURL, resp.StatusCode)
	}
	var tr tokenReply
	if err := json.Unmarshal(raw, &tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("%w: POST %s: reply has no access_token", ErrAuth, a.TokenURL)
	}
	s.token = tr.AccessToken
	s.renewAt = renewAt(start, tr.ExpiresIn, a.RenewBefore.D())
	return s.token, nil
}

// renewAt is when a token issued at start and valid for expiresIn seconds
// is renewed: renewBefore (default 30s) ahead of its expiry, but never
// earlier than halfway through its life, so a short-lived token is not
// renewed on every use. Zero means the token does not expire.
func renewAt(start time.Time, expiresIn float64, renewBefore time.Duration) time.Time {
	if expiresIn <= 0 || expiresIn > 10*365*24*3600 {
		return time.Time{}
	}
	life := time.Duration(expiresIn * float64(time.Second))
	if renewBefore <= 0 {
		renewBefore = defaultRenewBefore
	}
	return start.Add(life - min(renewBefore, life/2))
}
