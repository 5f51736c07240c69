package chart_test

import (
	"encoding/xml"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/chart"
)

// node is an XML element with its children, for looking into the SVG.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []node     `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n node) num(t *testing.T, name string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(n.attr(name), 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.XMLName.Local, name, n.attr(name), err)
	}
	return f
}

// find returns every element below n with the given name (and class, when
// not empty), depth first.
func (n node) find(name, class string) []node {
	var out []node
	for _, c := range n.Nodes {
		if c.XMLName.Local == name && (class == "" || c.attr("class") == class) {
			out = append(out, c)
		}
		out = append(out, c.find(name, class)...)
	}
	return out
}

// parse decodes s strictly as XML and fails the test when it is not.
func parse(t *testing.T, s string) node {
	t.Helper()
	var root node
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	if err := d.Decode(&root); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, s)
	}
	return root
}

func hours(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i) + ":00"
	}
	return out
}

func TestSVG_IsValidXMLWithAnAccessibleNameAndEscapedText(t *testing.T) {
	hostile := `<script>alert("x")</script> & 'quotes'`
	b := chart.Bar{ID: "usage", Title: "Uses " + hostile, Desc: "総計 3 " + hostile, Categories: []string{hostile, "b"},
		Series: []chart.Series{{Name: hostile, Values: []float64{1, 2}}},
		XLabel: "時刻 " + hostile, YLabel: "回数", Stacked: true}
	svg := string(b.SVG())
	if strings.Contains(svg, "<script") {
		t.Fatal("a text reached the SVG unescaped")
	}
	root := parse(t, svg)
	if root.XMLName.Local != "svg" || root.XMLName.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root element %v", root.XMLName)
	}
	if root.attr("role") != "img" || root.attr("aria-labelledby") != "usage-title usage-desc" {
		t.Errorf("role %q, aria-labelledby %q", root.attr("role"), root.attr("aria-labelledby"))
	}
	if len(root.Nodes) < 2 || root.Nodes[0].XMLName.Local != "title" || root.Nodes[1].XMLName.Local != "desc" {
		t.Fatal("the SVG does not start with <title> and <desc>")
	}
	if root.Nodes[0].attr("id") != "usage-title" || root.Nodes[0].Text != b.Title {
		t.Errorf("title %q id %q", root.Nodes[0].Text, root.Nodes[0].attr("id"))
	}
	if root.Nodes[1].attr("id") != "usage-desc" || root.Nodes[1].Text != b.Desc {
		t.Errorf("desc %q", root.Nodes[1].Text)
	}
	if strings.Contains(svg, "style=") {
		t.Error("the SVG uses a style attribute, which the CSP refuses")
	}
	table := string(b.Table())
	if strings.Contains(table, "<script") {
		t.Fatal("a text reached the table unescaped")
	}
	parse(t, table)
}

func TestSVG_BarHeightsAreProportionalToTheValues(t *testing.T) {
	tests := []struct {
		name    string
		stacked bool
		series  [][]float64
	}{
		{"one series", false, [][]float64{{1, 2, 4, 0, 8}}},
		{"stacked", true, [][]float64{{1, 0, 3, 2, 0}, {2, 5, 0, 1, 0}}},
		{"side by side", false, [][]float64{{3, 1, 0, 6, 2}, {1, 1, 2, 0, 0}}},
		{"fractions", false, [][]float64{{0.25, 0.5, 1.5, 0, 0.75}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := chart.Bar{ID: "c", Title: "t", Categories: hours(5), Stacked: tt.stacked}
			for i, v := range tt.series {
				b.Series = append(b.Series, chart.Series{Name: "s" + strconv.Itoa(i), Values: v})
			}
			root := parse(t, string(b.SVG()))
			bars := root.find("g", "bar")
			if len(bars) != 5 {
				t.Fatalf("%d bars, want one per category (5)", len(bars))
			}
			top, _ := b.Scale()
			if top < b.Max() {
				t.Fatalf("axis top %v below the largest bar %v", top, b.Max())
			}
			// The height of one unit, from the tallest segment (the least
			// rounded), then every segment against it.
			unit, tallest := math.NaN(), 0.0
			for i, bar := range bars {
				var vals []float64
				for _, s := range tt.series {
					if s[i] > 0 {
						vals = append(vals, s[i])
					}
				}
				for k, r := range bar.find("rect", "") {
					if k < len(vals) && vals[k] > tallest {
						tallest, unit = vals[k], r.num(t, "height")/vals[k]
					}
				}
			}
			for i, bar := range bars {
				rects := bar.find("rect", "")
				var want []float64
				for _, s := range tt.series {
					if s[i] > 0 {
						want = append(want, s[i])
					}
				}
				if len(rects) != len(want) {
					t.Fatalf("category %d: %d segments, want %d", i, len(rects), len(want))
				}
				bottom := math.NaN()
				for k, r := range rects {
					h := r.num(t, "height")
					if !(math.Abs(h-want[k]*unit) <= 0.2) {
						t.Errorf("category %d segment %d: height %v for %v, want %v", i, k, h, want[k], want[k]*unit)
					}
					if tt.stacked {
						// Each segment sits on the one below it.
						y := r.num(t, "y")
						if !math.IsNaN(bottom) && math.Abs(y+h-bottom) > 0.2 {
							t.Errorf("category %d segment %d: ends at %v, the one below starts at %v", i, k, y+h, bottom)
						}
						bottom = y
					}
				}
			}
		})
	}
}

