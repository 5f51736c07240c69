package sigma

import (
	"encoding/json"
	"slices"
	"testing"
)

// indexRules add, to the benchmark's rules, the shapes the index must
// read right: numbers, ORs over a field, lists of conditions, NOTs,
// cased values, and rules it cannot file.
const indexRules = `title: number
logsource: {product: x}
detection: {s: {EventID: 4688}, condition: s}
---
title: number list or text
logsource: {product: x}
detection: {s: {EventID: [1, '4689']}, condition: s}
---
title: or over the same field
logsource: {product: x}
detection:
    a: {action: export}
    b: {action: print, outcome: failure}
    condition: a or b
---
title: or over different fields
logsource: {product: x}
detection:
    a: {action: export}
    b: {outcome: failure}
    condition: a or b
---
title: not
logsource: {product: x}
detection:
    a: {action: read}
    condition: not a
---
title: list of maps
logsource: {product: x}
detection:
    a:
        - {action: delete, user: u1}
        - {action: Write}
    condition: a
---
title: conditions list
logsource: {product: x}
detection:
    a: {action: login}
    b: {action: logout}
    condition: [a, b]
---
title: cased
logsource: {product: x}
detection: {s: {action|cased: Read}, condition: s}
---
title: kelvin
logsource: {product: x}
detection: {s: {action: kill}, condition: s}
---
title: bool
logsource: {product: x}
detection: {s: {vip: true}, condition: s}
---
title: and of two indexed
logsource: {product: x}
detection:
    a: {action: export}
    b: {outcome: success}
    condition: a and b
---
title: keyword
logsource: {product: x}
detection: {k: [sekurlsa], condition: k}
---
title: keyword all
logsource: {product: x}
detection: {k: {'|all': [foo, BAR]}, condition: k}
`

var indexEvents = []string{
	`{"EventID":4688}`, `{"EventID":"4688"}`, `{"EventID":4688.0}`, `{"EventID":1}`, `{"EventID":"4689"}`,
	`{"EventID":4689}`, `{"EventID":[5, 4688]}`, `{"EventID":-0}`,
	`{"action":"export"}`, `{"action":"EXPORT","outcome":"success"}`, `{"action":"print","outcome":"failure"}`,
	`{"action":"print"}`, `{"outcome":"failure"}`, `{"action":"read"}`, `{"action":"Read"}`, `{"action":"READ"}`,
	`{}`, `{"action":null}`, `{"action":["x","delete"],"user":"U1"}`, `{"action":"write"}`,
	`{"action":"login"}`, `{"action":"logout"}`, `{"action":"\u212aill"}`, `{"action":"kill"}`,
	`{"vip":true}`, `{"vip":"TRUE"}`, `{"vip":false}`, `{"action":{"#text":"export"}}`,
	`{"m":"xx SEKURLSA::logonpasswords"}`, `{"m":"se\u212aurlsa"}`, `{"a":"foo","b":{"c":["bar"]}}`,
	`{"action":"エクスポート"}`, `{"action":"export-long-long-long-long-long-long-long-long-long-long-long-long-value"}`,
}

func TestIndex_SameAsEveryRule(t *testing.T) {
	set, err := Parse(append(benchRules(), []byte("\n---\n"+indexRules)...))
	if err != nil {
		t.Fatal(err)
	}
	ix := NewIndex(set.Rules)
	if filed, _ := ix.Filed(); filed < 90 {
		t.Errorf("only %d rules filed", filed)
	}
	events := benchEvents(t, 2000)
	for _, js := range indexEvents {
		var m map[string]any
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			t.Fatal(err)
		}
		events = append(events, NewJSONEvent(m, nil))
		// json.Number, as a decoder with UseNumber gives.
		if n, ok := m["EventID"].(float64); ok {
			events = append(events, NewJSONEvent(map[string]any{"EventID": json.Number(numberKey(n) + ".0")}, nil))
		}
	}
	for i, e := range events {
		var want []*Rule
		for _, r := range set.Rules {
			if r.Match(e) {
				want = append(want, r)
			}
		}
		got := ix.Match(e, nil)
		if !slices.Equal(got, want) {
			t.Errorf("event %d: index matched %v, every rule %v", i, titles(got), titles(want))
		}
	}
}

func titles(rs []*Rule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Title)
	}
	return out
}

func TestIndex_RuleWithoutRequirementIsAlwaysTried(t *testing.T) {
	set, err := Parse([]byte(indexRules))
	if err != nil {
		t.Fatal(err)
	}
	ix := NewIndex(set.Rules)
	_, always := ix.Filed()
	// or over different fields, not, bool (not filed), keyword, keyword all.
	if always != 5 {
		t.Errorf("%d rules tried always, want 5", always)
	}
}

// FuzzIndex checks that an Index matches what every rule does, on any
// event.
func FuzzIndex(f *testing.F) {
	for _, js := range indexEvents {
		f.Add(js)
	}
	set, err := Parse(append(benchRules(), []byte("\n---\n"+indexRules)...))
	if err != nil {
		f.Fatal(err)
	}
	ix := NewIndex(set.Rules)
	f.Fuzz(func(t *testing.T, js string) {
		var m map[string]any
		if json.Unmarshal([]byte(js), &m) != nil {
			return
		}
		e := NewJSONEvent(m, nil)
		var want []*Rule
		for _, r := range set.Rules {
			if r.Match(e) {
				want = append(want, r)
			}
		}
		if got := ix.Match(e, nil); !slices.Equal(got, want) {
			t.Fatalf("event %s: index matched %v, every rule %v", js, titles(got), titles(want))
		}
	})
}
