package audit

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The access-log pages: /audit/events (search), /audit/events.csv (its
// export), /audit/events/{seq} (one event with its proof), the per-patient
// view under /audit/patients (ui_patient.go) and the source systems
// (ui_sources.go, card_sources.go).

// countUpTo is how far the search page counts the events that match.
const countUpTo = 10000

//go:embed static
var staticFS embed.FS

// registerReading adds the access-log pages, API routes, navigation entry
// and dashboard card to srv.
func (h *handlers) registerReading() error {
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return err
	}
	h.srv.AddStatic("audit", static)
	read := web.Perm(PermRead)
	s := h.srv
	s.Handle(http.MethodGet, "/api/v1/audit/events", read, h.apiEvents)
	s.Handle(http.MethodGet, "/api/v1/audit/events/{seq}", read, h.apiEvent)
	s.Handle(http.MethodGet, "/api/v1/audit/events/{seq}/proof", read, h.apiProof)
	s.Handle(http.MethodGet, "/api/v1/audit/checkpoint", read, h.apiCheckpoint)
	s.Handle(http.MethodGet, "/audit/events", read, h.eventsPage)
	s.Handle(http.MethodGet, "/audit/events.csv", read, h.eventsCSV)
	s.Handle(http.MethodGet, "/audit/events/{seq}", read, h.eventPage)
	s.Handle(http.MethodGet, "/audit/events/{seq}/proof.json", read, h.proofDownload)
	s.Handle(http.MethodGet, "/audit/patients", read, h.patientsPage)
	s.Handle(http.MethodGet, "/audit/patients/{id}", read, h.patientPage)
	s.Handle(http.MethodGet, "/audit/patients/{id}/events.csv", read, h.patientCSV)
	s.Handle(http.MethodGet, "/audit/sources", read, h.sourcesPage)
	s.AddNav(web.NavItem{Path: "/audit/events", LabelID: "nav.access_log", Access: read, Order: 79})
	s.AddCard(web.Card{ID: "audit-sources", TitleID: "audit.sources.card.title", Access: read, Order: 21, Stats: h.sourcesCard})
	return nil
}

// eventRow is one event as the tables show it.
type eventRow struct {
	Event
	ActionLabel  string // translated, or the action itself
	OutcomeLabel string
	Skewed       bool   // flagged for clock skew
	Skew         string // the source's clock against anzen's, such as +0:03:12
	DetailURL    string
	PatientURL   string // the per-patient view; empty without a patient
}

// eventRows turns events into table rows in lang.
func (h *handlers) eventRows(lang string, events []Event) []eventRow {
	rows := make([]eventRow, len(events))
	for i, e := range events {
		rows[i] = eventRow{Event: e, ActionLabel: h.eventActionLabel(lang, e.Action),
			OutcomeLabel: h.eventOutcomeLabel(lang, e.Outcome), Skewed: e.Flags.Has(FlagClockSkew),
			Skew: signedDuration(e.Skew()), DetailURL: "/audit/events/" + strconv.FormatInt(e.Seq, 10)}
		if e.Patient.ID != "" {
			rows[i].PatientURL = patientURL(e.Patient.ID)
		}
	}
	return rows
}

// patientURL is the per-patient view of id.
func patientURL(id string) string { return "/audit/patients/" + url.PathEscape(id) }

// signedDuration writes d as +h:mm:ss or -h:mm:ss, in whole seconds, the
// same in both languages.
func signedDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	sign := "+"
	if s < 0 {
		sign, s = "-", -s
	}
	return fmt.Sprintf("%s%d:%02d:%02d", sign, s/3600, s/60%60, s%60)
}

// eventActionLabel is the page label of an access-log action: the label
// of a known action ("audit.event_action.<action>"), of one of anzen's own
// ("audit.action.<action>"), or the action as the source sent it.
func (h *handlers) eventActionLabel(lang, action string) string {
	cat := h.srv.Catalog()
	if slices.Contains(KnownActions, action) {
		return cat.T(lang, "audit.event_action."+action, nil)
	}
	if id := "audit.action." + action; cat.Has(lang, id) {
		return cat.T(lang, id, nil)
	}
	return action
}

func (h *handlers) eventOutcomeLabel(lang, outcome string) string {
	switch outcome {
	case OutcomeSuccess, OutcomeFailure, OutcomeUnknown:
		return h.srv.Catalog().T(lang, "audit.outcome."+outcome, nil)
	}
	return outcome
}

// eventsView is what templates/events.html sees as .Data.
type eventsView struct {
	Query     url.Values // the query as typed, to fill the form again
	Actions   []option
	Outcomes  []option
	Sources   []option
	Error     string
	Rows      []eventRow
	Count     string // how many match, such as "1,234" or "10,000+"
	Behind    int64  // events the search index had not taken
	NewestURL string
	OlderURL  string
	CSVURL    string
	ExportMax string
}

