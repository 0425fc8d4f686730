package httpload

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/theory/jsonpath"

	"github.com/loadd/loadd/config"
)

var (
	identRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	taskNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,62}$`)
	methodRE   = regexp.MustCompile(`^[A-Z]{1,16}$`)
	headerRE   = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
)

// task is a compiled TaskConfig: everything that can be prepared before
// the first request is.
type task struct {
	idx    int
	name   string
	weight float64
	method []byte
	path   *text
	query  []param
	// headers are the target's, the scenario's and the task's, merged.
	headers []param
	body    []segment
	// static is set when path, query, headers and body need no rendering;
	// uri and rawBody then hold the rendered request.
	static  bool
	uri     []byte
	rawBody []byte
	ctype   []byte
	// hostHeader says a Host header is configured: send it, not the URL's.
	hostHeader bool
	timeout    time.Duration

	feeders  []string
	pools    []string
	captures []capture
	check    checks
}

// param is a header or query parameter with a templated value.
type param struct {
	key []byte
	val *text
}

// segment is a piece of a request body: literal bytes, or a template whose
// output is written as a JSON string when quote is set.
type segment struct {
	lit   []byte
	x     *text
	quote bool
}

// checks are a task's response checks.
type checks struct {
	status       StatusSet
	json         []jsonCheck
	bodyContains []byte
	maxLatency   time.Duration
	// needJSON says whether the body must be decoded (captures or checks).
	needJSON bool
}

// taskCompiler compiles tasks of one scenario against one scope.
type taskCompiler struct {
	sc      *scope
	headers []param // target and scenario headers
	timeout time.Duration
	names   map[string]bool
	p       *config.Problems
}

// requestLine returns the method and path of a task config, and the key
// the path was given under.
func requestLine(tc *TaskConfig, path string, p *config.Problems) (method, target, key string) {
	type line struct{ method, path, key string }
	var given []line
	for _, l := range []line{
		{http.MethodGet, tc.Get, "get"}, {http.MethodPost, tc.Post, "post"}, {http.MethodPut, tc.Put, "put"},
		{http.MethodDelete, tc.Delete, "delete"}, {http.MethodPatch, tc.Patch, "patch"},
	} {
		if l.path != "" {
			given = append(given, l)
		}
	}
	if tc.Method != "" || tc.Path != "" {
		given = append(given, line{strings.ToUpper(tc.Method), tc.Path, "path"})
	}
	switch {
	case len(given) == 0:
		p.Addf(path, "give the request as get, post, put, delete or patch: PATH, or as method and path")
		return "", "", ""
	case len(given) > 1:
		p.Addf(path, "give only one of get, post, put, delete, patch, or method with path")
		return "", "", ""
	}
	l := given[0]
	if l.key == "path" {
		if tc.Method == "" {
			p.Addf(config.Key(path, "method"), "required with path (e.g. GET)")
			return "", "", ""
		}
		if !methodRE.MatchString(l.method) {
			p.Addf(config.Key(path, "method"), "invalid method %q", tc.Method)
			return "", "", ""
		}
		if tc.Path == "" {
			p.Addf(config.Key(path, "path"), "required with method")
			return "", "", ""
		}
	}
	return l.method, l.path, l.key
}

// compile compiles the task at path; it returns nil after adding problems.
func (tc *taskCompiler) compile(cfg *TaskConfig, path string, idx int) *task {
	p := tc.p
	before := p.Len()
	t := &task{idx: idx, name: cfg.Name, weight: 1, timeout: tc.timeout}
	switch {
	case cfg.Name == "":
		p.Addf(config.Key(path, "name"), "required")
	case !taskNameRE.MatchString(cfg.Name):
		p.Addf(config.Key(path, "name"), "invalid task name %q: use letters, digits, _, ., : and - (it becomes a metric label)", cfg.Name)
	case tc.names[cfg.Name]:
		p.Addf(config.Key(path, "name"), "duplicate task name %q", cfg.Name)
	}
	tc.names[cfg.Name] = true
	if cfg.Weight != nil {
		t.weight = *cfg.Weight
		if t.weight < 0 {
			p.Addf(config.Key(path, "weight"), "must not be negative")
		}
	}
	if cfg.Timeout > 0 {
		t.timeout = cfg.Timeout.D()
	}
	method, target, key := requestLine(cfg, path, p)
	t.method = []byte(method)
	if key != "" {
		t.path = tc.text(target, config.Key(path, key))
		if t.path != nil && !strings.HasPrefix(target, "/") {
			p.Addf(config.Key(path, key), "must start with /")
		} else if t.path != nil && t.path.isStatic() && strings.ContainsFunc(target, unsafeInURL) {
			p.Addf(config.Key(path, key), "contains spaces or control characters; percent-encode them")
		}
	}
	t.query = tc.params(cfg.Query, config.Key(path, "query"), false)
	t.headers = mergeHeaders(tc.headers, tc.params(cfg.Headers, config.Key(path, "headers"), true))
	tc.body(t, cfg, path)
	tc.responseSide(t, cfg, path)
	if p.Len() > before {
		return nil
	}
	t.finish()
	return t
}

// text compiles a template at path, recording problems.
func (tc *taskCompiler) text(src, path string) *text {
	x, err := compileText(src, tc.sc)
	if err != nil {
		tc.p.Add(path, err)
		return nil
	}
	return x
}

// params compiles headers or query parameters, sorted by name.
func (tc *taskCompiler) params(m map[string]any, path string, header bool) []param {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []param
	for _, k := range keys {
		kp := config.Key(path, k)
		if header && !headerRE.MatchString(k) {
			tc.p.Addf(kp, "invalid header name %q", k)
			continue
		}
		s, ok := scalarString(m[k])
		if !ok {
			tc.p.Addf(kp, "must be a string or number")
			continue
		}
		if x := tc.text(s, kp); x != nil {
			name := k
			if header {
				name = http.CanonicalHeaderKey(k)
			}
			out = append(out, param{key: []byte(name), val: x})
		}
	}
	return out
}

// mergeHeaders returns base overridden by over, by canonical name.
func mergeHeaders(base, over []param) []param {
	out := slices.Clone(base)
	for _, o := range over {
		i := slices.IndexFunc(out, func(b param) bool { return string(b.key) == string(o.key) })
		if i >= 0 {
			out[i] = o
		} else {
			out = append(out, o)
		}
	}
	return out
}

// body compiles json or body.
func (tc *taskCompiler) body(t *task, cfg *TaskConfig, path string) {
	switch {
	case cfg.JSON != nil && cfg.Body != "":
		tc.p.Addf(config.Key(path, "body"), "give json or body, not both")
	case cfg.JSON != nil:
		t.body = tc.jsonSegments(nil, cfg.JSON, config.Key(path, "json"))
		t.ctype = []byte("application/json")
	case cfg.Body != "":
		if x := tc.text(cfg.Body, config.Key(path, "body")); x != nil {
			t.body = []segment{{x: x}}
		}
	}
	for _, h := range t.headers {
		switch string(h.key) {
		case "Content-Type":
			t.ctype = nil
		case "Host":
			t.hostHeader = true
		}
	}
}

// jsonSegments appends the JSON encoding of v to segs: literal runs, and a
// quoted template wherever a string holds one.
func (tc *taskCompiler) jsonSegments(segs []segment, v any, path string) []segment {
	lit := func(b []byte) {
		if n := len(segs); n > 0 && segs[n-1].x == nil {
			segs[n-1].lit = append(segs[n-1].lit, b...)
			return
		}
		segs = append(segs, segment{lit: slices.Clone(b)})
	}
	switch v := normaliseYAML(v).(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		lit([]byte("{"))
		for i, k := range keys {
			if i > 0 {
				lit([]byte(","))
			}
			lit(appendJSONString(nil, []byte(k)))
			lit([]byte(":"))
			segs = tc.jsonSegments(segs, v[k], config.Key(path, k))
		}
		lit([]byte("}"))
	case []any:
		lit([]byte("["))
		for i, e := range v {
			if i > 0 {
				lit([]byte(","))
			}
			segs = tc.jsonSegments(segs, e, config.Index(path, i))
		}
		lit([]byte("]"))
	case string:
		x := tc.text(v, path)
		switch {
		case x == nil:
		case x.isStatic():
			lit(appendJSONString(nil, x.static))
		default:
			segs = append(segs, segment{x: x, quote: true})
		}
	default:
		b, err := json.Marshal(v)
		if err != nil {
			tc.p.Addf(path, "cannot encode as JSON: %v", err)
			return segs
		}
		lit(b)
	}
	return segs
}

// normaliseYAML turns map[any]any (from some YAML decoders) into map[string]any.
func normaliseYAML(v any) any {
	if m, ok := v.(map[any]any); ok {
		return normaliseJSON(m)
	}
	return v
}

// responseSide compiles captures and checks.
func (tc *taskCompiler) responseSide(t *task, cfg *TaskConfig, path string) {
	names := make([]string, 0, len(cfg.Capture))
	for k := range cfg.Capture {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		cp := config.Key(config.Key(path, "capture"), name)
		jp, err := jsonpath.Parse(cfg.Capture[name])
		if err != nil {
			tc.p.Addf(cp, "invalid JSON path %q: %v", cfg.Capture[name], err)
			continue
		}
		t.captures = append(t.captures, capture{pool: name, path: jp})
	}
	if c := cfg.Check; c != nil {
		t.check.status = c.Status
		t.check.json = compileJSONChecks(c.JSON, config.Key(config.Key(path, "check"), "json"), tc.p)
		t.check.bodyContains = []byte(c.BodyContains)
		t.check.maxLatency = c.MaxLatency.D()
	}
	t.check.needJSON = len(t.captures) > 0 || len(t.check.json) > 0
}

// finish collects the names a task's templates use and pre-renders a
// static request.
func (t *task) finish() {
	texts := []*text{t.path}
	for _, q := range t.query {
		texts = append(texts, q.val)
	}
	for _, h := range t.headers {
		texts = append(texts, h.val)
	}
	for _, s := range t.body {
		if s.x != nil {
			texts = append(texts, s.x)
		}
	}
	t.static = true
	for _, x := range texts {
		t.feeders = append(t.feeders, x.feeders...)
		t.pools = append(t.pools, x.pools...)
		t.static = t.static && x.isStatic()
	}
	slices.Sort(t.feeders)
	t.feeders = slices.Compact(t.feeders)
	slices.Sort(t.pools)
	t.pools = slices.Compact(t.pools)
	if t.static {
		t.uri, _ = t.renderURI(nil, nil)
		t.rawBody, _, _ = t.renderBody(nil, nil, nil)
	}
}

// unsafeInURL reports characters that cannot appear raw in a request line.
func unsafeInURL(r rune) bool { return r <= ' ' || r == 0x7f }
