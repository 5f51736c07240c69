package compliance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// reportRoleAuth signs requests in with the role of the X-Test-Role
// header, in facility 1.
type reportRoleAuth struct{}

func (reportRoleAuth) Authenticate(_ http.ResponseWriter, r *http.Request) (*authz.Principal, web.Stage, error) {
	role := authz.Role(r.Header.Get("X-Test-Role"))
	return &authz.Principal{UserID: 9, Login: string(role) + "01", Facility: 1, Lang: "ja",
		Grants: []authz.Grant{{Role: role, Facility: 1}}}, web.StageFull, nil
}

// reportSite serves the reports over the fake source.
func reportSite(t *testing.T, src *fakeReportSource) http.Handler {
	t.Helper()
	srv := web.NewServer(web.Options{Catalog: src.cfg.Translator.(*i18n.Catalog), DefaultLang: "ja", Location: time.UTC,
		Log: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	if err := registerReports(srv, src); err != nil {
		t.Fatal(err)
	}
	srv.SetAuthenticator(reportRoleAuth{})
	return srv.Handler()
}

func reportGet(h http.Handler, role authz.Role, path string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("X-Test-Role", string(role))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestReportDownloads_EachServesItsFileAndIsRecorded(t *testing.T) {
	src, rec := newReportSource(t)
	src.cfg.PDF = fakePDF{}
	h := reportSite(t, src)
	for _, c := range []struct {
		path, doc, ctype, file string
		head                   string
	}{
		{"/compliance/reports/checklist.xlsx", ReportChecklistXLSX, reportTypes[".xlsx"], "anzen-checklist-1-20260410.xlsx", "PK"},
		{"/compliance/reports/inspection.xlsx", ReportInspectionXLSX, reportTypes[".xlsx"], "anzen-inspection-1-20260410.xlsx", "PK"},
		{"/compliance/reports/inspection.pdf", ReportInspectionPDF, "application/pdf", "anzen-inspection-1-20260410.pdf", "%PDF"},
		{"/compliance/reports/checklist.pdf", ReportChecklistPDF, "application/pdf", "anzen-checklist-1-20260410.pdf", "%PDF"},
		{"/compliance/reports/management.xlsx?facility=1", ReportManagementXLSX, reportTypes[".xlsx"], "anzen-management-1-20260410.xlsx", "PK"},
		{"/compliance/reports/management.pdf?lang=en", ReportManagementPDF, "application/pdf", "anzen-management-1-20260410.pdf", "%PDF"},
		{"/compliance/reports/oscal-catalog.json", ReportOSCALCatalog, "application/json", "anzen-mhlw-gl-5.1-catalog.json", "{"},
		{"/compliance/reports/oscal-results.json", ReportOSCALResults, "application/json", "anzen-assessment-results-1-20260410.json", "{"},
		{"/api/v1/compliance/exports/xlsx", ReportChecklistXLSX, reportTypes[".xlsx"], "anzen-checklist-1-20260410.xlsx", "PK"},
		{"/api/v1/compliance/exports/oscal-results", ReportOSCALResults, "application/json", "anzen-assessment-results-1-20260410.json", "{"},
		{"/api/v1/compliance/exports/inspection.pdf", ReportInspectionPDF, "application/pdf", "anzen-inspection-1-20260410.pdf", "%PDF"},
	} {
		before := len(rec.all())
		w := reportGet(h, authz.Auditor, c.path)
		if w.Code != http.StatusOK {
			t.Errorf("%s: %d %.300s", c.path, w.Code, w.Body)
			continue
		}
		if got := w.Header().Get("Content-Type"); got != c.ctype {
			t.Errorf("%s: content type %q, want %q", c.path, got, c.ctype)
		}
		if got := w.Header().Get("Content-Disposition"); got != `attachment; filename="`+c.file+`"` {
			t.Errorf("%s: content disposition %q", c.path, got)
		}
		if !strings.HasPrefix(w.Body.String(), c.head) {
			t.Errorf("%s: the body begins %.20q", c.path, w.Body.String())
		}
		events := rec.all()[before:]
		sum := sha256.Sum256(w.Body.Bytes())
		if len(events) != 1 || events[0].Action != "compliance.report.download" || events[0].Target != "report:"+c.doc ||
			events[0].Facility != 1 || events[0].ActorLogin != "auditor01" || events[0].Detail["sha256"] != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: audit records %+v", c.path, events)
		}
		if want := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"; strings.HasPrefix(c.path, "/api/") &&
			w.Header().Get("Repr-Digest") != want {
			t.Errorf("%s: Repr-Digest %q, want %q", c.path, w.Header().Get("Repr-Digest"), want)
		}
	}
	// The English management PDF is English.
	if w := reportGet(h, authz.CISO, "/compliance/reports/management.pdf?lang=en"); !strings.Contains(w.Body.String(), "Management report") {
		t.Error("?lang=en did not give the English report")
	}
}

func TestReportPrintViews_HaveTheirOwnPolicyAndAreRecorded(t *testing.T) {
	src, rec := newReportSource(t)
	h := reportSite(t, src)
	for _, p := range []string{"inspection", "management", "checklist"} {
		w := reportGet(h, authz.CSIRT, "/compliance/reports/print/"+p)
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Body.String(), "<!DOCTYPE html>") {
			t.Fatalf("%s: %d %.200s", p, w.Code, w.Body)
		}
		csp := w.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "style-src 'unsafe-inline'") ||
			strings.Contains(csp, "script-src") {
			t.Errorf("%s: policy %q", p, csp)
		}
		if w.Header().Get("Content-Disposition") != "" {
			t.Errorf("%s: a print view is shown, not downloaded", p)
		}
	}
	if n := len(rec.all()); n != 3 {
		t.Errorf("%d audit records for three print views", n)
	}
	if w := reportGet(h, authz.CSIRT, "/compliance/reports/print/vendor"); w.Code != http.StatusNotFound {
		t.Errorf("an unknown print view: %d", w.Code)
	}
}

