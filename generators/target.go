package generators

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/loadd/loadd/config"
)

// Target is a service under load: where it is, how to log in, how to talk TLS.
type Target struct {
	// BaseURL is http(s)://host:port[/prefix]; ws(s) URLs derive from it.
	BaseURL string            `yaml:"base_url" json:"base_url"`
	Headers map[string]string `yaml:"headers" json:"headers,omitempty"`
	Auth    *AuthConfig       `yaml:"auth" json:"auth,omitempty"`
	TLS     TLSConfig         `yaml:"tls" json:"tls,omitempty"`
	// AllowNonLoopback must be set to send load anywhere but 127.0.0.0/8 or ::1.
	AllowNonLoopback bool `yaml:"allow_non_loopback" json:"allow_non_loopback,omitempty"`

	// URL is BaseURL parsed by Validate.
	URL *url.URL `yaml:"-" json:"-"`
	// TLSClient is the client TLS config built by Validate.
	TLSClient *tls.Config `yaml:"-" json:"-"`
}

// AuthConfig is how virtual users log in. Kind "password" posts a
// password grant ({"grant_type":"password","username":…,"password":…}
// plus Extra fields) as JSON to TokenURL and reads access_token and
// expires_in from the reply; the token then goes in "Authorization: Bearer".
type AuthConfig struct {
	Kind     string `yaml:"kind" json:"kind"`
	TokenURL string `yaml:"token_url" json:"token_url"`
	Username string `yaml:"username" json:"username"`
	// Password is inline; prefer PasswordFile (or LOADD_… env overrides).
	Password     config.Secret     `yaml:"password" json:"password,omitempty"`
	PasswordFile string            `yaml:"password_file" json:"password_file,omitempty"`
	Extra        map[string]string `yaml:"extra" json:"extra,omitempty"`
	// Token is a static bearer token (kind "bearer").
	Token config.Secret `yaml:"token" json:"token,omitempty"`
	// RenewBefore renews a token this long before it expires (default 30s).
	RenewBefore config.Duration `yaml:"renew_before" json:"renew_before,omitempty"`
}

// TLSConfig is the client side of TLS towards a target.
type TLSConfig struct {
	CAFile   string `yaml:"ca_file" json:"ca_file,omitempty"`
	CertFile string `yaml:"cert_file" json:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file" json:"key_file,omitempty"`
	// ServerName overrides the name checked in the server's certificate.
	ServerName string `yaml:"server_name" json:"server_name,omitempty"`
	// InsecureSkipVerify disables certificate checks: explicit opt-in only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify" json:"insecure_skip_verify,omitempty"`
}

// Validate checks the target at path, parses its URL, loads TLS material
// and the password file (relative file names are resolved against
// baseDir, the config file's directory). Problems go to p.
func (t *Target) Validate(path, baseDir string, p *config.Problems) {
	t.TLS.CAFile = ResolvePath(baseDir, t.TLS.CAFile)
	t.TLS.CertFile = ResolvePath(baseDir, t.TLS.CertFile)
	t.TLS.KeyFile = ResolvePath(baseDir, t.TLS.KeyFile)
	if t.Auth != nil {
		t.Auth.PasswordFile = ResolvePath(baseDir, t.Auth.PasswordFile)
	}
	if t.BaseURL == "" {
		p.Addf(config.Key(path, "base_url"), "required (e.g. http://127.0.0.1:8080)")
	} else if u, err := url.Parse(t.BaseURL); err != nil || u.Host == "" {
		p.Addf(config.Key(path, "base_url"), "invalid URL %q", t.BaseURL)
	} else if u.Scheme != "http" && u.Scheme != "https" {
		p.Addf(config.Key(path, "base_url"), "scheme must be http or https, not %q", u.Scheme)
	} else {
		t.URL = u
		if !t.AllowNonLoopback && !IsLoopback(u.Hostname()) {
			p.Addf(config.Key(path, "base_url"), "host %q is not a loopback address; set allow_non_loopback: true to send load elsewhere", u.Hostname())
		}
	}
	tc, err := t.TLS.Build()
	if err != nil {
		p.Add(config.Key(path, "tls"), err)
	}
	t.TLSClient = tc
	if a := t.Auth; a != nil {
		ap := config.Key(path, "auth")
		switch a.Kind {
		case "password":
			if a.TokenURL == "" {
				p.Addf(config.Key(ap, "token_url"), "required for kind password")
			}
			if a.Username == "" {
				p.Addf(config.Key(ap, "username"), "required for kind password")
			}
			if a.PasswordFile != "" {
				if a.Password != "" {
					p.Addf(config.Key(ap, "password_file"), "give password or password_file, not both")
				}
				b, err := os.ReadFile(a.PasswordFile)
				if err != nil {
					p.Addf(config.Key(ap, "password_file"), "cannot read: %v", err)
				}
				a.Password = config.Secret(strings.TrimRight(string(b), "\r\n"))
			}
		case "bearer":
			if a.Token == "" {
				p.Addf(config.Key(ap, "token"), "required for kind bearer")
			}
		case "":
			p.Addf(config.Key(ap, "kind"), "required: password or bearer")
		default:
			p.Addf(config.Key(ap, "kind"), "unknown auth kind %q (want password or bearer)", a.Kind)
		}
	}
}

// ResolvePath returns file resolved against baseDir when it is relative.
func ResolvePath(baseDir, file string) string {
	if file == "" || filepath.IsAbs(file) || baseDir == "" {
		return file
	}
	return filepath.Join(baseDir, file)
}

// IsLoopback reports whether host is localhost or a loopback IP.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Build returns the client TLS config, or nil when nothing is configured.
func (c TLSConfig) Build() (*tls.Config, error) {
	tc := &tls.Config{ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate found", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, fmt.Errorf("cert_file and key_file go together")
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// WebSocketURL returns the ws(s) URL of path on the target.
func (t *Target) WebSocketURL(path string) string {
	u := *t.URL
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	return strings.TrimSuffix(u.String(), "/") + path
}
