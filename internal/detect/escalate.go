package detect

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// Escalating an alert into an incident: when a reviewer finds that an
// alert is an incident to be run (a CSIRT case, a report to the
// authorities), the incident part opens one from it. The detection part
// does not know incidents: it declares Escalator, which the incident part
// implements; internal/app passes it to Register (WithEscalator). Without
// one, there is no escalate button and no route. An alert is escalated
// once: escalating it again answers the incident it already has. Each
// escalation is kept in the alert's history and recorded in the audit
// log.

// Incident is what the incident part says of the incident it opened.
type Incident struct {
	Ref string // its reference as people quote it, such as INC-2026-0012
	URL string // its page, a path on this anzen or an absolute URL
}

// Escalator opens an incident of an alert.
type Escalator interface {
	// Escalate opens an incident of the alert a for by, with the
	// reviewer's comment. It should itself be idempotent by a.ID: if
	// anzen stops after it and before the reference is stored, the
	// reviewer's second attempt asks again.
	Escalate(ctx context.Context, a Alert, by Reviewer, comment string) (Incident, error)
}

// ActionEscalate is the audit log's action for escalating an alert.
const ActionEscalate = "alert.escalate"

// WithEscalator lets reviewers who also hold perm (the incident part's
// permission to open incidents) escalate alerts into incidents through e.
func WithEscalator(e Escalator, perm authz.Permission) RegisterOption {
	return func(h *handlers) { h.esc, h.escPerm = e, perm }
}

// AlertIncident returns the incident the alert id was escalated into;
// false when there is none.
func AlertIncident(ctx context.Context, d db.Querier, alertID int64) (Incident, bool, error) {
	var inc Incident
	err := d.QueryRowContext(ctx, `SELECT ref, url FROM detect_alert_incidents WHERE alert_id = ?`, alertID).Scan(&inc.Ref, &inc.URL)
	if errors.Is(err, sql.ErrNoRows) {
		return inc, false, nil
	}
	if err != nil {
		return inc, false, fmt.Errorf("read the incident of alert %d: %w", alertID, err)
	}
	return inc, true, nil
}

