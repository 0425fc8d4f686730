package httpload

import (
	"maps"
	"net"
	"slices"
	"strings"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/generators"
)

// compile validates c at path and builds the spec. Problems go to p; the
// spec is meaningful only when none were added.
func (c *Config) compile(path string, env *generators.Env, p *config.Problems) *spec {
	s := &spec{cfg: *c, timeout: c.Timeout.D()}
	baseDir := ""
	if env != nil {
		baseDir = env.BaseDir
	}
	if c.Kind != KindName {
		p.Addf(config.Key(path, "kind"), "is %q, want %q", c.Kind, KindName)
	}
	s.resolveTarget(c.Target, path, env, p)
	c.validateModel(s, path, p)
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	poolSize := c.CapturePoolSize
	switch {
	case poolSize < 0:
		p.Addf(config.Key(path, "capture_pool_size"), "must be positive")
	case poolSize == 0:
		s.cfg.CapturePoolSize = DefaultCapturePoolSize
	}

	sc := &scope{feeders: map[string]*feeder{}, pools: map[string]bool{}}
	for _, name := range slices.Sorted(maps.Keys(c.Feeders)) {
		if f := compileFeeder(name, c.Feeders[name], config.Key(config.Key(path, "feeders"), name), baseDir, p); f != nil {
			sc.feeders[name] = f
		}
	}
	c.collectPools(sc, path, p)
	s.feeders, s.pools = sc.feeders, slices.Sorted(maps.Keys(sc.pools))

	tc := &taskCompiler{sc: sc, timeout: s.timeout, names: map[string]bool{}, p: p}
	if s.target != nil {
		tc.headers = tc.params(stringMap(s.target.Headers), config.Key(config.Key("targets", c.Target), "headers"), true)
	}
	tc.headers = mergeHeaders(tc.headers, tc.params(c.Headers, config.Key(path, "headers"), true))
	s.shared = s.compileTasks(tc, c.Tasks, config.Key(path, "tasks"), len(c.UserClasses) == 0 || s.open || anyClassShares(c.UserClasses))
	if !s.open {
		s.compileClasses(tc, c, path, baseDir, p)
	}
	return s
}

// resolveTarget finds the scenario's target and derives the request base.
func (s *spec) resolveTarget(name, path string, env *generators.Env, p *config.Problems) {
	kp := config.Key(path, "target")
	if name == "" {
		p.Addf(kp, "required: the name of a target")
		return
	}
	var t *generators.Target
	if env != nil {
		t = env.Targets[name]
	}
	if t == nil || t.URL == nil {
		if t == nil {
			var known []string
			if env != nil {
				known = slices.Sorted(maps.Keys(env.Targets))
			}
			p.Addf(kp, "unknown target %q (targets: %s)", name, strings.Join(known, ", "))
		}
		return
	}
	s.target = t
	u := t.URL
	s.isTLS = u.Scheme == "https"
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if s.isTLS {
			port = "443"
		}
	}
	s.addr = net.JoinHostPort(host, port)
	s.host = []byte(u.Host)
	s.basePath = []byte(strings.TrimSuffix(u.EscapedPath(), "/"))
	s.base = []byte(u.Scheme + "://" + u.Host + string(s.basePath))
}

// validateModel decides between the open and the closed model and checks
// the settings of each.
func (c *Config) validateModel(s *spec, path string, p *config.Problems) {
	key := func(k string) string { return config.Key(path, k) }
	hasShape := c.Rate > 0 || len(c.Stages) > 0 || c.Sine != nil
	switch {
	case c.Users < 0:
		p.Addf(key("users"), "must be positive")
		return
	case hasShape && c.Users > 0:
		p.Addf(key("users"), "give rate (open model) or users (closed model), not both")
		return
	case !hasShape && c.Users == 0:
		p.Addf(key("rate"), "give rate (open model, e.g. 200/s) or users (closed model)")
		return
	}
	s.open = hasShape
	switch {
	case c.MaxConnections < 0:
		p.Addf(key("max_connections"), "must be positive")
	case c.MaxConnections > 0 && c.HTTP2:
		p.Addf(key("max_connections"), "applies to HTTP/1.1; HTTP/2 multiplexes requests over one connection")
	default:
		s.maxConns = c.MaxConnections
	}
	if s.open {
		c.ShapeConfig.Validate(path, true, p)
		s.maxInFlight = positiveOr(c.MaxInFlight, 0, key("max_in_flight"), p) // 0: from the peak rate at Build
		s.sessions = positiveOr(c.Sessions, DefaultSessions, key("sessions"), p)
		for _, k := range setKeys("spawn_rate", c.SpawnRate > 0, "think_time", c.ThinkTime != nil, "user_classes", len(c.UserClasses) > 0) {
			p.Addf(key(k), "applies to the closed model (users); the open model (rate) has no users")
		}
		return
	}
	s.users = c.Users
	s.spawnRate = float64(c.SpawnRate)
	if s.spawnRate == 0 {
		s.spawnRate = DefaultSpawnRate
	}
	for _, k := range setKeys("max_in_flight", c.MaxInFlight != 0, "sessions", c.Sessions != 0) {
		p.Addf(key(k), "applies to the open model (rate); closed-model users each have their own session")
	}
	if c.ThinkTime == nil && (len(c.UserClasses) == 0 || slices.ContainsFunc(c.UserClasses, func(u ClassConfig) bool { return u.ThinkTime == nil })) {
		p.Addf(key("think_time"), "required for the closed model (e.g. between(1s, 5s)), here or in every user class")
	}
}

// setKeys takes (key, isSet) pairs and returns the keys that are set.
func setKeys(pairs ...any) []string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1].(bool) {
			out = append(out, pairs[i].(string))
		}
	}
	return out
}

