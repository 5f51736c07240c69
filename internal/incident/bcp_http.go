package incident

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The BCP's pages (/incident/bcp: the plan with its missing sections,
// its versions and approval, the offline procedures; the form of every
// section; the print view, a whole HTML document, and /incident/bcp.pdf)
// and API (/api/v1/incident/bcp...).

func (h *handlers) registerBCP() {
	read, prep := web.Perm(PermRead), web.Perm(PermPrepare)
	h.srv.Handle(http.MethodGet, "/incident/bcp", read, h.bcpPage)
	h.srv.Handle(http.MethodGet, "/incident/bcp/edit", prep, h.bcpEditPage)
	h.srv.Handle(http.MethodPost, "/incident/bcp", prep, h.bcpPost)
	h.srv.Handle(http.MethodPost, "/incident/bcp/approve", prep, h.bcpApprovePost)
	h.srv.Handle(http.MethodPost, "/incident/bcp/procedures", prep, h.procedurePost)
	h.srv.Handle(http.MethodPost, "/incident/bcp/procedures/{id}", prep, h.procedurePost)
	h.srv.Handle(http.MethodPost, "/incident/bcp/procedures/{id}/delete", prep, h.procedureDeletePost)
	h.srv.Handle(http.MethodGet, "/incident/bcp/print", read, h.bcpPrint)
	h.srv.Handle(http.MethodGet, "/incident/bcp.pdf", read, h.bcpPDF)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/bcp", read, h.apiBCP)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/bcp/versions", read, h.apiBCPVersions)
	h.srv.Handle(http.MethodPut, "/api/v1/incident/bcp/sections/{section}", prep, h.apiBCPSection)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/bcp/approve", prep, h.apiBCPApprove)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/bcp/procedures", prep, h.apiProcedureCreate)
	h.srv.Handle(http.MethodPut, "/api/v1/incident/bcp/procedures/{id}", prep, h.apiProcedureUpdate)
	h.srv.Handle(http.MethodDelete, "/api/v1/incident/bcp/procedures/{id}", prep, h.apiProcedureDelete)
}

func prepRFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// BCPJSON is a version of the BCP in the JSON API.
type BCPJSON struct {
	Facility   int64            `json:"facility"`
	Version    int64            `json:"version"`
	Created    *string          `json:"created,omitempty"`
	CreatedBy  string           `json:"created_by,omitempty"`
	Note       string           `json:"note,omitempty"`
	ApprovedBy string           `json:"approved_by,omitempty"`
	ApprovedOn string           `json:"approved_on,omitempty"`
	Sections   []BCPSectionJSON `json:"sections,omitempty"`
	Missing    []string         `json:"missing"`
	Procedures []ProcedureJSON  `json:"procedures,omitempty"`
}

// BCPSectionJSON is one section of the BCP.
type BCPSectionJSON struct {
	Key     string `json:"key"`
	Text    string `json:"text"`
	Missing bool   `json:"missing"`
}

// ProcedureNewJSON is the body that creates or changes an offline
// procedure.
type ProcedureNewJSON struct {
	Department string `json:"department"`
	Title      string `json:"title"`
	Body       string `json:"body"`
}

// ProcedureJSON is an offline procedure in the JSON API.
type ProcedureJSON struct {
	ID         int64  `json:"id,omitempty"`
	Department string `json:"department"`
	Title      string `json:"title"`
	Body       string `json:"body"`
	Updated    string `json:"updated,omitempty"`
	UpdatedBy  string `json:"updated_by,omitempty"`
}

// BCPSectionPutJSON is the body of PUT /api/v1/incident/bcp/sections/{section}.
type BCPSectionPutJSON struct {
	Text string `json:"text"`
	Note string `json:"note,omitempty"`
}

// BCPApproveJSON is the body of POST /api/v1/incident/bcp/approve.
type BCPApproveJSON struct {
	Version    int64  `json:"version"`
	ApprovedBy string `json:"approved_by"`
	ApprovedOn string `json:"approved_on"` // a date, YYYY-MM-DD
}

