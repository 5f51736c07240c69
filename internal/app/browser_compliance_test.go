package app_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/app/browsertest"
	"github.com/anzen-health/anzen/internal/compliance"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// TestBrowser_TheCISOAnswersTheChecklistAndDownloadsIt is the CISO before
// an on-site inspection: the home page shows where the hospital stands;
// the checklist is answered in the browser as the form asks (はい with
// the date checked; いいえ refused until it has a target date, the other
// answers kept); and the Excel file handed to the inspector carries the
// answers.
func TestBrowser_TheCISOAnswersTheChecklistAndDownloadsIt(t *testing.T) {
	e := apptest.New(t, "sqlite")
	u := e.CreateUser(t, "ciso01", true, authz.Grant{Role: authz.CISO, Facility: e.Facility})
	ctx := context.Background()
	if _, err := e.App.Compliance.RunDue(ctx, e.App.Clock.Now()); err != nil {
		t.Fatal(err)
	}

	// The answers are checked today; what is not done yet is promised
	// within the fiscal year (April to March).
	today := e.App.Clock.Now().In(e.App.Cfg.Location())
	checked, target := today.Format("2006-01-02"), today.AddDate(0, 2, 0).Format("2006-01-02")

	b := browsertest.New(t, e.URL)
	b.Open("/login")
	b.Wait("#login-form")
	signIn(b, u.Login, u.Password)
	b.Wait("#totp-form")
	b.Fill("#code", e.Code(t, u))
	b.Submit("#totp-submit")
	b.Wait("main h1")
	if n := b.Count("#overall"); n != 1 {
		t.Errorf("the CISO's home page is not the compliance dashboard")
	}
	b.CheckTranslated()

	b.Open("/compliance/checklist")
	b.Wait("#checklist-form")
	b.CheckTranslated()
	// The hospital answers its own sheet; the pharmacy's and the vendors'
	// are a click away.
	if b.Count("#q-hospital-1-1") != 1 || b.Count("#q-pharmacy-1-1") != 0 || b.Count("#tab-vendor") != 1 {
		t.Errorf("the checklist does not open on the medical institution's sheet alone")
	}
	b.Click(`input[name="value-hospital-1-1"][value="yes"]`)
	b.Fill("#checked_on-hospital-1-1", checked)
	b.Click(`input[name="value-hospital-2-1"][value="no"]`)
	b.Fill("#checked_on-hospital-2-1", checked)
	b.Fill("#note-hospital-2-1", "台帳はネットワーク機器のみ未整備")
	b.Submit("#save-all")
	b.Wait("#err-hospital-2-1")
	if v := b.Attr("#note-hospital-2-1", "value"); v != "台帳はネットワーク機器のみ未整備" {
		t.Errorf("after the refusal the note reads %q: what was typed is lost", v)
	}
	fw := e.App.Compliance.Library().Checklist()
	answers, err := e.App.Compliance.Answers(ctx, e.Facility, fw.ID)
	if err != nil || len(answers) != 0 {
		t.Fatalf("a refused form stored %d answers (%v)", len(answers), err)
	}
	b.Fill("#target_on-hospital-2-1", target)
	b.Submit("#save-all")
	b.Wait("#checklist-form")
	if n := b.Count(".error[role=alert]"); n != 0 {
		t.Fatalf("the corrected form is refused: %s", b.Text(".error[role=alert]"))
	}
	answers, err = e.App.Compliance.Answers(ctx, e.Facility, fw.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]compliance.Answer{}
	for _, a := range answers {
		got[a.Ref] = a
	}
	if a := got["hospital-1-1"]; a.Value != compliance.AnswerYes || a.CheckedOn.Format("2006-01-02") != checked ||
		a.AnsweredBy != u.Login {
		t.Errorf("answer 1-① = %+v", a)
	}
	if a := got["hospital-2-1"]; a.Value != compliance.AnswerNo || a.TargetOn == nil ||
		a.TargetOn.Format("2006-01-02") != target {
		t.Errorf("answer 2-① = %+v", a)
	}

	b.Open("/compliance/reports")
	b.Wait(`[id="report-checklist.xlsx"]`)
	name, body := b.Download(`[id="report-checklist.xlsx"]`)
	if !strings.HasSuffix(name, ".xlsx") {
		t.Errorf("the download is named %q", name)
	}
	f, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the downloaded checklist is not an Excel file: %v", err)
	}
	defer f.Close()
	rows, err := f.GetRows(f.GetSheetList()[0])
	if err != nil {
		t.Fatal(err)
	}
	var yes, no bool
	for _, r := range rows {
		line := strings.Join(r, "|")
		yes = yes || strings.Contains(line, "1-①") && strings.Contains(line, "はい")
		no = no || strings.Contains(line, "2-①") && strings.Contains(line, "いいえ") && strings.Contains(line, "台帳はネットワーク機器のみ未整備")
	}
	if !yes || !no {
		t.Errorf("the Excel file lacks the answers (1-① はい: %v, 2-① いいえ with its note: %v):\n%v", yes, no, rows)
	}
}
