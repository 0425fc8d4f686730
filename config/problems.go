package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration: where (a key path such as
// "scenarios.api.tasks[2].weight" and, when known, the YAML line) and what.
type Problem struct {
	Path string `json:"path"`
	Line int    `json:"line,omitempty"`
	Msg  string `json:"message"`
}

// String renders the problem as "line 12: scenarios.api.rate: must be positive".
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems collects every problem found while loading and validating a
// configuration, so that all of them can be reported at once.
type Problems struct {
	File string
	List []Problem
}

// Addf records a problem at path.
func (p *Problems) Addf(path, format string, args ...any) {
	p.List = append(p.List, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Add records err as a problem at path; a nil err is ignored.
func (p *Problems) Add(path string, err error) {
	if err != nil {
		p.List = append(p.List, Problem{Path: path, Msg: err.Error()})
	}
}

// Len returns the number of problems recorded.
func (p *Problems) Len() int { return len(p.List) }

// Err returns p as an error when it holds any problem, otherwise nil.
func (p *Problems) Err() error {
	if p == nil || len(p.List) == 0 {
		return nil
	}
	return p
}

// Error lists every problem, one per line, sorted by line then path.
func (p *Problems) Error() string {
	list := append([]Problem(nil), p.List...)
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].Line != list[j].Line {
			if list[i].Line == 0 || list[j].Line == 0 {
				return list[j].Line == 0
			}
			return list[i].Line < list[j].Line
		}
		return list[i].Path < list[j].Path
	})
	var b strings.Builder
	for i, pr := range list {
		if i > 0 {
			b.WriteByte('\n')
		}
		if p.File != "" {
			b.WriteString(p.File)
			b.WriteString(": ")
		}
		b.WriteString(pr.String())
	}
	return b.String()
}

// Key joins a key path and a map key: Key("scenarios", "api") is "scenarios.api".
func Key(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}

// Index joins a key path and a list index: Index("tasks", 2) is "tasks[2]".
func Index(base string, i int) string {
	return base + "[" + strconv.Itoa(i) + "]"
}

// Paths returns the key paths of the problems.
func (p *Problems) Paths() []string {
	out := make([]string, len(p.List))
	for i, pr := range p.List {
		out[i] = pr.Path
	}
	return out
}

// AddUncovered appends the problems of q except those at, above or below
// one of the covered paths — so a value that failed to decode is not also
// reported as missing or invalid by validation run on what did decode.
func (p *Problems) AddUncovered(q *Problems, covered []string) {
	related := func(a, b string) bool {
		return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(a, b+"[") ||
			strings.HasPrefix(b, a+".") || strings.HasPrefix(b, a+"[")
	}
next:
	for _, pr := range q.List {
		for _, c := range covered {
			if related(pr.Path, c) {
				continue next
			}
		}
		p.List = append(p.List, pr)
	}
}

var nameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_-]{0,62}$`)

// ValidName reports whether n may name a target, scenario or schedule: it
// becomes a metric label value, so letters, digits, _ and - only, starting
// with a letter or _, at most 63 characters.
func ValidName(n string) bool { return nameRE.MatchString(n) }
