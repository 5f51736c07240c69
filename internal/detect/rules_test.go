package detect_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

const (
	breakGlass = "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a02"
	printRule  = "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a03"
	massPrint  = "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a04"
)

// vendorRules is a hospital's file: a rule and a correlation of it.
const vendorRules = `title: Export by a vendor account
id: hospital-vendor-export
name: vendor_export
logsource: {product: anzen, category: access}
detection:
  selection: {action: export, user|startswith: 'vendor-'}
  condition: selection
level: high
tags: [hospital.vendor]
---
title: Repeated exports by one vendor account
id: hospital-vendor-exports
correlation:
  type: event_count
  rules: [vendor_export]
  group-by: [user]
  timespan: 1h
  condition: {gte: 3}
level: critical
`

var changer = detect.Changer{UserID: 7, Login: "csirt01", Client: "192.0.2.1"}

func baseFiles(t *testing.T) detect.RuleFiles {
	t.Helper()
	files, err := detect.LoadRuleFiles([]string{"builtin:medical"})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func storedCount(t *testing.T, d *db.DB) int {
	t.Helper()
	s, err := detect.ListStoredRules(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return len(s)
}

// TestRules_ImportKeepsAGoodFileWholeAndNothingOfABadOne imports a file
// of a rule and its correlation, then files that cannot be run, and
// checks what is kept and recorded.
func TestRules_ImportKeepsAGoodFileWholeAndNothingOfABadOne(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d, clock.NewFrozen(audittest.Start))
		base := baseFiles(t)
		s, err := detect.ImportRules(ctx, d, l, base, vendorRules, changer, audittest.Start)
		if err != nil || !slices.Equal(s.Keys, []string{"hospital-vendor-export", "hospital-vendor-exports"}) {
			t.Fatalf("import: %+v %v", s, err)
		}
		for _, c := range []struct {
			name, yaml, msgID, detail string
		}{
			{"a modifier the engine lacks", strings.Replace(vendorRules, "user|startswith", "user|sounds_like", 1) + "\n",
				"detect.rules.error.invalid", "sounds_like"},
			{"the same id again", vendorRules, "detect.rules.error.duplicate", "hospital-vendor-export"},
			{"the same name", strings.ReplaceAll(vendorRules, "hospital-vendor", "other"), "detect.rules.error.duplicate", "vendor_export"},
			{"a correlation of a rule that is not there", strings.Replace(strings.ReplaceAll(strings.ReplaceAll(vendorRules, "hospital-vendor", "other"),
				"vendor_export", "other_export"), "rules: [other_export]", "rules: [no_such_rule]", 1), "detect.rules.error.invalid", "no_such_rule"},
			{"not YAML", "title: [", "detect.rules.error.invalid", "line"},
			{"nothing", "  \n", "detect.rules.error.empty", ""},
		} {
			_, err := detect.ImportRules(ctx, d, l, base, c.yaml, changer, audittest.Start)
			var re *detect.RuleError
			if !errors.As(err, &re) || re.MsgID != c.msgID || !strings.Contains(re.Detail, c.detail) {
				t.Errorf("%s: %v", c.name, err)
			}
		}
		if n := storedCount(t, d); n != 1 {
			t.Errorf("%d stored files, want 1", n)
		}
		cat, err := detect.ReadRuleCatalog(ctx, d, base)
		if err != nil {
			t.Fatal(err)
		}
		e := cat.Entry("hospital-vendor-exports")
		if e == nil || e.Source != detect.SourceStored || e.Correlation != "event_count" || !e.Running() {
			t.Fatalf("the stored correlation: %+v", e)
		}
		entries, _, err := l.Search(ctx, audit.Filter{Action: detect.ActionRuleImport, AllFacilities: true})
		if err != nil || len(entries) != 1 || entries[0].ActorLogin != "csirt01" ||
			entries[0].Detail["rules"] != "hospital-vendor-export, hospital-vendor-exports" {
			t.Errorf("audit log: %+v %v", entries, err)
		}
		// A pack's rule cannot be deleted; the stored file can, whole.
		var re *detect.RuleError
		if _, err := detect.DeleteStoredRules(ctx, d, l, base, breakGlass, changer, audittest.Start); !errors.As(err, &re) {
			t.Errorf("deleting a pack's rule: %v", err)
		}
		if _, err := detect.DeleteStoredRules(ctx, d, l, base, "hospital-vendor-export", changer, audittest.Start); err != nil {
			t.Fatal(err)
		}
		if n := storedCount(t, d); n != 0 {
			t.Errorf("%d stored files after the deletion", n)
		}
	})
}

