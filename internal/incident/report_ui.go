package incident

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The reports' pages: an incident's duties with their clocks, its
// submissions and the form that records one (/incidents/{id}/reports);
// each report's fields to edit (/incidents/{id}/reports/{to}), and the
// report as a printable document (.../{to}/print), a PDF ({to}.pdf) and
// text to paste into a web form ({to}.txt). Their API is in
// report_api.go.

// registerReports adds the reports' pages and API routes.
func (h *handlers) registerReports() {
	read, manage := web.Perm(PermRead), web.Perm(PermManage)
	h.srv.Handle(http.MethodGet, "/incidents/{id}/reports", read, h.reportsPage)
	h.srv.Handle(http.MethodPost, "/incidents/{id}/submissions", manage, h.submissionPost)
	h.srv.Handle(http.MethodGet, "/incidents/{id}/reports/{file}", read, h.reportFile)
	h.srv.Handle(http.MethodPost, "/incidents/{id}/reports/{to}", manage, h.draftPost)
	h.srv.Handle(http.MethodGet, "/incidents/{id}/reports/{to}/print", read, h.reportPrint)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/incidents/{id}/duties", read, h.apiDuties)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/incidents/{id}/submissions", read, h.apiSubmissions)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/incidents/{id}/submissions", manage, h.apiCreateSubmission)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/incidents/{id}/reports/{to}", read, h.apiReport)
	h.srv.Handle(http.MethodPut, "/api/v1/incident/incidents/{id}/reports/{to}", manage, h.apiSaveDraft)
	// The incident's page shows the duties' clocks (templates/_duties.html).
	h.onDetail("duties", func(r *http.Request, i Incident) (any, error) {
		return DutyBoard(r.Context(), h.cfg.DB, i, h.cfg.Clock.Now(), h.cfg.ReminderBefore)
	})
}

// location is where the hospital is.
func (h *handlers) location() *time.Location {
	if h.cfg.Location != nil {
		return h.cfg.Location
	}
	return japan
}

// reportInput is what BuildReport needs, for a request.
func (h *handlers) reportInput(_ *http.Request, lang string) ReportInput {
	return ReportInput{T: h.srv.Catalog(), Names: h.facilityNames(), Location: h.location(), Lang: lang,
		Now: h.cfg.Clock.Now()}
}

// DutiesView is what the "incident-duties" partial (templates/_duties.html)
// shows as Board, beside the page's View as V:
//
//	{{template "incident-duties" (dict "V" $ "Board" .Data.Duties)}}
type DutiesView = Board

// pageIncident reads the incident of the path within the scope of perm,
// or shows the error page and returns false.
func (h *handlers) pageIncident(w http.ResponseWriter, r *http.Request) (Incident, bool) {
	id, ok := pathID(r, "id")
	if !ok {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return Incident{}, false
	}
	inc, err := Get(r.Context(), h.cfg.DB, scopeOf(r, PermRead), id)
	return inc, !h.pageError(w, r, err)
}

// pageError shows err, if any, as an error page and reports whether it
// did.
func (h *handlers) pageError(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, db.ErrNotFound):
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
	default:
		h.srv.Log().Error("incident reports", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
	}
	return true
}

// submissionForm is the form that records a submission, as typed.
type submissionForm struct {
	To, Status, At, Channel, Reference, Note string
}

// reportsView is what templates/reports.html sees as .Data.
type reportsView struct {
	Duties      Board
	Submissions []Submission
	Reports     []Recipient
	Recipients  []Recipient
	Channels    []string
	CanManage   bool
	HasPDF      bool
	Form        submissionForm
	Error       string
	ErrField    string
}

func (h *handlers) reportsPage(w http.ResponseWriter, r *http.Request) {
	inc, ok := h.pageIncident(w, r)
	if !ok {
		return
	}
	v := &reportsView{Form: submissionForm{Status: Submitted,
		At: h.cfg.Clock.Now().In(h.location()).Format("2006-01-02T15:04")}}
	if to := r.URL.Query().Get("to"); to != "" {
		v.Form.To = to
	}
	h.renderReports(w, r, http.StatusOK, inc, v)
}

