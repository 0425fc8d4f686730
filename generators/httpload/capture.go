package httpload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strconv"
	"sync/atomic"

	"github.com/theory/jsonpath"

	"github.com/loadd/loadd/config"
)

// pool is a bounded ring of captured values, shared by a scenario's
// requests without locks: writers claim a slot with an atomic counter,
// readers pick any filled slot.
type pool struct {
	name  string
	slots []atomic.Pointer[string]
	n     atomic.Uint64
}

func newPool(name string, size int) *pool {
	return &pool{name: name, slots: make([]atomic.Pointer[string], size)}
}

// add stores v, overwriting the oldest value once the ring is full.
func (p *pool) add(v string) {
	i := p.n.Add(1) - 1
	p.slots[i%uint64(len(p.slots))].Store(&v)
}

// size returns how many values the pool holds.
func (p *pool) size() int { return int(min(p.n.Load(), uint64(len(p.slots)))) }

// pick returns a random captured value.
func (p *pool) pick() (string, bool) {
	n := p.size()
	if n == 0 {
		return "", false
	}
	for range 4 {
		if v := p.slots[rand.IntN(n)].Load(); v != nil {
			return *v, true
		}
	}
	// Slots claimed but not yet stored: fall back to a scan.
	for i := range n {
		if v := p.slots[i].Load(); v != nil {
			return *v, true
		}
	}
	return "", false
}

// capture fills pool from the matches of path in a JSON response.
type capture struct {
	pool string
	path *jsonpath.Path
}

// jsonCheck is one JSON-path assertion on a response.
type jsonCheck struct {
	src  string
	path *jsonpath.Path
	op   string // exists, absent, equals
	want any
}

// compileJSONChecks validates check.json at path.
func compileJSONChecks(m map[string]any, path string, p *config.Problems) []jsonCheck {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []jsonCheck
	for _, k := range keys {
		kp := config.Key(path, k)
		jp, err := jsonpath.Parse(k)
		if err != nil {
			p.Addf(kp, "invalid JSON path: %v", err)
			continue
		}
		c := jsonCheck{src: k, path: jp}
		switch v := m[k].(type) {
		case string:
			if v != "exists" && v != "absent" {
				p.Addf(kp, "unknown assertion %q (want exists, absent or {equals: value})", v)
				continue
			}
			c.op = v
		case map[string]any:
			want, ok := v["equals"]
			if !ok || len(v) != 1 {
				p.Addf(kp, "unknown assertion (want exists, absent or {equals: value})")
				continue
			}
			c.op, c.want = "equals", normaliseJSON(want)
		default:
			p.Addf(kp, "unknown assertion (want exists, absent or {equals: value})")
			continue
		}
		out = append(out, c)
	}
	return out
}

// eval reports whether doc satisfies the check, and if not, why.
func (c *jsonCheck) eval(doc any) (bool, string) {
	nodes := c.path.Select(doc)
	switch c.op {
	case "exists":
		if len(nodes) == 0 {
			return false, c.src + " matched nothing"
		}
	case "absent":
		if len(nodes) > 0 {
			return false, c.src + " matched something"
		}
	case "equals":
		if len(nodes) == 0 {
			return false, c.src + " matched nothing"
		}
		for _, n := range nodes {
			if !reflect.DeepEqual(normaliseJSON(n), c.want) {
				return false, fmt.Sprintf("%s is %v, want %v", c.src, n, c.want)
			}
		}
	}
	return true, ""
}

// normaliseJSON makes YAML and decoded JSON values comparable: every
// number becomes a float64, every map map[string]any.
func normaliseJSON(v any) any {
	switch v := v.(type) {
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return f
		}
		return v.String()
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	case float32:
		return float64(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normaliseJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normaliseJSON(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = normaliseJSON(e)
		}
		return out
	}
	return v
}

// decodeJSON parses a response body, keeping numbers exact.
func decodeJSON(body []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("response is not JSON: %w", err)
	}
	return v, nil
}

// captureString renders a matched JSON node as a template value.
func captureString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
