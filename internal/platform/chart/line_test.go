package chart_test

import (
	"math"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/chart"
)

func TestLine_IsValidXMLWithAnAccessibleNameAndEscapedText(t *testing.T) {
	hostile := `<script>alert("x")</script> & 'quotes'`
	l := chart.Line{ID: "trend", Title: "準備完了 " + hostile, Desc: "90日 " + hostile, Categories: []string{hostile, "b"},
		Series: []chart.Series{{Name: hostile, Values: []float64{10, 20}}}, XLabel: hostile, YLabel: "%", Unit: "%", Top: 100}
	svg := string(l.SVG())
	if strings.Contains(svg, "<script") {
		t.Fatal("a text reached the SVG unescaped")
	}
	root := parse(t, svg)
	if got := root.attr("aria-labelledby"); got != "trend-title trend-desc" {
		t.Errorf("aria-labelledby = %q", got)
	}
	titles := root.find("title", "")
	if len(titles) == 0 || titles[0].Text != "準備完了 "+hostile {
		t.Errorf("the chart's title is %v", titles)
	}
	if d := root.find("desc", ""); len(d) != 1 || d[0].Text != "90日 "+hostile {
		t.Errorf("the chart's desc is %v", d)
	}
	table := string(l.Table())
	if strings.Contains(table, "<script") || !strings.Contains(table, "20%") {
		t.Errorf("table: %s", table)
	}
}

func TestLine_PointsSitAtTheirShareOfTheAxisAndGapsBreakTheLine(t *testing.T) {
	nan := math.NaN()
	l := chart.Line{ID: "t", Categories: []string{"a", "b", "c", "d", "e"}, Top: 100, Unit: "%",
		Series: []chart.Series{{Name: "ready", Color: "#1d7a3a", Values: []float64{0, 50, nan, 100}}}, Height: 260}
	root := parse(t, string(l.SVG()))
	dots := root.find("circle", "")
	if len(dots) != 3 {
		t.Fatalf("%d points, want 3 (a NaN and a missing value are gaps, not zeros)", len(dots))
	}
	// The plot is 260 - 34 - 48 = 178 high and its bottom at y = 212.
	for i, want := range []float64{212, 212 - 89, 34} {
		if got := dots[i].num(t, "cy"); math.Abs(got-want) > 0.2 {
			t.Errorf("point %d at y=%v, want %v", i, got, want)
		}
	}
	if got := dots[1].Nodes[0].Text; got != "b — ready: 50%" {
		t.Errorf("tooltip %q", got)
	}
	paths := root.find("path", "")
	if len(paths) != 1 {
		t.Fatalf("%d paths", len(paths))
	}
	if d := paths[0].attr("d"); strings.Count(d, "M") != 2 || strings.Count(d, "L") != 1 {
		t.Errorf("path %q: want two sub-paths (a, b) and (d) around the gap", d)
	}
	if !strings.Contains(string(l.Table()), "<td>—</td>") {
		t.Error("the table does not show the gap as —")
	}
}

func TestLine_WithoutValuesSaysSo(t *testing.T) {
	l := chart.Line{ID: "t", Categories: []string{"a", "b"}, Series: []chart.Series{{Name: "x", Values: []float64{math.NaN()}}},
		Empty: "まだ記録がありません"}
	if l.HasData() {
		t.Fatal("HasData with only gaps")
	}
	root := parse(t, string(l.SVG()))
	if e := root.find("text", "empty"); len(e) != 1 || e[0].Text != "まだ記録がありません" {
		t.Errorf("empty text: %v", e)
	}
	l.Series[0].Values = []float64{0}
	if !l.HasData() {
		t.Error("a value of 0 is a figure, not a gap")
	}
	if e := parse(t, string(l.SVG())).find("text", "empty"); len(e) != 0 {
		t.Error("the empty text shows over a figure")
	}
}

func TestStack_PartsTakeTheirShareOfTheWidth(t *testing.T) {
	s := chart.Stack{ID: "ch-6", Title: "第6章 <&>", Desc: "準備完了 6 / 12", Width: 400,
		Parts: []chart.Part{{Name: "ready", Color: "#1d7a3a", Value: 6}, {Name: "attention", Value: 0},
			{Name: "not ready", Color: "#b3261e", Value: 3}, {Name: "grey", Color: "#9aa5b1", Value: 3}}}
	root := parse(t, string(s.SVG()))
	if got := root.attr("aria-labelledby"); got != "ch-6-title ch-6-desc" {
		t.Errorf("aria-labelledby = %q", got)
	}
	if tt := root.find("title", ""); tt[0].Text != "第6章 <&>" {
		t.Errorf("title %q", tt[0].Text)
	}
	rects := root.find("rect", "")
	if len(rects) != 4 { // the background and three parts above 0
		t.Fatalf("%d rects", len(rects))
	}
	wantX := []float64{0, 200, 300}
	wantW := []float64{200, 100, 100}
	for i, r := range rects[1:] {
		if r.num(t, "x") != wantX[i] || r.num(t, "width") != wantW[i] {
			t.Errorf("part %d: x=%s width=%s", i, r.attr("x"), r.attr("width"))
		}
	}
	if rects[2].attr("fill") != "#b3261e" || rects[2].Nodes[0].Text != "not ready: 3" {
		t.Errorf("part 2: fill %s, title %v", rects[2].attr("fill"), rects[2].Nodes)
	}
	empty := chart.Stack{ID: "e", Parts: []chart.Part{{Name: "x", Value: math.NaN()}, {Name: "y", Value: -2}}}
	if got := parse(t, string(empty.SVG())).find("rect", ""); len(got) != 1 {
		t.Errorf("an empty stack draws %d rects, want the background only", len(got))
	}
}

func TestSVG_ControlCharactersAndBrokenUTF8StayWellFormed(t *testing.T) {
	odd := "a\x01b\xffc\td\U0010FFFF"
	l := chart.Line{ID: "t", Title: odd, Categories: []string{odd}, Series: []chart.Series{{Name: odd, Values: []float64{1}}}}
	parse(t, string(l.SVG()))
	s := chart.Stack{ID: "s", Title: odd, Parts: []chart.Part{{Name: odd, Value: 1}}}
	parse(t, string(s.SVG()))
	b := chart.Bar{ID: "b", Title: odd, Categories: []string{odd}, Series: []chart.Series{{Name: odd, Values: []float64{1}}}}
	parse(t, string(b.SVG()))
}
