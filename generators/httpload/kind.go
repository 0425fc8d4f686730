package httpload

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/schedule"
)

// KindName is the value of a scenario's kind key for this generator.
const KindName = "http"

// Kind decodes and validates http scenarios.
var Kind generators.Kind = kind{}

type kind struct{}

// Decode decodes raw strictly, validates it against env and compiles its
// templates, JSON paths and feeders. Every problem goes to p under path;
// it returns nil when there was any.
func (kind) Decode(path string, raw map[string]any, env *generators.Env, p *config.Problems) generators.Spec {
	norm := stringKeys(raw)
	if splitByFlowComma(norm, path, p) {
		return nil
	}
	// Validate what did decode too, so `loadd check` lists every problem
	// at once; problems about values that failed to decode are dropped.
	var c Config
	var dec, val config.Problems
	if err := config.Decode(norm, &c); err != nil {
		config.DecodeErrors(err, path, &dec)
	}
	s := c.compile(path, env, &val)
	p.List = append(p.List, dec.List...)
	p.AddUncovered(&val, dec.Paths())
	if dec.Len()+val.Len() > 0 {
		return nil
	}
	s.sharedPicker = s.picker(s.shared)
	for _, cl := range s.classes {
		cl.picker = s.picker(cl.tasks)
	}
	return s
}

// splitByFlowComma finds values such as between(2s, 8s) written unquoted
// inside a YAML flow mapping {…}, where the comma ends the value and "8s)"
// becomes a key, and says so plainly. It reports whether it found any.
func splitByFlowComma(v any, path string, p *config.Problems) bool {
	found := false
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			kp := config.Key(path, k)
			if s, ok := v[k].(string); ok && strings.Contains(s, "(") && !strings.Contains(s, ")") {
				for other := range v {
					if strings.HasSuffix(other, ")") {
						p.Addf(kp, "%q was cut at a comma: inside {…} quote it, e.g. %s: \"%s, %s\"", s, k, s, other)
						found = true
					}
				}
			}
			found = splitByFlowComma(v[k], kp, p) || found
		}
	case []any:
		for i, e := range v {
			found = splitByFlowComma(e, config.Index(path, i), p) || found
		}
	}
	return found
}

// stringKeys returns v with every nested map[any]any (which some YAML
// decoders produce, and on which mapstructure panics when a key is null)
// turned into a map[string]any.
func stringKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = stringKeys(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = stringKeys(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = stringKeys(e)
		}
		return out
	}
	return v
}

// spec is a validated, compiled http scenario.
type spec struct {
	cfg    Config
	target *generators.Target
	// base is scheme://host[:port] plus the target's path prefix;
	// basePath the prefix alone, and host the URL's host[:port].
	base     []byte
	basePath []byte
	host     []byte
	addr     string
	isTLS    bool
	timeout  time.Duration

	open        bool
	maxInFlight int // 0: the default, from the peak rate (inFlightBound)
	maxConns    int // 0: as many as requests in flight
	sessions    int
	users       int
	spawnRate   float64

	tasks []*task // every task; task.idx indexes it
	// shared are the scenario-level tasks (the open model's, and those of
	// classes without their own).
	shared       []int
	sharedPicker *picker
	classes      []*class

	feeders map[string]*feeder
	pools   []string
}

// class is a compiled user class.
type class struct {
	name   string
	weight float64
	think  config.ThinkTime
	target *generators.Target // with the class's auth
	tasks  []int
	picker *picker
}

var _ generators.Spec = (*spec)(nil)

// Summary describes the scenario in one line.
func (s *spec) Summary() string {
	if s.open {
		bound := fmt.Sprint(s.maxInFlight)
		if s.maxInFlight == 0 {
			bound = fmt.Sprintf("%d (default)", defaultMaxInFlight(s.cfg.ShapeConfig.Pacer(1).Peak()))
		}
		return fmt.Sprintf("http → %s: open model %s, %d tasks, max_in_flight %s%s", s.cfg.Target, s.cfg.ShapeConfig.String(), len(s.tasks), bound, s.connsSummary())
	}
	return fmt.Sprintf("http → %s: closed model %d users (spawn %g/s), %d classes, %d tasks%s", s.cfg.Target, s.users, s.spawnRate, len(s.classes), len(s.tasks), s.connsSummary())
}

func (s *spec) connsSummary() string {
	if s.maxConns == 0 {
		return ""
	}
	return fmt.Sprintf(", max_connections %d", s.maxConns)
}

// Tasks lists every task name, scenario tasks first.
func (s *spec) Tasks() []string {
	out := make([]string, len(s.tasks))
	for i, t := range s.tasks {
		out[i] = t.name
	}
	return out
}

// Public returns the decoded config; secrets in it print as <secret>.
func (s *spec) Public() any { return s.cfg }

// picker draws from tasks (indices into s.tasks) by weight.
func (s *spec) picker(tasks []int) *picker {
	w := make([]float64, len(tasks))
	for i, ti := range tasks {
		w[i] = s.tasks[ti].weight
	}
	return newPicker(w)
}

// model names the load model for Status.
func (s *spec) model() string {
	if s.open {
		return "open"
	}
	return "closed"
}

// pacer returns the open model's pacer for deps: the scenario's shape (or
// the run's) scaled by Scale and this replica's share.
func (s *spec) pacer(d generators.Deps) schedule.Pacer {
	shape := s.cfg.ShapeConfig.Overridden(d.Shape)
	return shape.Pacer(d.Shard.Rate(scale(d)))
}

func scale(d generators.Deps) float64 {
	if d.Scale <= 0 {
		return 1
	}
	return d.Scale
}

// inFlightBound is max_in_flight for the replica d builds, running p: as
// configured (scaled as scaledBound does), or else the default for p's
// peak rate, which already carries the run's scale and the shard's share.
func (s *spec) inFlightBound(d generators.Deps, p schedule.Pacer) int {
	if s.maxInFlight > 0 {
		return scaledBound(d, s.maxInFlight)
	}
	return defaultMaxInFlight(p.Peak())
}

// defaultMaxInFlight is InFlightAllowance of the peak rate, within
// DefaultMaxInFlight and MaxDefaultInFlight.
func defaultMaxInFlight(peak float64) int {
	n := math.Ceil(peak * InFlightAllowance.Seconds())
	return int(min(max(n, DefaultMaxInFlight), MaxDefaultInFlight))
}

// scaledBound is a per-scenario bound (max_in_flight, max_connections)
// for this replica: grown with the run's scale, never shrunk by it, split
// across shards, at least 1.
func scaledBound(d generators.Deps, n int) int {
	return max(1, d.Shard.Of(int(math.Ceil(float64(n)*max(1, scale(d))))))
}

// minTimeout is the shortest request timeout among the tasks.
func (s *spec) minTimeout() time.Duration {
	d := s.timeout
	for _, t := range s.tasks {
		d = min(d, t.timeout)
	}
	return d
}
