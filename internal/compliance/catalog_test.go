package compliance

import (
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"
)

// These tests hold the built-in catalogs to what the rest of anzen relies
// on: the refs the checks name, both languages everywhere, the revised
// areas of edition 5.1, and a control for every item assessed.

func builtin(t testing.TB) *Library {
	t.Helper()
	lib, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

func TestBuiltin_HasTheGuidelineAndBothChecklists(t *testing.T) {
	lib := builtin(t)
	for _, id := range []string{"mhlw-gl-5.1", "mhlw-checklist-r6", "mhlw-checklist-r7"} {
		if lib.Framework(id) == nil {
			t.Errorf("framework %s is missing", id)
		}
	}
	if g := lib.Guideline(); g == nil || g.ID != "mhlw-gl-5.1" {
		t.Errorf("Guideline() = %v, want mhlw-gl-5.1", g)
	}
	if c := lib.Checklist(); c == nil || c.ID != "mhlw-checklist-r7" {
		t.Errorf("Checklist() = %v, want the newest fiscal year, mhlw-checklist-r7", c)
	}
	if r6 := lib.Framework("mhlw-checklist-r6"); r6 != nil && r6.Published != "2024-05-13" {
		t.Errorf("r6 published %q, want 2024-05-13", r6.Published)
	}
	if r7 := lib.Framework("mhlw-checklist-r7"); r7 != nil && (!strings.Contains(r7.Note.EN, "draft") || r7.Note.JA == "") {
		t.Errorf("r7's note must say it is based on the draft: %+v", r7.Note)
	}
}

// hasJapanese reports whether s holds kana or kanji, so that a ja text is
// not an English one copied over.
func hasJapanese(s string) bool {
	for _, r := range s {
		if unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Han) {
			return true
		}
	}
	return false
}

func TestBuiltin_EveryItemHasBothLanguages(t *testing.T) {
	lib := builtin(t)
	for _, fw := range lib.Frameworks {
		fw.Walk(func(it *Item, _ int) bool {
			if !hasJapanese(it.Title.JA) || it.Title.EN == "" || hasJapanese(it.Title.EN) {
				t.Errorf("%s:%s: title needs Japanese ja and an English en: %+v", fw.ID, it.Ref, it.Title)
			}
			if it.Assessable() && (!hasJapanese(it.Summary.JA) || it.Summary.EN == "" || hasJapanese(it.Summary.EN)) {
				t.Errorf("%s:%s: summary needs Japanese ja and an English en: %+v", fw.ID, it.Ref, it.Summary)
			}
			return true
		})
	}
	for _, c := range lib.Controls {
		if !hasJapanese(c.Title.JA) || !hasJapanese(c.Description.JA) || c.Title.EN == "" || c.Description.EN == "" {
			t.Errorf("control %s needs ja and en title and description", c.ID)
		}
		for _, e := range c.Evidence {
			if !hasJapanese(e.Title.JA) || e.Title.EN == "" {
				t.Errorf("control %s evidence %s needs ja and en", c.ID, e.ID)
			}
		}
	}
}

// The refs the parts' checks and the other rooms of compliance name.
var (
	guidelineRefsUsed = []string{"6.5-C-1", "6.5-C-4", "6.5-C-6", "6.5-C-7", "6.5-C-8", "6.5-C-10", "6.5-C-14",
		"6.5-C-15", "6.5-D-2", "6.10-C-1", "6.10-C-2", "6.10-C-3", "6.10-C-4", "6.10-C-5", "6.10-C-6",
		"6.11-B-1-4", "6.12-C-1", "7.1-C-1"}
	hospitalRefsUsed = []string{"hospital-1-1", "hospital-2-1", "hospital-2-2", "hospital-2-3", "hospital-2-4-server",
		"hospital-2-4-terminal", "hospital-2-5-server", "hospital-2-5-terminal", "hospital-2-6-server",
		"hospital-2-7-server", "hospital-2-7-terminal", "hospital-2-7-network", "hospital-2-8-network",
		"hospital-2-9-server", "hospital-2-9-terminal", "hospital-3-1", "hospital-3-2", "hospital-3-3"}
)

