package compliance

import (
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The reports' page and downloads: /compliance/reports lists the
// documents of a facility; /compliance/reports/{file} hands one out;
// /compliance/reports/print/{inspection|management} shows a report as the
// browser prints it (its own Content-Security-Policy: no script, its
// inline style); GET /api/v1/compliance/exports/{format} is the same for
// programs (openapi_reports.json). Each needs compliance.read, and each
// document handed out is recorded in the audit log first.

//go:embed templates/reports/*.html
var reportPagesFS embed.FS

// registerReports adds the reports' page, downloads and API routes to
// srv; Register calls it.
func registerReports(srv *web.Server, src ReportSource) error {
	pages, err := fs.Sub(reportPagesFS, "templates/reports")
	if err != nil {
		return err
	}
	if err := srv.AddPages("compliance", pages); err != nil {
		return err
	}
	h := &reportHandlers{srv: srv, src: src}
	read := web.Perm(PermRead)
	srv.Handle(http.MethodGet, "/compliance/reports", read, h.page)
	srv.Handle(http.MethodGet, "/compliance/reports/{file}", read, h.download)
	srv.Handle(http.MethodGet, "/compliance/reports/print/{doc}", read, h.print)
	srv.Handle(http.MethodGet, "/api/v1/compliance/exports/{format}", read, h.api)
	return nil
}

type reportHandlers struct {
	srv *web.Server
	src ReportSource
}

// reportLink is one document on the reports page.
type reportLink struct {
	Doc, Label, Note string
	Href, HrefEN     string
}

// reportsView is what templates/reports/reports.html sees as .Data.
type reportsView struct {
	Facility int64
	HasPDF   bool
	Groups   []reportGroup
}

type reportGroup struct {
	Title, Lead string
	Links       []reportLink
}

func (h *reportHandlers) page(w http.ResponseWriter, r *http.Request) {
	f, ok := pageFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	q := "?facility=" + strconv.FormatInt(f, 10)
	link := func(doc, label string) reportLink {
		return reportLink{Doc: doc, Label: h.srv.T(r, label, nil), Href: "/compliance/reports/" + doc + q,
			HrefEN: "/compliance/reports/" + doc + q + "&lang=en"}
	}
	printLink := func(doc, label string) reportLink {
		return reportLink{Doc: doc, Label: h.srv.T(r, label, nil), Href: "/compliance/reports/print/" + doc + q,
			HrefEN: "/compliance/reports/print/" + doc + q + "&lang=en"}
	}
	v := reportsView{Facility: f, HasPDF: h.src.Config().PDF != nil}
	ins := reportGroup{Title: h.srv.T(r, "compliance.report.inspection.title", nil),
		Lead: h.srv.T(r, "compliance.report.inspection.lead", nil)}
	man := reportGroup{Title: h.srv.T(r, "compliance.report.management.title", nil),
		Lead: h.srv.T(r, "compliance.report.management.lead", nil)}
	if v.HasPDF {
		ins.Links = append(ins.Links, link(ReportInspectionPDF, "compliance.report.link.pdf"))
		man.Links = append(man.Links, link(ReportManagementPDF, "compliance.report.link.pdf"))
	}
	ins.Links = append(ins.Links, printLink("inspection", "compliance.report.link.print"),
		link(ReportInspectionXLSX, "compliance.report.link.xlsx"))
	man.Links = append(man.Links, printLink("management", "compliance.report.link.print"),
		link(ReportManagementXLSX, "compliance.report.link.xlsx"))
	cl := reportGroup{Title: h.srv.T(r, "compliance.report.checklist_doc.title", nil),
		Lead: h.srv.T(r, "compliance.report.checklist_doc.lead", nil)}
	if v.HasPDF {
		cl.Links = append(cl.Links, link(ReportChecklistPDF, "compliance.report.link.pdf"))
	}
	cl.Links = append(cl.Links, printLink("checklist", "compliance.report.link.print"),
		link(ReportChecklistXLSX, "compliance.report.link.xlsx"))
	// The other editions' workbooks, for answers given to them.
	lib := h.src.Library()
	for _, fw := range lib.Frameworks {
		if fw.Kind != KindChecklist || fw == lib.Checklist() {
			continue
		}
		l := link(ReportChecklistXLSX, "compliance.report.link.xlsx")
		l.Doc += "-" + fw.ID
		l.Label = h.srv.T(r, "compliance.report.link.xlsx_of", map[string]any{"edition": fw.Name.In(h.srv.Lang(r))})
		l.Href += "&framework=" + url.QueryEscape(fw.ID)
		l.HrefEN += "&framework=" + url.QueryEscape(fw.ID)
		cl.Links = append(cl.Links, l)
	}
	os := reportGroup{Title: h.srv.T(r, "compliance.report.oscal.title", nil),
		Lead: h.srv.T(r, "compliance.report.oscal.lead", nil),
		Links: []reportLink{link(ReportOSCALCatalog, "compliance.report.link.oscal_catalog"),
			link(ReportOSCALResults, "compliance.report.link.oscal_results")}}
	v.Groups = []reportGroup{ins, man, cl, os}
	h.srv.Render(w, r, http.StatusOK, "compliance/reports", v)
}

// download serves GET /compliance/reports/{file}.
func (h *reportHandlers) download(w http.ResponseWriter, r *http.Request) {
	doc := r.PathValue("file")
	if doc == ReportInspectionHTML || doc == ReportManagementHTML || doc == ReportChecklistHTML || !reportKnown(doc) {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	file, ok := h.pageDoc(w, r, doc)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", file.ContentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+file.Name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(file.Body)
}

// make writes doc for facility f in the request's language (and, where
// it applies, the catalog of ?framework=) and records in the audit log that
// it was handed out; nothing is handed out that is not recorded.
func (h *reportHandlers) make(r *http.Request, f int64, doc string) (ReportFile, error) {
	lang := reportLang(r)
	file, err := MakeReport(r.Context(), h.src, ReportRequest{Facility: f, Doc: doc, Lang: lang,
		Framework: r.URL.Query().Get("framework")})
	if err != nil {
		return ReportFile{}, err
	}
	return file, RecordReport(r.Context(), h.src.Config(), actorOf(r), f, doc, lang, file)
}

// pageDoc is make for the pages: the facility of the request, and a
// translated error page when the document cannot be had (false).
func (h *reportHandlers) pageDoc(w http.ResponseWriter, r *http.Request, doc string) (ReportFile, bool) {
	f, ok := pageFacility(h.srv, w, r, PermRead)
	if !ok {
		return ReportFile{}, false
	}
	file, err := h.make(r, f, doc)
	if err != nil {
		status, msg := h.reportError(err, doc, f)
		h.srv.ErrorPage(w, r, status, msg)
		return ReportFile{}, false
	}
	return file, true
}

// print serves GET /compliance/reports/print/{inspection|management|checklist}.
func (h *reportHandlers) print(w http.ResponseWriter, r *http.Request) {
	doc := map[string]string{"inspection": ReportInspectionHTML, "management": ReportManagementHTML,
		"checklist": ReportChecklistHTML}[r.PathValue("doc")]
	if doc == "" {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	file, ok := h.pageDoc(w, r, doc)
	if !ok {
		return
	}
	w.Header().Set("Content-Security-Policy", reportPrintPolicy)
	w.Header().Set("Content-Type", file.ContentType)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(file.Body)
}

// reportAPIFormats maps the API's format names to documents.
var reportAPIFormats = map[string]string{
	"oscal-catalog": ReportOSCALCatalog, "oscal-results": ReportOSCALResults, "xlsx": ReportChecklistXLSX,
	"checklist.xlsx": ReportChecklistXLSX, "checklist.pdf": ReportChecklistPDF, "inspection.xlsx": ReportInspectionXLSX, "inspection.pdf": ReportInspectionPDF,
	"management.xlsx": ReportManagementXLSX, "management.pdf": ReportManagementPDF,
	"oscal-catalog.json": ReportOSCALCatalog, "oscal-results.json": ReportOSCALResults,
}

// api serves GET /api/v1/compliance/exports/{format}.
func (h *reportHandlers) api(w http.ResponseWriter, r *http.Request) {
	doc, ok := reportAPIFormats[r.PathValue("format")]
	if !ok {
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "compliance.report.error.format", nil)
		return
	}
	l := r.URL.Query().Get("lang")
	if l != "" && l != "ja" && l != "en" {
		h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "compliance.report.error.lang", nil)
		return
	}
	if fw := r.URL.Query().Get("framework"); fw != "" && h.src.Library().Framework(fw) == nil {
		h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "compliance.report.error.framework", nil)
		return
	}
	f, ok := apiFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	file, err := h.make(r, f, doc)
	if err != nil {
		switch status, msg := h.reportError(err, doc, f); status {
		case http.StatusNotFound:
			h.srv.Problem(w, r, status, "not-found", msg, nil)
		case http.StatusServiceUnavailable:
			h.srv.Problem(w, r, status, "report-unavailable", msg, nil)
		case http.StatusBadRequest:
			h.srv.Problem(w, r, status, "invalid-parameter", msg, nil)
		default:
			h.srv.Problem(w, r, status, "internal", msg, nil)
		}
		return
	}
	w.Header().Set("Content-Type", file.ContentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+file.Name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	// RFC 9530: the SHA-256 of the document, as the audit log records it.
	if sum, err := hex.DecodeString(file.SHA256); err == nil {
		w.Header().Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	}
	_, _ = w.Write(file.Body)
}

// reportError is the status and message of a document that could not be
// written.
func (h *reportHandlers) reportError(err error, doc string, facility int64) (int, string) {
	switch {
	case errors.Is(err, ErrUnknownReport), errors.Is(err, db.ErrNotFound):
		return http.StatusNotFound, "error.not_found"
	case errors.Is(err, ErrUnknownFramework):
		return http.StatusBadRequest, "compliance.report.error.framework"
	case errors.Is(err, ErrNoPDF):
		return http.StatusNotFound, "compliance.report.no_pdf"
	case errors.Is(err, ErrNoProof):
		h.log().Error("compliance report without the audit proof", "doc", doc, "facility", facility, "err", err)
		return http.StatusServiceUnavailable, "compliance.report.error.proof"
	case errors.Is(err, errReportRender):
		h.log().Error("compliance report as PDF", "doc", doc, "facility", facility, "err", err)
		return http.StatusServiceUnavailable, "compliance.report.error.pdf"
	}
	h.log().Error("compliance report", "doc", doc, "facility", facility, "err", err)
	return http.StatusInternalServerError, "error.internal"
}

func (h *reportHandlers) log() *slog.Logger { return h.srv.Log() }

// reportKnown reports whether doc is a document anzen writes.
func reportKnown(doc string) bool {
	for _, d := range ReportDocs {
		if d == doc {
			return true
		}
	}
	return false
}

// reportLang is a document's language: ?lang=en, else Japanese.
func reportLang(r *http.Request) string {
	if r.URL.Query().Get("lang") == "en" {
		return "en"
	}
	return "ja"
}
