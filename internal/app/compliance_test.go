package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/compliance"
)

// TestCompliance_EveryPartsChecksAreMappedAndRun checks the wiring of the
// compliance part: every part that has checks hands them over; every
// check covers items of the catalog and is used by a control that answers
// those items; every control names only checks that exist; and on a
// fresh anzen every check runs against its part's real data without an
// error, with a title and a detail in both languages.
func TestCompliance_EveryPartsChecksAreMappedAndRun(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			svc := e.App.Compliance
			lib := svc.Library()
			parts := map[string]int{}
			for _, c := range svc.Checks() {
				parts[strings.SplitN(c.ID, ".", 2)[0]]++
				controls := svc.ControlsOfCheck(c.ID)
				if len(controls) == 0 {
					t.Errorf("check %s is used by no control of controls.yaml", c.ID)
				}
				for _, item := range c.Items {
					if _, _, err := lib.Resolve(item); err != nil {
						t.Errorf("check %s: %v", c.ID, err)
						continue
					}
					answered := false
					for _, id := range controls {
						answered = answered || slices.Contains(lib.Control(id).Requirements, item)
					}
					if !answered {
						t.Errorf("check %s gives evidence for %s, but none of its controls %v answers it", c.ID, item, controls)
					}
				}
				for _, lang := range []string{"ja", "en"} {
					if !e.App.Catalog.Has(lang, c.TitleID) {
						t.Errorf("check %s: no title %s in %s", c.ID, c.TitleID, lang)
					}
				}
			}
			for _, part := range []string{"identity", "keys", "audit", "detect", "incident"} {
				if parts[part] == 0 {
					t.Errorf("the %s part hands over no check", part)
				}
			}
			for _, c := range lib.Controls {
				for _, id := range c.Checks {
					if _, ok := svc.Check(id); !ok {
						t.Errorf("control %s names check %s, which no part declares", c.ID, id)
					}
				}
			}

			ctx := context.Background()
			n, err := svc.RunDue(ctx, e.App.Clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if n < len(svc.Checks()) {
				t.Errorf("RunDue ran %d checks, want every one of the %d", n, len(svc.Checks()))
			}
			st, err := svc.State(ctx, e.Facility)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, cs := range st.Controls {
				for _, run := range cs.Checks {
					if seen[run.CheckID] {
						continue
					}
					seen[run.CheckID] = true
					if run.Error != "" {
						t.Errorf("check %s could not run on a fresh anzen: %s", run.CheckID, run.Error)
					}
					for _, lang := range []string{"ja", "en"} {
						if !e.App.Catalog.Has(lang, run.DetailID) {
							t.Errorf("check %s: detail %q has no %s text", run.CheckID, run.DetailID, lang)
						}
					}
				}
			}
			if len(seen) != len(svc.Checks()) {
				t.Errorf("the state shows %d checks' runs, want %d", len(seen), len(svc.Checks()))
			}
			// A fresh anzen is not ready: nobody has uploaded evidence, and
			// the organisation has no CISO yet.
			if st.Overall.Counts[compliance.Ready] == st.Overall.Total {
				t.Errorf("a fresh anzen is ready on every item: %+v", st.Overall)
			}
		})
	}
}