func TestBuiltin_RefsOthersRelyOnExistAndAreAssessable(t *testing.T) {
	lib := builtin(t)
	var refs []string
	for _, r := range guidelineRefsUsed {
		refs = append(refs, "mhlw-gl-5.1:"+r)
	}
	for _, r := range hospitalRefsUsed {
		refs = append(refs, "mhlw-checklist-r6:"+r, "mhlw-checklist-r7:"+r) // r7 carries r6's refs over
	}
	for _, ref := range refs {
		_, it, err := lib.Resolve(ref)
		if err != nil {
			t.Error(err)
			continue
		}
		if !it.Assessable() {
			t.Errorf("%s is not assessable", ref)
		}
	}
	if _, it, err := lib.Resolve("mhlw-gl-5.1:6.11-B-1-4"); err == nil && (it.Kind != ItemB || !it.Assess || it.Number != "B-1 ④") {
		t.Errorf("6.11-B-1-4 must be B-1 ④, kind B, assess: true; got %+v", it)
	}
}

// revisedAreas are where edition 5.1 added or changed text: everything at
// or under these refs is revised, and nothing else is.
var revisedAreas = []string{"4.3", "6.5-(1)", "6.5-(3)", "6.5-(5)", "6.5-(7)", "6.10", "6.11-B-1-4", "6.11-B-2", "6.11-B-4", "8.1.2"}

func TestBuiltin_RevisedFlagsOnExactlyTheRevisedAreas(t *testing.T) {
	gl := builtin(t).Framework("mhlw-gl-5.1")
	inArea := func(it *Item) bool {
		for p := it; p != nil; p = p.Parent() {
			if slices.Contains(revisedAreas, p.Ref) {
				return true
			}
		}
		return false
	}
	counts := map[string]int{}
	gl.Walk(func(it *Item, _ int) bool {
		if it.Revised != inArea(it) {
			t.Errorf("%s: revised = %v, want %v", it.Ref, it.Revised, !it.Revised)
		}
		if it.Revised && it.Assessable() {
			for p := it; p != nil; p = p.Parent() {
				counts[p.Ref]++
			}
		}
		return true
	})
	for _, a := range revisedAreas {
		if counts[a] == 0 {
			t.Errorf("revised area %s has no assessable item", a)
		}
	}
}

// checkItems is which items each check of the parts answers (common brief);
// a control using the check must list them.
var checkItems = map[string][]string{
	"identity.mfa_enrolment":      {"mhlw-gl-5.1:6.5-C-15"},
	"identity.password_profile":   {"mhlw-gl-5.1:6.5-C-10"},
	"identity.lockout":            {"mhlw-gl-5.1:6.5-C-14"},
	"identity.session_timeout":    {"mhlw-gl-5.1:6.5-C-4", "mhlw-gl-5.1:6.5-D-2"},
	"identity.leavers":            {"mhlw-gl-5.1:6.5-C-1", "mhlw-checklist-r6:hospital-2-5-server", "mhlw-checklist-r6:hospital-2-5-terminal"},
	"identity.role_grants":        {"mhlw-gl-5.1:6.5-C-6", "mhlw-checklist-r6:hospital-2-4-server", "mhlw-checklist-r6:hospital-2-4-terminal"},
	"keys.rotation":               {"mhlw-gl-5.1:6.11-B-1-4"},
	"keys.signing_hsm":            {"mhlw-gl-5.1:6.11-B-1-4"},
	"keys.certificates":           {"mhlw-gl-5.1:6.11-B-1-4", "mhlw-gl-5.1:6.12-C-1"},
	"audit.verified":              {"mhlw-gl-5.1:6.5-C-7", "mhlw-gl-5.1:7.1-C-1"},
	"audit.checkpoints":           {"mhlw-gl-5.1:6.5-C-7"},
	"audit.sources_silent":        {"mhlw-gl-5.1:6.5-C-7", "mhlw-checklist-r6:hospital-2-6-server"},
	"audit.clock_skew":            {"mhlw-gl-5.1:6.5-C-8"},
	"audit.retention":             {"mhlw-gl-5.1:6.5-C-7"},
	"detect.rules":                {"mhlw-gl-5.1:6.5-C-7"},
	"detect.alert_review":         {"mhlw-gl-5.1:6.5-C-7"},
	"detect.notification":         {"mhlw-gl-5.1:6.5-C-7"},
	"incident.organisation":       {"mhlw-gl-5.1:6.10-C-1", "mhlw-checklist-r6:hospital-1-1"},
	"incident.contact_diagram":    {"mhlw-gl-5.1:6.10-C-5", "mhlw-checklist-r6:hospital-3-1"},
	"incident.bcp":                {"mhlw-gl-5.1:6.10-C-1", "mhlw-gl-5.1:6.10-C-3", "mhlw-checklist-r6:hospital-3-3"},
	"incident.drills":             {"mhlw-gl-5.1:6.10-C-2"},
	"incident.backups":            {"mhlw-gl-5.1:6.10-C-6", "mhlw-checklist-r6:hospital-3-2"},
	"incident.emergency_accounts": {"mhlw-gl-5.1:6.10-C-4"},
	"incident.reports_on_time":    {"mhlw-gl-5.1:6.10-C-5"},
}