// EscalateAlert escalates the alert id within q's facilities through esc,
// unless it was before, and returns its incident; the reference is stored
// with a note in the alert's history and a record in the audit log, in
// one transaction. db.ErrNotFound when there is no such alert.
func EscalateAlert(ctx context.Context, d *db.DB, rec selfaudit.Recorder, esc Escalator, q AlertQuery, id int64, by Reviewer, comment string, now time.Time) (Incident, error) {
	comment = strings.TrimSpace(comment)
	if utf8.RuneCountInString(comment) > maxComment || !utf8.ValidString(comment) {
		return Incident{}, &ReviewError{"comment", "detect.error.comment"}
	}
	a, err := AlertByID(ctx, d, q, id)
	if err != nil {
		return Incident{}, err
	}
	if inc, ok, err := AlertIncident(ctx, d, a.ID); err != nil || ok {
		return inc, err
	}
	// The incident part writes its own records: not inside this part's
	// transaction.
	inc, err := esc.Escalate(ctx, a, by, comment)
	if err != nil {
		return Incident{}, fmt.Errorf("escalate alert %d: %w", a.ID, err)
	}
	if inc.Ref == "" || !safeIncidentURL(inc.URL) {
		return Incident{}, fmt.Errorf("escalate alert %d: the incident part answered no reference or an unsafe URL", a.ID)
	}
	err = d.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO detect_alert_incidents (alert_id, ref, url, at, by_login) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (alert_id) DO NOTHING`, a.ID, inc.Ref, inc.URL, now.UnixMilli(), by.Login)
		if err != nil {
			return fmt.Errorf("keep the incident of alert %d: %w", a.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // escalated meanwhile by someone else: theirs stays
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO detect_alert_notes (alert_id, at, actor_id, actor_login, state_from, state_to, assignee, comment)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, now.UnixMilli(), by.UserID, by.Login, a.State, a.State, a.Assignee,
			strings.TrimSpace("→ "+inc.Ref+"\n"+comment)); err != nil {
			return fmt.Errorf("keep the history of alert %d: %w", a.ID, err)
		}
		detail := map[string]string{"rule": a.RuleID, "incident": inc.Ref}
		if comment != "" {
			detail["comment"] = comment
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: a.Facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: ActionEscalate, Target: "alert:" + strconv.FormatInt(a.ID, 10), Outcome: selfaudit.Success,
			ClientAddr: by.Client, Detail: detail})
	})
	if err != nil {
		return Incident{}, err
	}
	stored, _, err := AlertIncident(ctx, d, a.ID)
	return stored, err
}

// safeIncidentURL accepts a path on this anzen or an http(s) URL, so that
// the page's link cannot run script.
func safeIncidentURL(s string) bool {
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return true
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// IncidentJSON is the answer of POST /api/v1/detect/alerts/{id}/escalate.
type IncidentJSON struct {
	AlertID int64  `json:"alert_id"`
	Ref     string `json:"incident"`
	URL     string `json:"url"`
}

// escalateRequest is the body of POST /api/v1/detect/alerts/{id}/escalate.
type escalateRequest struct {
	Comment string `json:"comment,omitempty"`
}

// registerEscalation adds the escalation's routes, only when an
// Escalator is wired.
func (h *handlers) registerEscalation() {
	if h.esc == nil {
		return
	}
	// The incident part says who may open incidents; the alert must
	// also be one the caller may review (reviewQuery).
	open := web.Perm(h.escPerm)
	// Not /alerts/{id}/escalate: that would clash with POST /alerts/rules/{key}.
	h.srv.Handle(http.MethodPost, "/alerts/escalate/{id}", open, h.escalatePost)
	h.srv.Handle(http.MethodPost, "/api/v1/detect/alerts/{id}/escalate", open, h.apiEscalate)
}

func (h *handlers) escalatePost(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	_, err = EscalateAlert(r.Context(), h.db, h.rec, h.esc, reviewQuery(r), id, reviewer(r), r.PostFormValue("comment"), h.en.clock.Now())
	var re *ReviewError
	switch {
	case errors.As(err, &re):
		h.srv.ErrorPage(w, r, http.StatusUnprocessableEntity, "detect.escalate.error.comment")
	case errors.Is(err, db.ErrNotFound):
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
	case err != nil:
		h.srv.Log().Error("escalate an alert", "err", err)
		h.srv.ErrorPage(w, r, http.StatusBadGateway, "detect.escalate.error.failed")
	default:
		http.Redirect(w, r, "/alerts/"+strconv.FormatInt(id, 10)+"#alert-incident", http.StatusSeeOther)
	}
}

func (h *handlers) apiEscalate(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return
	}
	var body escalateRequest
	if r.ContentLength != 0 {
		if err := web.DecodeJSON(r, &body); err != nil {
			h.srv.DecodeProblem(w, r, err)
			return
		}
	}
	inc, err := EscalateAlert(r.Context(), h.db, h.rec, h.esc, reviewQuery(r), id, reviewer(r), body.Comment, h.en.clock.Now())
	var re *ReviewError
	switch {
	case errors.As(err, &re):
		p := web.Problem{Type: web.ProblemTypePrefix + "validation", Title: "Unprocessable Entity",
			Status: http.StatusUnprocessableEntity, Detail: h.srv.T(r, "detect.escalate.error.comment", nil)}
		p.Errors = []web.FieldError{{Field: "comment", Message: p.Detail}}
		h.srv.WriteProblem(w, p)
	case errors.Is(err, db.ErrNotFound):
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
	case err != nil:
		h.srv.Log().Error("escalate an alert", "err", err)
		h.srv.Problem(w, r, http.StatusBadGateway, "escalation-failed", "detect.escalate.error.failed", nil)
	default:
		web.JSON(w, http.StatusOK, IncidentJSON{AlertID: id, Ref: inc.Ref, URL: inc.URL})
	}
}

// alertOps is what the alert's page shows of its handling beyond the
// review: its incident, and whether it can be escalated.
type alertOps struct {
	Incident    *Incident
	CanEscalate bool
}

func (h *handlers) alertOps(r *http.Request, a Alert, canReview bool) alertOps {
	var ops alertOps
	inc, ok, err := AlertIncident(r.Context(), h.db, a.ID)
	if err != nil {
		h.srv.Log().Error("read the incident of an alert", "err", err)
	}
	if ok {
		ops.Incident = &inc
	}
	ops.CanEscalate = h.esc != nil && canReview && !ok && web.PrincipalOf(r).CanIn(h.escPerm, a.Facility)
	return ops
}