// TestRules_ExportRoundTrips exports every rule and one stored rule and
// reads them back.
func TestRules_ExportRoundTrips(t *testing.T) {
	d := dbtest.SQLite(t, parts...)
	ctx := context.Background()
	l := audit.New(d, clock.NewFrozen(audittest.Start))
	base := baseFiles(t)
	if _, err := detect.ImportRules(ctx, d, l, base, vendorRules, changer, audittest.Start); err != nil {
		t.Fatal(err)
	}
	cat, err := detect.ReadRuleCatalog(ctx, d, base)
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	var keys []string
	for _, e := range cat.Entries {
		docs, keys = append(docs, e.Doc), append(keys, e.Key)
	}
	f := detect.ParseRuleText("export", detect.ExportYAML(docs))
	if !f.Loaded() || len(f.Rules)+len(f.Correlations) != len(keys) {
		t.Fatalf("the export of all: %v, %d rules", f.Err, len(f.Rules)+len(f.Correlations))
	}
	var got []string
	for _, r := range f.Rules {
		got = append(got, r.Key())
	}
	for _, c := range f.Correlations {
		got = append(got, c.Key())
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("keys %v, want %v", got, keys)
	}
	// The stored file, exported, deleted and imported again, is the same.
	var mine [][]byte
	for _, k := range []string{"hospital-vendor-export", "hospital-vendor-exports"} {
		mine = append(mine, cat.Entry(k).Doc)
	}
	if _, err := detect.DeleteStoredRules(ctx, d, l, base, "hospital-vendor-export", changer, audittest.Start); err != nil {
		t.Fatal(err)
	}
	s, err := detect.ImportRules(ctx, d, l, base, string(detect.ExportYAML(mine)), changer, audittest.Start)
	if err != nil || len(s.Keys) != 2 {
		t.Fatalf("import of the export: %v", err)
	}
	again, _ := detect.ReadRuleCatalog(ctx, d, base)
	for i, k := range []string{"hospital-vendor-export", "hospital-vendor-exports"} {
		if e := again.Entry(k); e == nil || strings.TrimSpace(string(e.Doc)) != strings.TrimSpace(string(mine[i])) {
			t.Errorf("%s after the round trip: %+v", k, e)
		}
	}
}

// breakGlassAt is a break-glass access by user at t.
func breakGlassAt(at time.Time, user string) audit.Event {
	return audit.Event{Seq: -1, Time: at, Received: at, Facility: 1, Source: "ehr-main", Action: "emergency_access",
		Actor: audit.Actor{ID: user, Profession: "doctor"}, Patient: audit.Patient{ID: "P-" + user}, Outcome: audit.OutcomeSuccess}
}