func TestBuiltin_EveryCheckIsUsedByAControlAnsweringItsItems(t *testing.T) {
	lib := builtin(t)
	answered := map[string]map[string]bool{} // check → requirements of the controls using it
	for _, c := range lib.Controls {
		for _, id := range c.Checks {
			if _, known := checkItems[id]; !known {
				t.Errorf("control %s uses check %s, which no part declares", c.ID, id)
			}
			if answered[id] == nil {
				answered[id] = map[string]bool{}
			}
			for _, r := range c.Requirements {
				answered[id][r] = true
			}
		}
	}
	for id, items := range checkItems {
		if answered[id] == nil {
			t.Errorf("check %s is used by no control", id)
			continue
		}
		for _, ref := range items {
			if !answered[id][ref] {
				t.Errorf("check %s covers %s, but no control using it answers that item", id, ref)
			}
		}
	}
}

func TestBuiltin_EveryAssessableItemIsAnsweredByAControl(t *testing.T) {
	lib := builtin(t)
	answered := map[string]bool{}
	for _, c := range lib.Controls {
		for _, r := range c.Requirements {
			answered[r] = true
		}
	}
	for _, fwID := range []string{"mhlw-gl-5.1", "mhlw-checklist-r6", "mhlw-checklist-r7"} {
		fw := lib.Framework(fwID)
		fw.Walk(func(it *Item, _ int) bool {
			if fw.Kind == KindChecklist && it.Top().Ref == "vendor" {
				return false // the vendor answers its sheet through the supply portal
			}
			if it.Assessable() && !answered[fw.ID+":"+it.Ref] {
				t.Errorf("%s:%s (%s) is answered by no control", fw.ID, it.Ref, it.Title.EN)
			}
			return true
		})
	}
}

func TestBuiltin_GuidelineHasItsChaptersAndSections(t *testing.T) {
	gl := builtin(t).Framework("mhlw-gl-5.1")
	var chapters []string
	for _, it := range gl.Items {
		chapters = append(chapters, it.Ref)
	}
	if !slices.Equal(chapters, []string{"4", "6", "7", "8"}) {
		t.Errorf("chapters %v, want 4 6 7 8", chapters)
	}
	sections := []string{"4.3", "6.1", "6.2", "6.3", "6.4", "6.5", "6.6", "6.7", "6.8", "6.9", "6.10", "6.11", "6.12",
		"7.1", "7.2", "7.3", "8.1", "8.1.1", "8.1.2"}
	for _, s := range sections {
		it := gl.Item(s)
		if it == nil {
			t.Errorf("section %s is missing", s)
			continue
		}
		if s == "8.1" {
			continue // its requirements sit in 8.1.1, 8.1.2, ...
		}
		n := 0
		var count func(*Item)
		count = func(x *Item) {
			if x.Kind == ItemC || (x.Kind == ItemB && x.Assess) {
				n++
			}
			for _, c := range x.Children {
				count(c)
			}
		}
		count(it)
		if n == 0 {
			t.Errorf("section %s has no C item", s)
		}
	}
	for _, topic := range []string{"6.5-(1)", "6.5-(2)", "6.5-(3)", "6.5-(4)", "6.5-(5)", "6.5-(6)", "6.5-(7)"} {
		if it := gl.Item(topic); it == nil || it.Kind != ItemTopic {
			t.Errorf("topic %s is missing", topic)
		}
	}
}

