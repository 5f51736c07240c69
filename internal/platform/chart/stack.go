package chart

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// Stack is one horizontal bar split into parts, in order from the left:
// the items of a chapter by readiness, say. Each part's width is its share
// of the sum; a part of 0 draws nothing. The bar has no text of its own —
// the page writes the figures beside it — but it carries an accessible
// name and description, and every part a <title> (a tooltip). Widths are
// attributes of the drawing, so a page needs no style attribute to size
// them.
type Stack struct {
	// ID is unique on the page; the <title> and <desc> get ID-title and
	// ID-desc.
	ID string
	// Title is the bar's accessible name; Desc gives its figures in words.
	Title, Desc string
	Parts       []Part
	// Width and Height are the size of the drawing (its viewBox); 0 means
	// 400 × 16. The SVG scales to the width of its container.
	Width, Height int
}

// Part is one piece of a Stack.
type Part struct {
	Name  string  // in the page's language, for the tooltip
	Color string  // fill; empty takes the next colour of Palette
	Value float64 // a negative or NaN value counts as 0
}

// emptyColor fills a Stack whose parts sum to 0.
const emptyColor = "#e4e8ee"

func (p Part) value() float64 {
	if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) || p.Value < 0 {
		return 0
	}
	return p.Value
}

// Total is the sum of the parts.
func (s Stack) Total() float64 {
	t := 0.0
	for _, p := range s.Parts {
		t += p.value()
	}
	return t
}

// SVG draws the bar.
func (s Stack) SVG() template.HTML {
	w, h := float64(s.Width), float64(s.Height)
	if w <= 0 {
		w = 400
	}
	if h <= 0 {
		h = 16
	}
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-stack" viewBox="0 0 %s %s" width="100%%"`, num(w), num(h))
	p(` preserveAspectRatio="none" role="img" aria-labelledby="%s-title %s-desc">`, esc(s.ID), esc(s.ID))
	p(`<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(s.ID), esc(s.Title), esc(s.ID), esc(s.Desc))
	p(`<rect x="0" y="0" width="%s" height="%s" fill="%s"/>`, num(w), num(h), emptyColor)
	total := s.Total()
	if total > 0 {
		names := make([]Series, len(s.Parts))
		for i, part := range s.Parts {
			names[i] = Series{Name: part.Name, Color: part.Color}
		}
		colors := Bar{Series: names}.colors()
		x := 0.0
		for i, part := range s.Parts {
			v := part.value()
			if v <= 0 {
				continue
			}
			pw := v / total * w
			p(`<rect x="%s" y="0" width="%s" height="%s" fill="%s"><title>%s</title></rect>`,
				num(x), num(pw), num(h), colors[i], esc(part.Name+": "+Format(v)))
			x += pw
		}
	}
	p(`</svg>`)
	// The builder escaped every text and attribute it wrote.
	return template.HTML(sb.String()) //nolint:gosec
}
