// Package generators defines what every protocol generator provides: a
// Kind decodes and validates a scenario's config and builds a Scenario
// that drives load. Each protocol lives in its own subpackage (httpload,
// wsload, transcribe); the shared pieces — targets, auth sessions and error
// classification — live here.
package generators

import (
	"context"
	"time"

	"github.com/go-kit/log"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/schedule"
)

// Kind is one protocol: it turns a scenario's YAML into a validated Spec.
type Kind interface {
	// Decode decodes raw (the scenario's YAML mapping, "kind" included) and
	// validates it against env; every problem goes to p with its key path
	// under path (e.g. "scenarios.api"). It returns nil when p got problems.
	Decode(path string, raw map[string]any, env *Env, p *config.Problems) Spec
}

// Env is what a scenario's validation may refer to.
type Env struct {
	// Targets are the configured targets by name, already validated.
	Targets map[string]*Target
	// BaseDir is the config file's directory: relative file names in a
	// scenario (CSV feeders, audio files) are resolved against it with
	// ResolvePath.
	BaseDir string
}

// Spec is a validated scenario config of one kind.
type Spec interface {
	// Build does the costly set-up (transports, dialers, templates, audio)
	// once and returns a scenario ready to run.
	Build(d Deps) (Scenario, error)
	// Summary is a one-line description for `loadd check`, e.g.
	// "http → phoenix: open model 200/s, 6 tasks, max_in_flight 2000".
	Summary() string
	// Tasks lists the task names the scenario records under.
	Tasks() []string
	// Public returns the config as shown by /api/v1/status (secrets masked).
	Public() any
}

// Deps are the shared parts a scenario is built with.
type Deps struct {
	// Name is the scenario's config name, its metric label.
	Name    string
	Metrics *exporter.Metrics
	Logger  log.Logger
	Shard   schedule.Shard
	// Grace is how long in-flight work may finish after a stop.
	Grace time.Duration
	// Scale multiplies configured rates, sessions and users (1 normally;
	// a scheduled run's multiple otherwise).
	Scale float64
	// Duration ends the scenario after this long; 0 runs until stopped.
	Duration time.Duration
	// Shape, when set, replaces the scenario's own load shape (a scheduled
	// run's stages).
	Shape *schedule.ShapeConfig
}

// Scenario is a built scenario.
type Scenario interface {
	// Run drives load until ctx is done (or the shape or Duration ends),
	// then lets in-flight work finish within the grace period. Every piece
	// of work it started has been recorded when Run returns.
	Run(ctx context.Context) error
	// Status reports the live state for /api/v1/status.
	Status() Status
}

// Status is a scenario's live state.
type Status struct {
	Kind string `json:"kind"`
	// Model is "open", "closed" or "sessions".
	Model string `json:"model"`
	// TargetRate is the arrival rate asked for now, per second (open model).
	TargetRate float64 `json:"target_rate"`
	// Completed counts finished iterations/requests so far.
	Completed uint64 `json:"completed"`
	// Dropped counts arrivals dropped at max_in_flight.
	Dropped uint64 `json:"dropped"`
	// InFlight is the number of iterations running now.
	InFlight int64 `json:"in_flight"`
	// MaxInFlight is the open model's bound on InFlight, as configured or
	// defaulted, for this replica.
	MaxInFlight int `json:"max_in_flight,omitempty"`
	// Users is the number of virtual users (closed model) or sessions.
	Users int64 `json:"users,omitempty"`
	// UsersTarget is the number of users or sessions asked for.
	UsersTarget int64 `json:"users_target,omitempty"`
	// Failures counts failures by reason label.
	Failures map[string]uint64 `json:"failures"`
}
