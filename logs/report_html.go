package logs

import (
	_ "embed"
	"html/template"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

//go:embed templates/report.html.tmpl
var reportHTMLSource string

// reportHTML is the page of WriteHTML: one file with its CSS and its chart
// inline and no script, so that it can be mailed and opened anywhere.
var reportHTML = template.Must(template.New("report").Funcs(template.FuncMap{
	"join":     strings.Join,
	"percent":  reportPercent,
	"date":     reportDate,
	"dateTime": reportDateTime,
}).Parse(reportHTMLSource))

// WriteHTML writes the report as a self-contained HTML page with a bar
// chart of the decisions allowed and blocked per group.
func (r *Report) WriteHTML(w io.Writer) error {
	return reportHTML.Execute(w, struct {
		R      *Report
		Chart  chart
		Window int
	}{r, newChart(r.Groups), expiryWindow})
}

// Chart geometry, in pixels.
const (
	chartMaxBars   = 25
	chartLabelW    = 180
	chartPlotW     = 480
	chartCountsW   = 120
	chartBarH      = 16
	chartRowH      = 22
	chartLabelRune = 26
)

// chart is the inline SVG bar chart: one stacked bar (allowed, then
// blocked) per group, the largest groups first.
type chart struct {
	Width, Height, LabelWidth, BarHeight int
	Bars                                 []bar
	More                                 bool // groups were left out
}

type bar struct {
	Label, Short       string // the group, and it cut to fit
	Allowed, Blocked   int
	Y, TextY           int
	AllowedW, BlockedW float64
	BlockedX, EndX     float64
}

func newChart(groups []Group) chart {
	c := chart{LabelWidth: chartLabelW, BarHeight: chartBarH, Width: chartLabelW + chartPlotW + chartCountsW}
	n := min(len(groups), chartMaxBars)
	c.More = n < len(groups)
	c.Height = n*chartRowH + 4
	peak := 1
	for _, g := range groups[:n] {
		peak = max(peak, g.Total())
	}
	scale := float64(chartPlotW) / float64(peak)
	for i, g := range groups[:n] {
		b := bar{Label: g.Key, Short: chartLabel(g.Key), Allowed: g.Allowed, Blocked: g.Blocked}
		if b.Label == "" {
			b.Label, b.Short = "-", "-"
		}
		b.Y = i*chartRowH + 2
		b.TextY = b.Y + chartBarH - 3
		b.AllowedW = roundTenth(float64(g.Allowed) * scale)
		b.BlockedW = roundTenth(float64(g.Blocked) * scale)
		b.BlockedX = chartLabelW + b.AllowedW
		b.EndX = b.BlockedX + b.BlockedW
		c.Bars = append(c.Bars, b)
	}
	return c
}

func roundTenth(x float64) float64 { return math.Round(x*10) / 10 }

// chartLabel shortens a label to fit the chart.
func chartLabel(s string) string {
	if utf8.RuneCountInString(s) <= chartLabelRune {
		return s
	}
	return string([]rune(s)[:chartLabelRune-1]) + "…"
}