func bcpJSON(b BCP, withSections bool) BCPJSON {
	j := BCPJSON{Facility: b.Facility, Version: b.Version, CreatedBy: b.CreatedBy, Note: b.Note, ApprovedBy: b.ApprovedBy,
		Missing: b.Missing()}
	if j.Missing == nil {
		j.Missing = []string{}
	}
	if !b.Created.IsZero() {
		s := prepRFC3339(b.Created)
		j.Created = &s
	}
	if !b.ApprovedAt.IsZero() {
		j.ApprovedOn = b.ApprovedAt.In(japan).Format(time.DateOnly)
	}
	if withSections {
		for _, k := range BCPSections {
			j.Sections = append(j.Sections, BCPSectionJSON{Key: k, Text: b.Sections[k], Missing: strings.TrimSpace(b.Sections[k]) == ""})
		}
	}
	return j
}

func procedureJSON(p OfflineProcedure) ProcedureJSON {
	return ProcedureJSON{ID: p.ID, Department: p.Department, Title: p.Title, Body: p.Body, Updated: prepRFC3339(p.Updated),
		UpdatedBy: p.UpdatedBy}
}

func (h *handlers) apiBCP(w http.ResponseWriter, r *http.Request) {
	f, ok := h.apiFacility(w, r, PermRead)
	if !ok {
		return
	}
	b, err := CurrentBCP(r.Context(), h.cfg.DB, f)
	if h.prepProblem(w, r, err) {
		return
	}
	procs, err := OfflineProcedures(r.Context(), h.cfg.DB, f)
	if h.prepProblem(w, r, err) {
		return
	}
	j := bcpJSON(b, true)
	j.Procedures = []ProcedureJSON{}
	for _, p := range procs {
		j.Procedures = append(j.Procedures, procedureJSON(p))
	}
	web.JSON(w, http.StatusOK, j)
}

func (h *handlers) apiBCPVersions(w http.ResponseWriter, r *http.Request) {
	f, ok := h.apiFacility(w, r, PermRead)
	if !ok {
		return
	}
	list, err := BCPVersions(r.Context(), h.cfg.DB, f)
	if h.prepProblem(w, r, err) {
		return
	}
	out := struct {
		Versions []BCPJSON `json:"versions"`
	}{[]BCPJSON{}}
	for _, b := range list {
		out.Versions = append(out.Versions, bcpJSON(b, false))
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiBCPSection(w http.ResponseWriter, r *http.Request) {
	var body BCPSectionPutJSON
	if err := web.DecodeJSON(r, &body); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	f, ok := h.apiFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	b, err := SaveBCP(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, map[string]string{r.PathValue("section"): body.Text},
		body.Note, h.cfg.Clock.Now())
	if h.prepProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, bcpJSON(b, true))
}

func (h *handlers) apiBCPApprove(w http.ResponseWriter, r *http.Request) {
	var body BCPApproveJSON
	if err := web.DecodeJSON(r, &body); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	f, ok := h.apiFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	on, err := time.ParseInLocation(time.DateOnly, body.ApprovedOn, h.srv.Location())
	if err != nil {
		h.prepProblem(w, r, prepErr("approved_on", "incident.prep.error.date"))
		return
	}
	err = ApproveBCP(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, body.Version, body.ApprovedBy, on, h.cfg.Clock.Now())
	if h.prepProblem(w, r, err) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handlers) apiProcedureCreate(w http.ResponseWriter, r *http.Request) {
	h.apiProcedureSave(w, r, 0)
}

func (h *handlers) apiProcedureUpdate(w http.ResponseWriter, r *http.Request) {
	h.apiProcedureSave(w, r, -1)
}

// apiProcedureSave creates a procedure (id 0) or changes the one of the
// path (id -1).
func (h *handlers) apiProcedureSave(w http.ResponseWriter, r *http.Request, id int64) {
	var body ProcedureNewJSON
	if err := web.DecodeJSON(r, &body); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	if id < 0 {
		if id = prepPathID(r, "id"); id == 0 {
			h.prepProblem(w, r, db.ErrNotFound)
			return
		}
	}
	f, ok := h.apiFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	p, err := SaveOfflineProcedure(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f,
		OfflineProcedure{ID: id, Department: body.Department, Title: body.Title, Body: body.Body}, h.cfg.Clock.Now())
	if h.prepProblem(w, r, err) {
		return
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusCreated
	}
	web.JSON(w, status, procedureJSON(p))
}

func (h *handlers) apiProcedureDelete(w http.ResponseWriter, r *http.Request) {
	id := prepPathID(r, "id")
	f, ok := h.apiFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	if id == 0 {
		h.prepProblem(w, r, db.ErrNotFound)
		return
	}
	if h.prepProblem(w, r, DeleteOfflineProcedure(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, id, h.cfg.Clock.Now())) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// bcpSectionView is a section as the pages show it.
type bcpSectionView struct {
	Key, Text string
	Missing   bool
}

// bcpView is what templates/bcp.html and bcp_edit.html see.
type bcpView struct {
	Facility   int64
	Query      string
	BCP        BCP
	Sections   []bcpSectionView
	Missing    int
	Versions   []BCP
	Procedures []OfflineProcedure
	CanEdit    bool
	HasPDF     bool
	Error      string
	Today      string
}

func (h *handlers) bcpData(r *http.Request, f int64) (*bcpView, error) {
	b, err := CurrentBCP(r.Context(), h.cfg.DB, f)
	if err != nil {
		return nil, err
	}
	v := &bcpView{Facility: f, Query: prepFacilityQuery(f), BCP: b, Missing: len(b.Missing()), HasPDF: h.cfg.PDF != nil,
		CanEdit: web.PrincipalOf(r).CanIn(PermPrepare, f), Today: h.cfg.Clock.Now().In(h.srv.Location()).Format(time.DateOnly)}
	for _, k := range BCPSections {
		v.Sections = append(v.Sections, bcpSectionView{Key: k, Text: b.Sections[k], Missing: strings.TrimSpace(b.Sections[k]) == ""})
	}
	if v.Versions, err = BCPVersions(r.Context(), h.cfg.DB, f); err != nil {
		return nil, err
	}
	if v.Procedures, err = OfflineProcedures(r.Context(), h.cfg.DB, f); err != nil {
		return nil, err
	}
	return v, nil
}

func (h *handlers) bcpPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermRead)
	if !ok {
		return
	}
	h.renderBCP(w, r, http.StatusOK, f, "incident/bcp", "", nil)
}