func (h *handlers) renderReports(w http.ResponseWriter, r *http.Request, status int, inc Incident, v *reportsView) {
	b, err := DutyBoard(r.Context(), h.cfg.DB, inc, h.cfg.Clock.Now(), h.cfg.ReminderBefore)
	if h.pageError(w, r, err) {
		return
	}
	v.Duties, v.Recipients, v.Channels = b, Recipients, Channels
	v.Submissions = nil
	for _, c := range b.Clocks {
		v.Submissions = append(v.Submissions, c.Submissions...)
	}
	v.Submissions = append(v.Submissions, b.Other...)
	for _, to := range Recipients {
		if to.Reported() {
			v.Reports = append(v.Reports, to)
		}
	}
	v.CanManage = web.PrincipalOf(r).CanIn(PermManage, inc.Facility)
	v.HasPDF = h.cfg.PDF != nil
	h.srv.Render(w, r, status, "incident/reports", v)
}

// submissionPost serves POST /incidents/{id}/submissions, the form of the
// reports page.
func (h *handlers) submissionPost(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	f := submissionForm{To: r.PostFormValue("to"), Status: r.PostFormValue("status"), At: r.PostFormValue("at"),
		Channel: r.PostFormValue("channel"), Reference: r.PostFormValue("reference"), Note: r.PostFormValue("note")}
	if f.Status == NotRequired {
		f.Channel = ""
	}
	now := h.cfg.Clock.Now()
	ns := NewSubmission{To: Recipient(f.To), Status: f.Status, Channel: f.Channel, Reference: f.Reference, Note: f.Note}
	var err error
	if at, perr := time.ParseInLocation("2006-01-02T15:04", f.At, h.location()); perr != nil {
		err = &ReportError{"at", "incident.report.error.at"}
	} else {
		ns.At = at
		_, err = RecordSubmission(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, reportActorOf(r), ns, now)
	}
	if re, ok := AsReportError(err); ok {
		inc, ok := h.pageIncident(w, r)
		if !ok {
			return
		}
		h.renderReports(w, r, http.StatusUnprocessableEntity, inc,
			&reportsView{Form: f, Error: h.srv.T(r, re.MsgID, nil), ErrField: re.Field})
		return
	}
	if h.pageError(w, r, err) {
		return
	}
	h.srv.Flash(w, "incident.report.submitted")
	http.Redirect(w, r, "/incidents/"+strconv.FormatInt(id, 10)+"/reports", http.StatusSeeOther)
}

// reportEditView is what templates/report.html sees as .Data.
type reportEditView struct {
	Report
	CanManage bool
	HasPDF    bool
	Error     string
	ErrField  string
}

// reportFile serves GET /incidents/{id}/reports/{file}: the fields to edit
// ({to}), the PDF ({to}.pdf) or the text ({to}.txt).
func (h *handlers) reportFile(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	name, ext, _ := strings.Cut(file, ".")
	to := Recipient(name)
	if !to.Reported() || (ext != "" && ext != "pdf" && ext != "txt") {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	inc, ok := h.pageIncident(w, r)
	if !ok {
		return
	}
	lang := h.srv.Lang(r)
	if ext != "" {
		lang = docLang(r, "ja")
	}
	rep, err := BuildReport(r.Context(), h.cfg.DB, inc, to, h.reportInput(r, lang))
	if h.pageError(w, r, err) {
		return
	}
	base := rep.Ref + "-" + string(to)
	switch ext {
	case "txt":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+base+`.txt"`)
		_, _ = w.Write([]byte(rep.Text(h.srv.Catalog())))
	case "pdf":
		if h.cfg.PDF == nil {
			h.srv.ErrorPage(w, r, http.StatusNotFound, "incident.report.no_pdf")
			return
		}
		doc, err := rep.HTML(h.srv.Catalog())
		if h.pageError(w, r, err) {
			return
		}
		pdf, err := h.cfg.PDF.Render(r.Context(), doc)
		if err != nil {
			h.srv.Log().Error("render a report as PDF", "incident", inc.ID, "to", to, "err", err)
			h.srv.ErrorPage(w, r, http.StatusServiceUnavailable, "incident.report.pdf_failed")
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `attachment; filename="`+base+`.pdf"`)
		_, _ = w.Write(pdf)
	default:
		h.renderReportEdit(w, r, http.StatusOK, &reportEditView{Report: rep})
	}
}

