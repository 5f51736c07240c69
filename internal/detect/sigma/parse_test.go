package sigma

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const fullRule = `title: Whoami Execution
id: 929a690e-bef0-4204-a928-ef5e620d6fcc
name: whoami_execution
related:
    - id: 08fbc97d-0a2f-491c-ae21-8ffcfd3174e9
      type: derived
taxonomy: sigma
status: test
description: Detects a whoami.exe execution
license: DRL-1.1
references:
    - https://example.com/a
author: Florian Roth
date: 2019-10-23
modified: 2024-01-02
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\whoami.exe'
    condition: selection
fields:
    - CommandLine
falsepositives:
    - Admins
level: high
tags:
    - attack.discovery
scope:
    - server
description_ja: whoami の実行を検知する
custom_list: [1, 2]
`

func TestParse_Metadata(t *testing.T) {
	set, err := Parse([]byte(fullRule))
	if err != nil {
		t.Fatal(err)
	}
	r := set.Rules[0]
	want := Rule{
		ID: "929a690e-bef0-4204-a928-ef5e620d6fcc", Name: "whoami_execution", Title: "Whoami Execution",
		Description: "Detects a whoami.exe execution", Status: "test", Author: "Florian Roth",
		Date: "2019-10-23", Modified: "2024-01-02", References: []string{"https://example.com/a"},
		Level: LevelHigh, Tags: []string{"attack.discovery"},
		LogSource:      LogSource{Category: "process_creation", Product: "windows"},
		FalsePositives: []string{"Admins"}, Fields: []string{"CommandLine"},
		License: "DRL-1.1", Taxonomy: "sigma", Scope: []string{"server"},
		Related: []RelatedRule{{ID: "08fbc97d-0a2f-491c-ae21-8ffcfd3174e9", Type: "derived"}},
		Custom:  map[string]any{"description_ja": "whoami の実行を検知する", "custom_list": []any{1, 2}},
	}
	got := *r
	got.match, got.Doc = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rule:\n got %+v\nwant %+v", got, want)
	}
	if string(r.Doc) != fullRule {
		t.Errorf("Doc is not the document as read:\n%s", r.Doc)
	}
	if !r.Match(ev(t, `{"Image":"C:\\Windows\\System32\\whoami.exe"}`)) {
		t.Error("the rule does not match its event")
	}
}

func TestParse_MultipleDocuments(t *testing.T) {
	data := "# a comment\n---\ntitle: one\nlogsource: {product: x}\ndetection: {s: {a: 1}, condition: s}\n---\n" +
		"title: two\nlogsource: {product: x}\ndetection: {s: {a: 2}, condition: s}\n...\n"
	set, err := Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Rules) != 2 || set.Rules[0].Title != "one" || set.Rules[1].Title != "two" {
		t.Fatalf("rules: %+v", set.Rules)
	}
	if !strings.HasPrefix(string(set.Rules[1].Doc), "title: two") {
		t.Errorf("second Doc = %q", set.Rules[1].Doc)
	}
}

