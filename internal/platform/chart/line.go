package chart

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// Line is a line chart: one or more series over categories (days), for a
// figure that moves over time, such as the share of the guideline's items
// that are ready. Unlike a Bar, a missing value is not zero: a NaN (or a
// missing index) leaves a gap in the line, so a day without a figure does
// not read as a day at 0. Every point carries its own <title> (a tooltip);
// a point without neighbours still shows as a dot.
type Line struct {
	// ID is unique on the page; the <title> and <desc> get ID-title and
	// ID-desc.
	ID string
	// Title is the chart's accessible name; Desc says what it shows, for
	// those who do not see it.
	Title, Desc string
	// Categories label the points along the x axis, in order.
	Categories []string
	// Series are the lines; a NaN, infinite or missing value is a gap, a
	// negative one counts as 0.
	Series []Series
	// Top is the top of the y axis (100 for percentages); 0 chooses it
	// from the values.
	Top float64
	// Unit follows every figure in the tick labels, the tooltips and the
	// table, such as "%".
	Unit string
	// XLabel and YLabel name the axes.
	XLabel, YLabel string
	// LabelEvery labels every n-th category; 0 chooses so that labels do
	// not overlap.
	LabelEvery int
	// Empty is written across the plot when no series has a value.
	Empty string
	// Width and Height are the size of the drawing (its viewBox); 0 means
	// 720 × 260. The SVG scales to the width of its container.
	Width, Height int
}

// point returns the i-th value of s and whether there is one.
func point(s Series, i int) (float64, bool) {
	if i >= len(s.Values) {
		return 0, false
	}
	v := s.Values[i]
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return math.Max(v, 0), true
}

// HasData reports whether any series has a value.
func (l Line) HasData() bool {
	for _, s := range l.Series {
		for i := range l.Categories {
			if _, ok := point(s, i); ok {
				return true
			}
		}
	}
	return false
}

// Scale returns the top of the y axis and the step between its ticks:
// Top in four steps when it is set, else as a Bar of the same values.
func (l Line) Scale() (top, step float64) {
	if l.Top > 0 {
		return l.Top, l.Top / 4
	}
	return Bar{Categories: l.Categories, Series: l.Series}.Scale()
}

func (l Line) size() (w, h float64) {
	return Bar{Width: l.Width, Height: l.Height}.size()
}

