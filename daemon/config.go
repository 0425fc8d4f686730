package daemon

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/generators"
)

// File is the top level of a loadd config file. Each section is decoded
// and validated by the package that owns it.
type File struct {
	Global    Global                        `yaml:"global" json:"global"`
	Targets   map[string]*generators.Target `yaml:"targets" json:"targets"`
	Scenarios map[string]map[string]any     `yaml:"scenarios" json:"-"`
	Schedules map[string]map[string]any     `yaml:"schedules" json:"-"`
	SLAs      []map[string]any              `yaml:"slas" json:"-"`
}

// Global holds settings that apply to the whole daemon.
type Global struct {
	// GracePeriod is how long in-flight work may finish on stop or reload.
	GracePeriod config.Duration `yaml:"grace_period" json:"grace_period"`
	// Buckets are the classic buckets of latency histograms, in seconds.
	Buckets []float64 `yaml:"buckets" json:"buckets,omitempty"`
}

// DefaultGracePeriod applies when global.grace_period is not set.
const DefaultGracePeriod = 10 * time.Second

// Config is a loaded, validated configuration.
type Config struct {
	File File
	// Names lists the scenarios in a stable order.
	Names []string
	// Specs are the validated scenarios by name.
	Specs map[string]generators.Spec
	// Kinds are the scenarios' kinds by name.
	Kinds map[string]string
	// Hooks are extra sections decoded by registered section loaders.
	Sections map[string]any
	// Doc resolves key paths to YAML lines.
	Doc *config.Document
}

// Section decodes and validates one extra top-level section (schedules,
// slas) once the scenarios are known. It returns the decoded value.
type Section func(f *File, scenarios map[string][]string, p *config.Problems) any

// Loader loads configs with a fixed set of generator kinds and sections.
type Loader struct {
	Kinds    map[string]generators.Kind
	Sections map[string]Section
}

// Load reads, decodes and validates a configuration. The error, when not
// nil, is a *config.Problems listing every problem found (or an I/O error).
func (l *Loader) Load(src config.Source) (*Config, error) {
	var f File
	doc, err := config.Load(src, &f)
	if err != nil {
		return nil, err
	}
	p := &config.Problems{File: src.File}
	c := &Config{File: f, Specs: map[string]generators.Spec{}, Kinds: map[string]string{}, Sections: map[string]any{}, Doc: doc}
	if f.Global.GracePeriod == 0 {
		c.File.Global.GracePeriod = config.Duration(DefaultGracePeriod)
	}
	for i, b := range f.Global.Buckets {
		if b <= 0 || (i > 0 && b <= f.Global.Buckets[i-1]) {
			p.Addf(config.Index("global.buckets", i), "buckets must be positive and increasing")
			break
		}
	}
	env := &generators.Env{Targets: map[string]*generators.Target{}}
	if src.File != "" && src.Data == nil {
		env.BaseDir = filepath.Dir(src.File)
	}
	for _, name := range slices.Sorted(maps.Keys(f.Targets)) {
		t := f.Targets[name]
		path := config.Key("targets", name)
		if !config.ValidName(name) {
			p.Addf(path, "invalid name %q: use letters, digits, _ and -", name)
		}
		if t == nil {
			p.Addf(path, "empty target")
			continue
		}
		t.Validate(path, env.BaseDir, p)
		env.Targets[name] = t
	}
	if len(f.Scenarios) == 0 {
		p.Addf("scenarios", "at least one scenario is required")
	}
	tasks := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(f.Scenarios)) {
		path := config.Key("scenarios", name)
		raw := f.Scenarios[name]
		if !config.ValidName(name) {
			p.Addf(path, "invalid name %q: use letters, digits, _ and - (it becomes a metric label)", name)
			continue
		}
		kind, _ := raw["kind"].(string)
		k, ok := l.Kinds[kind]
		if !ok {
			if kind == "" {
				p.Addf(config.Key(path, "kind"), "required: one of %s", strings.Join(slices.Sorted(maps.Keys(l.Kinds)), ", "))
			} else {
				p.Addf(config.Key(path, "kind"), "unknown kind %q (want one of %s)", kind, strings.Join(slices.Sorted(maps.Keys(l.Kinds)), ", "))
			}
			continue
		}
		spec := k.Decode(path, raw, env, p)
		if spec == nil {
			continue
		}
		c.Names = append(c.Names, name)
		c.Specs[name] = spec
		c.Kinds[name] = kind
		tasks[name] = spec.Tasks()
	}
	for _, name := range slices.Sorted(maps.Keys(l.Sections)) {
		c.Sections[name] = l.Sections[name](&c.File, tasks, p)
	}
	doc.Annotate(p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Summary describes what the config would run, for `loadd check`.
func (c *Config) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d target(s), %d scenario(s):\n", len(c.File.Targets), len(c.Names))
	for _, n := range c.Names {
		fmt.Fprintf(&b, "  %-20s %s\n", n, c.Specs[n].Summary())
		if ts := c.Specs[n].Tasks(); len(ts) > 0 {
			fmt.Fprintf(&b, "  %-20s tasks: %s\n", "", strings.Join(ts, ", "))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Sections)) {
		if s, ok := c.Sections[name].(fmt.Stringer); ok {
			if txt := s.String(); txt != "" {
				fmt.Fprintf(&b, "%s:\n%s", name, txt)
			}
		}
	}
	fmt.Fprintf(&b, "grace period %s\n", c.File.Global.GracePeriod.D())
	return b.String()
}

// Public returns the config for the status API, secrets masked.
func (c *Config) Public() map[string]any {
	sc := map[string]any{}
	for _, n := range c.Names {
		sc[n] = c.Specs[n].Public()
	}
	return map[string]any{"global": c.File.Global, "targets": c.File.Targets, "scenarios": sc}
}

// fingerprint identifies a scenario's effective config, to restart only
// what a reload changed. The public form masks secrets, so a digest of
// them is added: a rotated password or token must restart its users.
func (c *Config) fingerprint(name string) string {
	b, _ := json.Marshal(struct {
		Spec    any
		Targets any
		Global  Global
		Secrets []byte
	}{c.Specs[name].Public(), c.File.Targets, c.File.Global, c.secretsDigest()})
	return string(b)
}

// secretsDigest is a SHA-256 over every target's credentials.
func (c *Config) secretsDigest() []byte {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(c.File.Targets)) {
		if a := c.File.Targets[name].Auth; a != nil {
			fmt.Fprintf(h, "%q %q %q\n", name, a.Password.Reveal(), a.Token.Reveal())
		}
	}
	return h.Sum(nil)
}