// TestRules_SettingsTakeEffectInRunningEngines changes a pack rule's
// level and disables it while two engines (as of two instances) run, and
// imports a rule, which runs from the next batch.
func TestRules_SettingsTakeEffectInRunningEngines(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d, clock.NewFrozen(audittest.Start.Add(time.Hour)))
		en, other := newEngine(t, d, l), newEngine(t, d, l)
		base := en.BaseRules()
		at := audittest.Start
		appendAndRun := func(run *detect.Engine, events ...audit.Event) []detect.Alert {
			t.Helper()
			before, _ := detect.Alerts(ctx, d, 1000)
			if _, err := l.Append(ctx, events); err != nil {
				t.Fatal(err)
			}
			drain(t, run)
			after, _ := detect.Alerts(ctx, d, 1000)
			return after[:len(after)-len(before)]
		}
		if got := appendAndRun(en, breakGlassAt(at, "d-1")); len(got) != 1 || got[0].Level.String() != "high" {
			t.Fatalf("before any change: %+v", got)
		}
		critical := "critical"
		e, err := detect.SetRule(ctx, d, l, base, breakGlass, detect.RulePatch{Level: &critical}, changer, at)
		if err != nil || e.Level.String() != "critical" || e.OwnLevel.String() != "high" || e.Setting.UpdatedBy != "csirt01" {
			t.Fatalf("level: %+v %v", e, err)
		}
		// The other engine, which has not read the change, applies it.
		if got := appendAndRun(other, breakGlassAt(at.Add(time.Minute), "d-2")); len(got) != 1 || got[0].Level.String() != "critical" {
			t.Fatalf("after the level change: %+v", got)
		}
		off := false
		if _, err := detect.SetRule(ctx, d, l, base, breakGlass, detect.RulePatch{Enabled: &off}, changer, at); err != nil {
			t.Fatal(err)
		}
		if got := appendAndRun(en, breakGlassAt(at.Add(2*time.Minute), "d-3")); len(got) != 0 {
			t.Fatalf("a disabled rule raised %+v", got)
		}
		if _, err := detect.ImportRules(ctx, d, l, base, vendorRules, changer, at); err != nil {
			t.Fatal(err)
		}
		export := audit.Event{Seq: -1, Time: at.Add(3 * time.Minute), Received: at, Facility: 1, Source: "ehr-main",
			Action: "export", Actor: audit.Actor{ID: "vendor-9"}, Outcome: audit.OutcomeSuccess}
		if got := appendAndRun(other, export); len(got) != 0 {
			t.Fatalf("the imported rule's match alone: %+v (its correlation does not generate it)", got)
		}
		got := appendAndRun(en, export, export)
		if len(got) != 1 || got[0].RuleID != "hospital-vendor-exports" || got[0].Level.String() != "critical" || got[0].Total != 3 {
			t.Fatalf("the imported correlation: %+v", got)
		}
		// Bad settings change nothing.
		bad := "severe"
		tags := []string{"Not A Tag"}
		for _, p := range []detect.RulePatch{{Level: &bad}, {Tags: &tags}, {}} {
			var re *detect.RuleError
			if _, err := detect.SetRule(ctx, d, l, base, breakGlass, p, changer, at); !errors.As(err, &re) {
				t.Errorf("patch %+v: %v", p, err)
			}
		}
		if _, err := detect.SetRule(ctx, d, l, base, "no-such-rule", detect.RulePatch{Enabled: &off}, changer, at); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("an unknown rule: %v", err)
		}
		changes, _, err := l.Search(ctx, audit.Filter{Action: detect.ActionRuleSettings, AllFacilities: true})
		if err != nil || len(changes) != 2 || changes[0].Detail["enabled"] != "false" || changes[1].Detail["level"] != "critical" {
			t.Errorf("audit log: %+v %v", changes, err)
		}
	})
}

// TestRules_DisablingAPartOfACorrelationLeavesItOut: a correlation whose
// rule is disabled does not run, and a disabled correlation does not turn
// its rule's matches into alerts.
func TestRules_DisablingAPartOfACorrelationLeavesItOut(t *testing.T) {
	d := dbtest.SQLite(t, parts...)
	ctx := context.Background()
	l := audit.New(d, clock.NewFrozen(audittest.Start))
	base := baseFiles(t)
	off := false
	if _, err := detect.SetRule(ctx, d, l, base, printRule, detect.RulePatch{Enabled: &off}, changer, audittest.Start); err != nil {
		t.Fatal(err)
	}
	cat, _ := detect.ReadRuleCatalog(ctx, d, base)
	if e := cat.Entry(massPrint); e == nil || e.Running() || e.LeftOut != "patient_data_print_export" {
		t.Fatalf("the correlation of a disabled rule: %+v", e)
	}
	on := true
	if _, err := detect.SetRule(ctx, d, l, base, printRule, detect.RulePatch{Enabled: &on}, changer, audittest.Start); err != nil {
		t.Fatal(err)
	}
	if _, err := detect.SetRule(ctx, d, l, base, massPrint, detect.RulePatch{Enabled: &off}, changer, audittest.Start); err != nil {
		t.Fatal(err)
	}
	en := newEngine(t, d, l)
	print := audit.Event{Seq: -1, Time: audittest.Start, Received: audittest.Start, Facility: 1, Source: "ehr-main",
		Action: "print", Actor: audit.Actor{ID: "c-1"}, Patient: audit.Patient{ID: "P1"}, Outcome: audit.OutcomeSuccess}
	if _, err := l.Append(ctx, []audit.Event{print}); err != nil {
		t.Fatal(err)
	}
	drain(t, en)
	if alerts, _ := detect.Alerts(ctx, d, 10); len(alerts) != 0 {
		t.Errorf("alerts %+v", alerts)
	}
}

