package wsload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"

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

// tmpl is a compiled message template.
type tmpl struct {
	t *template.Template
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
	out := &tmpl{t: t}
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

// render writes the template's output for d into buf (reset first).
func (t *tmpl) render(buf *bytes.Buffer, d TemplateData) error {
	buf.Reset()
	if err := t.t.Execute(buf, d); err != nil {
		return fmt.Errorf("render %s: %w", t.t.Name(), err)
	}
	return nil
}