func TestSVG_EmptyDataDrawsAxesAndSaysSo(t *testing.T) {
	for _, series := range [][]chart.Series{nil, {{Name: "encrypt", Values: []float64{0, 0, 0}}}, {{Name: "x"}}} {
		b := chart.Bar{ID: "e", Title: "t", Categories: hours(3), Series: series, Empty: "No uses", Stacked: true}
		root := parse(t, string(b.SVG()))
		if n := len(root.find("rect", "")) - len(series); n != 0 {
			// Legend swatches are the only rectangles.
			t.Errorf("%d bar segments drawn for no data", n)
		}
		empty := root.find("text", "empty")
		if len(empty) != 1 || empty[0].Text != "No uses" {
			t.Errorf("no empty-data notice: %+v", empty)
		}
		if top, step := b.Scale(); top != 1 || step != 1 {
			t.Errorf("scale of no data: %v %v", top, step)
		}
		parse(t, string(b.Table()))
	}
	// No categories at all is still a drawing.
	parse(t, string(chart.Bar{ID: "z", Title: "t"}.SVG()))
}

func TestScale_NiceStepsAndWholeNumbersForCounts(t *testing.T) {
	tests := []struct {
		values    []float64
		top, step float64
	}{
		{[]float64{1}, 1, 1},
		{[]float64{3}, 3, 1},
		{[]float64{7}, 8, 2},
		{[]float64{10}, 10, 5},
		{[]float64{42}, 60, 20},
		{[]float64{99}, 100, 50},
		{[]float64{1234}, 1500, 500},
		{[]float64{0.3}, 0.3, 0.1},
		{[]float64{-5, math.NaN(), math.Inf(1), 2}, 2, 1},
	}
	for _, tt := range tests {
		b := chart.Bar{Categories: hours(len(tt.values)), Series: []chart.Series{{Values: tt.values}}}
		top, step := b.Scale()
		if math.Abs(top-tt.top) > 1e-9 || math.Abs(step-tt.step) > 1e-9 {
			t.Errorf("values %v: scale %v step %v, want %v step %v", tt.values, top, step, tt.top, tt.step)
		}
	}
}

func TestTable_HasARowPerCategoryAndAColumnPerSeries(t *testing.T) {
	b := chart.Bar{ID: "u", Title: "Uses", XLabel: "Hour", Categories: hours(3), Series: []chart.Series{
		{Name: "encrypt", Values: []float64{1, 2, 3}}, {Name: "failures", Values: []float64{0, 1}}}}
	root := parse(t, string(b.Table()))
	if c := root.find("caption", ""); len(c) != 1 || c[0].Text != "Uses" {
		t.Errorf("caption %+v", c)
	}
	heads := root.find("thead", "")[0].find("th", "")
	if len(heads) != 3 || heads[0].Text != "Hour" || heads[2].Text != "failures" {
		t.Errorf("header %+v", heads)
	}
	rows := root.find("tbody", "")[0].find("tr", "")
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	var cells []string
	for _, r := range rows {
		for _, c := range r.Nodes {
			cells = append(cells, c.Text)
		}
	}
	if got := strings.Join(cells, " "); got != "0:00 1 0 1:00 2 1 2:00 3 0" {
		t.Errorf("cells %q", got)
	}
}

func TestSVG_LabelsEveryNthCategoryWhenTheyWouldOverlap(t *testing.T) {
	b := chart.Bar{ID: "l", Title: "t", Categories: hours(24), Series: []chart.Series{{Name: "a", Values: []float64{1}}}}
	labels := parse(t, string(b.SVG())).find("g", "x-axis")[0].find("text", "")
	if len(labels) >= 24 || len(labels) < 6 {
		t.Errorf("%d labels for 24 hours", len(labels))
	}
	b.LabelEvery = 1
	if n := len(parse(t, string(b.SVG())).find("g", "x-axis")[0].find("text", "")); n != 24 {
		t.Errorf("LabelEvery 1 gave %d labels", n)
	}
}
