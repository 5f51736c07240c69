package sigma

import (
	"slices"
	"strings"
	"testing"
)

// mapEvent is an Event that is not a JSONEvent: flat fields, its own
// Keywords.
type mapEvent map[string]any

func (m mapEvent) Field(name string) (any, bool) {
	v, ok := m[name]
	return v, ok
}

func (m mapEvent) Keywords(fn func(string) bool) bool {
	for _, v := range m {
		if s, ok := v.(string); ok && fn(s) {
			return true
		}
	}
	return false
}

func TestMatch_OtherEventImplementations(t *testing.T) {
	set, err := Parse([]byte(`title: k
logsource: {product: x}
detection:
    k: [mimikatz, '|']
    s: {action: export}
    condition: k or s
---
title: all
logsource: {product: x}
detection:
    k: {'|all': [foo, bar]}
    condition: k
`))
	if err != nil {
		t.Fatal(err)
	}
	ix := NewIndex(set.Rules)
	for _, c := range []struct {
		e    mapEvent
		want []string
	}{
		{mapEvent{"m": "run MIMIKATZ now"}, []string{"k"}},
		{mapEvent{"action": "Export"}, []string{"k"}},
		{mapEvent{"a": "foo", "b": "xbarx"}, []string{"all"}},
		{mapEvent{"a": "foo"}, nil},
		{mapEvent{"n": 5}, nil},
	} {
		var direct []string
		for _, r := range set.Rules {
			if r.Match(c.e) {
				direct = append(direct, r.Title)
			}
		}
		indexed := titles(ix.Match(c.e, nil))
		if !slices.Equal(direct, c.want) || !slices.Equal(indexed, c.want) {
			t.Errorf("%v: Match %v, Index %v, want %v", c.e, direct, indexed, c.want)
		}
	}
}

func TestValues_UnicodeFolding(t *testing.T) {
	runMatchCases(t, []matchCase{
		// U+212A KELVIN SIGN folds to k.
		{"kelvin exact", "sel:\n    a: 'kill'\ncondition: sel", `{"a":"\u212aill"}`, true},
		{"kelvin endswith", "sel:\n    a|endswith: 'ok'\ncondition: sel", `{"a":"bo\u212a"}`, true},
		{"kelvin contains", "sel:\n    a|contains: 'kil'\ncondition: sel", `{"a":"x \u212aill x"}`, true},
		{"long s startswith", "sel:\n    a|startswith: 'se'\ncondition: sel", `{"a":"\u017fecret"}`, true},
		{"kelvin keyword", "k:\n    - 'sekurlsa'\ncondition: k", `{"a":"se\u212aurlsa"}`, true},
		{"greek", "sel:\n    a|contains: 'ΣΟΦ'\ncondition: sel", `{"a":"σοφία"}`, true},
		{"no fold between different letters", "sel:\n    a|endswith: 'ok'\ncondition: sel", `{"a":"bo\u212b"}`, false},
		{"cased kelvin", "sel:\n    a|cased: 'kill'\ncondition: sel", `{"a":"\u212aill"}`, false},
	})
}

func TestRegexp_MorePCRE(t *testing.T) {
	for src, name := range map[string]string{
		`\Gabc`:       `anchor \G`,
		`abc\Z`:       `anchor \Z`,
		`ab\Kc`:       `match reset \K`,
		`a\Rb`:        `linebreak \R`,
		`(?|(a)|(b))`: `branch reset group (?|`,
		`(?#note)a`:   `comment group (?#`,
		`(a|(?R))`:    `recursion (?R`,
		`(?(1)a|b)`:   `conditional group (?(`,
		`(*FAIL)`:     `verb (*`,
		`(a)\g1`:      `backreference \g`,
		`a?+`:         `possessive quantifier ?+`,
	} {
		_, err := compileRegexp(src, "")
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want it to name %s", src, err, name)
		}
	}
	for _, ok := range []string{`a\+\+`, `(?i)a`, `(?P<n>a)`, `(?<n>a)`, `a{2}`, `[(?=]`, `\\1`} {
		if _, err := compileRegexp(ok, ""); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}
