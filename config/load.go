package config

import (
	"encoding"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/v2"
	"gopkg.in/yaml.v3"
)

// EnvPrefix is the prefix of environment variables that override config
// keys. A double underscore separates levels:
// LOADD_SCENARIOS__API__RATE=300/s sets scenarios.api.rate.
const EnvPrefix = "LOADD_"

// Source says where a configuration comes from.
type Source struct {
	// File is the path shown in messages; it is read when Data is nil.
	File string
	// Data, when set, is the YAML itself (for embedded configs).
	Data []byte
	// Environ supplies the environment; nil means no environment overrides.
	Environ func() []string
	// Overrides are applied last, keyed by dotted path (from flags).
	Overrides map[string]any
}

// Document is a loaded YAML document: it maps key paths to line numbers.
type Document struct {
	File  string
	lines map[string]int
}

// Line returns the YAML line of path, or of its closest ancestor that has
// one, or 0.
func (d *Document) Line(path string) int {
	if d == nil {
		return 0
	}
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := d.lines[p]; ok {
			return l
		}
	}
	return 0
}

// Annotate fills in the line of every problem that has none.
func (d *Document) Annotate(p *Problems) {
	if d == nil {
		return
	}
	p.File = d.File
	for i := range p.List {
		if p.List[i].Line == 0 {
			p.List[i].Line = d.Line(p.List[i].Path)
		}
	}
}

func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// Load reads the YAML of src, merges environment and flag overrides with
// koanf, and decodes the result strictly into out (a pointer to a struct
// whose fields carry `yaml` tags). Unknown keys and wrong types are
// problems naming the key path and line. The returned Document resolves
// lines for problems found later by validation.
func Load(src Source, out any) (*Document, error) {
	data := src.Data
	if data == nil {
		b, err := os.ReadFile(src.File)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		data = b
	}
	doc := &Document{File: src.File, lines: map[string]int{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return doc, &Problems{File: src.File, List: []Problem{yamlProblem(err)}}
	}
	walkLines(&root, "", doc.lines)

	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return doc, &Problems{File: src.File, List: []Problem{yamlProblem(err)}}
	}
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(stringKeys(raw), "."), nil); err != nil {
		return doc, fmt.Errorf("load config: %w", err)
	}
	if src.Environ != nil {
		if err := k.Load(env.Provider(".", env.Opt{
			Prefix:        EnvPrefix,
			EnvironFunc:   src.Environ,
			TransformFunc: envKey,
		}), nil); err != nil {
			return doc, fmt.Errorf("load environment overrides: %w", err)
		}
	}
	if len(src.Overrides) > 0 {
		if err := k.Load(confmap.Provider(src.Overrides, "."), nil); err != nil {
			return doc, fmt.Errorf("load flag overrides: %w", err)
		}
	}
	probs := &Problems{File: src.File}
	if err := Decode(k.Raw(), out); err != nil {
		collectDecodeErrors(err, probs)
	}
	doc.Annotate(probs)
	return doc, probs.Err()
}

// Decode decodes a generic map (as YAML produces) into out strictly, with
// loadd's text types (Duration, Rate, ...) decoded from strings or numbers.
func Decode(in, out any) (err error) {
	defer func() {
		// mapstructure panics on some malformed maps (e.g. a null key);
		// bad input must be an error, never a crash.
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot decode: %v", r)
		}
	}()
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		TagName:     "yaml",
		ErrorUnused: true,
		Result:      out,
		DecodeHook:  textHook,
	})
	if err != nil {
		return err
	}
	return dec.Decode(in)
}

// DecodeErrors converts an error from Decode into problems under base.
func DecodeErrors(err error, base string, p *Problems) {
	before := len(p.List)
	collectDecodeErrors(err, p)
	for i := before; i < len(p.List); i++ {
		if p.List[i].Path == "" {
			p.List[i].Path = base
		} else {
			p.List[i].Path = Key(base, p.List[i].Path)
		}
	}
}

var textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()

