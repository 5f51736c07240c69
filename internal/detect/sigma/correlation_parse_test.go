package sigma

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func parseCorrelationString(src string) (*Correlation, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		return nil, err
	}
	return parseCorrelation(3, &n)
}

func TestParseCorrelation_ReadsEveryAttribute(t *testing.T) {
	c, err := parseCorrelationString(`
title: Many patients
id: 0e95725d-7320-415d-80f7-004da920fc12
name: many_patients
status: experimental
description: One user opens many patients' records
author: anzen
date: 2026-04-01
modified: 2026-04-02
license: DRL-1.1
references:
  - https://example.org/a
tags: [attack.collection, anzen.snooping]
falsepositives: Ward rounds
level: high
description_ja: 多数の患者記録の閲覧
correlation:
  type: value_count
  rules:
    - record_view
    - 5638f7c0-ac70-491d-8465-2a65075e0d86
  group-by:
    - user
    - ward
  timespan: 90m
  aliases:
    user:
      record_view: actor.id
  condition:
    field: patient
    gt: 20
    lte: 200
  generate: true
`)
	if err != nil {
		t.Fatal(err)
	}
	gt, lte := 20.0, 200.0
	want := &Correlation{
		ID: "0e95725d-7320-415d-80f7-004da920fc12", Name: "many_patients", Title: "Many patients",
		Description: "One user opens many patients' records", Status: "experimental", Author: "anzen",
		Date: "2026-04-01", Modified: "2026-04-02", License: "DRL-1.1",
		References: []string{"https://example.org/a"}, Level: LevelHigh,
		Tags: []string{"attack.collection", "anzen.snooping"}, FalsePositives: []string{"Ward rounds"},
		Custom: map[string]any{"description_ja": "多数の患者記録の閲覧"},
		Type:   ValueCount, Rules: []string{"record_view", "5638f7c0-ac70-491d-8465-2a65075e0d86"},
		GroupBy: []string{"user", "ward"}, Timespan: 90 * time.Minute,
		Condition: CorrelationCondition{Gt: &gt, Lte: &lte}, Field: "patient",
		Aliases:  map[string]map[string]string{"user": {"record_view": "actor.id"}},
		Generate: true,
	}
	c.Doc = nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("parseCorrelation:\n got %+v\nwant %+v", c, want)
	}
	if c.Condition.String() != "gt 20 and lte 200" {
		t.Errorf("Condition.String() = %q", c.Condition.String())
	}
}

func TestParseCorrelation_Defaults(t *testing.T) {
	c, err := parseCorrelationString("title: t\ncorrelation:\n  type: temporal_ordered\n  rules: [a, b]\n  timespan: 2d\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Condition.Gte == nil || *c.Condition.Gte != 2 || c.Timespan != 48*time.Hour || c.Generate || c.Key() != "t" {
		t.Errorf("defaults: condition %s, timespan %v, generate %v, key %q", c.Condition, c.Timespan, c.Generate, c.Key())
	}
	if len(c.Doc) == 0 {
		t.Errorf("Doc is empty")
	}
	// eq all rules is gte all rules; a top-level generate is read too.
	c, err = parseCorrelationString("title: t\ngenerate: true\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  timespan: 5m\n  condition: {eq: 2}\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Condition.Eq != nil || c.Condition.Gte == nil || *c.Condition.Gte != 2 || !c.Generate {
		t.Errorf("eq 2 over two rules: condition %s, generate %v", c.Condition, c.Generate)
	}
	// A document node is taken for the mapping it holds.
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("title: t\ncorrelation: {type: event_count, rules: [a], timespan: 1s, condition: {gte: 1}}"), &n); err != nil {
		t.Fatal(err)
	}
	if n.Kind != yaml.DocumentNode {
		t.Fatalf("yaml.Unmarshal gave a %v", n.Kind)
	}
	if _, err := parseCorrelation(1, n.Content[0]); err != nil {
		t.Errorf("the mapping node: %v", err)
	}
}

