// Package chart draws small bar charts as SVG on the server, so that pages
// show figures over time (key uses per hour, alerts per day) without
// JavaScript, which the Content-Security-Policy would refuse inline anyway.
//
// A Bar chart has categories along the x axis (hours, days) and one or more
// series; the series are stacked in one bar per category, or drawn side by
// side. A Line draws figures over time (a share per day) with a gap where a
// day has no figure; a Stack is one horizontal bar split into parts (a
// chapter's items by readiness). Each SVG carries an accessible name and
// description (<title> and <desc>, referenced by aria-labelledby) and every
// segment or point its own <title> (a tooltip); Table renders the same
// figures as an HTML table, for screen readers and for anyone who wants the
// numbers. Colours are presentation
// attributes, never style attributes, so the page's CSP (style-src 'self')
// allows them. Every text is escaped with encoding/xml.
//
// Written here because charting libraries for Go draw to images or need a
// browser runtime; a bar chart is a few rectangles.
package chart

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Palette gives series without a colour of their own one each, in order.
// The first colours are Okabe and Ito's, distinguishable with the common
// forms of colour blindness.
var Palette = []string{"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#6b4c9a", "#8c8c3c"}

// Series is one row of figures: a value per category.
type Series struct {
	Name   string    // shown in the legend and the table, in the page's language
	Color  string    // fill, such as "#b3261e"; empty takes the next colour of Palette
	Values []float64 // one per category; a missing, negative or NaN value counts as 0
}

// Bar is a bar chart.
type Bar struct {
	// ID is unique on the page; the <title> and <desc> get ID-title and
	// ID-desc.
	ID string
	// Title is the chart's accessible name; Desc says what it shows (the
	// totals, say), for those who do not see it.
	Title, Desc string
	// Categories label the bars along the x axis, in order.
	Categories []string
	Series     []Series
	// Stacked puts the series of a category on top of each other in one
	// bar; otherwise they stand side by side.
	Stacked bool
	// XLabel and YLabel name the axes.
	XLabel, YLabel string
	// LabelEvery labels every n-th category; 0 chooses so that labels do
	// not overlap.
	LabelEvery int
	// Empty is written across the plot when there is no value above 0.
	Empty string
	// Width and Height are the size of the drawing (its viewBox); 0 means
	// 720 × 260. The SVG scales to the width of its container.
	Width, Height int
}

// Margins of the plot inside the drawing, in drawing units.
const (
	marginLeft   = 52
	marginRight  = 12
	marginTop    = 34
	marginBottom = 48
	fontSize     = 12
	axisColor    = "#5b6675"
	gridColor    = "#d6dbe2"
	textColor    = "#1c2430"
)

// value is the i-th value of s, 0 when missing or not positive.
func (s Series) value(i int) float64 {
	if i >= len(s.Values) {
		return 0
	}
	v := s.Values[i]
	if math.IsNaN(v) || v < 0 || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func (b Bar) size() (w, h float64) {
	w, h = float64(b.Width), float64(b.Height)
	if w <= 0 {
		w = 720
	}
	if h <= 0 {
		h = 260
	}
	return w, h
}

// colors returns the fill of each series.
func (b Bar) colors() []string {
	out := make([]string, len(b.Series))
	next := 0
	for i, s := range b.Series {
		if s.Color != "" {
			out[i] = s.Color
			continue
		}
		out[i] = Palette[next%len(Palette)]
		next++
	}
	return out
}

// Max is the largest bar: the largest sum of a category when stacked,
// else the largest value.
func (b Bar) Max() float64 {
	m := 0.0
	for i := range b.Categories {
		sum := 0.0
		for _, s := range b.Series {
			v := s.value(i)
			if b.Stacked {
				sum += v
			} else {
				sum = math.Max(sum, v)
			}
		}
		m = math.Max(m, sum)
	}
	return m
}

// integral reports whether every value is a whole number (counts), so
// that the axis has no fractional ticks.
func (b Bar) integral() bool {
	for _, s := range b.Series {
		for i := range b.Categories {
			if v := s.value(i); v != math.Trunc(v) {
				return false
			}
		}
	}
	return true
}

// Scale returns the top of the y axis and the step between its ticks: a
// step of 1, 2 or 5 times a power of ten, about four ticks high.
func (b Bar) Scale() (top, step float64) {
	m := b.Max()
	if m <= 0 {
		return 1, 1
	}
	raw := m / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * mag
	for _, f := range []float64{1, 2, 5, 10} {
		if f*mag >= raw {
			step = f * mag
			break
		}
	}
	if b.integral() && step < 1 {
		step = 1
	}
	return step * math.Ceil(m/step), step
}

// esc escapes s for XML text and attribute values.
func esc(s string) string {
	if plain(s) {
		return s // nothing to escape: most labels and figures
	}
	var sb strings.Builder
	_ = xml.EscapeText(&sb, []byte(s))
	return sb.String()
}

// plain reports whether s holds only characters that XML text and
// attribute values take as they are (so esc need not copy it).
func plain(s string) bool {
	for _, r := range s {
		switch {
		case r == '<' || r == '>' || r == '&' || r == '\'' || r == '"':
			return false
		case r < 0x20 || r == utf8.RuneError || (r > 0xD7FF && r < 0xE000) || r > 0xFFFD && r < 0x10000:
			return false
		}
	}
	return true
}

// num formats a coordinate.
func num(f float64) string { return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64) }

// Format writes a value as the chart and the table show it, to at most
// six decimals (so that 3 × 0.1 shows as 0.3).
func Format(v float64) string { return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64) }