func TestReportsPage_OffersPDFOnlyWithARenderer(t *testing.T) {
	src, _ := newReportSource(t)
	h := reportSite(t, src)
	w := reportGet(h, authz.Auditor, "/compliance/reports")
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, "報告書・出力") || !strings.Contains(body, `/compliance/reports/print/inspection?facility=1`) ||
		!strings.Contains(body, `/compliance/reports/checklist.xlsx?facility=1`) || strings.Contains(body, ".pdf") ||
		!strings.Contains(body, `id="report-no-pdf"`) {
		t.Fatalf("without a renderer: %d %s", w.Code, body)
	}
	src.cfg.PDF = fakePDF{}
	body = reportGet(h, authz.Auditor, "/compliance/reports").Body.String()
	if !strings.Contains(body, `/compliance/reports/inspection.pdf?facility=1`) || strings.Contains(body, `id="report-no-pdf"`) {
		t.Errorf("with a renderer: %s", body)
	}
	// Without a renderer, the PDF is not found, with the reason.
	src.cfg.PDF = nil
	if w := reportGet(h, authz.Auditor, "/compliance/reports/inspection.pdf"); w.Code != http.StatusNotFound ||
		!strings.Contains(w.Body.String(), "Chromium") {
		t.Errorf("a PDF without a renderer: %d", w.Code)
	}
}

func TestReports_RefuseOtherFacilitiesRolesAndFormats(t *testing.T) {
	src, rec := newReportSource(t)
	h := reportSite(t, src)
	for _, c := range []struct {
		role   authz.Role
		path   string
		status int
	}{
		{authz.Staff, "/compliance/reports", http.StatusForbidden},
		{authz.Vendor, "/compliance/reports/inspection.xlsx", http.StatusForbidden},
		{authz.Auditor, "/compliance/reports/inspection.xlsx?facility=2", http.StatusNotFound},
		{authz.Auditor, "/compliance/reports/inspection.xlsx?facility=x", http.StatusBadRequest},
		{authz.Auditor, "/compliance/reports/secrets.txt", http.StatusNotFound},
		{authz.Auditor, "/compliance/reports/inspection.html", http.StatusNotFound},
		{authz.Auditor, "/api/v1/compliance/exports/docx", http.StatusNotFound},
		{authz.Auditor, "/api/v1/compliance/exports/xlsx?lang=fr", http.StatusBadRequest},
		{authz.Auditor, "/api/v1/compliance/exports/xlsx?facility=2", http.StatusNotFound},
	} {
		w := reportGet(h, c.role, c.path)
		if w.Code != c.status {
			t.Errorf("%s %s: %d, want %d", c.role, c.path, w.Code, c.status)
		}
		if strings.HasPrefix(c.path, "/api/") && c.role == authz.Auditor {
			var p web.Problem
			if w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Detail == "" {
				t.Errorf("%s: not a problem: %s", c.path, w.Body)
			}
		}
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("refusals were recorded as downloads: %+v", rec.all())
	}
	// A PDF Chromium fails to make is a 503, with the print view offered.
	src.cfg.PDF = brokenPDF{}
	if w := reportGet(h, authz.Auditor, "/api/v1/compliance/exports/management.pdf"); w.Code != http.StatusServiceUnavailable ||
		!strings.Contains(w.Body.String(), "urn:anzen:problem:report-unavailable") {
		t.Errorf("a failed PDF: %d %s", w.Code, w.Body)
	}
	if w := reportGet(h, authz.Auditor, "/compliance/reports/management.pdf"); w.Code != http.StatusServiceUnavailable ||
		!strings.Contains(w.Body.String(), "印刷用の表示") {
		t.Errorf("a failed PDF page: %d", w.Code)
	}
	// Without the audit log's proof, no inspection pack is handed out.
	src.cfg.AuditProof = nil
	if w := reportGet(h, authz.Auditor, "/api/v1/compliance/exports/inspection.xlsx"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("an inspection pack without proof: %d", w.Code)
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("failed reports were recorded as downloads: %+v", rec.all())
	}
}

// TestReportsOpenAPI_DocumentsEveryAPIRoute reads openapi_reports.json (a
// fragment internal/app merges) against the routes the room registers.
func TestReportsOpenAPI_DocumentsEveryAPIRoute(t *testing.T) {
	b, err := os.ReadFile("openapi_reports.json")
	if err != nil {
		t.Fatal(err)
	}
	var frag struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &frag); err != nil {
		t.Fatal(err)
	}
	src, _ := newReportSource(t)
	srv := web.NewServer(web.Options{Catalog: src.cfg.Translator.(*i18n.Catalog), DefaultLang: "ja", Location: time.UTC})
	if err := registerReports(srv, src); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rt := range srv.Routes() {
		if !strings.HasPrefix(rt.Pattern, "/api/") {
			continue
		}
		n++
		if _, ok := frag.Paths[rt.Pattern][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("%s %s is not documented", rt.Method, rt.Pattern)
		}
	}
	for f := range reportAPIFormats {
		if !strings.Contains(string(b), `"`+f+`"`) {
			t.Errorf("format %s is not documented", f)
		}
	}
	if n == 0 {
		t.Error("no API route found")
	}
}

// brokenPDF fails as a Chromium that cannot start does.
type brokenPDF struct{}

func (brokenPDF) Render(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("pdf: start Chromium: exec: not found")
}
