package incident

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The incidents' JSON API, /api/v1/incident/incidents (openapi.json): the
// payloads and the handlers of incidents and their timeline. Tasks,
// observables, evidence and links are in api_parts.go.

// IncidentDutyJSON is a reporting duty of an incident.
type IncidentDutyJSON struct {
	To        Recipient `json:"recipient"`
	Required  bool      `json:"required"`
	Due       time.Time `json:"due"`
	Statutory bool      `json:"statutory"`
}

// IncidentJSON is an incident in the JSON API.
type IncidentJSON struct {
	ID              int64              `json:"id"`
	Ref             string             `json:"ref"`
	Facility        int64              `json:"facility"`
	Kind            Kind               `json:"kind"`
	Severity        Severity           `json:"severity"`
	State           State              `json:"state"`
	Title           string             `json:"title"`
	Summary         string             `json:"summary"`
	AwareAt         time.Time          `json:"aware_at"`
	OccurredAt      *time.Time         `json:"occurred_at,omitempty"`
	Created         time.Time          `json:"created"`
	CreatedBy       string             `json:"created_by"`
	Updated         time.Time          `json:"updated"`
	Closed          *time.Time         `json:"closed,omitempty"`
	Resolution      string             `json:"resolution,omitempty"`
	Commander       string             `json:"commander"`
	AffectedSystems string             `json:"affected_systems"`
	AffectedData    string             `json:"affected_data"`
	People          int64              `json:"people"`
	MedicalData     bool               `json:"medical_data"`
	Leak            Leak               `json:"leak"`
	Malicious       bool               `json:"malicious"`
	Crime           bool               `json:"crime"`
	Cyberattack     bool               `json:"cyberattack"`
	CareImpact      bool               `json:"care_impact"`
	Encrypted       bool               `json:"encrypted"`
	SourceAlert     int64              `json:"source_alert,omitempty"`
	Duties          []IncidentDutyJSON `json:"duties"`
}