func (h *handlers) renderBCP(w http.ResponseWriter, r *http.Request, status int, f int64, page, msg string, edited map[string]string) {
	v, err := h.bcpData(r, f)
	if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	v.Error = msg
	for i := range v.Sections {
		if t, ok := edited[v.Sections[i].Key]; ok {
			v.Sections[i].Text = t
		}
	}
	h.srv.Render(w, r, status, page, v)
}

func (h *handlers) bcpEditPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	h.renderBCP(w, r, http.StatusOK, f, "incident/bcp_edit", "", nil)
}

// bcpPost saves the sections that the form changed as a new version.
func (h *handlers) bcpPost(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	cur, err := CurrentBCP(r.Context(), h.cfg.DB, f)
	if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	changes, form := map[string]string{}, map[string]string{}
	for _, k := range BCPSections {
		if vals, ok := r.PostForm["section_"+k]; ok && len(vals) > 0 {
			t := strings.TrimSpace(strings.ReplaceAll(vals[0], "\r\n", "\n"))
			form[k] = t
			if t != cur.Sections[k] {
				changes[k] = t
			}
		}
	}
	if len(changes) == 0 {
		h.srv.Flash(w, "incident.prep.bcp.unchanged")
		http.Redirect(w, r, "/incident/bcp"+prepFacilityQuery(f), http.StatusSeeOther)
		return
	}
	_, err = SaveBCP(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, changes, r.PostFormValue("note"), h.cfg.Clock.Now())
	if msg := h.prepMessage(r, err); msg != "" {
		h.renderBCP(w, r, http.StatusUnprocessableEntity, f, "incident/bcp_edit", msg, form)
		return
	} else if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	h.srv.Flash(w, "incident.prep.bcp.saved")
	http.Redirect(w, r, "/incident/bcp"+prepFacilityQuery(f), http.StatusSeeOther)
}