// SVG draws the chart.
func (b Bar) SVG() template.HTML {
	w, h := b.size()
	plotW, plotH := w-marginLeft-marginRight, h-marginTop-marginBottom
	x0, y0 := float64(marginLeft), float64(marginTop)+plotH // the origin, bottom left
	top, step := b.Scale()
	colors := b.colors()
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }

	p(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %s %s" width="100%%" role="img"`, num(w), num(h))
	p(` aria-labelledby="%s-title %s-desc" font-family="sans-serif" font-size="%d" fill="%s">`,
		esc(b.ID), esc(b.ID), fontSize, textColor)
	p(`<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(b.ID), esc(b.Title), esc(b.ID), esc(b.Desc))

	// Grid lines and tick labels of the y axis.
	p(`<g class="y-axis">`)
	for k := 0; k <= int(math.Round(top/step)); k++ {
		v := float64(k) * step
		y := y0 - v/top*plotH
		p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`, num(x0), num(y), num(x0+plotW), num(y), gridColor)
		p(`<text x="%s" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>`, num(x0-6), num(y), esc(Format(v)))
	}
	if b.YLabel != "" {
		p(`<text transform="translate(14 %s) rotate(-90)" text-anchor="middle">%s</text>`, num(y0-plotH/2), esc(b.YLabel))
	}
	p(`</g>`)

	// The bars: one group per category, one rectangle per segment above 0.
	n := len(b.Categories)
	slot := plotW / float64(max(n, 1))
	barW := slot * 0.7
	every := b.LabelEvery
	if every <= 0 {
		every = labelEvery(b.Categories, slot)
	}
	p(`<g class="bars">`)
	for i, cat := range b.Categories {
		left := x0 + float64(i)*slot + (slot-barW)/2
		p(`<g class="bar">`)
		stack := 0.0
		for j, s := range b.Series {
			v := s.value(i)
			if v <= 0 {
				continue
			}
			bh := v / top * plotH
			x, bw, y := left, barW, 0.0
			if b.Stacked {
				y = y0 - (stack+v)/top*plotH
				stack += v
			} else {
				bw = barW / float64(len(b.Series))
				x = left + float64(j)*bw
				y = y0 - bh
			}
			p(`<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>`,
				num(x), num(y), num(bw), num(bh), colors[j], esc(cat+" — "+s.Name+": "+Format(v)))
		}
		p(`</g>`)
	}
	p(`</g>`)

	// The x axis with its labels.
	p(`<g class="x-axis">`)
	p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`, num(x0), num(y0), num(x0+plotW), num(y0), axisColor)
	for i, cat := range b.Categories {
		if i%every != 0 {
			continue
		}
		p(`<text x="%s" y="%s" text-anchor="middle">%s</text>`, num(x0+(float64(i)+0.5)*slot), num(y0+16), esc(cat))
	}
	if b.XLabel != "" {
		p(`<text x="%s" y="%s" text-anchor="middle">%s</text>`, num(x0+plotW/2), num(h-6), esc(b.XLabel))
	}
	p(`</g>`)

	// The legend, right-aligned above the plot.
	p(`<g class="legend">`)
	right := x0 + plotW
	for j := len(b.Series) - 1; j >= 0; j-- {
		label := b.Series[j].Name
		tw := textWidth(label)
		right -= tw
		p(`<text x="%s" y="14" dominant-baseline="middle">%s</text>`, num(right), esc(label))
		right -= 16
		p(`<rect x="%s" y="8" width="12" height="12" fill="%s"/>`, num(right), colors[j])
		right -= 14
	}
	p(`</g>`)

	if b.Max() <= 0 && b.Empty != "" {
		p(`<text class="empty" x="%s" y="%s" text-anchor="middle" fill="%s">%s</text>`,
			num(x0+plotW/2), num(y0-plotH/2), axisColor, esc(b.Empty))
	}
	p(`</svg>`)
	// The builder escaped every text and attribute it wrote.
	return template.HTML(sb.String()) //nolint:gosec
}

// textWidth estimates the width of s in drawing units: a full-width
// character (Japanese) is about one font size wide, others about half.
func textWidth(s string) float64 {
	w := 0.0
	for _, r := range s {
		if r > 0x2e7f {
			w += fontSize
		} else {
			w += fontSize * 0.6
		}
	}
	return w
}

// labelEvery chooses how many categories one label stands for, so that
// the widest label fits.
func labelEvery(cats []string, slot float64) int {
	widest := 0.0
	for _, c := range cats {
		widest = math.Max(widest, textWidth(c))
	}
	if slot <= 0 {
		return 1
	}
	n := int(math.Ceil((widest + 8) / slot))
	return max(n, 1)
}

// Table renders the figures as an HTML table: a row per category, a
// column per series. The caption is the chart's title.
func (b Bar) Table() template.HTML {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	p(`<table class="chart-data" id="%s-table"><caption>%s</caption><thead><tr><th scope="col">%s</th>`,
		esc(b.ID), esc(b.Title), esc(b.XLabel))
	for _, s := range b.Series {
		p(`<th scope="col">%s</th>`, esc(s.Name))
	}
	p(`</tr></thead><tbody>`)
	for i, cat := range b.Categories {
		p(`<tr><th scope="row">%s</th>`, esc(cat))
		for _, s := range b.Series {
			p(`<td>%s</td>`, esc(Format(s.value(i))))
		}
		p(`</tr>`)
	}
	p(`</tbody></table>`)
	return template.HTML(sb.String()) //nolint:gosec
}