// IncidentsJSON is the answer of GET /api/v1/incident/incidents.
type IncidentsJSON struct {
	Incidents []IncidentJSON `json:"incidents"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ToJSON is the incident as the API and the command line write it.
func ToJSON(i Incident) IncidentJSON {
	j := IncidentJSON{ID: i.ID, Ref: i.Ref(), Facility: i.Facility, Kind: i.Kind, Severity: i.Severity, State: i.State,
		Title: i.Title, Summary: i.Summary, AwareAt: i.AwareAt, OccurredAt: timePtr(i.OccurredAt), Created: i.Created,
		CreatedBy: i.CreatedBy, Updated: i.Updated, Closed: timePtr(i.Closed), Resolution: i.Resolution,
		Commander: i.Commander, AffectedSystems: i.AffectedSystems, AffectedData: i.AffectedData, People: i.People,
		MedicalData: i.MedicalData, Leak: i.Leak, Malicious: i.Malicious, Crime: i.Crime, Cyberattack: i.Cyberattack,
		CareImpact: i.CareImpact, Encrypted: i.Encrypted, SourceAlert: i.SourceAlert, Duties: []IncidentDutyJSON{}}
	for _, d := range Duties(i) {
		j.Duties = append(j.Duties, IncidentDutyJSON{To: d.To, Required: d.Required, Due: d.Due, Statutory: d.Statutory})
	}
	return j
}

// EntryJSON is a timeline entry in the JSON API.
type EntryJSON struct {
	ID     int64          `json:"id"`
	At     time.Time      `json:"at"`
	Actor  string         `json:"actor"`
	Auto   bool           `json:"auto"`
	Action string         `json:"action"`
	Text   string         `json:"text"`
	Detail map[string]any `json:"detail"`
}

// TimelineJSON is the answer of GET .../{id}/timeline.
type TimelineJSON struct {
	Entries []EntryJSON `json:"entries"`
}

func entryJSON(e Entry) EntryJSON {
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	return EntryJSON{ID: e.ID, At: e.At, Actor: e.Actor, Auto: e.Auto, Action: e.Action, Text: e.Text, Detail: e.Detail}
}

// registerAPI adds the incidents' API routes.
func (h *handlers) registerAPI() {
	read, manage := web.Perm(PermRead), web.Perm(PermManage)
	const base = "/api/v1/incident/incidents"
	h.srv.Handle(http.MethodGet, base, read, h.apiList)
	h.srv.Handle(http.MethodPost, base, manage, h.apiCreate)
	h.srv.Handle(http.MethodGet, base+"/{id}", read, h.apiGet)
	h.srv.Handle(http.MethodPatch, base+"/{id}", manage, h.apiUpdate)
	h.srv.Handle(http.MethodPost, base+"/{id}/state", manage, h.apiState)
	h.srv.Handle(http.MethodGet, base+"/{id}/timeline", read, h.apiTimeline)
	h.srv.Handle(http.MethodPost, base+"/{id}/timeline", manage, h.apiNote)
	h.registerPartsAPI(base) // api_parts.go
}

// pathID reads the path value name as a positive id.
func pathID(r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return id, err == nil && id > 0
}

// apiProblem answers err, if any, as a problem and reports whether it did.
func (h *handlers) apiProblem(w http.ResponseWriter, r *http.Request, err error) bool {
	var ie *Error
	switch {
	case err == nil:
		return false
	case errors.As(err, &ie) && ie.Conflict:
		h.srv.Problem(w, r, http.StatusConflict, "incident-conflict", ie.MsgID, nil)
	case errors.As(err, &ie):
		p := web.Problem{Type: web.ProblemTypePrefix + "validation", Title: "Unprocessable Entity",
			Status: http.StatusUnprocessableEntity, Detail: h.srv.T(r, ie.MsgID, nil)}
		p.Errors = []web.FieldError{{Field: ie.Field, Message: p.Detail}}
		h.srv.WriteProblem(w, p)
	case errors.Is(err, db.ErrNotFound):
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
	default:
		h.srv.Log().Error("incident API", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
	}
	return true
}

func (h *handlers) notFound(w http.ResponseWriter, r *http.Request) {
	h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
}

// listQuery reads the list's filters; ok false when one is not valid.
func listQuery(r *http.Request, s Scope) (ListQuery, Filter, bool) {
	q := ListQuery{Scope: s, Open: true}
	var f Filter
	v := r.URL.Query()
	switch v.Get("state") {
	case "", "open":
	case "all":
		q.Open = false
	default:
		st, err := ParseState(v.Get("state"))
		if err != nil {
			return q, f, false
		}
		q.Open, f.State = false, st
	}
	if k := v.Get("kind"); k != "" {
		kind, err := ParseKind(k)
		if err != nil {
			return q, f, false
		}
		f.Kind = kind
	}
	if s := v.Get("severity"); s != "" {
		sev, err := ParseSeverity(s)
		if err != nil {
			return q, f, false
		}
		f.Severity = sev
	}
	if b := v.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return q, f, false
		}
		q.Before = n
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return q, f, false
		}
		q.Limit = n
	}
	return q, f, true
}

func (h *handlers) apiList(w http.ResponseWriter, r *http.Request) {
	q, f, ok := listQuery(r, scopeOf(r, PermRead))
	if !ok {
		h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "incident.error.parameter", nil)
		return
	}
	list, err := ListFiltered(r.Context(), h.cfg.DB, q, f)
	if h.apiProblem(w, r, err) {
		return
	}
	out := IncidentsJSON{Incidents: []IncidentJSON{}}
	for _, i := range list {
		out.Incidents = append(out.Incidents, ToJSON(i))
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiCreate(w http.ResponseWriter, r *http.Request) {
	var n NewIncident
	if err := web.DecodeJSON(r, &n); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	s := scopeOf(r, PermManage)
	if n.Facility == 0 {
		n.Facility = defaultFacility(r, s)
	}
	i, err := Create(r.Context(), h.cfg.DB, h.cfg.Recorder, s, actorOf(h.srv, r), n, h.cfg.Clock.Now())
	if h.apiProblem(w, r, err) {
		return
	}
	w.Header().Set("Location", "/api/v1/incident/incidents/"+strconv.FormatInt(i.ID, 10))
	web.JSON(w, http.StatusCreated, ToJSON(i))
}

func (h *handlers) apiGet(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		h.notFound(w, r)
		return
	}
	i, err := Get(r.Context(), h.cfg.DB, scopeOf(r, PermRead), id)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, ToJSON(i))
}

func (h *handlers) apiUpdate(w http.ResponseWriter, r *http.Request) {
	var p Patch
	if err := web.DecodeJSON(r, &p); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.notFound(w, r)
		return
	}
	i, err := Update(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, actorOf(h.srv, r), p, h.cfg.Clock.Now())
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, ToJSON(i))
}

func (h *handlers) apiState(w http.ResponseWriter, r *http.Request) {
	var t Transition
	if err := web.DecodeJSON(r, &t); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.notFound(w, r)
		return
	}
	i, err := ChangeState(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, actorOf(h.srv, r), t, h.cfg.Clock.Now())
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, ToJSON(i))
}

func (h *handlers) apiTimeline(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		h.notFound(w, r)
		return
	}
	if _, err := Get(r.Context(), h.cfg.DB, scopeOf(r, PermRead), id); h.apiProblem(w, r, err) {
		return
	}
	list, err := Timeline(r.Context(), h.cfg.DB, id)
	if h.apiProblem(w, r, err) {
		return
	}
	out := TimelineJSON{Entries: []EntryJSON{}}
	for _, e := range list {
		out.Entries = append(out.Entries, entryJSON(e))
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiNote(w http.ResponseWriter, r *http.Request) {
	var n Note
	if err := web.DecodeJSON(r, &n); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.notFound(w, r)
		return
	}
	e, err := AddNote(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, actorOf(h.srv, r), n, h.cfg.Clock.Now())
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusCreated, entryJSON(e))
}
