package httpload

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// errEmptyPool is returned by pick when nothing has been captured yet.
var errEmptyPool = errors.New("capture pool is empty")

// funcs are the functions templates may call. They are pure or draw from
// the runtime's per-thread random source, so templates run concurrently.
var funcs = template.FuncMap{
	"pick":    pick,
	"randInt": randInt,
	"uuid":    uuid,
	"now":     time.Now,
}

func pick(p *pool) (string, error) {
	if p == nil {
		return "", errEmptyPool
	}
	v, ok := p.pick()
	if !ok {
		return "", fmt.Errorf("pool %s: %w", p.name, errEmptyPool)
	}
	return v, nil
}

func randInt(lo, hi int) (int, error) {
	if hi < lo {
		return 0, fmt.Errorf("randInt %d %d: upper bound below lower bound", lo, hi)
	}
	return lo + int(rand.Uint64N(uint64(hi-lo)+1)), nil
}

const hexDigits = "0123456789abcdef"

// uuid returns a random (version 4) UUID.
func uuid() string {
	var b [36]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	hi = hi&^(0xf<<12) | 4<<12   // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // variant 10
	j := 0
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b[j] = '-'
			j++
		}
		var nib uint64
		if i < 16 {
			nib = hi >> (60 - 4*i) & 0xf
		} else {
			nib = lo >> (60 - 4*(i-16)) & 0xf
		}
		b[j] = hexDigits[nib]
		j++
	}
	return string(b[:])
}

// scope is what templates may refer to: feeders and capture pools by name.
type scope struct {
	feeders map[string]*feeder
	pools   map[string]bool
}

// text is a compiled string: static bytes, or a template with the feeders
// and pools it uses.
type text struct {
	src     string
	static  []byte
	t       *template.Template
	feeders []string
	pools   []string
}

// isStatic reports whether the text needs no rendering.
func (x *text) isStatic() bool { return x.t == nil }

var tmplPrefix = regexp.MustCompile(`^template: t:(\d+):(\d+:)? ?`)

// compileText parses src as a template and checks every name it uses
// against sc. Strings without "{{" are static.
func compileText(src string, sc *scope) (*text, error) {
	x := &text{src: src}
	if !strings.Contains(src, "{{") {
		x.static = []byte(src)
		return x, nil
	}
	t, err := template.New("t").Funcs(funcs).Option("missingkey=error").Parse(src)
	if err != nil {
		msg := tmplPrefix.ReplaceAllString(err.Error(), "")
		return nil, fmt.Errorf("invalid template: %s", msg)
	}
	x.t = t
	c := &checker{sc: sc, x: x}
	c.list(t.Root)
	if c.err != nil {
		return nil, c.err
	}
	slices.Sort(x.feeders)
	x.feeders = slices.Compact(x.feeders)
	slices.Sort(x.pools)
	x.pools = slices.Compact(x.pools)
	return x, nil
}

// checker walks a template's parse tree and resolves every field.
type checker struct {
	sc  *scope
	x   *text
	err error
	// depth counts enclosing with blocks, where dot is not the data.
	depth int
}

func (c *checker) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

func (c *checker) list(l *parse.ListNode) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		c.node(n)
	}
}

func (c *checker) node(n parse.Node) {
	switch n := n.(type) {
	case *parse.ActionNode:
		c.pipe(n.Pipe)
	case *parse.IfNode:
		c.pipe(n.Pipe)
		c.list(n.List)
		c.list(n.ElseList)
	case *parse.RangeNode:
		c.fail("invalid template: range is not supported in request templates")
	case *parse.WithNode:
		c.pipe(n.Pipe)
		c.depth++
		c.list(n.List)
		c.depth--
		c.list(n.ElseList)
	case *parse.TemplateNode:
		c.fail("invalid template: {{template}} is not supported")
	}
}