func (h *handlers) bcpApprovePost(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	cur, err := CurrentBCP(r.Context(), h.cfg.DB, f)
	if err == nil && cur.Version == 0 {
		err = prepErr("version", "incident.prep.error.no_bcp")
	}
	if err == nil {
		on, perr := time.ParseInLocation(time.DateOnly, r.PostFormValue("approved_on"), h.srv.Location())
		if perr != nil {
			err = prepErr("approved_on", "incident.prep.error.date")
		} else {
			err = ApproveBCP(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, cur.Version, r.PostFormValue("approved_by"), on, h.cfg.Clock.Now())
		}
	}
	if msg := h.prepMessage(r, err); msg != "" {
		h.renderBCP(w, r, http.StatusUnprocessableEntity, f, "incident/bcp", msg, nil)
		return
	} else if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	h.srv.Flash(w, "incident.prep.bcp.approved")
	http.Redirect(w, r, "/incident/bcp"+prepFacilityQuery(f), http.StatusSeeOther)
}

func (h *handlers) procedurePost(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	var id int64
	if r.PathValue("id") != "" {
		if id = prepPathID(r, "id"); id == 0 {
			h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
			return
		}
	}
	_, err := SaveOfflineProcedure(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, OfflineProcedure{ID: id,
		Department: r.PostFormValue("department"), Title: r.PostFormValue("title"), Body: r.PostFormValue("body")}, h.cfg.Clock.Now())
	if msg := h.prepMessage(r, err); msg != "" {
		h.renderBCP(w, r, http.StatusUnprocessableEntity, f, "incident/bcp", msg, nil)
		return
	} else if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	h.srv.Flash(w, "incident.prep.procedure.saved")
	http.Redirect(w, r, "/incident/bcp"+prepFacilityQuery(f)+"#procedures", http.StatusSeeOther)
}

func (h *handlers) procedureDeletePost(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	id := prepPathID(r, "id")
	if id == 0 {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	if err := DeleteOfflineProcedure(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, id, h.cfg.Clock.Now()); err != nil {
		h.prepPageError(w, r, err)
		return
	}
	h.srv.Flash(w, "incident.prep.procedure.deleted")
	http.Redirect(w, r, "/incident/bcp"+prepFacilityQuery(f)+"#procedures", http.StatusSeeOther)
}

// bcpPrintHTML renders the BCP of facility with its offline procedures
// as a whole HTML document in lang, for printing and for the PDF.
func (h *handlers) bcpPrintHTML(r *http.Request, f int64, lang string) ([]byte, error) {
	v, err := h.bcpData(r, f)
	if err != nil {
		return nil, err
	}
	return renderBCPPrint(h.srv, lang, v)
}

// prepPrintFS holds the printable documents of the preparation rooms: whole
// HTML documents with their own functions, so not pages of the web shell.
//
//go:embed print/bcp.html
var prepPrintFS embed.FS

// renderBCPPrint executes print/bcp.html.
func renderBCPPrint(srv *web.Server, lang string, v *bcpView) ([]byte, error) {
	loc := srv.Location()
	t, err := template.New("").Funcs(template.FuncMap{
		"T": func(id string, args ...any) string {
			data := map[string]any{}
			for i := 0; i+1 < len(args); i += 2 {
				data[args[i].(string)] = args[i+1]
			}
			return srv.Catalog().T(lang, id, data)
		},
		"date": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.In(loc).Format(time.DateOnly)
		},
	}).ParseFS(templatesFS, "templates/_print.html")
	if err == nil {
		t, err = t.ParseFS(prepPrintFS, "print/bcp.html")
	}
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = t.ExecuteTemplate(&b, "bcp-print", map[string]any{"Lang": lang, "V": v})
	return b.Bytes(), err
}

// bcpPrintCSP is the Content-Security-Policy of a printable document.
const bcpPrintCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (h *handlers) bcpPrint(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermRead)
	if !ok {
		return
	}
	b, err := h.bcpPrintHTML(r, f, h.srv.Lang(r))
	if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The printable document carries its style inline (it is also rendered
	// offline as PDF) and has no script: allow inline style, nothing else.
	w.Header().Set("Content-Security-Policy", bcpPrintCSP)
	_, _ = w.Write(b)
}

func (h *handlers) bcpPDF(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermRead)
	if !ok {
		return
	}
	if h.cfg.PDF == nil {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "incident.prep.bcp.no_pdf")
		return
	}
	b, err := h.bcpPrintHTML(r, f, h.srv.Lang(r))
	if err == nil {
		b, err = h.cfg.PDF.Render(r.Context(), b)
	}
	if err != nil {
		h.srv.Log().Error("render the BCP as PDF", "err", err, "facility", f)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `inline; filename="bcp.pdf"`)
	_, _ = w.Write(b)
}
