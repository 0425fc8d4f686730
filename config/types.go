package config

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that decodes from strings such as "150ms",
// "2s", "1h30m" or "1d" and encodes back to the same form.
type Duration time.Duration

// ParseDuration parses a duration as Go's time.ParseDuration does, plus the
// unit "d" (24h). Negative durations are rejected.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if s == "0" {
		return 0, nil
	}
	if strings.HasSuffix(s, "d") && !strings.HasSuffix(s, "nd") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) || n > 365*100 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 250ms, 2s, 5m)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Rate is an arrival rate in events per second. It decodes from "200/s",
// "30/m", "2/h", "0.5/s", "1/5s" or a bare number meaning per second.
type Rate float64

// ParseRate parses a rate. Zero, negative, NaN and infinite rates are errors.
func ParseRate(s string) (float64, error) {
	s = strings.TrimSpace(s)
	num, per, found := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, fmt.Errorf("invalid rate %q (want e.g. 200/s, 30/m)", s)
	}
	if n <= 0 {
		return 0, fmt.Errorf("rate %q must be positive", s)
	}
	unit := time.Second
	if found {
		per = strings.TrimSpace(per)
		switch per {
		case "s":
			unit = time.Second
		case "m", "min":
			unit = time.Minute
		case "h":
			unit = time.Hour
		case "ms":
			unit = time.Millisecond
		default:
			d, err := ParseDuration(per)
			if err != nil || d <= 0 {
				return 0, fmt.Errorf("invalid rate unit %q in %q (want s, m, h or a duration)", per, s)
			}
			unit = d
		}
	}
	r := n / unit.Seconds()
	if r > 1e7 {
		return 0, fmt.Errorf("rate %q is above the maximum of 10000000/s", s)
	}
	return r, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = Rate(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (r Rate) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(r), 'g', -1, 64) + "/s"), nil
}

// PerSecond returns the rate in events per second.
func (r Rate) PerSecond() float64 { return float64(r) }

// ThinkTime is a pause between a virtual user's tasks: either constant or
// uniform between Min and Max. It decodes from "2s", "constant(2s)",
// "between(2s, 8s)" or "2s..8s".
type ThinkTime struct {
	Min, Max time.Duration
}

// ParseThinkTime parses a think time.
func ParseThinkTime(s string) (ThinkTime, error) {
	s = strings.TrimSpace(s)
	inner := func(prefix string) (string, bool) {
		if strings.HasPrefix(s, prefix+"(") && strings.HasSuffix(s, ")") {
			return s[len(prefix)+1 : len(s)-1], true
		}
		return "", false
	}
	var lo, hi string
	if v, ok := inner("constant"); ok {
		lo, hi = v, v
	} else if v, ok := inner("between"); ok {
		var found bool
		if lo, hi, found = strings.Cut(v, ","); !found {
			return ThinkTime{}, fmt.Errorf("invalid think time %q (want between(a, b))", s)
		}
	} else if a, b, found := strings.Cut(s, ".."); found {
		lo, hi = a, b
	} else {
		lo, hi = s, s
	}
	min, err := ParseDuration(lo)
	if err != nil {
		return ThinkTime{}, fmt.Errorf("think time %q: %w", s, err)
	}
	max, err := ParseDuration(hi)
	if err != nil {
		return ThinkTime{}, fmt.Errorf("think time %q: %w", s, err)
	}
	if max < min {
		return ThinkTime{}, fmt.Errorf("think time %q: upper bound below lower bound", s)
	}
	return ThinkTime{Min: min, Max: max}, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *ThinkTime) UnmarshalText(b []byte) error {
	v, err := ParseThinkTime(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (t ThinkTime) MarshalText() ([]byte, error) {
	if t.Min == t.Max {
		return []byte("constant(" + t.Min.String() + ")"), nil
	}
	return []byte("between(" + t.Min.String() + ", " + t.Max.String() + ")"), nil
}

// Pick returns a think time given a uniform random number u in [0,1).
func (t ThinkTime) Pick(u float64) time.Duration {
	return t.Min + time.Duration(u*float64(t.Max-t.Min))
}

// Secret is a string that never shows itself: it prints, marshals and logs
// as "<secret>".
type Secret string

// SecretMask is what a Secret shows instead of its value.
const SecretMask = "<secret>"

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return SecretMask
}

// GoString implements fmt.GoStringer so %#v does not leak the value either.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Reveal returns the secret value. Call it only where the value is sent
// (or digested, never shown).
func (s Secret) Reveal() string { return string(s) }

// Ratio is a fraction in [0,1]. It decodes from "1%", "0.5%" or "0.01".
type Ratio float64

// ParseRatio parses a ratio from a percentage or a fraction.
func ParseRatio(s string) (float64, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || math.IsNaN(v) {
		return 0, fmt.Errorf("invalid ratio %q (want e.g. 1%% or 0.01)", s)
	}
	if pct {
		v /= 100
	}
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("ratio %q must be between 0%% and 100%%", s)
	}
	return v, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Ratio) UnmarshalText(b []byte) error {
	v, err := ParseRatio(string(b))
	if err != nil {
		return err
	}
	*r = Ratio(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (r Ratio) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(r)*100, 'g', -1, 64) + "%"), nil
}