func (c *checker) pipe(p *parse.PipeNode) {
	if p == nil {
		return
	}
	for i, cmd := range p.Cmds {
		if len(cmd.Args) > 0 {
			if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok && id.Ident == "pick" {
				c.pick(cmd, i > 0)
				continue
			}
		}
		// A pool piped into pick ({{ .ids | pick }}) is a pick argument.
		if i+1 < len(p.Cmds) && isPick(p.Cmds[i+1]) && len(cmd.Args) == 1 {
			if f, ok := cmd.Args[0].(*parse.FieldNode); ok && len(f.Ident) == 1 && c.sc.pools[f.Ident[0]] && c.depth == 0 {
				c.x.pools = append(c.x.pools, f.Ident[0])
				continue
			}
		}
		for _, a := range cmd.Args {
			c.arg(a)
		}
	}
}

func isPick(cmd *parse.CommandNode) bool {
	id, ok := cmd.Args[0].(*parse.IdentifierNode)
	return ok && id.Ident == "pick" && len(cmd.Args) == 1
}

func (c *checker) pick(cmd *parse.CommandNode, piped bool) {
	if piped && len(cmd.Args) == 1 {
		return // the pool was checked as the previous command
	}
	if len(cmd.Args) != 2 {
		c.fail("pick takes one capture pool, e.g. {{ pick .encounter_ids }}")
		return
	}
	f, ok := cmd.Args[1].(*parse.FieldNode)
	if !ok || len(f.Ident) != 1 || c.depth > 0 {
		c.fail("pick takes one capture pool, e.g. {{ pick .encounter_ids }}")
		return
	}
	name := f.Ident[0]
	if !c.sc.pools[name] {
		if _, isFeeder := c.sc.feeders[name]; isFeeder {
			c.fail("pick .%s: %s is a feeder, not a capture pool; use {{ .%s }}", name, name, name)
		} else {
			c.fail("pick .%s: no task captures into %q", name, name)
		}
		return
	}
	c.x.pools = append(c.x.pools, name)
}

func (c *checker) arg(a parse.Node) {
	switch a := a.(type) {
	case *parse.FieldNode:
		if c.depth == 0 {
			c.field(a.Ident)
		}
	case *parse.VariableNode:
		if len(a.Ident) > 1 && a.Ident[0] == "$" {
			c.field(a.Ident[1:])
		}
	case *parse.ChainNode:
		c.arg(a.Node)
	case *parse.PipeNode:
		c.pipe(a)
	}
}

// field resolves .name or .name.column.
func (c *checker) field(ident []string) {
	name := ident[0]
	if c.sc.pools[name] {
		c.fail(".%s is a capture pool: use {{ pick .%s }}", name, name)
		return
	}
	f, ok := c.sc.feeders[name]
	if !ok {
		c.fail(".%s: no feeder has this name and no task captures into it", name)
		return
	}
	c.x.feeders = append(c.x.feeders, name)
	if len(ident) == 1 {
		return
	}
	if f.columns == nil {
		c.fail(".%s.%s: feeder %s has no fields", name, ident[1], name)
		return
	}
	if len(ident) > 2 || !slices.Contains(f.columns, ident[1]) {
		c.fail(".%s: feeder %s has no column %q (columns: %s)", strings.Join(ident, "."), name, ident[1], strings.Join(f.columns, ", "))
	}
}

// render appends the text, executed with data, to dst.
func (x *text) render(dst []byte, data map[string]any) ([]byte, error) {
	if x.t == nil {
		return append(dst, x.static...), nil
	}
	w := appendWriter{b: dst}
	err := x.t.Execute(&w, data)
	return w.b, err
}

// maxRender bounds what one template may write, so a template such as
// {{ printf "%0999999999d" 1 }} fails its request instead of the daemon.
const maxRender = 1 << 20

var errTooLong = errors.New("template output over 1 MiB")

// appendWriter is an io.Writer appending to a reused byte slice.
type appendWriter struct {
	b []byte
	n int
}

func (w *appendWriter) Write(p []byte) (int, error) {
	if w.n += len(p); w.n > maxRender {
		return 0, errTooLong
	}
	w.b = append(w.b, p...)
	return len(p), nil
}