func (h *handlers) renderReportEdit(w http.ResponseWriter, r *http.Request, status int, v *reportEditView) {
	v.CanManage = web.PrincipalOf(r).CanIn(PermManage, v.Incident.Facility)
	v.HasPDF = h.cfg.PDF != nil
	h.srv.Render(w, r, status, "incident/report", v)
}

// docLang is the language of a document: ?lang=en or ?lang=ja, else def.
func docLang(r *http.Request, def string) string {
	switch l := r.URL.Query().Get("lang"); l {
	case "ja", "en":
		return l
	}
	return def
}

// draftPost serves POST /incidents/{id}/reports/{to}, the fields' form.
func (h *handlers) draftPost(w http.ResponseWriter, r *http.Request) {
	to := Recipient(r.PathValue("to"))
	id, ok := pathID(r, "id")
	if !ok || !to.Reported() {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	fields := map[string]string{}
	_ = r.ParseForm() // a body that cannot be read leaves PostForm empty: nothing changes
	for _, k := range ReportFields(to) {
		if v, ok := r.PostForm[k]; ok && len(v) > 0 {
			fields[k] = v[0]
		}
	}
	_, err := SaveDraft(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, to, reportActorOf(r), fields,
		h.cfg.Clock.Now())
	if re, ok := AsReportError(err); ok {
		inc, ok := h.pageIncident(w, r)
		if !ok {
			return
		}
		rep, berr := BuildReport(r.Context(), h.cfg.DB, inc, to, h.reportInput(r, h.srv.Lang(r)))
		if h.pageError(w, r, berr) {
			return
		}
		for i, f := range rep.Fields { // show what was typed, not what is stored
			if v, ok := fields[f.Key]; ok {
				rep.Fields[i].Value, rep.Fields[i].Drafted = v, true
			}
		}
		h.renderReportEdit(w, r, http.StatusUnprocessableEntity, &reportEditView{Report: rep,
			Error: h.srv.T(r, re.MsgID, nil), ErrField: re.Field})
		return
	}
	if h.pageError(w, r, err) {
		return
	}
	h.srv.Flash(w, "incident.report.saved")
	http.Redirect(w, r, "/incidents/"+strconv.FormatInt(id, 10)+"/reports/"+string(to), http.StatusSeeOther)
}

// reportPrint serves GET /incidents/{id}/reports/{to}/print, the whole
// printable document (Japanese, or ?lang=en).
func (h *handlers) reportPrint(w http.ResponseWriter, r *http.Request) {
	to := Recipient(r.PathValue("to"))
	if !to.Reported() {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	inc, ok := h.pageIncident(w, r)
	if !ok {
		return
	}
	rep, err := BuildReport(r.Context(), h.cfg.DB, inc, to, h.reportInput(r, docLang(r, "ja")))
	if h.pageError(w, r, err) {
		return
	}
	doc, err := rep.HTML(h.srv.Catalog())
	if h.pageError(w, r, err) {
		return
	}
	w.Header().Set("Content-Security-Policy", printPolicy(doc))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(doc)
}

var styleBlock = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// printPolicy is the Content-Security-Policy of a printable document: no
// script, nothing loaded, and only its own style block (by its hash).
func printPolicy(doc []byte) string {
	p := "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	if m := styleBlock.FindSubmatch(doc); m != nil {
		sum := sha256.Sum256(m[1])
		p += "; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	return p
}

// facilityNames names the facilities on reports; nil (their numbers)
// when anzen gave no list.
func (h *handlers) facilityNames() FacilityNames {
	if h.cfg.Facilities == nil {
		return nil
	}
	return h.cfg.Facilities
}
