package incident

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"strings"
)

// The contact diagram (連絡体制図), drawn on the server as SVG, in the
// house style of platform/chart (presentation attributes only, every text
// escaped, an accessible title): down the middle, the chain a report
// travels — whoever notices (any member of staff) → the point of contact
// and IT → the CSIRT's commander → the CISO and the security manager,
// who inform the director; on the left the vendors of the systems, on
// the right the authorities, below the rest of the CSIRT and the insurer.
// Each box names the people and their phone numbers: this is the page
// printed and pinned up for when every system is down. Hand-written
// because a diagram of boxes and arrows is a few rectangles and lines.

// DiagramBox is one box of the diagram: a heading and lines of text; a
// line marked Warn is drawn in red (a contact without a phone).
type DiagramBox struct {
	Heading string
	Lines   []DiagramLine
}

// DiagramLine is one line of a box.
type DiagramLine struct {
	Text string
	Bold bool
	Warn bool
}

// Diagram is what the diagram shows, already in the reader's language.
type Diagram struct {
	Title string
	// Chain are the boxes down the middle, from the discoverer up.
	Chain []DiagramBox
	// Arrows label the arrows between the chain's boxes (one fewer).
	Arrows []string
	Left   []DiagramBox // vendors
	Right  []DiagramBox // authorities
	Below  []DiagramBox // the rest of the CSIRT, the insurer, others
	// LeftLabel and RightLabel head the side columns.
	LeftLabel, RightLabel string
}

// The diagram's geometry, in SVG units (about 0.24 mm on A4 when printed
// 182 mm wide).
const (
	dgWidth     = 780
	dgColW      = 230
	dgMidX      = 275
	dgRightX    = 530
	dgLeftX     = 20
	dgLine      = 15
	dgHead      = 20
	dgPad       = 6
	dgGap       = 12
	dgChainGap  = 34
	dgFont      = 11
	dgTextColor = "#1c2430"
	dgEdge      = "#5b6675"
	dgHeadFill  = "#e8eef5"
	dgWarn      = "#b3261e"
)

func (b DiagramBox) height() int { return b.headHeight() + len(b.Lines)*dgLine + dgPad*2 }

// headHeight is the height of the box's heading: a long one (an
// authority's full name) takes two lines.
func (b DiagramBox) headHeight() int {
	if _, rest := dgSplit(b.Heading, dgColW-2*dgPad, 12); rest != "" {
		return dgHead + dgLine
	}
	return dgHead
}

// SVG draws the diagram.
func (d Diagram) SVG() template.HTML {
	var body strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&body, format, args...) }

	// The chain, down the middle, and its arrows.
	y := 34
	var chainY []int
	for i, b := range d.Chain {
		chainY = append(chainY, y)
		drawBox(p, b, dgMidX, y, dgColW, i == 0)
		y += b.height()
		if i < len(d.Chain)-1 {
			x := dgMidX + dgColW/2
			p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2" marker-end="url(#dg-arrow)"/>`, x, y+2, x, y+dgChainGap-4, dgEdge)
			if i < len(d.Arrows) && d.Arrows[i] != "" {
				p(`<text x="%d" y="%d" font-size="10">%s</text>`, x+8, y+dgChainGap/2+4, dgEsc(dgFit(d.Arrows[i], dgColW/2-10, 10)))
			}
			y += dgChainGap
		}
	}
	midEnd := y
	// Below the chain.
	y += dgGap * 2
	for _, b := range d.Below {
		drawBox(p, b, dgMidX, y, dgColW, false)
		y += b.height() + dgGap
	}
	bottom := y
	// The side columns.
	side := func(boxes []DiagramBox, x int, label string, link int) int {
		yy := 34
		p(`<text x="%d" y="%d" font-size="12" font-weight="bold">%s</text>`, x, 24, dgEsc(dgFit(label, dgColW, 12)))
		for _, b := range boxes {
			drawBox(p, b, x, yy, dgColW, false)
			yy += b.height() + dgGap
		}
		if len(boxes) > 0 && link >= 0 && link < len(chainY) {
			// A dashed line from the chain's box to the column.
			ly := chainY[link] + d.Chain[link].height()/2
			x1, x2 := dgMidX, x+dgColW
			if x > dgMidX {
				x1, x2 = dgMidX+dgColW, x
			}
			p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1.5" stroke-dasharray="5 3"/>`, x1, ly, x2, ly, dgEdge)
		}
		return yy
	}
	bottom = max(bottom, side(d.Left, dgLeftX, d.LeftLabel, 1), side(d.Right, dgRightX, d.RightLabel, min(2, len(d.Chain)-1)), midEnd)
	height := bottom + 10

	var out strings.Builder
	fmt.Fprintf(&out, `<svg xmlns="http://www.w3.org/2000/svg" class="contact-diagram" viewBox="0 0 %d %d" role="img" aria-labelledby="dg-title"`, dgWidth, height)
	fmt.Fprintf(&out, ` font-family="'Noto Sans CJK JP', 'Noto Sans JP', sans-serif" font-size="%d" fill="%s">`, dgFont, dgTextColor)
	fmt.Fprintf(&out, `<title id="dg-title">%s</title>`, dgEsc(d.Title))
	fmt.Fprintf(&out, `<defs><marker id="dg-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker></defs>`, dgEdge)
	out.WriteString(body.String())
	out.WriteString(`</svg>`)
	return template.HTML(out.String()) //nolint:gosec // every text is escaped by esc
}

