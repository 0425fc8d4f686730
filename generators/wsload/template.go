package wsload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/loadd/loadd/config"
)

// TemplateData is what the auth, subscribe and message templates see.
type TemplateData struct {
	// Token is the bearer token from the target's auth ("" without auth).
	Token string
	// Session is the session's slot number, stable across reconnects.
	Session int
	// Seq numbers the session's messages from 1.
	Seq uint64
	// ID is the message's correlation ID (message template only).
	ID string
}

var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

// tmpl is a compiled message template. Templates made only of text and
// plain fields ({{ .ID }}, {{ .Seq }}…) also get a fast form, rendered by
// appending pieces without reflection: messages are rendered thousands of
// times a second.
type tmpl struct {
	t    *template.Template
	fast []piece // nil when the template needs text/template
}

// piece is text, or a field of TemplateData when field is set.
type piece struct {
	text  string
	field string
}

// compileTemplate parses src (nil when src is empty) and tries it once, so
// unknown fields fail at load. needID asks that the output depend on .ID.
func compileTemplate(path, src string, needID bool, p *config.Problems) *tmpl {
	if src == "" {
		return nil
	}
	t, err := template.New(path).Funcs(templateFuncs).Option("missingkey=error").Parse(src)
	if err != nil {
		p.Addf(path, "invalid template: %s", strings.TrimPrefix(err.Error(), "template: "))
		return nil
	}
	out := &tmpl{t: t, fast: fastPieces(t)}
	var a, b bytes.Buffer
	if err := out.render(&a, TemplateData{Token: "t", Session: 1, Seq: 1, ID: "101"}); err != nil {
		p.Addf(path, "template fails: %s", strings.TrimPrefix(err.Error(), "template: "))
		return nil
	}
	if needID {
		_ = out.render(&b, TemplateData{Token: "t", Session: 1, Seq: 1, ID: "202"})
		if bytes.Equal(a.Bytes(), b.Bytes()) {
			p.Addf(path, "must contain the correlation ID {{ .ID }} (correlation is set)")
		}
	}
	return out
}

// fastPieces returns the template as pieces, or nil when it uses anything
// but text and plain TemplateData fields.
func fastPieces(t *template.Template) []piece {
	if t.Tree == nil || t.Tree.Root == nil {
		return nil
	}
	var out []piece
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			out = append(out, piece{text: string(n.Text)})
		case *parse.ActionNode:
			if len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 || len(n.Pipe.Cmds[0].Args) != 1 {
				return nil
			}
			f, ok := n.Pipe.Cmds[0].Args[0].(*parse.FieldNode)
			if !ok || len(f.Ident) != 1 {
				return nil
			}
			switch f.Ident[0] {
			case "Token", "Session", "Seq", "ID":
				out = append(out, piece{field: f.Ident[0]})
			default:
				return nil
			}
		default:
			return nil
		}
	}
	return out
}

// render writes the template's output for d into buf (reset first).
func (t *tmpl) render(buf *bytes.Buffer, d TemplateData) error {
	buf.Reset()
	if t.fast != nil {
		var num [20]byte
		for _, p := range t.fast {
			switch p.field {
			case "":
				buf.WriteString(p.text)
			case "Token":
				buf.WriteString(d.Token)
			case "ID":
				buf.WriteString(d.ID)
			case "Session":
				buf.Write(strconv.AppendInt(num[:0], int64(d.Session), 10))
			case "Seq":
				buf.Write(strconv.AppendUint(num[:0], d.Seq, 10))
			}
		}
		return nil
	}
	if err := t.t.Execute(buf, d); err != nil {
		return fmt.Errorf("render %s: %w", t.t.Name(), err)
	}
	return nil
}