// eventsPage serves GET /audit/events.
func (h *handlers) eventsPage(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	lang := h.srv.Lang(r)
	data := &eventsView{Query: v, Actions: h.eventActionOptions(lang, v.Get("action")),
		Outcomes: h.eventOutcomeOptions(lang, v.Get("outcome")), ExportMax: groupDigits(ExportMaxRows)}
	q, perr := parseEventQuery(v, true, h.loc)
	scopeEvents(&q, r)
	if perr != nil {
		data.Error = h.srv.T(r, "audit.error.invalid_field", map[string]any{"Field": h.eventFieldLabel(lang, perr.Param)})
		var err error
		if data.Sources, err = h.sourceOptions(r, v.Get("source")); err != nil {
			h.pageFailed(w, r, "list the source systems", err)
			return
		}
		h.srv.Render(w, r, http.StatusBadRequest, "audit/events", data)
		return
	}
	page, err := h.log.SearchEvents(r.Context(), q) // brings the index, and so the sources, up to date
	if err != nil {
		h.pageFailed(w, r, "search the access log", err)
		return
	}
	if data.Sources, err = h.sourceOptions(r, v.Get("source")); err != nil {
		h.pageFailed(w, r, "list the source systems", err)
		return
	}
	n, more, err := h.log.CountEvents(r.Context(), q, countUpTo)
	if err == nil {
		err = h.recordEventSearch(r, q, "page")
	}
	if err != nil {
		h.pageFailed(w, r, "search the access log", err)
		return
	}
	data.Rows, data.Behind = h.eventRows(lang, page.Events), page.Behind
	data.Count = groupDigits(n)
	if more {
		data.Count += "+"
	}
	if q.Before > 0 {
		data.NewestURL = eventLink("/audit/events", v, "before", "")
	}
	if page.Next > 0 {
		data.OlderURL = eventLink("/audit/events", v, "before", strconv.FormatInt(page.Next, 10))
	}
	data.CSVURL = eventLink("/audit/events.csv", v, "before", "", "limit", "")
	h.srv.Render(w, r, http.StatusOK, "audit/events", data)
}

// pageFailed logs err and shows the internal-error page.
func (h *handlers) pageFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.srv.Log().Error(what, "err", err)
	h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
}

// eventLink returns path with the search parameters of v, each name/value
// pair of set replacing v's value; empty parameters are left out.
func eventLink(path string, v url.Values, set ...string) string {
	return linkWith(path, eventParams, v, set...)
}

var eventFieldLabels = map[string]string{
	"from": "audit.filter.from", "to": "audit.filter.to", "actor": "audit.events.filter.actor",
	"patient": "audit.events.filter.patient", "action": "audit.filter.action", "source": "audit.events.filter.source",
	"outcome": "audit.filter.outcome", "q": "audit.events.filter.text", "limit": "audit.filter.limit",
	"before": "audit.filter.before",
}

func (h *handlers) eventFieldLabel(lang, param string) string {
	if id, ok := eventFieldLabels[param]; ok {
		return h.srv.Catalog().T(lang, id, nil)
	}
	return param
}

func (h *handlers) eventActionOptions(lang, current string) []option {
	opts := []option{{Value: "", Label: h.srv.Catalog().T(lang, "audit.filter.any", nil), Selected: current == ""}}
	known := current == ""
	for _, a := range KnownActions {
		opts = append(opts, option{Value: a, Label: h.eventActionLabel(lang, a), Selected: current == a})
		known = known || current == a
	}
	if !known {
		// An action of a system that anzen has no label for, or a prefix,
		// as typed into the address.
		opts = append(opts, option{Value: current, Label: current, Selected: true})
	}
	return opts
}

func (h *handlers) eventOutcomeOptions(lang, current string) []option {
	opts := []option{{Value: "", Label: h.srv.Catalog().T(lang, "audit.filter.any", nil), Selected: current == ""}}
	for _, o := range []string{OutcomeSuccess, OutcomeFailure, OutcomeUnknown} {
		opts = append(opts, option{Value: o, Label: h.eventOutcomeLabel(lang, o), Selected: current == o})
	}
	return opts
}

// sourceOptions lists the source systems of the caller's facilities for
// the filter.
func (h *handlers) sourceOptions(r *http.Request, current string) ([]option, error) {
	all, ids := web.PrincipalOf(r).Facilities(PermRead)
	srcs, err := h.log.Sources(r.Context(), all, ids)
	if err != nil {
		return nil, err
	}
	opts := []option{{Value: "", Label: h.srv.T(r, "audit.filter.any", nil), Selected: current == ""}}
	seen := map[string]bool{"": true}
	for _, s := range srcs {
		if !seen[s.Source] {
			seen[s.Source] = true
			opts = append(opts, option{Value: s.Source, Label: s.Source, Selected: current == s.Source})
		}
	}
	if !seen[current] {
		opts = append(opts, option{Value: current, Label: current, Selected: true})
	}
	return opts, nil
}

// eventsCSV serves GET /audit/events.csv: every event the search selects,
// up to ExportMaxRows, newest first.
func (h *handlers) eventsCSV(w http.ResponseWriter, r *http.Request) {
	q, perr := parseEventQuery(r.URL.Query(), true, h.loc)
	if perr != nil {
		h.srv.ErrorPage(w, r, http.StatusBadRequest, "audit.error.invalid_filter")
		return
	}
	scopeEvents(&q, r)
	h.exportEvents(w, r, q, "access-log", "csv")
}

// urlSafe keeps only letters, digits, - and _ of s, for a file name.
func urlSafe(s string) string {
	return strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			return c
		}
		return '_'
	}, s)
}