// quiet records nothing, so that the log holds the same events as a run
// without changes.
type quiet struct{}

func (quiet) Record(context.Context, db.Querier, selfaudit.Event) error { return nil }

// TestRules_ChangingTheSetMidStreamNeitherMissesNorRepeatsCorrelations
// changes a rule's tags (a new set: the engine swaps it in between two
// batches, moving the open windows) after every piece of a day with
// correlations open across pieces, and gets the alerts of a run without
// changes. (Engines of other instances restore the stored windows instead:
// TestRules_SettingsTakeEffectInRunningEngines.)
func TestRules_ChangingTheSetMidStreamNeitherMissesNorRepeatsCorrelations(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		events := misuseDay()
		var want []string
		{
			ref := dbtest.SQLite(t, parts...)
			rl := audit.New(ref, clock.NewFrozen(audittest.Start.Add(time.Hour)))
			if _, err := rl.Append(ctx, events); err != nil {
				t.Fatal(err)
			}
			drain(t, newEngine(t, ref, rl))
			want = alertKeys(t, ref)
		}
		l := audit.New(d, clock.NewFrozen(audittest.Start.Add(time.Hour)))
		en := newEngine(t, d, l, detect.WithBatch(50))
		// Small pieces while the mass printing's window is open (its
		// events are 1009-1548), large ones elsewhere.
		piece := func(i int) int {
			if i >= 900 && i < 1600 {
				return 70
			}
			return 450
		}
		for i, n := 0, 0; i < len(events); i, n = i+piece(i), n+1 {
			if _, err := l.Append(ctx, events[i:min(i+piece(i), len(events))]); err != nil {
				t.Fatal(err)
			}
			tags := []string{fmt.Sprintf("hospital.piece%d", n)}
			key := []string{breakGlass, massPrint}[n%2]
			if _, err := detect.SetRule(ctx, d, quiet{}, en.BaseRules(), key, detect.RulePatch{Tags: &tags}, changer, audittest.Start); err != nil {
				t.Fatal(err)
			}
			drain(t, en)
		}
		if got := alertKeys(t, d); !slices.Equal(got, want) {
			t.Errorf("alerts\n got %v\nwant %v", got, want)
		}
	})
}

