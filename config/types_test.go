package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	cases := []struct {
		in   string
		want float64
		err  string
	}{
		{"200/s", 200, ""},
		{"200", 200, ""},
		{"30/m", 0.5, ""},
		{"30/min", 0.5, ""},
		{"36/h", 0.01, ""},
		{"1/5s", 0.2, ""},
		{" 0.5/s ", 0.5, ""},
		{"0/s", 0, "must be positive"},
		{"-3/s", 0, "must be positive"},
		{"abc", 0, "invalid rate"},
		{"10/fortnight", 0, "invalid rate unit"},
		{"NaN/s", 0, "invalid rate"},
		{"Inf/s", 0, "invalid rate"},
		{"1e9/s", 0, "above the maximum"},
		{"", 0, "invalid rate"},
	}
	for _, c := range cases {
		got, err := ParseRate(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseRate(%q) error = %v, want containing %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"150ms", 150 * time.Millisecond, false},
		{"1h30m", 90 * time.Minute, false},
		{"2d", 48 * time.Hour, false},
		{"0", 0, false},
		{"-1s", 0, true},
		{"5", 0, true},
		{"", 0, true},
		{"1x", 0, true},
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, err=%v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestParseThinkTime(t *testing.T) {
	cases := []struct {
		in       string
		min, max time.Duration
		err      bool
	}{
		{"between(2s, 8s)", 2 * time.Second, 8 * time.Second, false},
		{"2s..8s", 2 * time.Second, 8 * time.Second, false},
		{"constant(1s)", time.Second, time.Second, false},
		{"500ms", 500 * time.Millisecond, 500 * time.Millisecond, false},
		{"between(8s, 2s)", 0, 0, true},
		{"between(2s)", 0, 0, true},
		{"often", 0, 0, true},
	}
	for _, c := range cases {
		got, err := ParseThinkTime(c.in)
		if (err != nil) != c.err || got.Min != c.min || got.Max != c.max {
			t.Errorf("ParseThinkTime(%q) = %+v, %v", c.in, got, err)
		}
	}
	tt := ThinkTime{Min: time.Second, Max: 3 * time.Second}
	if got := tt.Pick(0.5); got != 2*time.Second {
		t.Errorf("Pick(0.5) = %v, want 2s", got)
	}
}

func TestParseRatio(t *testing.T) {
	for in, want := range map[string]float64{"1%": 0.01, "0.5%": 0.005, "0.02": 0.02, "100%": 1} {
		if got, err := ParseRatio(in); err != nil || got != want {
			t.Errorf("ParseRatio(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"101%", "-1%", "x", "2"} {
		if _, err := ParseRatio(in); err == nil {
			t.Errorf("ParseRatio(%q): want error", in)
		}
	}
}

func TestSecretNeverShows(t *testing.T) {
	s := Secret("hunter2")
	for _, got := range []string{s.String(), s.GoString(), string(must(s.MarshalText())), string(must(s.MarshalJSON()))} {
		if strings.Contains(got, "hunter2") {
			t.Errorf("secret leaked: %q", got)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Error("Reveal lost the value")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"200/s", "1/5s", "30/m", "-1", "1e308/s", "0.0000001/h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err == nil && (r <= 0 || r > 1e7) {
			t.Fatalf("ParseRate(%q) = %v accepted out of range", s, r)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"1s", "2d", "1h30m", "-5s", "9999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v: negative accepted", s, d)
		}
		if _, err := ParseThinkTime(s); err == nil {
			return
		}
	})
}
