package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/promql/parser"
)

func TestCommittedJSONIsGenerated(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	committed, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range committed {
		if _, ok := files[f]; !ok {
			t.Errorf("%s is committed but not generated: delete it or add its builder", f)
		}
	}
	for name, want := range files {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%v: run go generate ./dashboards", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the code generates: run go generate ./dashboards and commit the result", name)
		}
	}
}

// TestCommittedJSONRoundTrips reads each committed file back with the SDK's
// types (json.Unmarshal: UnmarshalJSONStrict is broken in v0.0.22), validates
// it and requires every key of the file to survive a re-marshal, so Grafana
// gets nothing the SDK does not model.
func TestCommittedJSONRoundTrips(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard.Dashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := d.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		again, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var before, after any
		if err := json.Unmarshal(raw, &before); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(again, &after); err != nil {
			t.Fatal(err)
		}
		if missing := missingKeys("", before, after); len(missing) > 0 {
			t.Errorf("%s: keys lost in a round trip: %v", name, missing)
		}
		if len(d.Panels) == 0 {
			t.Errorf("%s: no panels after unmarshalling", name)
		}
	}
}

// missingKeys lists the key paths of a that b lacks.
func missingKeys(path string, a, b any) []string {
	var out []string
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return []string{path}
		}
		for k, v := range av {
			w, ok := bv[k]
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, missingKeys(path+"."+k, v, w)...)
		}
	case []any:
		bv, ok := b.([]any)
		if !ok || len(bv) != len(av) {
			return []string{path + "[]"}
		}
		for i := range av {
			out = append(out, missingKeys(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i])...)
		}
	}
	return out
}

func TestDashboardConventions(t *testing.T) {
	boards, err := All()
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]bool{}
	for _, b := range boards {
		d := b.Dashboard
		if d.Uid == nil || uids[*d.Uid] {
			t.Errorf("%s: missing or duplicate uid", b.File)
		} else {
			uids[*d.Uid] = true
		}
		if !slices.Contains(d.Tags, Tag) {
			t.Errorf("%s: not tagged %q", b.File, Tag)
		}
		var vars []string
		for _, v := range d.Templating.List {
			vars = append(vars, v.Name)
		}
		for _, want := range []string{"datasource", "job", "instance", "scenario"} {
			if !slices.Contains(vars, want) {
				t.Errorf("%s: no %s variable (has %v)", b.File, want, vars)
			}
		}
		checkPanels(t, b.File, d)
	}
}

func checkPanels(t *testing.T, file string, d dashboard.Dashboard) {
	t.Helper()
	ids := map[uint32]bool{}
	for _, p := range panels(d) {
		name := file + ": " + title(p)
		if p.Id == nil || ids[*p.Id] {
			t.Errorf("%s: missing or duplicate id", name)
		} else {
			ids[*p.Id] = true
		}
		if p.Description == nil || len(*p.Description) < 20 {
			t.Errorf("%s: no description", name)
		}
		if p.FieldConfig == nil || p.FieldConfig.Defaults.Unit == nil || *p.FieldConfig.Defaults.Unit == "" {
			t.Errorf("%s: no unit", name)
		}
		if p.GridPos == nil || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H == 0 {
			t.Errorf("%s: bad grid position %+v", name, p.GridPos)
		}
		if p.Datasource == nil || p.Datasource.Uid == nil || *p.Datasource.Uid != "${datasource}" {
			t.Errorf("%s: datasource is not the ${datasource} variable", name)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no queries", name)
		}
		checkTargets(t, name, p)
	}
}

// target is the part of a Prometheus query the checks read.
type target struct {
	Expr         string
	LegendFormat string
	RefID        string `json:"refId"`
	Datasource   struct{ UID string }
}

func checkTargets(t *testing.T, name string, p dashboard.Panel) {
	t.Helper()
	refs := map[string]bool{}
	for _, raw := range p.Targets {
		var tg target
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &tg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tg.Expr == "" || tg.LegendFormat == "" || tg.RefID == "" || refs[tg.RefID] {
			t.Errorf("%s: query %q needs an expression, a legend and a unique refId", name, tg.RefID)
		}
		refs[tg.RefID] = true
		if tg.Datasource.UID != "${datasource}" {
			t.Errorf("%s: query %s: datasource is not ${datasource}", name, tg.RefID)
		}
		if strings.Contains(tg.Expr, "loadd_sla_") && !objectiveStyled(p, tg.RefID) && p.Type == "timeseries" {
			t.Errorf("%s: query %s draws an SLA objective without the objective line style", name, tg.RefID)
		}
	}
}

// objectiveStyled reports whether query ref of p is drawn as a dashed line.
func objectiveStyled(p dashboard.Panel, ref string) bool {
	if p.FieldConfig == nil {
		return false
	}
	for _, o := range p.FieldConfig.Overrides {
		if o.Matcher.Id != "byFrameRefID" || optionString(o.Matcher.Options) != ref {
			continue
		}
		for _, prop := range o.Properties {
			if prop.Id == "custom.lineStyle" {
				return true
			}
		}
	}
	return false
}

// optionString reads a matcher option: a string, or a *string before marshalling.
func optionString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case *string:
		return *s
	}
	return ""
}

// TestSLAObjectiveDrawn checks the overview draws the latency objective of
// each scenario from its series, styled as a threshold line.
func TestSLAObjectiveDrawn(t *testing.T) {
	boards, err := All()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range panels(boards[0].Dashboard) {
		if title(p) != "Latency vs SLA" {
			continue
		}
		for _, raw := range p.Targets {
			var tg target
			b, _ := json.Marshal(raw)
			_ = json.Unmarshal(b, &tg)
			if strings.Contains(tg.Expr, "loadd_sla_latency_objective_seconds") && objectiveStyled(p, tg.RefID) {
				found = true
			}
		}
	}
	if boards[0].File != "overview.json" || !found {
		t.Error("overview.json: the latency panel does not draw loadd_sla_latency_objective_seconds as a dashed line")
	}
}

func TestEveryQueryParses(t *testing.T) {
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 50 {
		t.Errorf("only %d queries found", len(qs))
	}
	p := parser.NewParser(parser.Options{})
	for _, qu := range qs {
		expr := Expand(qu.Expr, "1m", "1h", nil)
		if strings.Contains(expr, "$") {
			t.Errorf("%s: %s: variable left after expansion: %s", qu.Board, qu.Panel, expr)
		}
		if _, err := p.ParseExpr(expr); err != nil {
			t.Errorf("%s: %s: %v\n%s", qu.Board, qu.Panel, err, expr)
		}
	}
}

func TestExpand(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`rate(x{job=~"$job"}[$__rate_interval])`, `rate(x{job=~"loadd"}[30s])`},
		{`increase(x{scenario=~"${scenario}"}[$__range])`, `increase(x{scenario=~".*"}[2h])`},
		{`x{a=~"${job:regex}",b=~"$instance"}[$__interval]`, `x{a=~"loadd",b=~".*"}[30s]`},
		{`up`, `up`},
	} {
		if got := Expand(tc.in, "30s", "2h", map[string]string{"job": "loadd"}); got != tc.want {
			t.Errorf("Expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestQueriesListEveryBoard(t *testing.T) {
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, qu := range qs {
		per[qu.Board]++
	}
	var names []string
	for _, b := range builders {
		names = append(names, b.file)
		if per[b.file] < 5 {
			t.Errorf("%s: only %d queries", b.file, per[b.file])
		}
	}
	sort.Strings(names)
	if len(per) != len(names) {
		t.Errorf("queries from %v, want %v", per, names)
	}
}
