package incident

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The reports' JSON API under /api/v1/incident/incidents/{id}
// (openapi_reports.json): the duties' clocks, the submissions, and the
// reports' fields and drafts.

// DutyJSON is a duty's clock in the JSON API.
type DutyJSON struct {
	Recipient   Recipient  `json:"recipient"`
	Required    bool       `json:"required"`
	Due         time.Time  `json:"due"`
	Statutory   bool       `json:"statutory"`
	Status      string     `json:"status"`
	SubmittedAt *time.Time `json:"submitted_at"`
	Why         string     `json:"why"`
	Report      string     `json:"report,omitempty"`
}

// DutiesJSON is the answer of GET .../incidents/{id}/duties.
type DutiesJSON struct {
	Incident int64      `json:"incident"`
	Ref      string     `json:"ref"`
	Now      time.Time  `json:"now"`
	Duties   []DutyJSON `json:"duties"`
}

// SubmissionJSON is a submission in the JSON API.
type SubmissionJSON struct {
	ID        int64     `json:"id"`
	Incident  int64     `json:"incident"`
	Recipient Recipient `json:"recipient"`
	Status    string    `json:"status"`
	At        time.Time `json:"at"`
	Channel   string    `json:"channel"`
	Reference string    `json:"reference"`
	Note      string    `json:"note"`
	By        string    `json:"by"`
	Created   time.Time `json:"created"`
}

// SubmissionsJSON is the answer of GET .../incidents/{id}/submissions.
type SubmissionsJSON struct {
	Submissions []SubmissionJSON `json:"submissions"`
}

// NewSubmissionJSON is the body of POST .../incidents/{id}/submissions.
type NewSubmissionJSON struct {
	Recipient string     `json:"recipient"`
	Status    string     `json:"status,omitempty"`
	At        *time.Time `json:"at,omitempty"`
	Channel   string     `json:"channel,omitempty"`
	Reference string     `json:"reference,omitempty"`
	Note      string     `json:"note,omitempty"`
}

// ReportFieldJSON is a report's field in the JSON API.
type ReportFieldJSON struct {
	Key     string `json:"key"`
	Label   string `json:"label"`
	Value   string `json:"value"`
	Drafted bool   `json:"drafted"`
}

// ReportJSON is the answer of GET and PUT .../incidents/{id}/reports/{to}.
type ReportJSON struct {
	Incident  int64             `json:"incident"`
	Ref       string            `json:"ref"`
	Recipient Recipient         `json:"recipient"`
	Owed      bool              `json:"owed"`
	Fields    []ReportFieldJSON `json:"fields"`
	Updated   *time.Time        `json:"updated"`
	UpdatedBy string            `json:"updated_by,omitempty"`
}

// DraftJSON is the body of PUT .../incidents/{id}/reports/{to}.
type DraftJSON struct {
	Fields map[string]string `json:"fields"`
}

// reportActorOf is the caller as the audit log names it.
func reportActorOf(r *http.Request) Actor {
	p := web.PrincipalOf(r)
	return Actor{UserID: p.UserID, Login: p.Login, Client: web.ClientAddr(r)}
}

func submissionJSON(s Submission) SubmissionJSON {
	return SubmissionJSON{ID: s.ID, Incident: s.IncidentID, Recipient: s.To, Status: s.Status, At: s.At,
		Channel: s.Channel, Reference: s.Reference, Note: s.Note, By: s.By, Created: s.Created}
}

// apiIncident reads the incident of the path within the scope of perm,
// or answers the problem and returns false.
func (h *handlers) apiIncident(w http.ResponseWriter, r *http.Request, perm authz.Permission) (Incident, bool) {
	id, ok := pathID(r, "id")
	if !ok {
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return Incident{}, false
	}
	inc, err := Get(r.Context(), h.cfg.DB, scopeOf(r, perm), id)
	return inc, !h.reportProblem(w, r, err)
}

