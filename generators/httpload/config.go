package httpload

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/schedule"
)

// Defaults of optional settings.
const (
	// DefaultMaxInFlight is the least max_in_flight an open-model scenario
	// gets by default; faster ones get InFlightAllowance of their peak rate.
	DefaultMaxInFlight = 1000
	// InFlightAllowance is how long a stall at the peak rate the default
	// max_in_flight absorbs before arrivals are dropped: 5,000 at 20k/s.
	// A fixed 1,000 absorbed 50 ms there, less than a shared machine
	// holds a process now and then (README, "Benchmarks").
	InFlightAllowance = 250 * time.Millisecond
	// MaxDefaultInFlight caps the default. Each request in flight may hold
	// a connection, so the cap keeps the default well inside a process's
	// open-file limit; a larger bound has to be asked for.
	MaxDefaultInFlight     = 10000
	DefaultSessions        = 4
	DefaultTimeout         = 10 * time.Second
	DefaultSpawnRate       = 1.0 // users per second, as Locust
	DefaultCapturePoolSize = 10000
)

// Config is the YAML of an http scenario. Give rate (or stages / sine) for
// the open model, or users for the closed model.
type Config struct {
	Kind   string `yaml:"kind" json:"kind"`
	Target string `yaml:"target" json:"target"`

	// ShapeConfig is the open model's arrival rate.
	schedule.ShapeConfig `yaml:",squash"`
	// MaxInFlight bounds concurrent iterations (open model). The default
	// is InFlightAllowance of the peak rate, within DefaultMaxInFlight and
	// MaxDefaultInFlight.
	MaxInFlight int `yaml:"max_in_flight" json:"max_in_flight,omitempty"`
	// Sessions is the number of logged-in identities the open model
	// spreads its requests over.
	Sessions int `yaml:"sessions" json:"sessions,omitempty"`

	// Users is the number of closed-model virtual users.
	Users int `yaml:"users" json:"users,omitempty"`
	// SpawnRate is how fast users start, e.g. 10/s.
	SpawnRate config.Rate `yaml:"spawn_rate" json:"spawn_rate,omitempty"`
	// ThinkTime is the default pause between a user's tasks.
	ThinkTime *config.ThinkTime `yaml:"think_time" json:"think_time,omitempty"`
	// UserClasses split users by weight; without them every user runs Tasks.
	UserClasses []ClassConfig `yaml:"user_classes" json:"user_classes,omitempty"`

	// MaxConnections bounds the HTTP/1.1 connections to the target
	// (default: max_in_flight, or users). A request that finds none free
	// waits for one, and the wait counts in its latency. It also caps the
	// concurrency the target sees. (New connections come with new
	// workers, whose pace the open model already bounds.)
	MaxConnections int `yaml:"max_connections" json:"max_connections,omitempty"`
	// Timeout bounds each request (default 10s).
	Timeout config.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// HTTP2 sends requests over HTTP/2 through net/http.
	HTTP2 bool `yaml:"http2" json:"http2,omitempty"`
	// Headers are sent with every request of the scenario.
	Headers map[string]any `yaml:"headers" json:"headers,omitempty"`
	// CapturePoolSize bounds each capture pool (default 10000).
	CapturePoolSize int `yaml:"capture_pool_size" json:"capture_pool_size,omitempty"`
	// Feeders are template values by name (.name in a template).
	Feeders map[string]FeederConfig `yaml:"feeders" json:"feeders,omitempty"`
	// Tasks are the weighted requests (of the open model, and of user
	// classes without their own).
	Tasks []TaskConfig `yaml:"tasks" json:"tasks"`
}

// ClassConfig is a weighted closed-model user class.
type ClassConfig struct {
	Name      string            `yaml:"name" json:"name"`
	Weight    float64           `yaml:"weight" json:"weight"`
	ThinkTime *config.ThinkTime `yaml:"think_time" json:"think_time,omitempty"`
	// Auth overrides the target's login for this class: credentials
	// (username, password, password_file, token) replace the target's as a
	// whole, other fields and extra keys override one by one.
	Auth *generators.AuthConfig `yaml:"auth" json:"auth,omitempty"`
	// Tasks, when given, replace the scenario's tasks for this class.
	Tasks []TaskConfig `yaml:"tasks" json:"tasks,omitempty"`
}

