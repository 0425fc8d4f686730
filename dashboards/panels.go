package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// datasource is the reference every panel and query uses: the dashboard's
// datasource variable.
var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// Label matchers for the dashboard variables. Recorded series (see
// alerts/loadd-recording.rules.yml) are aggregated per job and have no
// instance label.
const (
	byJob      = `job=~"$job"`
	byInstance = `job=~"$job",instance=~"$instance"`
	byScenario = `job=~"$job",instance=~"$instance",scenario=~"$scenario"`
	recorded   = `job=~"$job",scenario=~"$scenario"`
)

// query is one PromQL target of a panel.
type query struct {
	expr, legend string
	// objective marks an SLA objective series, drawn as a dashed red line.
	objective bool
	// instant asks for the latest value only (tables).
	instant bool
	// format is "heatmap" or "table" when not a time series.
	format prometheus.PromQueryFormat
}

// q is a time-series query.
func q(expr, legend string) query { return query{expr: expr, legend: legend} }

// objective is a query for an SLA objective series.
func objective(expr, legend string) query { return query{expr: expr, legend: legend, objective: true} }

// refID names the i-th query of a panel: A, B, C…
func refID(i int) string { return string(rune('A' + i)) }

func (qu query) build(i int) *prometheus.DataqueryBuilder {
	b := prometheus.NewDataqueryBuilder().Datasource(datasource).RefId(refID(i)).
		Expr(qu.expr).LegendFormat(qu.legend)
	if qu.instant {
		b = b.Instant()
	} else {
		b = b.Range()
	}
	if qu.format != "" {
		b = b.Format(qu.format)
	}
	return b
}

// objectiveStyle draws an objective series as a dashed red threshold line.
var objectiveStyle = []dashboard.DynamicConfigValue{
	{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
	{Id: "custom.lineWidth", Value: 2},
	{Id: "custom.fillOpacity", Value: 0},
	{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": "red"}},
}

// panelSize is the grid size of a panel: width (of 24) and height.
type panelSize struct{ w, h uint32 }

var (
	third = panelSize{8, 8}
	half  = panelSize{12, 8}
	full  = panelSize{24, 8}
)

// graph is a time-series panel.
func graph(title, desc, unit string, size panelSize, qs ...query) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().Title(title).Description(desc).Unit(unit).
		Datasource(datasource).Span(size.w).Height(size.h).
		Min(0).FillOpacity(10).LineWidth(1).ShowPoints(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).ShowLegend(true).Calcs([]string{"mean", "max", "lastNotNull"})).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
	for i, qu := range qs {
		p = p.WithTarget(qu.build(i))
		if qu.objective {
			p = p.OverrideByQuery(refID(i), objectiveStyle)
		}
	}
	return p
}

// thresholds returns absolute thresholds: base colour, then value→colour.
func thresholds(base string, steps ...any) *dashboard.ThresholdsConfigBuilder {
	s := []dashboard.Threshold{{Color: base}}
	for i := 0; i+1 < len(steps); i += 2 {
		v := steps[i].(float64)
		s = append(s, dashboard.Threshold{Value: &v, Color: steps[i+1].(string)})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(s)
}

// withLimit draws a fixed limit (an alert threshold) as a dashed line.
func withLimit(p *timeseries.PanelBuilder, limit float64) *timeseries.PanelBuilder {
	return p.Thresholds(thresholds("transparent", limit, "red")).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))
}

// single is a stat panel showing one figure per series.
func single(title, desc, unit string, size panelSize, th *dashboard.ThresholdsConfigBuilder, qs ...query) *stat.PanelBuilder {
	p := stat.NewPanelBuilder().Title(title).Description(desc).Unit(unit).
		Datasource(datasource).Span(size.w).Height(size.h).
		ColorMode(common.BigValueColorModeBackground).GraphMode(common.BigValueGraphModeArea).
		Orientation(common.VizOrientationAuto).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
	if th != nil {
		p = p.Thresholds(th)
	}
	for i, qu := range qs {
		p = p.WithTarget(qu.build(i))
	}
	return p
}

// passFail maps 1 to "passed" (green) and 0 to "failed" (red).
func passFail(ok, bad string) []dashboard.ValueMapping {
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
		Type: dashboard.MappingTypeValueToText,
		Options: map[string]dashboard.ValueMappingResult{
			"1": {Text: cog.ToPtr(ok), Color: cog.ToPtr("green"), Index: cog.ToPtr[int32](0)},
			"0": {Text: cog.ToPtr(bad), Color: cog.ToPtr("red"), Index: cog.ToPtr[int32](1)},
		},
	}}}
}

// states is a state-timeline panel.
func states(title, desc string, size panelSize, mappings []dashboard.ValueMapping, qs ...query) *statetimeline.PanelBuilder {
	p := statetimeline.NewPanelBuilder().Title(title).Description(desc).Unit("none").
		Datasource(datasource).Span(size.w).Height(size.h).
		ShowValue(common.VisibilityModeNever).MergeValues(true)
	if mappings != nil {
		p = p.Mappings(mappings)
	}
	for i, qu := range qs {
		p = p.WithTarget(qu.build(i))
	}
	return p
}

// tableOf is a table of the latest value of each series (instant queries).
func tableOf(title, desc, unit string, size panelSize, qs ...query) *table.PanelBuilder {
	p := table.NewPanelBuilder().Title(title).Description(desc).Unit(unit).
		Datasource(datasource).Span(size.w).Height(size.h).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]bool{"Time": true, "__name__": true},
		}})
	for i, qu := range qs {
		qu.instant, qu.format = true, prometheus.PromQueryFormatTable
		p = p.WithTarget(qu.build(i))
	}
	return p
}

// heat is a heatmap of a histogram's buckets, with exemplars: a click on a
// slow bucket's exemplar leads to the trace of that request.
func heat(title, desc, unit string, size panelSize, expr string) *heatmap.PanelBuilder {
	qu := query{expr: expr, legend: "{{le}}", format: prometheus.PromQueryFormatHeatmap}
	return heatmap.NewPanelBuilder().Title(title).Description(desc).Unit(unit).
		Datasource(datasource).Span(size.w).Height(size.h).
		Calculate(false).
		YAxis(heatmap.NewYAxisConfigBuilder().Unit(unit)).
		WithTarget(qu.build(0).Exemplar(true))
}

// scenarioVar is the scenario variable, its values from metric (a selector).
func scenarioVar(metricSelector string) *dashboard.QueryVariableBuilder {
	return queryVar("scenario", "Scenario",
		fmt.Sprintf("label_values(%s, scenario)", metricSelector),
		"Scenarios of loadd's config (multi-select).")
}

// queryVar is a multi-value Prometheus label_values variable with "All".
func queryVar(name, label, query, desc string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).Label(label).Description(desc).
		Datasource(datasource).
		Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).IncludeAll(true).AllValue(".*").
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
			Value: dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
		})
}