func TestParseCorrelation_Errors(t *testing.T) {
	const base = "title: t\nid: k\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [user]\n  timespan: 5m\n  condition:\n    gte: 10\n"
	with := func(old, new string) string {
		if !strings.Contains(base, old) {
			panic(old)
		}
		return strings.Replace(base, old, new, 1)
	}
	tests := []struct {
		name, src, want string
		line            int
	}{
		{"not a mapping", "- a\n- b\n", "a correlation rule must be a mapping", 1},
		{"empty document", "", "the correlation rule is empty", 0},
		{"title missing", strings.Replace(base, "title: t\n", "", 1), "title is missing", 1},
		{"correlation missing", "title: t\nid: k\n", "correlation is missing", 1},
		{"correlation not a mapping", "title: t\ncorrelation: yes\n", "correlation must be a mapping", 2},
		{"duplicate key", "title: t\ntitle: u\n", "the key title twice", 2},
		{"non-string key", "title: t\n[a]: b\n", "key that is not a string", 2},
		{"title not a string", "title: [a]\n", "title must be a string", 1},
		{"bad status", "title: t\nstatus: great\n", `unknown status "great"`, 2},
		{"bad level", "title: t\nlevel: severe\n", `unknown level "severe"`, 2},
		{"bad tags", "title: t\ntags: {a: b}\n", "tags must be a string or a list", 2},
		{"bad generate", "title: t\ngenerate: maybe\n", "generate must be true or false", 2},
		{"detection", "title: t\ndetection: {}\n", "a correlation rule has no detection", 2},
		{"logsource", "title: t\nlogsource: {}\n", "a correlation rule has no logsource", 2},
		{"unknown attribute", with("  type:", "  window: 5m\n  type:"), "unknown correlation attribute window", 4},
		{"type missing", with("  type: event_count\n", ""), "correlation.type is missing", 4},
		{"unknown type", with("event_count", "foo"), "unknown correlation type foo", 4},
		{"value_percentile", with("event_count", "value_percentile"), "correlation type value_percentile is not supported", 4},
		{"rules missing", with("  rules: [a]\n", ""), "correlation.rules is missing", 4},
		{"rules empty", with("[a]", "[]"), "correlation.rules is empty", 5},
		{"rules twice", with("[a]", "[a, a]"), "correlation.rules lists a twice", 5},
		{"rules empty string", with("[a]", `[""]`), "correlation.rules holds an empty string", 5},
		{"rules not strings", with("[a]", "[[a]]"), "correlation.rules item must be a string", 5},
		{"group-by twice", with("[user]", "[user, user]"), "correlation.group-by lists user twice", 6},
		{"timespan missing", with("  timespan: 5m\n", ""), "correlation.timespan is missing", 4},
		{"timespan unit", with("5m", "5x"), "correlation.timespan: 5x is not a duration: use 30s, 5m, 1h or 2d", 7},
		{"timespan upper case", with("5m", "5M"), "5M is not a duration", 7},
		{"timespan zero", with("5m", "0s"), "0s is not a duration", 7},
		{"timespan huge", with("5m", "99999999999999d"), "is not a duration", 7},
		{"timespan no unit", with("5m", "300"), "300 is not a duration", 7},
		{"condition missing", with("  condition:\n    gte: 10\n", ""), "event_count needs a condition", 4},
		{"condition empty", with("  condition:\n    gte: 10\n", "  condition: {}\n"), "event_count needs a condition", 4},
		{"condition expression", with("  condition:\n    gte: 10\n", "  condition: a and b\n"), "expressions over rule names are not supported", 8},
		{"unknown condition", with("gte: 10", "ge: 10"), "unknown condition ge", 9},
		{"condition not a number", with("gte: 10", "gte: ten"), "ten is not a count", 9},
		{"condition not whole", with("gte: 10", "gte: 1.5"), "1.5 is not a count", 9},
		{"condition negative", with("gte: 10", "gte: -1"), "-1 is not a count", 9},
		{"condition list", with("gte: 10", "gte: [1]"), "must be a number", 9},
		{"eq with another", with("gte: 10", "gte: 10\n    eq: 12"), "eq cannot be combined", 9},
		{"two lower bounds", with("gte: 10", "gte: 10\n    gt: 12"), "gt and gte cannot be combined", 9},
		{"two upper bounds", with("gte: 10", "lt: 10\n    lte: 12"), "lt and lte cannot be combined", 9},
		{"empty range", with("gte: 10", "gt: 10\n    lt: 11"), "gt 10 and lt 11 can never hold", 9},
		{"reversed range", with("gte: 10", "gte: 10\n    lte: 5"), "can never hold", 9},
		{"lt 1", with("gte: 10", "lt: 1"), "lt 1 can never hold: a group's count", 9},
		{"eq 0", with("gte: 10", "eq: 0"), "eq 0 can never hold", 9},
		{"value_count without field", with("event_count", "value_count"), "value_count needs condition.field", 4},
		{"event_count with field", with("gte: 10", "gte: 10\n    field: user"), "event_count takes no field", 4},
		{"field twice", with("event_count", "value_count") + "  field: u\n", "", 0},
		{"several fields", strings.TrimSuffix(with("event_count", "value_count"), "\n") + "\n    field: [a, b]\n", "must name exactly one field", 10},
		{"metric needs field", with("event_count", "value_sum"), "value_sum needs condition.field", 4},
		{"metric condition not a number", strings.TrimSuffix(with("event_count", "value_avg"), "\n") + "\n    field: b\n    lt: x\n", "x is not a number", 11},
		{"temporal lt", "title: t\ncorrelation: {type: temporal, rules: [a, b], timespan: 1m, condition: {lt: 2}}", "temporal with lt or lte is not supported", 2},
		{"temporal eq other", "title: t\ncorrelation: {type: temporal, rules: [a, b], timespan: 1m, condition: {eq: 1}}", "eq other than the number of rules (2)", 2},
		{"temporal more than its rules", "title: t\ncorrelation: {type: temporal, rules: [a, b], timespan: 1m, condition: {gte: 3}}", "refers to 2 rules", 2},
		{"temporal_ordered some", "title: t\ncorrelation: {type: temporal_ordered, rules: [a, b, c], timespan: 1m, condition: {gte: 2}}", "temporal_ordered with a condition other than all its rules", 2},
		{"aliases not a mapping", with("  timespan:", "  aliases: [a]\n  timespan:"), "correlation.aliases must be a mapping", 7},
		{"alias not a mapping", with("  timespan:", "  aliases: {ip: a}\n  timespan:"), "correlation.aliases.ip must be a mapping", 7},
		{"alias empty field", with("  timespan:", "  aliases: {ip: {a: ''}}\n  timespan:"), "correlation.aliases.ip.a names no field", 7},
		{"alias field list", with("  timespan:", "  aliases: {ip: {a: [x]}}\n  timespan:"), "correlation.aliases.ip.a must be a string", 7},
		{"correlation generate", with("  timespan:", "  generate: 1\n  timespan:"), "correlation.generate must be true or false", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == "" {
				// field both in correlation and in condition
				tt.src = strings.Replace(with("event_count", "value_count"), "gte: 10", "gte: 10\n    field: u", 1) + "  field: v\n"
				tt.want, tt.line = "field is given both in correlation and in correlation.condition", 10
			}
			_, err := parseCorrelationString(tt.src)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want an *Error", err, err)
			}
			if !strings.Contains(e.Msg, tt.want) {
				t.Errorf("error %q, want one containing %q", e.Msg, tt.want)
			}
			if e.Line != tt.line || e.Doc != 3 {
				t.Errorf("error at document %d line %d, want document 3 line %d (%v)", e.Doc, e.Line, tt.line, e)
			}
			if strings.Contains(tt.src, "id: k") && e.Rule != "k" {
				t.Errorf("error names rule %q, want k", e.Rule)
			}
		})
	}
}

