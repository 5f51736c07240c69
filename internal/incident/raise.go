package incident

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// A member of staff reports a suspected incident (/incident/raise): what
// happened, where, when they noticed, in their words, and a phone number
// to call them back. It opens a new incident for the CSIRT to triage,
// made by the reporter, and thanks them with its reference and the way to
// the contact diagram. The reporter cannot read the incident afterwards
// (PermRaise is not PermRead).

// StaffReport is a member of staff's report.
type StaffReport struct {
	Kind      Kind      `json:"kind"`
	Where     string    `json:"where,omitempty"`
	NoticedAt time.Time `json:"noticed_at,omitzero"`
	What      string    `json:"what"`
	Phone     string    `json:"phone,omitempty"`
	// Title is the incident's title, written in the reporter's language
	// by the caller; "" for the kind's code.
	Title string `json:"-"`
}

// Raise opens a new incident of a report, in facility (one of scope).
func Raise(ctx context.Context, d *db.DB, rec selfaudit.Recorder, scope Scope, facility int64, by Actor, rp StaffReport, now time.Time) (Incident, error) {
	if _, err := ParseKind(string(rp.Kind)); err != nil {
		return Incident{}, invalid("kind", "incident.error.kind")
	}
	if err := text(&rp.Where, "where", 200, false); err != nil {
		return Incident{}, err
	}
	if err := text(&rp.What, "what", maxText, true); err != nil {
		return Incident{}, err
	}
	if err := text(&rp.Phone, "phone", 40, false); err != nil {
		return Incident{}, err
	}
	if strings.ContainsAny(rp.Phone, "\r\n") {
		return Incident{}, invalid("phone", "incident.error.phone")
	}
	if rp.Title == "" {
		rp.Title = string(rp.Kind)
	}
	summary := rp.What
	if rp.Where != "" || rp.Phone != "" {
		summary += "\n\n"
		if rp.Where != "" {
			summary += "場所 / where: " + rp.Where + "\n"
		}
		if rp.Phone != "" {
			summary += "連絡先 / phone: " + rp.Phone + "\n"
		}
	}
	return Create(ctx, d, rec, scope, by, NewIncident{Facility: facility, Kind: rp.Kind, Severity: Medium, Title: rp.Title,
		Summary: strings.TrimSpace(summary), AwareAt: rp.NoticedAt, AffectedSystems: rp.Where}, now)
}

// raiseView is what templates/raise.html sees.
type raiseView struct {
	Kinds           []Kind
	Report          StaffReport
	NoticedAt       string
	Error, ErrField string
	Ref             string // set on the thank-you page
	CanReadContacts bool
}

func (h *handlers) registerRaise() {
	raise := web.Perm(PermRaise)
	h.srv.Handle(http.MethodGet, "/incident/raise", raise, h.raisePage)
	h.srv.Handle(http.MethodPost, "/incident/raise", raise, h.raisePost)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/raise", raise, h.apiRaise)
}

func (h *handlers) raisePage(w http.ResponseWriter, r *http.Request) {
	v := &raiseView{Kinds: Kinds, NoticedAt: h.cfg.Clock.Now().In(h.loc()).Format("2006-01-02T15:04")}
	h.srv.Render(w, r, http.StatusOK, "incident/raise", v)
}

// raise opens the incident of rp for the caller.
func (h *handlers) raise(r *http.Request, rp StaffReport) (Incident, error) {
	s := scopeOf(r, PermRaise)
	if rp.Title == "" {
		rp.Title = h.srv.T(r, "incident.raise.incident_title", map[string]any{"Kind": h.srv.T(r, "incident.kind."+string(rp.Kind), nil)})
	}
	return Raise(r.Context(), h.cfg.DB, h.cfg.Recorder, s, defaultFacility(r, s), actorOf(h.srv, r), rp, h.cfg.Clock.Now())
}

func (h *handlers) raisePost(w http.ResponseWriter, r *http.Request) {
	v := &raiseView{Kinds: Kinds, NoticedAt: r.PostFormValue("noticed_at"),
		Report: StaffReport{Kind: Kind(r.PostFormValue("kind")), Where: r.PostFormValue("where"), What: r.PostFormValue("what"),
			Phone: r.PostFormValue("phone")}}
	var err error
	if v.NoticedAt != "" {
		t, perr := time.ParseInLocation("2006-01-02T15:04", v.NoticedAt, h.loc())
		if perr != nil {
			err = invalid("noticed_at", "incident.error.aware_at")
		}
		v.Report.NoticedAt = t
	}
	var i Incident
	if err == nil {
		i, err = h.raise(r, v.Report)
	}
	if h.formError(w, r, err, func(msg, field string) {
		v.Error, v.ErrField = msg, field
		h.srv.Render(w, r, http.StatusUnprocessableEntity, "incident/raise", v)
	}) {
		return
	}
	h.srv.Render(w, r, http.StatusOK, "incident/raise_thanks", &raiseView{Ref: i.Ref(),
		CanReadContacts: web.PrincipalOf(r).Can(PermContactsRead)})
}

// RaisedJSON is the answer of POST /api/v1/incident/raise: the reference
// to quote, nothing else.
type RaisedJSON struct {
	Ref string `json:"ref"`
}

func (h *handlers) apiRaise(w http.ResponseWriter, r *http.Request) {
	var rp StaffReport
	if err := web.DecodeJSON(r, &rp); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	i, err := h.raise(r, rp)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusCreated, RaisedJSON{Ref: i.Ref()})
}
