package app_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/compliance"
	"github.com/anzen-health/anzen/internal/platform/authz"
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

// TestCompliance_AnEarlierChecklistEditionIsExported checks that answers
// given to an edition of the checklist other than the newest reach its
// workbook, through the reports page and the API, and that an edition the
// library lacks, or a catalog that is not a checklist, is refused.
func TestCompliance_AnEarlierChecklistEditionIsExported(t *testing.T) {
	e := apptest.New(t, "sqlite")
	ctx := context.Background()
	svc := e.App.Compliance
	const r6 = "mhlw-checklist-r6"
	if svc.Library().Checklist().ID == r6 {
		t.Fatalf("the newest checklist is %s; the test needs an earlier one", r6)
	}
	today := svc.Today(e.App.Clock.Now())
	if _, err := svc.SetAnswers(ctx, compliance.Actor{Login: "admin", Client: "local"}, e.Facility,
		[]compliance.AnswerInput{{Framework: r6, Ref: "hospital-3-3", Value: compliance.AnswerYes, CheckedOn: today,
			Note: "サイバー攻撃を想定した BCP を策定済み"}}); err != nil {
		t.Fatal(err)
	}
	u := e.CreateUser(t, "ciso02", true, authz.Grant{Role: authz.CISO, Facility: e.Facility})
	c := e.Login(t, u)
	page := e.Do(t, c, http.MethodGet, "/compliance/reports", nil)
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if !strings.Contains(string(body), "framework="+r6) {
		t.Errorf("the reports page offers no workbook of %s", r6)
	}
	for _, path := range []string{"/compliance/reports/checklist.xlsx?framework=" + r6,
		"/api/v1/compliance/exports/xlsx?framework=" + r6} {
		resp := e.Do(t, c, http.MethodGet, path, nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		f, err := excelize.OpenReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rows, _ := f.GetRows(f.GetSheetList()[0])
		f.Close()
		found := false
		for _, r := range rows {
			found = found || strings.Contains(strings.Join(r, "|"), "サイバー攻撃を想定した BCP を策定済み")
		}
		if !found {
			t.Errorf("%s: the workbook lacks the answer given to %s", path, r6)
		}
	}
	for _, path := range []string{"/api/v1/compliance/exports/xlsx?framework=mhlw-checklist-r0",
		"/api/v1/compliance/exports/xlsx?framework=mhlw-gl-5.1"} {
		resp := e.Do(t, c, http.MethodGet, path, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s, want a 400 problem", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	resp := e.Do(t, c, http.MethodGet, "/api/v1/compliance/exports/oscal-catalog?framework="+r6, nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"catalog"`) || !strings.Contains(string(b), "令和6年度") {
		t.Errorf("the OSCAL catalog of %s: %d %.200s", r6, resp.StatusCode, b)
	}
}
