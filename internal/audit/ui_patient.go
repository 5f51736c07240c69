package audit

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The per-patient view: who saw this patient's record, when and from
// where — the question patients (開示請求) and auditors ask most.

// patientsView is what templates/patients.html sees as .Data.
type patientsView struct {
	ID    string
	Error string
}

// patientsPage serves GET /audit/patients: with ?id= it sends the browser
// to that patient's view (a form cannot put the id into the path itself);
// without, it shows the form.
func (h *handlers) patientsPage(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	id := strings.TrimSpace(v.Get("id"))
	if id == "" {
		h.srv.Render(w, r, http.StatusOK, "audit/patients", &patientsView{})
		return
	}
	if !validPatientID(id) {
		h.srv.Render(w, r, http.StatusBadRequest, "audit/patients", &patientsView{ID: id,
			Error: h.srv.T(r, "audit.error.invalid_field", map[string]any{"Field": h.srv.T(r, "audit.events.filter.patient", nil)})})
		return
	}
	target := patientURL(id)
	if rest := eventLink("", v); rest != "" {
		target += rest
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// validPatientID reports whether id can be a stored patient id.
func validPatientID(id string) bool {
	return id != "" && utf8.ValidString(id) && utf8.RuneCountInString(id) <= MaxFieldLen && !strings.ContainsRune(id, 0)
}

// tallyRow is one line of a summary's breakdown as the page shows it.
type tallyRow struct {
	Label            string
	Accesses, People int
}

// patientView is what templates/patient.html sees as .Data.
type patientView struct {
	ID        string
	Query     url.Values
	Error     string
	Summary   Summary
	Breakdown []breakdown
	Rows      []eventRow
	NewestURL string
	OlderURL  string
	CSVURL    string
	ClearURL  string
	ExportMax string
	Max       string // SummaryMax, for the note when the summary was cut
}

// breakdown is one table of the summary: by department, profession, ...
type breakdown struct {
	ID, TitleID, ColumnID string
	Rows                  []tallyRow
}

// patientQuery reads the route's patient and the search parameters; it
// answers the request and returns false when they are not valid.
func (h *handlers) patientQuery(w http.ResponseWriter, r *http.Request) (EventQuery, string, bool) {
	id := r.PathValue("id")
	if !validPatientID(id) {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "audit.error.patient_not_valid")
		return EventQuery{}, "", false
	}
	q, perr := parseEventQuery(r.URL.Query(), true, h.loc)
	q.Patient = id
	scopeEvents(&q, r)
	if perr != nil {
		return q, h.srv.T(r, "audit.error.invalid_field", map[string]any{"Field": h.eventFieldLabel(h.srv.Lang(r), perr.Param)}), true
	}
	return q, "", true
}

// patientPage serves GET /audit/patients/{id}: the summary of who handled
// the patient's record and the list of those events, within the caller's
// facilities and the dates asked for.
func (h *handlers) patientPage(w http.ResponseWriter, r *http.Request) {
	q, bad, ok := h.patientQuery(w, r)
	if !ok {
		return
	}
	lang := h.srv.Lang(r)
	v := r.URL.Query()
	base := patientURL(q.Patient)
	data := &patientView{ID: q.Patient, Query: v, Error: bad, ExportMax: groupDigits(ExportMaxRows),
		Max: groupDigits(SummaryMax), ClearURL: base}
	if bad != "" {
		h.srv.Render(w, r, http.StatusBadRequest, "audit/patient", data)
		return
	}
	sum, err := h.log.Summarize(r.Context(), q)
	if err != nil {
		h.pageFailed(w, r, "summarise a patient's accesses", err)
		return
	}
	page, err := h.log.SearchEvents(r.Context(), q)
	if err == nil {
		err = h.recordEventSearch(r, q, "patient")
	}
	if err != nil {
		h.pageFailed(w, r, "search a patient's accesses", err)
		return
	}
	data.Summary, data.Rows = sum, h.eventRows(lang, page.Events)
	unknown := h.srv.T(r, "audit.patient.unknown", nil)
	rows := func(ts []Tally, label func(string) string) []tallyRow {
		out := make([]tallyRow, len(ts))
		for i, t := range ts {
			out[i] = tallyRow{Label: t.Name, Accesses: t.Accesses, People: t.People}
			if label != nil {
				out[i].Label = label(t.Name)
			}
			if out[i].Label == "" {
				out[i].Label = unknown
			}
		}
		return out
	}
	data.Breakdown = []breakdown{
		{"by-department", "audit.patient.by_department", "audit.events.col.department", rows(sum.Departments, nil)},
		{"by-profession", "audit.patient.by_profession", "audit.events.col.profession", rows(sum.Professions, nil)},
		{"by-action", "audit.patient.by_action", "audit.col.action", rows(sum.Actions, func(a string) string {
			return h.eventActionLabel(lang, a)
		})},
		{"by-source", "audit.patient.by_source", "audit.events.col.source", rows(sum.Sources, nil)},
	}
	if q.Before > 0 {
		data.NewestURL = eventLink(base, v, "before", "")
	}
	if page.Next > 0 {
		data.OlderURL = eventLink(base, v, "before", strconv.FormatInt(page.Next, 10))
	}
	data.CSVURL = eventLink(base+"/events.csv", v, "before", "", "limit", "")
	h.srv.Render(w, r, http.StatusOK, "audit/patient", data)
}

// patientCSV serves GET /audit/patients/{id}/events.csv: the same events
// as the per-patient view, for the reply to a patient's request or an
// auditor's file.
func (h *handlers) patientCSV(w http.ResponseWriter, r *http.Request) {
	q, bad, ok := h.patientQuery(w, r)
	if !ok {
		return
	}
	if bad != "" {
		h.srv.ErrorPage(w, r, http.StatusBadRequest, "audit.error.invalid_filter")
		return
	}
	h.exportEvents(w, r, q, "access-log-patient-"+urlSafe(clip(q.Patient, 64)), "patient-csv")
}