func TestBuiltin_ChecklistSheetsMirrorTheForm(t *testing.T) {
	lib := builtin(t)
	r6 := lib.Framework("mhlw-checklist-r6")
	var sheets []string
	for _, s := range r6.Items {
		sheets = append(sheets, s.Ref)
	}
	if !slices.Equal(sheets, []string{"hospital", "pharmacy", "vendor"}) {
		t.Fatalf("sheets %v", sheets)
	}
	// FY2024: section 1 one cell, section 2 fourteen, section 3 three.
	for g, want := range map[string]int{"hospital-1": 1, "hospital-2": 14, "hospital-3": 3} {
		if got := len(r6.Item(g).Children); got != want {
			t.Errorf("%s has %d questions, want %d", g, got, want)
		}
	}
	var hospital, since []string
	r6.Walk(func(it *Item, _ int) bool {
		if it.Kind == ItemQuestion && it.Top().Ref == "hospital" {
			hospital = append(hospital, it.Ref)
			if it.Since == "R6" {
				since = append(since, it.Ref)
			}
			if strings.Count(it.Ref, "-") == 3 && it.Target == "" {
				t.Errorf("%s stands for one cell but has no target", it.Ref)
			}
		}
		return true
	})
	sort.Strings(hospital)
	want := slices.Clone(hospitalRefsUsed)
	sort.Strings(want)
	if !slices.Equal(hospital, want) {
		t.Errorf("hospital questions\n got %v\nwant %v", hospital, want)
	}
	if wantSince := []string{"hospital-2-7-server", "hospital-2-7-terminal", "hospital-2-9-server", "hospital-2-9-terminal", "hospital-3-2", "hospital-3-3"}; !slices.Equal(since, wantSince) {
		t.Errorf("since R6: %v, want %v", since, wantSince)
	}
	r7 := lib.Framework("mhlw-checklist-r7")
	r6.Walk(func(it *Item, _ int) bool {
		if r7.Item(it.Ref) == nil {
			t.Errorf("r7 does not carry r6's %s over", it.Ref)
		}
		return true
	})
	added := 0
	r7.Walk(func(it *Item, _ int) bool {
		if it.Since == "R7" {
			added++
			if !it.Unconfirmed {
				t.Errorf("r7 %s is from the draft and must be unconfirmed", it.Ref)
			}
		}
		return true
	})
	if added == 0 {
		t.Error("r7 adds no question")
	}
}

// TestBuiltin_Counts logs the catalog's size per chapter and sheet.
func TestBuiltin_Counts(t *testing.T) {
	lib := builtin(t)
	for _, fw := range lib.Frameworks {
		for _, top := range fw.Items {
			n, unconfirmed := 0, 0
			var count func(*Item)
			count = func(x *Item) {
				if x.Assessable() {
					n++
					if x.Unconfirmed {
						unconfirmed++
					}
				}
				for _, c := range x.Children {
					count(c)
				}
			}
			count(top)
			t.Logf("%s %s: %d assessed (%d unconfirmed)", fw.ID, top.Ref, n, unconfirmed)
		}
	}
	t.Logf("controls: %d", len(lib.Controls))
	if len(lib.Controls) < 30 || len(lib.Controls) > 45 {
		t.Errorf("the library has %d controls, want 30 to 45", len(lib.Controls))
	}
}

// TestBuiltin_AttestationsWhereNoPartChecks: where no part of anzen checks
// a measure yet, a control answering the item asks people for evidence.
func TestBuiltin_AttestationsWhereNoPartChecks(t *testing.T) {
	lib := builtin(t)
	want := map[string]string{ // requirement → evidence spec
		"mhlw-checklist-r6:hospital-2-1":         "asset-register",
		"mhlw-checklist-r6:hospital-2-2":         "remote-maintenance-confirmation",
		"mhlw-checklist-r6:hospital-2-3":         "mds-sds",
		"mhlw-checklist-r6:hospital-2-7-server":  "patch-record",
		"mhlw-checklist-r6:hospital-2-8-network": "firewall-acl",
		"mhlw-gl-5.1:6.5-C-13":                   "firewall-acl",
		"mhlw-checklist-r6:hospital-2-9-server":  "service-baseline",
		"mhlw-gl-5.1:6.3-C-5":                    "operations-rules",
		"mhlw-gl-5.1:4.3-B-2":                    "responsibility-matrix",
		"mhlw-gl-5.1:8.1.2-C-5":                  "contractor-assessment",
		"mhlw-gl-5.1:8.1.2-C-6":                  "contractor-assessment",
		"mhlw-gl-5.1:6.11-B-2":                   "sanitisation-record",
		"mhlw-gl-5.1:6.11-B-4":                   "phr-operator-check",
		"mhlw-gl-5.1:6.5-C-11":                   "wifi-settings",
		"mhlw-gl-5.1:6.5-C-12":                   "iot-assessment",
		"mhlw-gl-5.1:6.6-C-2":                    "training-record",
		"mhlw-gl-5.1:6.9-C-2":                    "take-out-ledger",
		"mhlw-gl-5.1:6.12-C-2":                   "tsa-accreditation",
	}
	for ref, ev := range want {
		found := false
		for _, c := range lib.ControlsFor(ref) {
			for _, e := range c.Evidence {
				if e.ID == ev {
					found = true
					if e.ValidFor == 0 {
						t.Errorf("%s: evidence %s never expires; a record like this needs renewing", c.ID, ev)
					}
				}
			}
		}
		if !found {
			t.Errorf("%s: no control answering it asks for evidence %s", ref, ev)
		}
	}
}
