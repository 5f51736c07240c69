package compliance

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestBuiltin_Loads(t *testing.T) {
	lib, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if lib.Guideline() == nil {
		t.Fatal("no guideline in the library")
	}
	for _, c := range lib.Controls {
		for _, r := range c.Requirements {
			if _, it, err := lib.Resolve(r); err != nil || !it.Assessable() {
				t.Errorf("control %s: requirement %s does not resolve to an assessable item (%v)", c.ID, r, err)
			}
		}
	}
}

// A small, valid framework and control library the broken cases start from.
const (
	goodFramework = `id: fw-test
kind: guideline
edition: "1"
version: 1
name: {ja: "試験用ガイドライン", en: "Test guideline"}
published: "2024-01"
items:
  - ref: "1"
    number: "1"
    kind: chapter
    title: {ja: "第1章", en: "Chapter 1"}
    children:
      - ref: "1-C-1"
        number: C-1
        kind: C
        title: {ja: "要件", en: "Requirement"}
        summary: {ja: "要約", en: "Summary"}
`
	goodControls = `controls:
  - id: ctl-a
    title: {ja: "対策", en: "Control"}
    description: {ja: "説明", en: "Description"}
    requirements: ["fw-test:1-C-1"]
    checks: [part.check]
`
)

func TestLoad_RefusesBrokenData(t *testing.T) {
	cases := []struct {
		name, framework, controls, want string
	}{
		{"duplicate ref", strings.Replace(goodFramework, `"1-C-1"`, `"1"`, 1), "", "used twice"},
		{"missing en title", strings.Replace(goodFramework, `en: "Requirement"`, `en: ""`, 1), goodControls, "title in ja and en"},
		{"missing ja summary", strings.Replace(goodFramework, `ja: "要約"`, `ja: ""`, 1), goodControls, "summary"},
		{"unknown kind", strings.Replace(goodFramework, "kind: C\n", "kind: Z\n", 1), goodControls, "unknown kind"},
		{"unknown field", goodFramework + "colour: red\n", goodControls, "not a framework"},
		{"framework kind", strings.Replace(goodFramework, "kind: guideline", "kind: law", 1), goodControls, "neither"},
		{"framework id with a colon", strings.Replace(goodFramework, "id: fw-test", "id: fw:test", 1), goodControls, "id without"},
		{"ref with a space", strings.Replace(goodFramework, `ref: "1-C-1"`, `ref: "1 C 1"`, 1), "", "may not hold"},
		{"question in a guideline", strings.Replace(goodFramework, "kind: C\n", "kind: question\n", 1), "", "has no question items"},
		{"requirement at the top", strings.Replace(goodFramework, "kind: chapter", "kind: topic", 1), "", "under a chapter"},
		{"bad target", strings.Replace(goodFramework, "kind: C\n", "kind: C\n        target: roof\n", 1), "", "checklist cell"},
		{"assess on a C item", strings.Replace(goodFramework, "kind: C\n", "kind: C\n        assess: true\n", 1), "", "B items only"},
		{"bad v6 volume", strings.Replace(goodFramework, "kind: C\n", "kind: C\n        v6: [{volume: annex, chapter: \"1\"}]\n", 1), "", "v6"},
		{"bad published date", strings.Replace(goodFramework, `"2024-01"`, `"January 2024"`, 1), "", "published"},
		{"no items", "id: fw-empty\nkind: checklist\nname: {ja: \"空\", en: Empty}\nitems: []\n", "", "no items"},
		{"control naming an unknown item", goodFramework, strings.Replace(goodControls, "1-C-1", "1-C-9", 1), "has no item"},
		{"control naming an unknown framework", goodFramework, strings.Replace(goodControls, "fw-test:", "fw-other:", 1), "no framework"},
		{"control requirement without framework", goodFramework, strings.Replace(goodControls, "fw-test:", "", 1), "not <framework>:<ref>"},
		{"control requirement is a heading", goodFramework, strings.Replace(goodControls, "fw-test:1-C-1", "fw-test:1", 1), "not assessable"},
		{"control listed twice", goodFramework, goodControls + strings.TrimPrefix(goodControls, "controls:\n"), "listed twice"},
		{"control without en", goodFramework, strings.Replace(goodControls, `en: "Control"`, `en: ""`, 1), "ja and en"},
		{"control answering nothing", goodFramework, strings.Replace(goodControls, `["fw-test:1-C-1"]`, `[]`, 1), "answers no requirement"},
		{"control with no evidence", goodFramework, strings.Replace(goodControls, "    checks: [part.check]\n", "", 1), "neither checks nor evidence"},
		{"bad check id", goodFramework, strings.Replace(goodControls, "part.check", "Part Check", 1), "<part>.<name>"},
		{"requirement twice", goodFramework, strings.Replace(goodControls, `["fw-test:1-C-1"]`, `["fw-test:1-C-1", "fw-test:1-C-1"]`, 1), "twice"},
		{"evidence without id", goodFramework, goodControls + "    evidence: [{title: {ja: \"記録\", en: Record}, valid_days: 30}]\n", "evidence"},
		{"negative valid_days", goodFramework, goodControls + "    evidence: [{id: rec, title: {ja: \"記録\", en: Record}, valid_days: -1}]\n", "valid_days"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{"c/fw.yaml": {Data: []byte(tc.framework)}}
			if tc.controls != "" {
				fsys["c/controls.yaml"] = &fstest.MapFile{Data: []byte(tc.controls)}
			}
			_, err := Load(fsys, "c")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want an error about %q", err, tc.want)
			}
		})
	}
	t.Run("the good data loads", func(t *testing.T) {
		lib, err := Load(fstest.MapFS{"c/fw.yaml": {Data: []byte(goodFramework)}, "c/controls.yaml": {Data: []byte(goodControls)}}, "c")
		if err != nil {
			t.Fatal(err)
		}
		if cs := lib.ControlsFor("fw-test:1-C-1"); len(cs) != 1 || cs[0].ID != "ctl-a" {
			t.Fatalf("ControlsFor = %v", cs)
		}
	})
}