// drawBox draws b at x, y, w wide; first is the discoverer's box, drawn
// stronger.
func drawBox(p func(string, ...any), b DiagramBox, x, y, w int, first bool) {
	h := b.height()
	stroke := "1.2"
	if first {
		stroke = "2.4"
	}
	p(`<rect x="%d" y="%d" width="%d" height="%d" rx="4" fill="#ffffff" stroke="%s" stroke-width="%s"/>`, x, y, w, h, dgEdge, stroke)
	hh := b.headHeight()
	p(`<rect x="%d" y="%d" width="%d" height="%d" rx="4" fill="%s"/>`, x+1, y+1, w-2, hh, dgHeadFill)
	head, rest := dgSplit(b.Heading, w-2*dgPad, 12)
	p(`<text x="%d" y="%d" font-size="12" font-weight="bold">%s</text>`, x+dgPad, y+15, dgEsc(head))
	if rest != "" {
		p(`<text x="%d" y="%d" font-size="12" font-weight="bold">%s</text>`, x+dgPad, y+15+dgLine, dgEsc(dgFit(rest, w-2*dgPad, 12)))
	}
	ly := y + hh + dgPad + 10
	for _, l := range b.Lines {
		attrs := ""
		if l.Bold {
			attrs += ` font-weight="bold"`
		}
		if l.Warn {
			attrs += ` fill="` + dgWarn + `"`
		}
		p(`<text x="%d" y="%d"%s>%s</text>`, x+dgPad, ly, attrs, dgEsc(dgFit(l.Text, w-2*dgPad, dgFont)))
		ly += dgLine
	}
}

// dgFit shortens s with an ellipsis to about width units at font size
// size: a wide (CJK) character is about one font size wide, others a
// little over half.
func dgFit(s string, width, size int) string {
	w := 0.0
	for i, r := range s {
		if r >= 0x1100 {
			w += float64(size)
		} else {
			w += float64(size) * 0.6
		}
		if w > float64(width) {
			return s[:i] + "…"
		}
	}
	return s
}

// dgSplit splits s where it grows wider than width at font size size:
// the part that fits and the rest ("" when all of it fits).
func dgSplit(s string, width, size int) (string, string) {
	w := 0.0
	for i, r := range s {
		if r >= 0x1100 {
			w += float64(size)
		} else {
			w += float64(size) * 0.6
		}
		if w > float64(width) {
			return s[:i], s[i:]
		}
	}
	return s, ""
}

// dgEsc escapes s for SVG text and attributes.
func dgEsc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
