package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/pdf/pdftest"
)

// TestIncidentContacts_PrintsTheDiagramFromTheDatabase writes the one-page
// PDF of a facility's contact diagram with no server involved, and fails
// with a one-line reason without Chromium or with an unknown facility.
func TestIncidentContacts_PrintsTheDiagramFromTheDatabase(t *testing.T) {
	pdftest.Renderer(t) // skips (or fails when strict) without Chromium
	e := apptest.New(t, "sqlite")
	ctx := context.Background()
	sc := incident.Scope{All: true}
	by := incident.Actor{Login: "test"}
	if _, err := incident.SetOfficer(ctx, e.App.DB, e.App.Audit, sc, by, incident.CISO, incident.OfficerInput{Facility: e.Facility,
		Person: incident.Person{Name: "山田 太郎", PhoneMobile: "090-1111-2222"}}, e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := incident.CreateContact(ctx, e.App.DB, e.App.Audit, sc, by, incident.ContactInput{Facility: e.Facility, Kind: "vendor",
		Organisation: "サンプル医療システム", System: "電子カルテ", Phone: "0120-000-111"}, e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	c := cliBeside(t, e)
	out := filepath.Join(t.TempDir(), "連絡体制図.pdf")
	r := c.mustRun("incident", "contacts", "-o", out)
	if !strings.Contains(r.out, "wrote the contact diagram of facility") {
		t.Errorf("output: %q", r.out)
	}
	doc, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := pdftest.Pages(t, doc); n != 1 {
		t.Errorf("%d pages, want 1", n)
	}
	text := strings.ReplaceAll(pdftest.Text(t, doc), " ", "")
	for _, want := range []string{"連絡体制図", "山田太郎", "090-1111-2222", "サンプル医療システム", "0120-000-111"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF lacks %q:\n%s", want, text)
		}
	}
	if r := c.mustRun("incident", "contacts", "-o", out, "--lang", "en"); r.err != nil {
		t.Fatal(r.err)
	}
	if doc, _ := os.ReadFile(out); !strings.Contains(pdftest.Text(t, doc), "Contact diagram") {
		t.Error("the English PDF is not in English")
	}

	if r := c.run("", "incident", "contacts", "-o", out, "--facility", "nowhere"); r.err == nil || !strings.Contains(r.err.Error(), "--facility") {
		t.Errorf("unknown facility: %v", r.err)
	}
	if r := c.run("", "incident", "contacts"); r.err == nil || !strings.Contains(r.err.Error(), "-o") {
		t.Errorf("no -o: %v", r.err)
	}
	t.Setenv("ANZEN_PDF_CHROMIUM", filepath.Join(t.TempDir(), "no-chromium"))
	r = c.run("", "incident", "contacts", "-o", out)
	if r.err == nil || strings.Contains(r.err.Error(), "\n") || !strings.Contains(r.err.Error(), "no Chromium") {
		t.Errorf("without Chromium: %v", r.err)
	}
}
