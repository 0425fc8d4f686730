package httpload

import (
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/loadd/loadd/generators"
)

// identity is one logged-in user: a session (token) and a cookie jar. A
// closed-model user owns one; the open model shares a small pool.
type identity struct {
	session *generators.Session
	jar     *jar
}

// newIdentity makes an identity on target whose logins go through rt.
func newIdentity(target *generators.Target, rt http.RoundTripper, timeout time.Duration) *identity {
	j := &jar{}
	client := &http.Client{Transport: rt, Jar: j, Timeout: timeout, CheckRedirect: noRedirect}
	return &identity{session: generators.NewSession(target, client), jar: j}
}

// jar keeps the cookies one identity received from its target. A target
// is one origin, so cookies are kept by name; Domain and Path are not
// matched. It serves both the fasthttp requests and net/http logins.
type jar struct {
	n       atomic.Int32
	mu      sync.Mutex
	cookies map[string]string
}

var _ http.CookieJar = (*jar)(nil)

// SetCookies implements http.CookieJar (for logins).
func (j *jar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cs {
		j.setLocked(c.Name, c.Value, c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Now())))
	}
}

// Cookies implements http.CookieJar.
func (j *jar) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]*http.Cookie, 0, len(j.cookies))
	for k, v := range j.cookies {
		out = append(out, &http.Cookie{Name: k, Value: v})
	}
	return out
}

func (j *jar) setLocked(name, value string, expired bool) {
	if expired {
		delete(j.cookies, name)
	} else {
		if j.cookies == nil {
			j.cookies = map[string]string{}
		}
		j.cookies[name] = value
	}
	j.n.Store(int32(len(j.cookies)))
}

// apply adds the jar's cookies to req.
func (j *jar) apply(req *fasthttp.Request) {
	if j.n.Load() == 0 {
		return
	}
	j.mu.Lock()
	for k, v := range j.cookies {
		req.Header.SetCookie(k, v)
	}
	j.mu.Unlock()
}

// store keeps the cookies resp sets.
func (j *jar) store(resp *fasthttp.Response) {
	for _, v := range resp.Header.Cookies() {
		j.storeOne(v)
	}
}

func (j *jar) storeOne(setCookie []byte) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	if c.ParseBytes(setCookie) != nil {
		return
	}
	exp := c.Expire()
	expired := c.MaxAge() < 0 || (exp != fasthttp.CookieExpireUnlimited && exp.Before(time.Now()))
	j.mu.Lock()
	j.setLocked(string(c.Key()), string(c.Value()), expired)
	j.mu.Unlock()
}