// textHook feeds strings, and numbers as strings, to TextUnmarshaler targets.
func textHook(from, to reflect.Type, data any) (any, error) {
	if !reflect.PointerTo(to).Implements(textUnmarshaler) {
		return data, nil
	}
	var s string
	switch v := data.(type) {
	case string:
		s = v
	case int, int64, uint64, float64, float32, int32, uint32, uint, uint16, int16, int8, uint8:
		s = fmt.Sprint(v)
	case bool:
		return nil, fmt.Errorf("expected a string, got %v", v)
	default:
		return data, nil
	}
	ptr := reflect.New(to)
	if err := ptr.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
		return nil, err
	}
	return ptr.Elem().Interface(), nil
}

var (
	bracketKey = regexp.MustCompile(`\[([^\]]*)\]`)
	// rootType is the "pkg.Type" name mapstructure gives the root value.
	rootType = regexp.MustCompile(`^[a-z0-9_]+\.[A-Z][A-Za-z0-9_]*(\.|$)`)
)

// mapstructurePath turns "scenarios[api].tasks[2].weight" into
// "scenarios.api.tasks[2].weight".
func mapstructurePath(name string) string {
	name = rootType.ReplaceAllString(name, "")
	return bracketKey.ReplaceAllStringFunc(name, func(m string) string {
		inner := m[1 : len(m)-1]
		if _, err := strconv.Atoi(inner); err == nil {
			return m
		}
		return "." + inner
	})
}

func collectDecodeErrors(err error, p *Problems) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			collectDecodeErrors(e, p)
		}
		return
	}
	var de *mapstructure.DecodeError
	if d, ok := err.(*mapstructure.DecodeError); ok {
		de = d
	} else if u := errors.Unwrap(err); u != nil {
		collectDecodeErrors(u, p)
		return
	}
	if de != nil {
		path := mapstructurePath(de.Name())
		msg := de.Unwrap().Error()
		if keys, ok := strings.CutPrefix(msg, "has invalid keys: "); ok {
			for _, key := range strings.Split(keys, ", ") {
				p.Addf(Key(path, key), "unknown key %q", key)
			}
			return
		}
		msg = strings.ReplaceAll(msg, "expected type", "expected")
		msg = strings.ReplaceAll(msg, "got unconvertible type", "got")
		msg = strings.TrimPrefix(msg, "error decoding '': ")
		p.Addf(path, "%s", msg)
		return
	}
	p.Addf("", "%s", err.Error())
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

func yamlProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	pr := Problem{Msg: "invalid YAML: " + msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		pr.Line, _ = strconv.Atoi(m[1])
		pr.Msg = "invalid YAML: " + strings.Replace(msg, m[0], "", 1)
	}
	return pr
}

func walkLines(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkLines(c, path, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			p := Key(path, key.Value)
			lines[p] = key.Line
			walkLines(n.Content[i+1], p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := Index(path, i)
			lines[p] = c.Line
			walkLines(c, p, lines)
		}
	}
	// Aliases are not followed: an anchor may contain itself.
}

// stringKeys converts nested map[any]any (YAML 1.1 style) to map[string]any.
func stringKeys(m map[string]any) map[string]any {
	for k, v := range m {
		m[k] = normalise(v)
	}
	return m
}

func normalise(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return stringKeys(t)
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, v := range t {
			out[fmt.Sprint(k)] = normalise(v)
		}
		return out
	case []any:
		for i := range t {
			t[i] = normalise(t[i])
		}
		return t
	}
	return v
}

// envKey maps LOADD_SCENARIOS__API__MAX_IN_FLIGHT=100 to
// ("scenarios.api.max_in_flight", 100), typing the value as YAML would.
// Variables without a "__" level separator (LOADD_SHARDS, the target's
// LOADD_TARGET_* flags) are not config keys and are ignored.
func envKey(k, v string) (string, any) {
	if !strings.Contains(k, "__") {
		return "", nil
	}
	k = strings.ToLower(strings.TrimPrefix(k, EnvPrefix))
	k = strings.ReplaceAll(k, "__", ".")
	var typed any
	if err := yaml.Unmarshal([]byte(v), &typed); err != nil || typed == nil {
		return k, v
	}
	switch typed.(type) {
	case map[string]any, []any:
		return k, v
	}
	return k, typed
}
