package compliance

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var exportTime = time.Date(2026, 4, 1, 9, 30, 0, 0, time.UTC)

// exportCatalog exports fwID in lang and returns the JSON and its decoded form.
func exportCatalog(t *testing.T, lib *Library, fwID, lang string) ([]byte, map[string]any) {
	t.Helper()
	b, err := OSCALCatalog(lib.Framework(fwID), lib, lang, exportTime)
	if err != nil {
		t.Fatalf("%s %s: %v", fwID, lang, err)
	}
	return b, decodeJSON(t, b)
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return v.(map[string]any)
}

func TestOSCALCatalog_EveryBuiltinFrameworkValidates(t *testing.T) {
	lib := builtin(t)
	schema := oscalSchema(t, "catalog")
	for _, fw := range lib.Frameworks {
		for _, lang := range []string{"ja", "en"} {
			_, doc := exportCatalog(t, lib, fw.ID, lang)
			if err := schema.Validate(doc); err != nil {
				t.Errorf("%s (%s) does not validate: %v", fw.ID, lang, err)
			}
		}
	}
}

// oscalIndex finds the groups, controls and parts of an export by id.
type oscalIndex struct {
	groups, controls, parts map[string]map[string]any
}

func indexOSCAL(t *testing.T, doc map[string]any) oscalIndex {
	t.Helper()
	ix := oscalIndex{map[string]map[string]any{}, map[string]map[string]any{}, map[string]map[string]any{}}
	seen := map[string]bool{}
	var walk func(kind string, v any)
	walk = func(kind string, v any) {
		for _, e := range asList(v) {
			m := e.(map[string]any)
			if id, ok := m["id"].(string); ok {
				if seen[id] {
					t.Errorf("id %s is used twice", id)
				}
				seen[id] = true
				map[string]map[string]map[string]any{"groups": ix.groups, "controls": ix.controls, "parts": ix.parts}[kind][id] = m
			}
			walk("groups", m["groups"])
			walk("controls", m["controls"])
			walk("parts", m["parts"])
		}
	}
	walk("groups", doc["catalog"].(map[string]any)["groups"])
	return ix
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// prop returns the values of the props of m named name.
func prop(m map[string]any, name string) []string {
	var out []string
	for _, p := range asList(m["props"]) {
		p := p.(map[string]any)
		if p["name"] == name {
			out = append(out, p["value"].(string))
		}
	}
	return out
}

func partNamed(m map[string]any, name string) map[string]any {
	for _, p := range asList(m["parts"]) {
		if p := p.(map[string]any); p["name"] == name {
			return p
		}
	}
	return nil
}

func TestOSCALCatalog_GuidelineItemsBecomeGroupsControlsAndParts(t *testing.T) {
	lib := builtin(t)
	gl := lib.Framework("mhlw-gl-5.1")
	_, doc := exportCatalog(t, lib, gl.ID, "en")
	ix := indexOSCAL(t, doc)

	assessed := 0
	gl.Walk(func(it *Item, _ int) bool {
		if it.Assessable() {
			assessed++
		}
		return true
	})
	if len(ix.controls) != assessed {
		t.Errorf("%d controls, want one per assessed item (%d)", len(ix.controls), assessed)
	}
	for _, id := range []string{"gl-4", "gl-6", "gl-6.5", "gl-6.5-1", "gl-6.10", "gl-7.1", "gl-8.1.2"} {
		if ix.groups[id] == nil {
			t.Errorf("group %s is missing", id)
		}
	}
	c := ix.controls["gl-6.5-c-15"]
	if c == nil {
		t.Fatal("control gl-6.5-c-15 is missing")
	}
	it := gl.Item("6.5-C-15")
	if c["title"] != it.Title.EN || partNamed(c, "statement")["prose"] != it.Summary.EN {
		t.Errorf("6.5-C-15: title %v, statement %v", c["title"], partNamed(c, "statement"))
	}
	if alt := partNamed(c, "alt-statement"); alt == nil || alt["prose"] != it.Summary.JA || alt["class"] != "ja" {
		t.Errorf("6.5-C-15: the Japanese statement is missing: %v", alt)
	}
	if got := prop(c, "label"); len(got) != 1 || got[0] != "C-15" {
		t.Errorf("label %v", got)
	}
	if got := prop(c, "revised"); len(got) != 1 || got[0] != "true" {
		t.Errorf("revised %v", got)
	}
	if got := prop(c, "anzen-control"); !strings.Contains(strings.Join(got, " "), "ctl-mfa") {
		t.Errorf("anzen controls %v, want ctl-mfa among them", got)
	}
	if got := prop(ix.controls["gl-6.5-c-7"], "v6"); len(got) == 0 || !strings.HasPrefix(got[0], "operations 17") {
		t.Errorf("6.5-C-7 v6 props %v", got)
	}
	if got := prop(ix.controls["gl-4.3-b-1"], "unconfirmed"); len(got) != 1 {
		t.Errorf("4.3-B-1 should be marked unconfirmed: %v", got)
	}
	// Rationale: 6.5 B-1 is an overview part of 6.5; 6.11 B-1's sub-points nest in it,
	// and B-1 ④, which is assessed, is a control of 6.11.
	if p := ix.parts["gl-6.5-b-1"]; p == nil || p["name"] != "overview" {
		t.Errorf("6.5 B-1 should be an overview part: %v", p)
	}
	if p := ix.parts["gl-6.11-b-1"]; p == nil || len(asList(p["parts"])) != 3 {
		t.Errorf("6.11 B-1 should hold its three sub-points: %v", p)
	}
	found := false
	for _, c := range asList(ix.groups["gl-6.11"]["controls"]) {
		if c.(map[string]any)["id"] == "gl-6.11-b-1-4" {
			found = true
		}
	}
	if !found {
		t.Error("6.11 B-1 ④ should be a control of group 6.11")
	}
	md := doc["catalog"].(map[string]any)["metadata"].(map[string]any)
	if md["oscal-version"] != "1.0.6" || md["version"] != "5.1 (data 2)" || md["last-modified"] != "2026-04-01T09:30:00Z" || md["published"] != "2021-01-01T00:00:00+09:00" {
		t.Errorf("metadata %v", md)
	}
	if parties := asList(md["parties"]); len(parties) != 1 || parties[0].(map[string]any)["short-name"] != "MHLW" {
		t.Errorf("parties %v", parties)
	}
}

func TestOSCALCatalog_ChecklistSheetsBecomeGroups(t *testing.T) {
	lib := builtin(t)
	_, doc := exportCatalog(t, lib, "mhlw-checklist-r6", "ja")
	ix := indexOSCAL(t, doc)
	for _, id := range []string{"cl-hospital", "cl-pharmacy", "cl-vendor", "cl-hospital-2"} {
		if ix.groups[id] == nil {
			t.Errorf("group %s is missing", id)
		}
	}
	c := ix.controls["cl-hospital-2-4-server"]
	if c == nil {
		t.Fatal("question hospital-2-4-server is missing")
	}
	if got := prop(c, "target"); len(got) != 1 || got[0] != "server" {
		t.Errorf("target %v", got)
	}
	if got := prop(ix.controls["cl-hospital-3-3"], "since"); len(got) != 1 || got[0] != "R6" {
		t.Errorf("since %v", got)
	}
	if c["title"] != lib.Framework("mhlw-checklist-r6").Item("hospital-2-4-server").Title.JA {
		t.Errorf("the ja export should title in Japanese: %v", c["title"])
	}
}

func TestOSCALCatalog_IsDeterministic(t *testing.T) {
	lib := builtin(t)
	a, docA := exportCatalog(t, lib, "mhlw-gl-5.1", "ja")
	b, _ := exportCatalog(t, lib, "mhlw-gl-5.1", "ja")
	if !bytes.Equal(a, b) {
		t.Fatal("two exports of the same catalog differ")
	}
	_, docEN := exportCatalog(t, lib, "mhlw-gl-5.1", "en")
	idJA := docA["catalog"].(map[string]any)["uuid"].(string)
	idEN := docEN["catalog"].(map[string]any)["uuid"].(string)
	u, err := uuid.Parse(idJA)
	if err != nil || u.Version() != 5 {
		t.Fatalf("uuid %s is not a version 5 UUID (%v)", idJA, err)
	}
	if idJA == idEN {
		t.Error("the ja and en exports share a uuid")
	}
}

func TestOSCALCatalog_BrokenCatalogFailsValidation(t *testing.T) {
	lib := builtin(t)
	schema := oscalSchema(t, "catalog")
	good, _ := exportCatalog(t, lib, "mhlw-checklist-r6", "en")
	breaks := map[string]func(cat map[string]any){
		"no metadata title": func(cat map[string]any) { delete(cat["metadata"].(map[string]any), "title") },
		"no oscal-version":  func(cat map[string]any) { delete(cat["metadata"].(map[string]any), "oscal-version") },
		"bad uuid":          func(cat map[string]any) { cat["uuid"] = "not-a-uuid" },
		"control id with a space": func(cat map[string]any) {
			g := asList(cat["groups"])[0].(map[string]any)
			c := asList(asList(g["groups"])[0].(map[string]any)["controls"])[0].(map[string]any)
			c["id"] = "1 ①"
		},
		"date without zone": func(cat map[string]any) { cat["metadata"].(map[string]any)["last-modified"] = "2026-04-01T09:30:00" },
		"unknown field":     func(cat map[string]any) { cat["colour"] = "red" },
		"link rel": func(cat map[string]any) {
			asList(cat["metadata"].(map[string]any)["links"])[0].(map[string]any)["rel"] = "source"
		},
	}
	for name, breakIt := range breaks {
		t.Run(name, func(t *testing.T) {
			doc := decodeJSON(t, good)
			breakIt(doc["catalog"].(map[string]any))
			err := schema.Validate(doc)
			if err == nil {
				t.Fatal("the broken catalog validates")
			}
			t.Logf("%.300v", err)
		})
	}
}

func TestOSCALCatalog_RefusesBadInput(t *testing.T) {
	lib := builtin(t)
	if _, err := OSCALCatalog(nil, lib, "ja", exportTime); err == nil {
		t.Error("no framework: want an error")
	}
	if _, err := OSCALCatalog(lib.Guideline(), lib, "fr", exportTime); err == nil {
		t.Error("language fr: want an error")
	}
	// Two refs that differ only in case would become one OSCAL id.
	clash := strings.Replace(goodFramework, "        summary: {ja: \"要約\", en: \"Summary\"}\n",
		"        summary: {ja: \"要約\", en: \"Summary\"}\n      - {ref: \"1-c-1\", kind: C, title: {ja: \"要件\", en: R}, summary: {ja: \"要約\", en: S}}\n", 1)
	fw, err := ParseFramework([]byte(clash))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OSCALCatalog(fw, nil, "en", exportTime); err == nil || !strings.Contains(err.Error(), "both become") {
		t.Errorf("clashing ids: got %v", err)
	}
	// Without a library the export still works, without anzen's controls.
	b, err := OSCALCatalog(lib.Guideline(), nil, "en", exportTime)
	if err != nil || bytes.Contains(b, []byte("anzen-control")) {
		t.Errorf("export without a library: %v", err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if err := oscalSchema(t, "catalog").Validate(v); err != nil {
		t.Errorf("export without a library does not validate: %v", err)
	}
}