func (h *handlers) apiDuties(w http.ResponseWriter, r *http.Request) {
	inc, ok := h.apiIncident(w, r, PermRead)
	if !ok {
		return
	}
	now := h.cfg.Clock.Now()
	b, err := DutyBoard(r.Context(), h.cfg.DB, inc, now, h.cfg.ReminderBefore)
	if h.reportProblem(w, r, err) {
		return
	}
	out := DutiesJSON{Incident: inc.ID, Ref: b.Ref, Now: now, Duties: []DutyJSON{}}
	for _, c := range b.Clocks {
		j := DutyJSON{Recipient: c.To, Required: c.Required, Due: c.Due, Statutory: c.Statutory, Status: c.Status,
			Why: h.srv.T(r, c.Why, nil)}
		if !c.SubmittedAt.IsZero() {
			j.SubmittedAt = &c.SubmittedAt
		}
		if c.To.Reported() {
			j.Report = "/api/v1/incident/incidents/" + strconv.FormatInt(inc.ID, 10) + "/reports/" + string(c.To)
		}
		out.Duties = append(out.Duties, j)
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiSubmissions(w http.ResponseWriter, r *http.Request) {
	inc, ok := h.apiIncident(w, r, PermRead)
	if !ok {
		return
	}
	subs, err := Submissions(r.Context(), h.cfg.DB, inc.ID)
	if h.reportProblem(w, r, err) {
		return
	}
	out := SubmissionsJSON{Submissions: []SubmissionJSON{}}
	for _, s := range subs {
		out.Submissions = append(out.Submissions, submissionJSON(s))
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiCreateSubmission(w http.ResponseWriter, r *http.Request) {
	var body NewSubmissionJSON
	if err := web.DecodeJSON(r, &body); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return
	}
	now := h.cfg.Clock.Now()
	ns := NewSubmission{To: Recipient(body.Recipient), Status: body.Status, At: now, Channel: body.Channel,
		Reference: body.Reference, Note: body.Note}
	if body.At != nil {
		ns.At = *body.At
	}
	s, err := RecordSubmission(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, reportActorOf(r), ns, now)
	if h.reportProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusCreated, submissionJSON(s))
}

// apiRecipient is the {to} of the path, a recipient with a report.
func (h *handlers) apiRecipient(w http.ResponseWriter, r *http.Request) (Recipient, bool) {
	to := Recipient(r.PathValue("to"))
	if !to.Reported() {
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return "", false
	}
	return to, true
}

func (h *handlers) reportJSON(w http.ResponseWriter, r *http.Request, inc Incident, to Recipient, status int) {
	rep, err := BuildReport(r.Context(), h.cfg.DB, inc, to, h.reportInput(r, h.srv.Lang(r)))
	if h.reportProblem(w, r, err) {
		return
	}
	out := ReportJSON{Incident: inc.ID, Ref: rep.Ref, Recipient: to, Owed: rep.Owed, Fields: []ReportFieldJSON{},
		UpdatedBy: rep.Draft.UpdatedBy}
	if !rep.Draft.Updated.IsZero() {
		out.Updated = &rep.Draft.Updated
	}
	for _, f := range rep.Fields {
		out.Fields = append(out.Fields, ReportFieldJSON{Key: f.Key, Label: f.Label, Value: f.Value, Drafted: f.Drafted})
	}
	web.JSON(w, status, out)
}

func (h *handlers) apiReport(w http.ResponseWriter, r *http.Request) {
	to, ok := h.apiRecipient(w, r)
	if !ok {
		return
	}
	inc, ok := h.apiIncident(w, r, PermRead)
	if !ok {
		return
	}
	h.reportJSON(w, r, inc, to, http.StatusOK)
}

func (h *handlers) apiSaveDraft(w http.ResponseWriter, r *http.Request) {
	var body DraftJSON
	if err := web.DecodeJSON(r, &body); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	to, ok := h.apiRecipient(w, r)
	if !ok {
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return
	}
	_, err := SaveDraft(r.Context(), h.cfg.DB, h.cfg.Recorder, scopeOf(r, PermManage), id, to, reportActorOf(r), body.Fields,
		h.cfg.Clock.Now())
	if h.reportProblem(w, r, err) {
		return
	}
	inc, err := Get(r.Context(), h.cfg.DB, scopeOf(r, PermManage), id)
	if h.reportProblem(w, r, err) {
		return
	}
	h.reportJSON(w, r, inc, to, http.StatusOK)
}

// reportProblem answers err, if any, as a problem and reports whether it
// did.
func (h *handlers) reportProblem(w http.ResponseWriter, r *http.Request, err error) bool {
	if err == nil {
		return false
	}
	if re, ok := AsReportError(err); ok {
		p := web.Problem{Type: web.ProblemTypePrefix + "validation", Title: "Unprocessable Entity",
			Status: http.StatusUnprocessableEntity, Detail: h.srv.T(r, re.MsgID, nil)}
		p.Errors = []web.FieldError{{Field: re.Field, Message: p.Detail}}
		h.srv.WriteProblem(w, p)
		return true
	}
	if errors.Is(err, db.ErrNotFound) {
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return true
	}
	h.srv.Log().Error("incident reports", "err", err)
	h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
	return true
}