func TestLoad_AHigherVersionWins(t *testing.T) {
	newer := strings.Replace(strings.Replace(goodFramework, "version: 1", "version: 2", 1), `en: "Requirement"`, `en: "Newer"`, 1)
	lib, err := Load(fstest.MapFS{"c/a.yaml": {Data: []byte(newer)}, "c/b.yaml": {Data: []byte(goodFramework)}}, "c")
	if err != nil {
		t.Fatal(err)
	}
	if got := lib.Framework("fw-test").Item("1-C-1").Title.EN; got != "Newer" {
		t.Fatalf("title %q, want the version 2 one", got)
	}
	if len(lib.Frameworks) != 1 {
		t.Fatalf("%d frameworks, want 1", len(lib.Frameworks))
	}
}

func FuzzParseFramework(f *testing.F) {
	f.Add([]byte(goodFramework))
	for _, n := range []string{"mhlw-gl-5.1.yaml", "mhlw-checklist-r6.yaml"} {
		b, err := catalogFS.ReadFile("catalogs/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("id: x\nkind: guideline\nitems: [{ref: a, children: [{ref: a}]}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fw, err := ParseFramework(b)
		if err != nil {
			return
		}
		// What the parser accepts keeps its promises.
		fw.Walk(func(it *Item, _ int) bool {
			if fw.Item(it.Ref) != it || !validRef(it.Ref) || it.Title.JA == "" || it.Title.EN == "" {
				t.Fatalf("accepted a broken item %+v", it)
			}
			if it.Assessable() && (it.Summary.JA == "" || it.Summary.EN == "") {
				t.Fatalf("accepted an assessable item without a summary: %s", it.Ref)
			}
			return true
		})
	})
}

func FuzzParseControls(f *testing.F) {
	f.Add([]byte(goodControls))
	b, err := catalogFS.ReadFile("catalogs/controls.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("controls: [~, {id: x}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := ParseControls(b)
		if err != nil {
			return
		}
		for _, c := range cs {
			if c == nil || c.ID == "" || len(c.Requirements) == 0 || (len(c.Checks) == 0 && len(c.Evidence) == 0) {
				t.Fatalf("accepted a broken control %+v", c)
			}
		}
	})
}
