package incident

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The incidents' pages: the list (/incidents, open ones first, filtered
// by state, kind and severity), the form that opens one (/incidents/new),
// and the edit form of its facts (/incidents/{id}/edit). The incident's
// own page and its forms are in ui_incident.go.

// localTime is the form of a datetime-local input.
const localTime = "2006-01-02T15:04"

func (h *handlers) loc() *time.Location {
	if h.cfg.Location != nil {
		return h.cfg.Location
	}
	return h.srv.Location()
}

// registerPages adds the incidents' pages, navigation entry and card.
func (h *handlers) registerPages() {
	read, manage := web.Perm(PermRead), web.Perm(PermManage)
	h.srv.Handle(http.MethodGet, "/incidents", read, h.listPage)
	// The form is a page every reader may open (it says who may use it);
	// opening the incident needs the right to manage.
	h.srv.Handle(http.MethodGet, "/incidents/new", read, h.newPage)
	h.srv.Handle(http.MethodPost, "/incidents", manage, h.createPost)
	h.srv.Handle(http.MethodGet, "/incidents/{id}", read, h.incidentPage)
	h.srv.Handle(http.MethodGet, "/incidents/{id}/edit", manage, h.editPage)
	h.srv.Handle(http.MethodPost, "/incidents/{id}", manage, h.editPost)
	h.registerIncidentForms() // ui_incident.go
	h.srv.AddNav(web.NavItem{Path: "/incidents", LabelID: "incident.nav", Access: read, Order: 40})
	h.srv.AddCard(web.Card{ID: "incidents", TitleID: "incident.card.title", Access: read, Order: 40, Stats: h.card})
}

