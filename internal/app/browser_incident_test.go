package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/app/browsertest"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/pdf/pdftest"
)

// TestBrowser_AnAlertBecomesAnIncidentAndItsReportIsGenerated is the
// CSIRT's day in a browser: a break-glass access raises an alert; the
// handler escalates it into an incident, finds that patients' medical
// data may have leaked, sees the PPC's clock start, drafts the
// preliminary report, prints it as PDF and records its submission.
func TestBrowser_AnAlertBecomesAnIncidentAndItsReportIsGenerated(t *testing.T) {
	pdftest.Renderer(t) // the PDF needs Chromium, as the browser does
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			if e.App.Detect == nil {
				t.Fatal("no detection engine")
			}
			u := e.CreateUser(t, "csirt01", true, authz.Grant{Role: authz.CSIRT, Facility: 1})
			breakGlassAt(t, e, "dr-kato")
			ctx := context.Background()
			alerts, err := detect.ListAlerts(ctx, e.App.DB, detect.AlertQuery{AllFacilities: true, Limit: 10})
			if err != nil || len(alerts) == 0 {
				t.Fatalf("no alert of the break-glass access: %v", err)
			}
			alert := alerts[0]

			b := browsertest.New(t, e.URL)
			b.Open("/login")
			b.Wait("#login-form")
			signIn(b, u.Login, u.Password)
			b.Wait("#totp-form")
			b.Fill("#code", e.Code(t, u))
			b.Submit("#totp-submit")
			b.Wait("main h1")

			// Escalate the alert from its page.
			b.Open(fmt.Sprintf("/alerts/%d", alert.ID))
			b.Wait("#escalate-form")
			b.Fill("#escalate-comment", "救急外来以外からの緊急時アクセス。CSIRT で調査します。")
			b.Submit("#escalate-form button[type=submit]")
			b.Wait("#alert-incident-link")
			ref := b.Text("#alert-incident-link")
			if !strings.HasPrefix(ref, "INC-") {
				t.Fatalf("the alert names incident %q", ref)
			}
			inc, ok, err := detect.AlertIncident(ctx, e.App.DB, alert.ID)
			if err != nil || !ok {
				t.Fatalf("the alert keeps no incident: %v", err)
			}
			b.Submit("#alert-incident-link")
			b.Wait("#incident-ref")
			expectText(t, b, "#incident-ref", ref)
			if b.Path() != inc.URL {
				t.Errorf("the incident's page is %s, want %s", b.Path(), inc.URL)
			}
			if n := b.Count("#duty-ppc-preliminary"); n != 0 {
				t.Errorf("the PPC's clock runs before any leak is known")
			}

			// Medical data of 12 patients may have been taken.
			b.Submit("#incident-edit")
			b.Wait("#incident-form")
			b.Select("#inc-leak", "possible")
			b.Click(`#incident-form input[name="medical_data"]`)
			b.Fill("#inc-people", "12")
			b.Fill("#inc-data", "氏名、病名、処方内容")
			b.Submit("#incident-form button[type=submit]")
			b.Wait("#duty-ppc-preliminary")
			if st := b.Attr("#duty-ppc-preliminary", "data-status"); st != "pending" {
				t.Errorf("the PPC's preliminary report is %q, want pending", st)
			}
			if n := b.Count("#duty-ppc-final"); n != 1 {
				t.Errorf("no clock for the PPC's final report")
			}

			// Draft the preliminary report and print it.
			b.Open(inc.URL + "/reports/ppc-preliminary")
			b.Wait("#report-form")
			const cause = "退職予定の職員が緊急時アクセスを用いて閲覧したと考えられます。"
			b.Fill("#field-cause", cause)
			b.Submit("#report-form button[type=submit]")
			b.Wait("#report-form")
			if !strings.Contains(b.HTML(), cause) {
				t.Errorf("the saved draft does not show the cause")
			}
			c := e.Login(t, u)
			resp := e.Do(t, c, http.MethodGet, inc.URL+"/reports/ppc-preliminary.pdf", nil)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" {
				t.Fatalf("the report's PDF: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			text := pdftest.Text(t, body)
			for _, want := range []string{ref, "退職予定の職員", "氏名、病名、処方内容"} {
				if !strings.Contains(strings.ReplaceAll(text, "\n", ""), want) {
					t.Errorf("the PDF's text lacks %q:\n%s", want, text)
				}
			}

			// Record that it was sent through the PPC's web form.
			b.Open(inc.URL + "/reports")
			b.Wait("#submission-form")
			b.Select("#sub-to", "ppc-preliminary")
			b.Fill("#sub-reference", "PPC-2026-000123")
			b.Submit("#submission-form button[type=submit]")
			b.Wait("#duty-ppc-preliminary")
			if st := b.Attr("#duty-ppc-preliminary", "data-status"); st != "submitted" {
				t.Errorf("after the submission the PPC's preliminary report is %q, want submitted", st)
			}
		})
	}
}