// SVG draws the chart.
func (l Line) SVG() template.HTML {
	w, h := l.size()
	plotW, plotH := w-marginLeft-marginRight, h-marginTop-marginBottom
	x0, y0 := float64(marginLeft), float64(marginTop)+plotH
	top, step := l.Scale()
	colors := Bar{Series: l.Series}.colors()
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }

	p(`<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-line" viewBox="0 0 %s %s" width="100%%" role="img"`, num(w), num(h))
	p(` aria-labelledby="%s-title %s-desc" font-family="sans-serif" font-size="%d" fill="%s">`,
		esc(l.ID), esc(l.ID), fontSize, textColor)
	p(`<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(l.ID), esc(l.Title), esc(l.ID), esc(l.Desc))

	p(`<g class="y-axis">`)
	for k := 0; k <= int(math.Round(top/step)); k++ {
		v := float64(k) * step
		y := y0 - v/top*plotH
		p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`, num(x0), num(y), num(x0+plotW), num(y), gridColor)
		p(`<text x="%s" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>`, num(x0-6), num(y), esc(Format(v)+l.Unit))
	}
	if l.YLabel != "" {
		p(`<text transform="translate(14 %s) rotate(-90)" text-anchor="middle">%s</text>`, num(y0-plotH/2), esc(l.YLabel))
	}
	p(`</g>`)

	// Points sit in the middle of their category's slot, as a Bar's bars do.
	n := len(l.Categories)
	slot := plotW / float64(max(n, 1))
	xAt := func(i int) float64 { return x0 + (float64(i)+0.5)*slot }
	yAt := func(v float64) float64 { return y0 - math.Min(v, top)/top*plotH }
	p(`<g class="lines">`)
	for j, s := range l.Series {
		// One path of M/L commands; a gap starts a new sub-path.
		var d strings.Builder
		pen := false
		for i := range l.Categories {
			v, ok := point(s, i)
			if !ok {
				pen = false
				continue
			}
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			d.WriteString(cmd)
			d.WriteString(num(xAt(i)))
			d.WriteByte(' ')
			d.WriteString(num(yAt(v)))
			d.WriteByte(' ')
			pen = true
		}
		p(`<g class="series">`)
		if d.Len() > 0 {
			p(`<path d="%s" fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round"/>`, strings.TrimSpace(d.String()), colors[j])
		}
		name, unit := esc(s.Name), esc(l.Unit)
		for i, cat := range l.Categories {
			v, ok := point(s, i)
			if !ok {
				continue
			}
			// Written piece by piece: a 90-day chart has hundreds of points.
			sb.WriteString(`<circle cx="`)
			sb.WriteString(num(xAt(i)))
			sb.WriteString(`" cy="`)
			sb.WriteString(num(yAt(v)))
			sb.WriteString(`" r="2.5" fill="`)
			sb.WriteString(esc(colors[j]))
			sb.WriteString(`"><title>`)
			sb.WriteString(esc(cat))
			sb.WriteString(" — ")
			sb.WriteString(name)
			sb.WriteString(": ")
			sb.WriteString(Format(v))
			sb.WriteString(unit)
			sb.WriteString(`</title></circle>`)
		}
		p(`</g>`)
	}
	p(`</g>`)

	every := l.LabelEvery
	if every <= 0 {
		every = labelEvery(l.Categories, slot)
	}
	p(`<g class="x-axis">`)
	p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`, num(x0), num(y0), num(x0+plotW), num(y0), axisColor)
	for i, cat := range l.Categories {
		if i%every != 0 {
			continue
		}
		p(`<text x="%s" y="%s" text-anchor="middle">%s</text>`, num(xAt(i)), num(y0+16), esc(cat))
	}
	if l.XLabel != "" {
		p(`<text x="%s" y="%s" text-anchor="middle">%s</text>`, num(x0+plotW/2), num(h-6), esc(l.XLabel))
	}
	p(`</g>`)

	p(`<g class="legend">`)
	right := x0 + plotW
	for j := len(l.Series) - 1; j >= 0; j-- {
		label := l.Series[j].Name
		right -= textWidth(label)
		p(`<text x="%s" y="14" dominant-baseline="middle">%s</text>`, num(right), esc(label))
		right -= 18
		p(`<line x1="%s" y1="14" x2="%s" y2="14" stroke="%s" stroke-width="3"/>`, num(right), num(right+14), colors[j])
		right -= 14
	}
	p(`</g>`)

	if !l.HasData() && l.Empty != "" {
		p(`<text class="empty" x="%s" y="%s" text-anchor="middle" fill="%s">%s</text>`,
			num(x0+plotW/2), num(y0-plotH/2), axisColor, esc(l.Empty))
	}
	p(`</svg>`)
	// The builder escaped every text and attribute it wrote.
	return template.HTML(sb.String()) //nolint:gosec
}

// Table renders the figures as an HTML table: a row per category, a
// column per series; a gap shows as "—".
func (l Line) Table() template.HTML {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	p(`<table class="chart-data" id="%s-table"><caption>%s</caption><thead><tr><th scope="col">%s</th>`,
		esc(l.ID), esc(l.Title), esc(l.XLabel))
	for _, s := range l.Series {
		p(`<th scope="col">%s</th>`, esc(s.Name))
	}
	p(`</tr></thead><tbody>`)
	unit := esc(l.Unit)
	for i, cat := range l.Categories {
		sb.WriteString(`<tr><th scope="row">`)
		sb.WriteString(esc(cat))
		sb.WriteString(`</th>`)
		for _, s := range l.Series {
			if v, ok := point(s, i); ok {
				sb.WriteString(`<td>`)
				sb.WriteString(Format(v))
				sb.WriteString(unit)
				sb.WriteString(`</td>`)
			} else {
				sb.WriteString(`<td>—</td>`)
			}
		}
		sb.WriteString(`</tr>`)
	}
	p(`</tbody></table>`)
	return template.HTML(sb.String()) //nolint:gosec
}