// formError shows err, if any, through show (a refused field) or an error
// page, and reports whether it did.
func (h *handlers) formError(w http.ResponseWriter, r *http.Request, err error, show func(msg, field string)) bool {
	var ie *Error
	switch {
	case err == nil:
		return false
	case errors.As(err, &ie):
		show(h.srv.T(r, ie.MsgID, nil), ie.Field)
	case errors.Is(err, db.ErrNotFound):
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
	default:
		h.srv.Log().Error("incident page", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
	}
	return true
}

// rowView is an incident as the list shows it.
type rowView struct {
	Incident
	Ref string
	Age string
}

// listView is what templates/incidents.html sees.
type listView struct {
	Rows                  []rowView
	State, Kind, Severity string
	States                []State
	Kinds                 []Kind
	Severities            []Severity
	CanManage             bool
}

func (h *handlers) listPage(w http.ResponseWriter, r *http.Request) {
	q, f, ok := listQuery(r, scopeOf(r, PermRead))
	if !ok {
		h.srv.ErrorPage(w, r, http.StatusBadRequest, "incident.error.parameter")
		return
	}
	list, err := ListFiltered(r.Context(), h.cfg.DB, q, f)
	if err != nil {
		h.srv.Log().Error("list incidents", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	now := h.cfg.Clock.Now()
	v := &listView{State: r.URL.Query().Get("state"), Kind: string(f.Kind), Severity: string(f.Severity), States: States,
		Kinds: Kinds, Severities: Severities, CanManage: web.PrincipalOf(r).Can(PermManage)}
	for _, i := range list {
		v.Rows = append(v.Rows, rowView{Incident: i, Ref: i.Ref(), Age: age(now, i.AwareAt)})
	}
	h.srv.Render(w, r, http.StatusOK, "incident/incidents", v)
}

// age writes how long ago t was, in days and hours.
func age(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	days, hours := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if days > 0 {
		return strconv.Itoa(days) + "d " + strconv.Itoa(hours) + "h"
	}
	return strconv.Itoa(hours) + "h " + strconv.Itoa(int(d%time.Hour/time.Minute)) + "m"
}

// formView is what templates/incident_form.html sees: a new incident or
// the facts of one.
type formView struct {
	ID                  int64 // 0 for a new one
	Ref                 string
	N                   NewIncident
	AwareAt, OccurredAt string
	Kinds               []Kind
	Severities          []Severity
	Leaks               []Leak
	Error, ErrField     string
	CanManage           bool
}

func (h *handlers) renderForm(w http.ResponseWriter, r *http.Request, status int, v *formView) {
	v.Kinds, v.Severities, v.Leaks = Kinds, Severities, []Leak{LeakNone, LeakPossible, LeakConfirmed}
	v.CanManage = web.PrincipalOf(r).Can(PermManage)
	h.srv.Render(w, r, status, "incident/incident_form", v)
}

func (h *handlers) newPage(w http.ResponseWriter, r *http.Request) {
	v := &formView{N: NewIncident{Severity: Medium, Leak: LeakNone},
		AwareAt: h.cfg.Clock.Now().In(h.loc()).Format(localTime)}
	h.renderForm(w, r, http.StatusOK, v)
}

// readForm reads the incident form into v; a time that does not parse is
// refused.
func (h *handlers) readForm(r *http.Request, v *formView) error {
	f := r.PostFormValue
	people, perr := strconv.ParseInt(strings.TrimSpace(f("people")), 10, 64)
	if strings.TrimSpace(f("people")) == "" {
		people, perr = 0, nil
	}
	v.AwareAt, v.OccurredAt = f("aware_at"), f("occurred_at")
	v.N = NewIncident{Kind: Kind(f("kind")), Severity: Severity(f("severity")), Title: f("title"), Summary: f("summary"),
		Commander: f("commander"), AffectedSystems: f("affected_systems"), AffectedData: f("affected_data"), People: people,
		MedicalData: f("medical_data") != "", Leak: Leak(f("leak")), Malicious: f("malicious") != "", Crime: f("crime") != "",
		Cyberattack: f("cyberattack") != "", CareImpact: f("care_impact") != "", Encrypted: f("encrypted") != ""}
	if perr != nil {
		return invalid("people", "incident.error.people")
	}
	var err error
	if v.N.AwareAt, err = h.parseLocal(v.AwareAt); err != nil || v.N.AwareAt.IsZero() {
		return invalid("aware_at", "incident.error.aware_at")
	}
	if v.N.OccurredAt, err = h.parseLocal(v.OccurredAt); err != nil {
		return invalid("occurred_at", "incident.error.occurred_at")
	}
	return nil
}

// parseLocal reads a datetime-local value where the hospital is; "" is
// the zero time.
func (h *handlers) parseLocal(s string) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	return time.ParseInLocation(localTime, strings.TrimSpace(s), h.loc())
}

func (h *handlers) createPost(w http.ResponseWriter, r *http.Request) {
	v := &formView{}
	err := h.readForm(r, v)
	var i Incident
	if err == nil {
		s := scopeOf(r, PermManage)
		v.N.Facility = defaultFacility(r, s)
		if fs := r.PostFormValue("facility"); fs != "" {
			v.N.Facility, _ = strconv.ParseInt(fs, 10, 64)
		}
		i, err = Create(r.Context(), h.cfg.DB, h.cfg.Recorder, s, actorOf(h.srv, r), v.N, h.cfg.Clock.Now())
	}
	if h.formError(w, r, err, func(msg, field string) {
		v.Error, v.ErrField = msg, field
		h.renderForm(w, r, http.StatusUnprocessableEntity, v)
	}) {
		return
	}
	h.srv.Flash(w, "incident.created")
	http.Redirect(w, r, "/incidents/"+strconv.FormatInt(i.ID, 10), http.StatusSeeOther)
}

func (h *handlers) editPage(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	i, err := Get(r.Context(), h.cfg.DB, scopeOf(r, PermManage), id)
	if h.formError(w, r, err, nil) {
		return
	}
	v := &formView{ID: i.ID, Ref: i.Ref(), AwareAt: i.AwareAt.In(h.loc()).Format(localTime),
		N: NewIncident{Kind: i.Kind, Severity: i.Severity, Title: i.Title, Summary: i.Summary, Commander: i.Commander,
			AffectedSystems: i.AffectedSystems, AffectedData: i.AffectedData, People: i.People, MedicalData: i.MedicalData,
			Leak: i.Leak, Malicious: i.Malicious, Crime: i.Crime, Cyberattack: i.Cyberattack, CareImpact: i.CareImpact,
			Encrypted: i.Encrypted}}
	if !i.OccurredAt.IsZero() {
		v.OccurredAt = i.OccurredAt.In(h.loc()).Format(localTime)
	}
	h.renderForm(w, r, http.StatusOK, v)
}

// editPost serves POST /incidents/{id}, the edit form: every field as
// the form sends it.
func (h *handlers) editPost(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	v := &formView{ID: id}
	err := h.readForm(r, v)
	if err == nil {
		n := v.N
		p := Patch{Title: &n.Title, Summary: &n.Summary, Kind: &n.Kind, Severity: &n.Severity, Commander: &n.Commander,
			AffectedSystems: &n.AffectedSystems, AffectedData: &n.AffectedData, People: &n.People, MedicalData: &n.MedicalData,
			Leak: &n.Leak, Malicious: &n.Malicious, Crime: &n.Crime, Cyberattack: &n.Cyberattack, CareImpact: &n.CareImpact,
			Encrypted: &n.Encrypted, AwareAt: &n.AwareAt, OccurredAt: &n.OccurredAt}
		_, err = Update(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, actorOf(h.srv, r), p, h.cfg.Clock.Now())
	}
	if h.formError(w, r, err, func(msg, field string) {
		v.Error, v.ErrField = msg, field
		h.renderForm(w, r, http.StatusUnprocessableEntity, v)
	}) {
		return
	}
	h.srv.Flash(w, "incident.updated")
	http.Redirect(w, r, "/incidents/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

// card is the dashboard's: open incidents by severity, overdue tasks.
func (h *handlers) card(r *http.Request) ([]web.Stat, error) {
	c, err := CountOpen(r.Context(), h.cfg.DB, scopeOf(r, PermRead), h.cfg.Clock.Now())
	if err != nil {
		return nil, err
	}
	var out []web.Stat
	for i := len(Severities) - 1; i >= 0; i-- {
		s := Severities[i]
		level := "ok"
		if n := c.OpenBySeverity[s]; n > 0 {
			level = "warn"
			if s == Critical || s == High {
				level = "bad"
			}
		}
		out = append(out, web.Stat{LabelID: "incident.card.open." + string(s), Value: strconv.Itoa(c.OpenBySeverity[s]),
			Level: level, Link: "/incidents?severity=" + string(s)})
	}
	level := "ok"
	if c.OverdueTasks > 0 {
		level = "bad"
	}
	out = append(out, web.Stat{LabelID: "incident.card.overdue", Value: strconv.Itoa(c.OverdueTasks), Level: level, Link: "/incidents"})
	// Reports to the authorities past their deadline (report*.go).
	late, err := OverdueDuties(r.Context(), h.cfg.DB, scopeOf(r, PermRead), h.cfg.Clock.Now())
	if err != nil {
		return nil, err
	}
	level, link := "ok", "/incidents"
	if len(late) > 0 {
		level, link = "bad", "/incidents/"+strconv.FormatInt(late[0].Incident.ID, 10)+"/reports"
	}
	out = append(out, web.Stat{LabelID: "incident.card.overdue_reports", Value: strconv.Itoa(len(late)), Level: level, Link: link})
	return out, nil
}
