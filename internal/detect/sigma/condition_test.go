package sigma

import (
	"strings"
	"testing"
)

// condDet is a detection whose identifiers the condition tests combine.
const condDet = "a:\n    x: 1\nb:\n    x: 2\nc:\n    y: 1\nsel_1:\n    x: 1\nsel_2:\n    y: 2\n_hidden:\n    z: 1\n"

func TestCondition_Forms(t *testing.T) {
	e := `{"x":1,"y":1,"z":1}` // a, c, sel_1 and _hidden hold; b and sel_2 do not
	cases := []struct {
		cond string
		want bool
	}{
		{"a", true},
		{"b", false},
		{"a and c", true},
		{"a and b", false},
		{"a or b", true},
		{"b or b", false},
		{"not b", true},
		{"not a", false},
		{"not not a", true},
		{"a and not b", true},
		{"(a or b) and c", true},
		{"(b or b) and c", false},
		// or < and: b and a or c = (b and a) or c
		{"b and a or c", true},
		{"b and (a or c)", false},
		// and < not: not b and b = (not b) and b
		{"not b and b", false},
		{"not (b and b)", true},
		{"1 of sel_*", true},
		{"any of sel_*", true},
		{"all of sel_*", false},
		{"1 of them", true},
		{"all of them", false},
		{"all of a", true},
		{"1 of sel* and not 1 of b*", true},
		// not < x of: not 1 of sel_* = not (1 of sel_*)
		{"not 1 of sel_*", false},
		{"not all of sel_*", true},
		{"all of _hid*", true},
		{"((a))", true},
		{"a and\n  c", true},
		{"1 of *", true},
		{"all of s*_2", false},
	}
	for _, c := range cases {
		t.Run(c.cond, func(t *testing.T) {
			r := mustRule(t, condDet+"condition: '"+strings.ReplaceAll(c.cond, "\n", " ")+"'")
			if got := r.Match(ev(t, e)); got != c.want {
				t.Errorf("condition %q: Match = %v, want %v", c.cond, got, c.want)
			}
		})
	}
}

func TestCondition_ThemSkipsUnderscore(t *testing.T) {
	det := "sel:\n    x: 1\n_filter:\n    y: 1\ncondition: all of them"
	r := mustRule(t, det)
	if !r.Match(ev(t, `{"x":1,"y":2}`)) {
		t.Error("all of them looked at _filter")
	}
}

func TestCondition_ListIsOr(t *testing.T) {
	det := condDet + "condition:\n    - b\n    - c"
	r := mustRule(t, det)
	if !r.Match(ev(t, `{"x":1,"y":1}`)) {
		t.Error("a list of conditions is ORed: c holds")
	}
	if r.Match(ev(t, `{"x":3,"y":3}`)) {
		t.Error("neither b nor c holds")
	}
}

func TestCondition_Rejected(t *testing.T) {
	runRejectCases(t, []rejectCase{
		{"unknown identifier", "selection:\n    x: 1\ncondition: selection2", "condition: unknown identifier selection2 (column 1)"},
		{"unknown later", "selection:\n    x: 1\ncondition: selection and selectoin", "unknown identifier selectoin (column 15)"},
		{"glob matches nothing", "selection:\n    x: 1\ncondition: 1 of filter*", "filter* matches no search identifier"},
		{"them with only hidden", "_a:\n    x: 1\ncondition: 1 of them", "them: no search identifier"},
		{"missing paren", "a:\n    x: 1\ncondition: (a", "missing ) for the ( at column 1"},
		{"extra paren", "a:\n    x: 1\ncondition: a)", "unexpected \")\""},
		{"dangling and", "a:\n    x: 1\ncondition: a and", "ends where an identifier"},
		{"two identifiers", "a:\n    x: 1\nb:\n    x: 1\ncondition: a b", "unexpected \"b\""},
		{"bare pattern", "a:\n    x: 1\ncondition: a*", "needs 1 of or all of"},
		{"2 of", "a:\n    x: 1\ncondition: 2 of a*", "only 1 of, any of and all of"},
		{"of without pattern", "a:\n    x: 1\ncondition: 1 of", "1 of needs them or an identifier pattern"},
		{"empty", "a:\n    x: 1\ncondition: ''", "condition: empty"},
		{"missing", "a:\n    x: 1", "condition is missing"},
		{"aggregation", "a:\n    x: 1\ncondition: a | count() > 5", "aggregations"},
		{"timeframe", "a:\n    x: 1\ntimeframe: 5m\ncondition: a", "timeframe"},
		{"no identifiers", "condition: a", "no search identifiers"},
		{"reserved name", "and:\n    x: 1\ncondition: and", "cannot be a search identifier name"},
		{"empty identifier", "a:\ncondition: a", "detection a: empty"},
		{"scalar identifier", "a: x\ncondition: a", "a search identifier is a map or a list"},
		{"uppercase operator is an identifier", "a:\n    x: 1\nb:\n    x: 1\ncondition: a AND b", "unexpected \"AND\""},
	})
}
