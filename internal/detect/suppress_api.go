package detect

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The suppressions' JSON API, /api/v1/detect/suppressions
// (openapi_suppressions.json).

// SuppressionJSON is a suppression in the JSON API.
type SuppressionJSON struct {
	ID         int64       `json:"id"`
	Facility   int64       `json:"facility"`
	RuleID     string      `json:"rule_id"`
	Conditions []Condition `json:"conditions"`
	Reason     string      `json:"reason"`
	Created    time.Time   `json:"created"`
	CreatedBy  string      `json:"created_by"`
	Ends       time.Time   `json:"ends"`
	Active     bool        `json:"active"`
	Ended      *time.Time  `json:"ended,omitempty"`
	EndedBy    string      `json:"ended_by,omitempty"`
	EndComment string      `json:"end_comment,omitempty"`
	Hits       int64       `json:"hits"`
	LastHit    *time.Time  `json:"last_hit,omitempty"`
	LastSeq    int64       `json:"last_seq,omitempty"`
}

// SuppressionsJSON is the answer of GET /api/v1/detect/suppressions.
type SuppressionsJSON struct {
	Suppressions []SuppressionJSON `json:"suppressions"`
}

// EndJSON is the body of POST /api/v1/detect/suppressions/{id}/end.
type EndJSON struct {
	Comment string `json:"comment,omitempty"`
}

func suppressionJSON(s Suppression, now time.Time) SuppressionJSON {
	j := SuppressionJSON{ID: s.ID, Facility: s.Facility, RuleID: s.RuleID, Conditions: s.Conditions, Reason: s.Reason,
		Created: s.Created, CreatedBy: s.CreatedBy, Ends: s.Ends, Active: s.Active(now), EndedBy: s.EndedBy,
		EndComment: s.EndComment, Hits: s.Hits, LastSeq: s.LastSeq}
	if !s.Ended.IsZero() {
		j.Ended = &s.Ended
	}
	if !s.LastHit.IsZero() {
		j.LastHit = &s.LastHit
	}
	if j.Conditions == nil {
		j.Conditions = []Condition{}
	}
	return j
}

func (h *handlers) apiSuppressions(w http.ResponseWriter, r *http.Request) {
	now := h.en.clock.Now()
	var actives []bool
	switch r.URL.Query().Get("state") {
	case "", "active":
		actives = []bool{true}
	case "ended":
		actives = []bool{false}
	case "all":
		actives = []bool{true, false}
	default:
		h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "detect.suppress.error.state", nil)
		return
	}
	out := SuppressionsJSON{Suppressions: []SuppressionJSON{}}
	for _, active := range actives {
		list, err := Suppressions(r.Context(), h.db, query(r), active, now)
		if err != nil {
			h.srv.Log().Error("read suppressions", "err", err)
			h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
			return
		}
		for _, s := range list {
			out.Suppressions = append(out.Suppressions, suppressionJSON(s, now))
		}
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiSuppression(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return
	}
	s, err := SuppressionByID(r.Context(), h.db, query(r), id)
	switch {
	case errors.Is(err, db.ErrNotFound):
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
	case err != nil:
		h.srv.Log().Error("read a suppression", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
	default:
		web.JSON(w, http.StatusOK, suppressionJSON(s, h.en.clock.Now()))
	}
}

func (h *handlers) apiCreateSuppression(w http.ResponseWriter, r *http.Request) {
	var ns NewSuppression
	if err := web.DecodeJSON(r, &ns); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	now := h.en.clock.Now()
	s, err := CreateSuppression(r.Context(), h.db, h.rec, manageQuery(r), reviewer(r), ns, now)
	if h.suppressionProblem(w, r, err) {
		return
	}
	w.Header().Set("Location", "/api/v1/detect/suppressions/"+strconv.FormatInt(s.ID, 10))
	web.JSON(w, http.StatusCreated, suppressionJSON(s, now))
}

func (h *handlers) apiEndSuppression(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return
	}
	var body EndJSON
	if r.ContentLength != 0 {
		if err := web.DecodeJSON(r, &body); err != nil {
			h.srv.DecodeProblem(w, r, err)
			return
		}
	}
	now := h.en.clock.Now()
	s, err := EndSuppression(r.Context(), h.db, h.rec, manageQuery(r), id, reviewer(r), body.Comment, now)
	if h.suppressionProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, suppressionJSON(s, now))
}

// suppressionProblem answers err, if any, as a problem and reports
// whether it did.
func (h *handlers) suppressionProblem(w http.ResponseWriter, r *http.Request, err error) bool {
	var se *SuppressionError
	switch {
	case err == nil:
		return false
	case errors.As(err, &se) && se.Field == "":
		h.srv.Problem(w, r, http.StatusConflict, "suppression-ended", se.MsgID, nil)
	case errors.As(err, &se):
		p := web.Problem{Type: web.ProblemTypePrefix + "validation", Title: "Unprocessable Entity",
			Status: http.StatusUnprocessableEntity, Detail: h.srv.T(r, se.MsgID, map[string]any{"Days": int(MaxSuppression.Hours() / 24)})}
		p.Errors = []web.FieldError{{Field: se.Field, Message: p.Detail}}
		h.srv.WriteProblem(w, p)
	case errors.Is(err, db.ErrNotFound):
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
	default:
		h.srv.Log().Error("change a suppression", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
	}
	return true
}
