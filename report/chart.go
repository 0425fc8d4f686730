package report

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/loadd/loadd/sla"
)

// Chart size on the page.
const (
	chartWidth  = 9 * vg.Inch
	chartHeight = 3 * vg.Inch
)

var (
	colBlue   = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	colOrange = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	colGreen  = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	colRed    = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	colPurple = color.RGBA{R: 148, G: 103, B: 189, A: 255}
	colGrey   = color.RGBA{R: 120, G: 120, B: 120, A: 255}
)

// series is one line of a chart.
type series struct {
	name   string
	col    color.Color
	dashed bool
	xy     plotter.XYs
}

// lineChart draws lines over time as an inline SVG element.
func lineChart(title, yLabel string, lines []series) (template.HTML, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "time since start (s)"
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Add(plotter.NewGrid())
	// Head room above the data for the legend; a little room on the right
	// so the last tick label is not cut off.
	var xMax, yMax float64
	for _, s := range lines {
		for _, pt := range s.xy {
			xMax, yMax = max(xMax, pt.X), max(yMax, pt.Y)
		}
	}
	p.X.Min, p.X.Max = 0, max(xMax*1.03, 1)
	p.Y.Min, p.Y.Max = 0, max(yMax*(1+0.1*float64(len(lines)+1)), 1)
	for _, s := range lines {
		if len(s.xy) == 0 {
			continue
		}
		l, err := plotter.NewLine(s.xy)
		if err != nil {
			return "", fmt.Errorf("chart %q: %w", title, err)
		}
		l.Color = s.col
		l.Width = vg.Points(1.5)
		if s.dashed {
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
		}
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	wt, err := p.WriterTo(chartWidth, chartHeight, "svg")
	if err != nil {
		return "", fmt.Errorf("chart %q: %w", title, err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("chart %q: %w", title, err)
	}
	return inlineSVG(buf.String()), nil
}

// inlineSVG drops the XML prologue (not allowed inside HTML) and lets the
// chart scale with the page.
func inlineSVG(s string) template.HTML {
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	s = strings.Replace(s, "<svg ", `<svg role="img" class="chart" `, 1)
	return template.HTML(s) // produced by gonum/plot from our own numbers
}

// scenarioCharts draws the rate, latency and error charts of a scenario.
// Latency objectives of the scenario's SLAs are drawn as dashed lines.
func scenarioCharts(sc *sla.ScenarioStats, slas sla.List) ([]template.HTML, error) {
	if len(sc.Series) < 2 {
		return nil, nil
	}
	var achieved, target, p50, p95, p99, errs plotter.XYs
	anyTarget := false
	for _, p := range sc.Series {
		achieved = append(achieved, plotter.XY{X: p.T, Y: p.Rate})
		target = append(target, plotter.XY{X: p.T, Y: p.TargetRate})
		anyTarget = anyTarget || p.TargetRate > 0
		errs = append(errs, plotter.XY{X: p.T, Y: p.ErrorRate})
		if p.Requests > 0 {
			p50 = append(p50, plotter.XY{X: p.T, Y: p.P50 * 1000})
			p95 = append(p95, plotter.XY{X: p.T, Y: p.P95 * 1000})
			p99 = append(p99, plotter.XY{X: p.T, Y: p.P99 * 1000})
		}
	}
	rate := []series{{name: "achieved", col: colBlue, xy: achieved}}
	if anyTarget {
		rate = append(rate, series{name: "target", col: colGrey, dashed: true, xy: target})
	}
	lat := []series{{name: "p50", col: colGreen, xy: p50}, {name: "p95", col: colOrange, xy: p95}, {name: "p99", col: colRed, xy: p99}}
	first, last := sc.Series[0].T, sc.Series[len(sc.Series)-1].T
	for _, c := range slas {
		if c.Scenario != sc.Name {
			continue
		}
		for _, o := range c.Objectives() {
			if o.Figure == sla.FigureLatency {
				lat = append(lat, series{
					name: fmt.Sprintf("SLA %s %s %s", c.Task, o.Quantile, sla.FormatSeconds(o.Max)),
					col:  colPurple, dashed: true,
					xy: plotter.XYs{{X: first, Y: o.Max * 1000}, {X: last, Y: o.Max * 1000}},
				})
			}
		}
	}
	out := make([]template.HTML, 0, 3)
	for _, c := range []struct {
		title, unit string
		lines       []series
	}{
		{"Request rate: " + sc.Name, "requests/s", rate},
		{"Latency percentiles: " + sc.Name, "ms", lat},
		{"Errors: " + sc.Name, "failures/s", []series{{name: "failures", col: colRed, xy: errs}}},
	} {
		svg, err := lineChart(c.title, c.unit, c.lines)
		if err != nil {
			return nil, err
		}
		out = append(out, svg)
	}
	return out, nil
}