// TestRules_TryFindsPlantedEventsWithinTheBound plants break-glass
// accesses and vendor exports among ordinary work and tries a pack rule
// and a pasted file over the last hours.
func TestRules_TryFindsPlantedEventsWithinTheBound(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := audittest.Start.Add(4 * time.Hour)
		l := audit.New(d, clock.NewFrozen(now))
		events := audittest.Events(0, 800)
		for i := range events {
			events[i].Time = audittest.Start.Add(time.Duration(i) * 15 * time.Second)
			events[i].Received = events[i].Time
		}
		for _, m := range []int{30, 120, 180} {
			events = append(events, breakGlassAt(audittest.Start.Add(time.Duration(m)*time.Minute), fmt.Sprintf("d-%d", m)))
		}
		other := breakGlassAt(audittest.Start.Add(190*time.Minute), "d-190")
		other.Facility = 2
		events = append(events, other)
		for i := range 3 {
			at := audittest.Start.Add(150*time.Minute + time.Duration(i)*time.Minute)
			events = append(events, audit.Event{Seq: -1, Time: at, Received: at, Facility: 1, Source: "ehr-main", Action: "export",
				Actor: audit.Actor{ID: "vendor-1"}, Outcome: audit.OutcomeSuccess})
		}
		slices.SortStableFunc(events, func(a, b audit.Event) int { return a.Time.Compare(b.Time) })
		if _, err := l.Append(ctx, events); err != nil {
			t.Fatal(err)
		}
		cat, err := detect.ReadRuleCatalog(ctx, d, baseFiles(t))
		if err != nil {
			t.Fatal(err)
		}
		try := func(key, text string, scope detect.TryScope) detect.TryResult {
			t.Helper()
			rules, corrs, shown, err := detect.TrySet(cat, key, text)
			if err != nil {
				t.Fatal(err)
			}
			res, err := detect.TryRules(ctx, l, rules, corrs, shown, scope, now)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		// The last 3 hours: 560 ordinary events, 3 break-glass, 3 exports.
		res := try(breakGlass, "", detect.TryScope{Hours: 3, AllFacilities: true})
		if res.Count != 3 || res.Scanned != 566 || res.Capped || len(res.Hits) != 3 || res.Hits[0].Time != audittest.Start.Add(2*time.Hour) {
			t.Errorf("every facility: %d hits of %d events, capped %v: %+v", res.Count, res.Scanned, res.Capped, res.Hits)
		}
		seq := res.Hits[0].Seqs[0]
		if e, err := l.ReadEvent(ctx, seq); err != nil || e.Action != "emergency_access" {
			t.Errorf("hit %d is %+v, %v", seq, e, err)
		}
		if res := try(breakGlass, "", detect.TryScope{Hours: 3, Facilities: []int64{1}}); res.Count != 2 {
			t.Errorf("facility 1: %d hits", res.Count)
		}
		// The bound on events: the newest 100 only.
		res = try(breakGlass, "", detect.TryScope{Hours: 3, AllFacilities: true, MaxEvents: 100})
		if !res.Capped || res.Scanned != 100 || res.Count != 2 {
			t.Errorf("bounded: %d hits of %d events, capped %v", res.Count, res.Scanned, res.Capped)
		}
		// A pasted file: the rule's matches and its correlation's.
		res = try("", vendorRules, detect.TryScope{Hours: 168, AllFacilities: true})
		var kinds []string
		for _, h := range res.Hits {
			kinds = append(kinds, h.RuleKey)
		}
		if res.Count != 4 || kinds[3] != "hospital-vendor-exports" || len(res.Hits[3].Seqs) != 3 {
			t.Errorf("the pasted file: %d hits %v", res.Count, kinds)
		}
		for _, hours := range []int{0, 169} {
			var re *detect.RuleError
			if _, err := detect.TryRules(ctx, l, nil, nil, nil, detect.TryScope{Hours: hours, AllFacilities: true}, now); !errors.As(err, &re) {
				t.Errorf("%d hours: %v", hours, err)
			}
		}
		if _, _, _, err := detect.TrySet(cat, "", "title: x\ndetection: {s: {a|nope: 1}, condition: s}\n"); err == nil {
			t.Error("a pasted rule that cannot be run is tried")
		}
	})
}

// FuzzParseRuleText feeds the importer's parser and the catalog built
// from a stored file with anything: they never panic, and a file is
// loaded whole or rejected with a reason.
func FuzzParseRuleText(f *testing.F) {
	f.Add(vendorRules)
	f.Add("title: x\n---\ncorrelation: {type: temporal}\n")
	f.Add("title: [")
	f.Fuzz(func(t *testing.T, text string) {
		rf := detect.ParseRuleText("fuzz", []byte(text))
		if !rf.Loaded() && rf.Err.Error() == "" {
			t.Error("a rejection without a reason")
		}
		if rf.Loaded() {
			_ = detect.ExportYAML([][]byte{[]byte(text)})
		}
	})
}