func positiveOr(v, def int, path string, p *config.Problems) int {
	switch {
	case v < 0:
		p.Addf(path, "must be positive")
	case v == 0:
		return def
	}
	return v
}

// collectPools finds every capture pool name, so templates anywhere may
// pick from a pool a later task fills.
func (c *Config) collectPools(sc *scope, path string, p *config.Problems) {
	add := func(tasks []TaskConfig, tp string) {
		for i, t := range tasks {
			for _, name := range slices.Sorted(maps.Keys(t.Capture)) {
				kp := config.Key(config.Key(config.Index(tp, i), "capture"), name)
				switch _, feeder := sc.feeders[name]; {
				case !identRE.MatchString(name):
					p.Addf(kp, "invalid pool name %q: templates use it as .%s, so use letters, digits and _", name, name)
				case feeder:
					p.Addf(kp, "%q is already a feeder; give the pool another name", name)
				default:
					sc.pools[name] = true
				}
			}
		}
	}
	add(c.Tasks, config.Key(path, "tasks"))
	for i, u := range c.UserClasses {
		add(u.Tasks, config.Key(config.Index(config.Key(path, "user_classes"), i), "tasks"))
	}
}

// compileTasks compiles a task list, checking its weights when required
// (a list nobody runs may be empty).
func (s *spec) compileTasks(tc *taskCompiler, cfgs []TaskConfig, path string, required bool) []int {
	if len(cfgs) == 0 {
		if required {
			tc.p.Addf(path, "at least one task is required")
		}
		return nil
	}
	var idx []int
	var sum float64
	for i := range cfgs {
		t := tc.compile(&cfgs[i], config.Index(path, i), len(s.tasks))
		if t == nil {
			continue
		}
		s.tasks = append(s.tasks, t)
		idx = append(idx, t.idx)
		sum += t.weight
	}
	if len(idx) == len(cfgs) && sum <= 0 {
		tc.p.Addf(path, "task weights sum to zero: give at least one task a positive weight")
	}
	return idx
}

// compileClasses validates the user classes (or makes the one implicit
// class) of the closed model.
func (s *spec) compileClasses(tc *taskCompiler, c *Config, path, baseDir string, p *config.Problems) {
	if len(c.UserClasses) == 0 {
		cl := &class{name: "default", weight: 1, target: s.target, tasks: s.shared}
		if c.ThinkTime != nil {
			cl.think = *c.ThinkTime
		}
		s.classes = []*class{cl}
		return
	}
	cp := config.Key(path, "user_classes")
	seen := map[string]bool{}
	var sum float64
	for i := range c.UserClasses {
		u := &c.UserClasses[i]
		up := config.Index(cp, i)
		switch {
		case u.Name == "":
			p.Addf(config.Key(up, "name"), "required")
		case !taskNameRE.MatchString(u.Name):
			p.Addf(config.Key(up, "name"), "invalid class name %q: use letters, digits, _, ., : and - (it becomes a metric label)", u.Name)
		case seen[u.Name]:
			p.Addf(config.Key(up, "name"), "duplicate class name %q", u.Name)
		}
		seen[u.Name] = true
		if u.Weight < 0 {
			p.Addf(config.Key(up, "weight"), "must not be negative")
		}
		sum += u.Weight
		cl := &class{name: u.Name, weight: u.Weight, target: s.target, tasks: s.shared}
		if u.ThinkTime != nil {
			cl.think = *u.ThinkTime
		} else if c.ThinkTime != nil {
			cl.think = *c.ThinkTime
		}
		if u.Auth != nil && s.target != nil {
			cl.target = classTarget(s.target, u.Auth, up, baseDir, p)
		}
		if len(u.Tasks) > 0 {
			cl.tasks = s.compileTasks(tc, u.Tasks, config.Key(up, "tasks"), true)
		}
		s.classes = append(s.classes, cl)
	}
	if sum <= 0 {
		p.Addf(cp, "class weights sum to zero: give at least one class a positive weight")
	}
}

func anyClassShares(cs []ClassConfig) bool {
	return slices.ContainsFunc(cs, func(u ClassConfig) bool { return len(u.Tasks) == 0 })
}

// classTarget returns a copy of target logging in with the class's auth:
// credentials replace the target's together, other fields one by one.
func classTarget(target *generators.Target, over *generators.AuthConfig, path, baseDir string, p *config.Problems) *generators.Target {
	var m generators.AuthConfig
	if target.Auth != nil {
		m = *target.Auth
		m.Extra = maps.Clone(target.Auth.Extra)
		m.PasswordFile = "" // already read into Password
	}
	if over.Username != "" || over.Password != "" || over.PasswordFile != "" || over.Token != "" {
		m.Username, m.Password, m.PasswordFile, m.Token = over.Username, over.Password, over.PasswordFile, over.Token
	}
	if over.Kind != "" {
		m.Kind = over.Kind
	}
	if over.TokenURL != "" {
		m.TokenURL = over.TokenURL
	}
	if over.RenewBefore > 0 {
		m.RenewBefore = over.RenewBefore
	}
	if len(over.Extra) > 0 && m.Extra == nil {
		m.Extra = map[string]string{}
	}
	maps.Copy(m.Extra, over.Extra)
	// Validate a copy for its auth checks (and password_file), without
	// the target's TLS files, which were loaded already.
	t := *target
	t.Auth, t.TLS = &m, generators.TLSConfig{}
	scratch := &config.Problems{}
	t.Validate(path, baseDir, scratch)
	for _, pr := range scratch.List {
		if strings.HasPrefix(pr.Path, config.Key(path, "auth")) {
			p.List = append(p.List, pr)
		}
	}
	t.TLS, t.TLSClient = target.TLS, target.TLSClient
	return &t
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