func TestParse_ErrorsNameDocumentAndRule(t *testing.T) {
	data := "title: good\nlogsource: {product: x}\ndetection: {s: {a: 1}, condition: s}\n---\n" +
		"title: bad one\nid: r-2\nlogsource: {product: x}\ndetection:\n    s:\n        a|foo: 1\n    condition: s\n---\n" +
		"title: bad two\nlogsource: {product: x}\ndetection:\n    s:\n        a: 1\n    condition: t\n"
	set, err := Parse([]byte(data))
	if err == nil {
		t.Fatal("no error")
	}
	if len(set.Rules) != 1 || set.Rules[0].Title != "good" {
		t.Errorf("the good rule is not returned: %+v", set.Rules)
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 2 {
		t.Fatalf("want two joined errors, got %v", err)
	}
	e1, e2 := joined.Unwrap()[0].(*Error), joined.Unwrap()[1].(*Error)
	if e1.Doc != 2 || e1.Rule != "r-2" || e1.Line != 10 || !strings.Contains(e1.Msg, "unknown modifier |foo") {
		t.Errorf("first error: %+v", e1)
	}
	if e2.Doc != 3 || e2.Rule != "bad two" || !strings.Contains(e2.Msg, "unknown identifier t") {
		t.Errorf("second error: %+v", e2)
	}
	if !strings.Contains(e1.Error(), "line 10 (r-2): ") {
		t.Errorf("message: %s", e1.Error())
	}
}

func TestParse_Rejected(t *testing.T) {
	cases := []struct{ name, doc, msg string }{
		{"action global", "action: global\ntitle: x\n", "action: global documents"},
		{"action repeat", "action: repeat\ndetection: {}\n", "action: repeat documents"},
		{"filter", "title: f\nfilter: {rules: [a]}\nlogsource: {product: x}\n", "filter documents"},
		{"no title", "logsource: {product: x}\ndetection: {s: {a: 1}, condition: s}\n", "title is missing"},
		{"no logsource", "title: x\ndetection: {s: {a: 1}, condition: s}\n", "logsource is missing"},
		{"no detection", "title: x\nlogsource: {product: x}\n", "detection is missing"},
		{"bad level", "title: x\nlevel: severe\nlogsource: {product: x}\ndetection: {s: {a: 1}, condition: s}\n", "unknown level \"severe\""},
		{"bad status", "title: x\nstatus: beta\nlogsource: {product: x}\ndetection: {s: {a: 1}, condition: s}\n", "status: unknown \"beta\""},
		{"not a map", "- a\n- b\n", "a rule is a YAML map"},
		{"bad yaml", "title: x\n  bad: [\n", "YAML"},
		{"empty list", "title: x\nlogsource: {product: x}\ndetection: {s: {a: []}, condition: s}\n", "empty list of values"},
		{"map value", "title: x\nlogsource: {product: x}\ndetection: {s: {a: {b: 1}}, condition: s}\n", "not a map"},
		{"logsource list", "title: x\nlogsource: {product: [a, b]}\ndetection: {s: {a: 1}, condition: s}\n", "logsource: product is a single name"},
		{"empty field", "title: x\nlogsource: {product: x}\ndetection: {s: {'': 1}, condition: s}\n", "empty field name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc))
			if err == nil {
				t.Fatalf("loaded:\n%s", c.doc)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%v is not an *Error", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not name %q", err, c.msg)
			}
		})
	}
}

func TestParse_CorrelationDocumentsGoToParseCorrelation(t *testing.T) {
	data := "title: base\nname: base\nlogsource: {product: x}\ndetection: {s: {a: 1}, condition: s}\n---\n" +
		"title: many\ncorrelation:\n    type: event_count\n    rules: [base]\n    group-by: [user]\n    timespan: 1h\n    condition: {gte: 10}\n"
	set, err := Parse([]byte(data))
	if len(set.Rules) != 1 {
		t.Fatalf("rules: %d", len(set.Rules))
	}
	if err != nil {
		// The correlation parser may reject it, but as a correlation:
		// never as a detection rule without a detection.
		if strings.Contains(err.Error(), "detection") {
			t.Errorf("the correlation was read as a detection rule: %v", err)
		}
		return
	}
	if len(set.Correlations) != 1 {
		t.Errorf("correlations: %d", len(set.Correlations))
	}
}

func TestParse_DefaultLevelIsMedium(t *testing.T) {
	r := mustRule(t, "s:\n    a: 1\ncondition: s")
	if r.Level != LevelMedium {
		t.Errorf("level %v", r.Level)
	}
}

func TestParse_DuplicateIDOrName(t *testing.T) {
	for _, key := range []string{"id: r-1", "name: one"} {
		data := "title: a\n" + key + "\nlogsource: {product: x}\ndetection: {s: {a: 1}, condition: s}\n---\n" +
			"title: b\n" + key + "\nlogsource: {product: x}\ndetection: {s: {a: 2}, condition: s}\n"
		set, err := Parse([]byte(data))
		if err == nil || !strings.Contains(err.Error(), "already the") || len(set.Rules) != 1 {
			t.Errorf("%s twice: %v, %d rules", key, err, len(set.Rules))
		}
	}
}

func TestParse_YAMLErrorStopsReading(t *testing.T) {
	data := "title: a\nlogsource: {product: x}\ndetection: {s: {a: 1}, condition: s}\n---\ntitle: [\n---\ntitle: c\n"
	set, err := Parse([]byte(data))
	var e *Error
	if !errors.As(err, &e) || e.Doc != 2 || !strings.Contains(e.Msg, "not read") {
		t.Fatalf("error %v", err)
	}
	if len(set.Rules) != 1 {
		t.Errorf("%d rules", len(set.Rules))
	}
}
