package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Tag marks every loadd dashboard; the dashboards link to each other by it.
const Tag = "loadd"

// Board is one generated dashboard and the file it is committed as.
type Board struct {
	// File is the JSON file's name in this directory, e.g. "overview.json".
	File      string
	Dashboard dashboard.Dashboard
}

// builders lists every dashboard: file name and constructor.
var builders = []struct {
	file  string
	build func() *dashboard.DashboardBuilder
}{
	{"overview.json", overview},
	{"http.json", httpTasks},
	{"websocket.json", websocket},
	{"transcription.json", transcription},
	{"runs.json", runs},
	{"health.json", health},
}

// All builds every dashboard.
func All() ([]Board, error) {
	out := make([]Board, 0, len(builders))
	for _, b := range builders {
		d, err := b.build().Build()
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", b.file, err)
		}
		numberPanels(&d)
		out = append(out, Board{File: b.file, Dashboard: d})
	}
	return out, nil
}

// Generate renders every dashboard as the JSON Grafana imports, by file name.
func Generate() (map[string][]byte, error) {
	boards, err := All()
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(boards))
	for _, b := range boards {
		j, err := json.MarshalIndent(b.Dashboard, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("marshal %s: %w", b.File, err)
		}
		out[b.File] = append(j, '\n')
	}
	return out, nil
}

// numberPanels gives every panel and row a unique id, top to bottom (the
// SDK leaves ids unset; Grafana needs them for links and repeats).
func numberPanels(d *dashboard.Dashboard) {
	id := uint32(0)
	for i := range d.Panels {
		id++
		switch p := d.Panels[i]; {
		case p.Panel != nil:
			p.Panel.Id = cog.ToPtr(id)
		case p.RowPanel != nil:
			p.RowPanel.Id = id
			for j := range p.RowPanel.Panels {
				id++
				p.RowPanel.Panels[j].Id = cog.ToPtr(id)
			}
		}
	}
}

// newBoard starts a dashboard with what every loadd dashboard has: tags,
// links to the others, time settings and the datasource, job and instance
// variables. extra variables (scenario, task…) follow those.
func newBoard(uid, title, desc string, extra ...cog.Builder[dashboard.VariableModel]) *dashboard.DashboardBuilder {
	b := dashboard.NewDashboardBuilder(title).Uid(uid).Description(desc).
		Tags([]string{Tag}).Editable().
		Time("now-3h", "now").Refresh("30s").Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Link(dashboard.NewDashboardLinkBuilder("loadd").Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{Tag}).AsDropdown(true).IncludeVars(true).KeepTime(true)).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").
			Description("The Prometheus that scrapes loadd (and evaluates alerts/ rules).").Type("prometheus")).
		WithVariable(queryVar("job", "Job", "label_values(loadd_build_info, job)",
			"Prometheus scrape jobs of loadd; SLA panels aggregate all instances of a job.")).
		WithVariable(queryVar("instance", "Instance", `label_values(loadd_build_info{job=~"$job"}, instance)`,
			"loadd instances (shards). Panels on recorded series (SLA figures) always cover the whole job."))
	for _, v := range extra {
		b = b.WithVariable(v)
	}
	return b
}

var variable = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)`)

// Expand replaces Grafana's variables in a panel or variable query so
// that Prometheus can run it: $__rate_interval and $__interval by interval,
// $__range by rangeDur, and every other $name or ${name} by vars[name]
// (".*" when absent, which is what "All" selects).
func Expand(expr, interval, rangeDur string, vars map[string]string) string {
	return variable.ReplaceAllStringFunc(expr, func(m string) string {
		name := strings.Trim(strings.SplitN(strings.TrimPrefix(m, "$"), ":", 2)[0], "{}")
		switch name {
		case "__rate_interval", "__interval":
			return interval
		case "__range":
			return rangeDur
		}
		if v, ok := vars[name]; ok {
			return v
		}
		return ".*"
	})
}

// Query is one PromQL expression of a dashboard.
type Query struct {
	// Board and Panel say where it is; Panel is the variable's name for a
	// variable query.
	Board, Panel string
	// Expr is the expression as committed, with Grafana variables.
	Expr string
}

// labelValues matches a variable query label_values(selector, label).
var labelValues = regexp.MustCompile(`^label_values\((.*),\s*\w+\)$`)

// Queries lists every PromQL expression of every dashboard: panel targets,
// and the selectors of label_values() variable queries.
func Queries() ([]Query, error) {
	boards, err := All()
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, b := range boards {
		for _, v := range b.Dashboard.Templating.List {
			if v.Type != dashboard.VariableTypeQuery || v.Query == nil || v.Query.String == nil {
				continue
			}
			expr := *v.Query.String
			if m := labelValues.FindStringSubmatch(expr); m != nil {
				expr = m[1]
			}
			out = append(out, Query{Board: b.File, Panel: "$" + v.Name, Expr: expr})
		}
		for _, p := range panels(b.Dashboard) {
			for _, t := range p.Targets {
				raw, err := json.Marshal(t)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", b.File, title(p), err)
				}
				var target struct{ Expr string }
				if err := json.Unmarshal(raw, &target); err != nil {
					return nil, fmt.Errorf("%s: %s: %w", b.File, title(p), err)
				}
				out = append(out, Query{Board: b.File, Panel: title(p), Expr: target.Expr})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Board < out[j].Board })
	return out, nil
}

// panels lists every panel of d, those inside collapsed rows too.
func panels(d dashboard.Dashboard) []dashboard.Panel {
	var out []dashboard.Panel
	for _, p := range d.Panels {
		if p.Panel != nil {
			out = append(out, *p.Panel)
		}
		if p.RowPanel != nil {
			out = append(out, p.RowPanel.Panels...)
		}
	}
	return out
}

func title(p dashboard.Panel) string {
	if p.Title == nil {
		return "(untitled)"
	}
	return *p.Title
}
