package detect

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// AlertJSON is an alert in the JSON API.
type AlertJSON struct {
	ID          int64             `json:"id"`
	Facility    int64             `json:"facility"`
	RuleID      string            `json:"rule_id"`
	Title       string            `json:"title"`
	Level       string            `json:"level"`
	Correlation string            `json:"correlation,omitempty"`
	Group       map[string]string `json:"group,omitempty"`
	Value       float64           `json:"value,omitempty"`
	Events      []int64           `json:"events"`
	Total       int               `json:"total"`
	FirstTime   time.Time         `json:"first_time"`
	LastTime    time.Time         `json:"last_time"`
	Created     time.Time         `json:"created"`
	State       string            `json:"state"`
	Assignee    string            `json:"assignee,omitempty"`
	// For the behaviour baselines' alerts: why (the message, its numbers
	// and its text in ja and en) and how far beyond the usual.
	Explanation *ExplanationJSON `json:"explanation,omitempty"`
	Score       float64          `json:"score,omitempty"`
}

// AlertsJSON is the answer of GET /api/v1/detect/alerts.
type AlertsJSON struct {
	Alerts []AlertJSON `json:"alerts"`
	// Older is the before parameter of the next page; 0 when there is none.
	Older int64 `json:"older"`
}

func alertJSON(a Alert, cat *i18n.Catalog) AlertJSON {
	j := AlertJSON{ID: a.ID, Facility: a.Facility, RuleID: a.RuleID, Title: a.Title, Level: a.Level.String(),
		Correlation: a.Correlation, Value: a.Value, Events: a.Seqs, Total: a.Total, FirstTime: a.FirstTime,
		LastTime: a.LastTime, Created: a.Created, State: a.State, Assignee: a.Assignee,
		Explanation: a.Explanation.toJSON(cat), Score: math.Round(a.Score*100) / 100}
	if len(a.Group) > 0 {
		j.Group = map[string]string{}
		for _, g := range a.Group {
			j.Group[g.Field] = g.Value
		}
	}
	if j.Events == nil {
		j.Events = []int64{}
	}
	return j
}

func (h *handlers) apiList(w http.ResponseWriter, r *http.Request) {
	q := query(r)
	before, err := beforeParam(r)
	if err != nil {
		h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "detect.error.before", nil)
		return
	}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > alertsPageSize {
			h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "detect.error.limit", map[string]any{"Max": alertsPageSize})
			return
		}
		q.Limit = n
	}
	states, ok := StatesOf(r.URL.Query().Get("state"))
	if !ok {
		h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "detect.error.state", nil)
		return
	}
	q.Before, q.States = before, states
	if q.Assignee = r.URL.Query().Get("assignee"); q.Assignee == "me" {
		q.Assignee = web.PrincipalOf(r).Login
	} else if !utf8.ValidString(q.Assignee) || strings.ContainsRune(q.Assignee, 0) {
		// No login holds these; PostgreSQL would refuse them as text.
		h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "detect.assign.error.login", nil)
		return
	}
	alerts, err := ListAlerts(r.Context(), h.db, q)
	if err != nil {
		h.srv.Log().Error("read alerts", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		return
	}
	out := AlertsJSON{Alerts: []AlertJSON{}}
	for _, a := range alerts {
		out.Alerts = append(out.Alerts, alertJSON(a, h.srv.Catalog()))
	}
	if len(alerts) == q.Limit {
		out.Older = alerts[len(alerts)-1].ID
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiAlert(w http.ResponseWriter, r *http.Request) {
	a, status := h.alertOf(r)
	switch status {
	case http.StatusOK:
		web.JSON(w, http.StatusOK, alertJSON(a, h.srv.Catalog()))
	case http.StatusBadRequest, http.StatusNotFound:
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
	default:
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
	}
}