// TaskConfig is one weighted request.
type TaskConfig struct {
	Name string `yaml:"name" json:"name"`
	// Weight defaults to 1; 0 disables the task.
	Weight *float64 `yaml:"weight" json:"weight,omitempty"`

	Get    string `yaml:"get" json:"get,omitempty"`
	Post   string `yaml:"post" json:"post,omitempty"`
	Put    string `yaml:"put" json:"put,omitempty"`
	Delete string `yaml:"delete" json:"delete,omitempty"`
	Patch  string `yaml:"patch" json:"patch,omitempty"`
	Method string `yaml:"method" json:"method,omitempty"`
	Path   string `yaml:"path" json:"path,omitempty"`

	Headers map[string]any `yaml:"headers" json:"headers,omitempty"`
	Query   map[string]any `yaml:"query" json:"query,omitempty"`
	JSON    any            `yaml:"json" json:"json,omitempty"`
	Body    string         `yaml:"body" json:"body,omitempty"`
	// Capture maps a pool name to a JSON path whose matches fill the pool.
	Capture map[string]string `yaml:"capture" json:"capture,omitempty"`
	Check   *CheckConfig      `yaml:"check" json:"check,omitempty"`
	// Timeout overrides the scenario's timeout for this task.
	Timeout config.Duration `yaml:"timeout" json:"timeout,omitempty"`
}

// CheckConfig says what a good response looks like.
type CheckConfig struct {
	// Status lists the expected codes or classes ("2xx"); default 2xx.
	Status StatusSet `yaml:"status" json:"status,omitempty"`
	// JSON maps a JSON path to exists, absent or {equals: value}.
	JSON map[string]any `yaml:"json" json:"json,omitempty"`
	// BodyContains must occur in the response body.
	BodyContains string `yaml:"body_contains" json:"body_contains,omitempty"`
	// MaxLatency fails slower requests with reason assertion.
	MaxLatency config.Duration `yaml:"max_latency" json:"max_latency,omitempty"`
}

// FeederConfig is one source of template values; give exactly one kind.
type FeederConfig struct {
	Range  *RangeFeeder `yaml:"range" json:"range,omitempty"`
	CSV    *CSVFeeder   `yaml:"csv" json:"csv,omitempty"`
	Random []any        `yaml:"random" json:"random,omitempty"`
}

// RangeFeeder gives integers From..To inclusive.
type RangeFeeder struct {
	From int64 `yaml:"from" json:"from"`
	To   int64 `yaml:"to" json:"to"`
	// Order is random (default) or sequential (wrapping around).
	Order string `yaml:"order" json:"order,omitempty"`
}

// CSVFeeder gives rows of a CSV file with a header line: the value of
// Column, or the whole row keyed by header when Column is empty.
type CSVFeeder struct {
	File   string `yaml:"file" json:"file"`
	Column string `yaml:"column" json:"column,omitempty"`
	Order  string `yaml:"order" json:"order,omitempty"`
}

// StatusCode is an expected status: one code, or a class such as 2xx.
type StatusCode struct {
	Lo, Hi int
}

// UnmarshalText parses "200" or "2xx".
func (c *StatusCode) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if len(s) == 3 && strings.HasSuffix(strings.ToLower(s), "xx") && s[0] >= '1' && s[0] <= '5' {
		lo := int(s[0]-'0') * 100
		*c = StatusCode{Lo: lo, Hi: lo + 99}
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return fmt.Errorf("invalid status %q (want a code from 100 to 599 or a class such as 2xx)", s)
	}
	*c = StatusCode{Lo: n, Hi: n}
	return nil
}

// MarshalText renders the code or class.
func (c StatusCode) MarshalText() ([]byte, error) {
	if c.Lo != c.Hi {
		return []byte(strconv.Itoa(c.Lo/100) + "xx"), nil
	}
	return []byte(strconv.Itoa(c.Lo)), nil
}

// StatusSet is a list of expected statuses; a single value or a
// comma-separated string is accepted too.
type StatusSet []StatusCode

// UnmarshalText parses "200", "2xx" or "200, 204".
func (s *StatusSet) UnmarshalText(b []byte) error {
	var out StatusSet
	for _, part := range strings.Split(string(b), ",") {
		var c StatusCode
		if err := c.UnmarshalText([]byte(part)); err != nil {
			return err
		}
		out = append(out, c)
	}
	*s = out
	return nil
}

// Contains reports whether code is expected; an empty set expects 2xx.
func (s StatusSet) Contains(code int) bool {
	if len(s) == 0 {
		return code >= 200 && code <= 299
	}
	for _, c := range s {
		if code >= c.Lo && code <= c.Hi {
			return true
		}
	}
	return false
}
