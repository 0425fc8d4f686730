package wsload

import (
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"

	"github.com/loadd/loadd/config"
)

// Lifetime is how long a session lives before it is closed and reopened
// (churn): Mean±Jitter, uniformly distributed. It decodes from "10m±1m",
// "10m+-1m" or "10m" (no jitter). The zero value means sessions live until
// they drop.
type Lifetime struct {
	Mean, Jitter time.Duration
}

// ParseLifetime parses a lifetime such as "10m±1m".
func ParseLifetime(s string) (Lifetime, error) {
	s = strings.TrimSpace(s)
	mean, jitter, found := strings.Cut(s, "±")
	if !found {
		mean, jitter, found = strings.Cut(s, "+-")
	}
	m, err := config.ParseDuration(mean)
	if err != nil {
		return Lifetime{}, fmt.Errorf("session lifetime %q: %w", s, err)
	}
	var j time.Duration
	if found {
		if j, err = config.ParseDuration(jitter); err != nil {
			return Lifetime{}, fmt.Errorf("session lifetime %q: %w", s, err)
		}
	}
	if m <= 0 && s != "0" {
		return Lifetime{}, fmt.Errorf("session lifetime %q must be positive (or 0 for none)", s)
	}
	if j > m {
		return Lifetime{}, fmt.Errorf("session lifetime %q: jitter is larger than the mean", s)
	}
	return Lifetime{Mean: m, Jitter: j}, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *Lifetime) UnmarshalText(b []byte) error {
	v, err := ParseLifetime(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (l Lifetime) MarshalText() ([]byte, error) {
	if l.Jitter == 0 {
		return []byte(l.Mean.String()), nil
	}
	return []byte(l.Mean.String() + "±" + l.Jitter.String()), nil
}

// Pick returns a lifetime given a uniform random number u in [0,1); 0 when
// no lifetime is set.
func (l Lifetime) Pick(u float64) time.Duration {
	if l.Mean <= 0 {
		return 0
	}
	return l.Mean - l.Jitter + time.Duration(u*float64(2*l.Jitter))
}

// Backoff is the reconnect delay policy: the n-th consecutive failure of a
// session's slot waits about Initial·2ⁿ, at most Max, with jitter.
type Backoff struct {
	Initial config.Duration `yaml:"initial" json:"initial"`
	Max     config.Duration `yaml:"max" json:"max"`
}

// Default backoff bounds.
const (
	DefaultBackoffInitial = 500 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
)

// Delay returns the wait before attempt failures+1, given a uniform random
// number u in [0,1): "equal jitter", uniformly between half the exponential
// step and the full step, so synchronised drops spread out.
func (b Backoff) Delay(failures int, u float64) time.Duration {
	d := b.Initial.D()
	for i := 0; i < failures && d < b.Max.D(); i++ {
		d *= 2
	}
	d = min(d, b.Max.D())
	return d/2 + time.Duration(u*float64(d/2))
}

// maxSourceAddresses bounds the addresses a range may expand to.
const maxSourceAddresses = 1 << 16

// parseSourceAddresses expands a list of addresses and inclusive ranges
// ("127.0.0.2-127.0.0.8") into IPs. Problems go to p at path[i].
func parseSourceAddresses(path string, list []string, p *config.Problems) []net.IP {
	var out []net.IP
	for i, s := range list {
		ip, err := parseSourceRange(s, maxSourceAddresses-len(out))
		if err != nil {
			p.Addf(config.Index(path, i), "%v", err)
			continue
		}
		out = append(out, ip...)
	}
	return out
}

func parseSourceRange(s string, room int) ([]net.IP, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	a := net.ParseIP(strings.TrimSpace(lo))
	if a == nil {
		return nil, fmt.Errorf("invalid address %q (want e.g. 127.0.0.2 or 127.0.0.2-127.0.0.8)", s)
	}
	if !isRange {
		return []net.IP{a}, nil
	}
	b := net.ParseIP(strings.TrimSpace(hi))
	if b == nil {
		return nil, fmt.Errorf("invalid range end in %q", s)
	}
	if (a.To4() == nil) != (b.To4() == nil) {
		return nil, fmt.Errorf("range %q mixes IPv4 and IPv6", s)
	}
	if a4 := a.To4(); a4 != nil {
		a, b = a4, b.To4()
	}
	x, y := new(big.Int).SetBytes(a), new(big.Int).SetBytes(b)
	if x.Cmp(y) > 0 {
		return nil, fmt.Errorf("range %q ends before it starts", s)
	}
	n := new(big.Int).Sub(y, x)
	if !n.IsInt64() || n.Int64()+1 > int64(room) {
		return nil, fmt.Errorf("range %q has more than %d addresses", s, maxSourceAddresses)
	}
	out := make([]net.IP, 0, n.Int64()+1)
	for v := x; v.Cmp(y) <= 0; v = new(big.Int).Add(v, big.NewInt(1)) {
		ip := make(net.IP, len(a))
		v.FillBytes(ip)
		out = append(out, ip)
	}
	return out, nil
}