func TestParseCorrelation_ErrorNamesTheRule(t *testing.T) {
	_, err := parseCorrelationString("title: Brute force\nname: bf\ncorrelation: {type: foo}\n")
	if err == nil || err.Error() != "line 3 (bf): unknown correlation type foo" {
		t.Errorf("error = %v", err)
	}
}

func FuzzParseCorrelation(f *testing.F) {
	for _, s := range []string{
		corrCountGte3, corrTemporalABC, corrBruteForce, corrManyFailed,
		"title: t\ncorrelation: {type: value_sum, rules: [a], timespan: 1h, condition: {field: b, gt: 1.5, lte: 1e3}}",
		"title: t\ncorrelation: {type: temporal, rules: a, timespan: 9999999999999999d}",
		"title: t\ncorrelation: {type: value_count, rules: [a], timespan: 1m, field: [x], condition: {lt: 3}, aliases: {x: {a: y}}}",
		"[1, {a: b}]",
		"title: &a t\nid: *a\ncorrelation: {}\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var n yaml.Node
		if yaml.Unmarshal([]byte(src), &n) != nil {
			return
		}
		c, err := parseCorrelation(1, &n)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is a %T, not an *Error", err, err)
			}
			return
		}
		if c.Title == "" || c.Type == 0 || c.Timespan <= 0 || len(c.Rules) == 0 {
			t.Fatalf("accepted an incomplete correlation: %+v", c)
		}
		// What is accepted must also build a correlator.
		var rules []*Rule
		for _, r := range c.Rules {
			rules = append(rules, corrRule("", r))
		}
		cr, err := NewCorrelator(rules, []*Correlation{c}, WithMaxGroups(3))
		if err != nil {
			if !strings.Contains(err.Error(), "sigma:") {
				t.Fatalf("NewCorrelator: %v", err)
			}
			return
		}
		// And run without panicking, through a restart.
		fields := append(slices.Clone(c.GroupBy), c.Field)
		for _, m := range c.Aliases {
			for _, f := range m {
				fields = append(fields, f)
			}
		}
		for i := range 40 {
			e := corrEvent{}
			for j, f := range fields {
				e[f] = []any{"a", "b", 1.5, nil, "7"}[(i+j)%5]
			}
			cr.Observe(rules[i%len(rules)], e, corrT0.Add(time.Duration(i*i)*time.Second), int64(i))
			if i == 20 {
				b, err := cr.Save()
				if err != nil {
					t.Fatal(err)
				}
				if err := cr.Restore(b); err != nil {
					t.Fatal(err)
				}
			}
		}
		cr.Advance(corrT0.Add(1000 * time.Hour))
	})
}
