package detect

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The suppressions' pages: the list of those in force and of those
// ended (/alerts/suppressions), the form that makes one, prefilled from
// an alert ("suppress alerts like this", /alerts/suppressions/new?alert=
// id), and ending one early. Their API is in suppress_api.go.

// registerSuppressions adds the suppressions' pages and API routes.
func (h *handlers) registerSuppressions() {
	read, manage := web.Perm(PermAlertsRead), web.Perm(PermSuppressionsManage)
	h.srv.Handle(http.MethodGet, "/alerts/suppressions", read, h.suppressionsPage)
	h.srv.Handle(http.MethodGet, "/alerts/suppressions/new", manage, h.suppressionForm)
	h.srv.Handle(http.MethodPost, "/alerts/suppressions", manage, h.suppressionPost)
	h.srv.Handle(http.MethodPost, "/alerts/suppressions/{id}/end", manage, h.suppressionEndPost)
	h.srv.Handle(http.MethodGet, "/api/v1/detect/suppressions", read, h.apiSuppressions)
	h.srv.Handle(http.MethodGet, "/api/v1/detect/suppressions/{id}", read, h.apiSuppression)
	h.srv.Handle(http.MethodPost, "/api/v1/detect/suppressions", manage, h.apiCreateSuppression)
	h.srv.Handle(http.MethodPost, "/api/v1/detect/suppressions/{id}/end", manage, h.apiEndSuppression)
}

// manageQuery is the query of the facilities where the caller may manage
// suppressions.
func manageQuery(r *http.Request) AlertQuery {
	all, ids := web.PrincipalOf(r).Facilities(PermSuppressionsManage)
	return AlertQuery{AllFacilities: all, Facilities: ids, Limit: alertsPageSize}
}

// suppressionView is a suppression as the list shows it.
type suppressionView struct {
	Suppression
	RuleTitle string
	Active    bool
	CanEnd    bool
}

// suppressionsView is what templates/suppressions.html sees as .Data.
type suppressionsView struct {
	Active, Ended []suppressionView
	CanManage     bool
}

func (h *handlers) suppressionsPage(w http.ResponseWriter, r *http.Request) {
	now := h.en.clock.Now()
	q := query(r)
	v := &suppressionsView{CanManage: web.PrincipalOf(r).Can(PermSuppressionsManage)}
	for _, active := range []bool{true, false} {
		list, err := Suppressions(r.Context(), h.db, q, active, now)
		if err != nil {
			h.srv.Log().Error("read suppressions", "err", err)
			h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		for _, s := range list {
			sv := suppressionView{Suppression: s, RuleTitle: h.en.ruleTitle(s.RuleID), Active: active}
			sv.CanEnd = active && web.PrincipalOf(r).CanIn(PermSuppressionsManage, s.Facility)
			if active {
				v.Active = append(v.Active, sv)
			} else {
				v.Ended = append(v.Ended, sv)
			}
		}
	}
	h.srv.Render(w, r, http.StatusOK, "detect/suppressions", v)
}

// ruleTitle returns the title of a rule or correlation rule by its key;
// "" for every rule or one no longer loaded.
func (en *Engine) ruleTitle(key string) string {
	en.mu.RLock()
	defer en.mu.RUnlock()
	for _, r := range en.rules {
		if r.Key() == key {
			return r.Title
		}
	}
	for _, c := range en.corrs {
		if c.Key() == key {
			return c.Title
		}
	}
	return ""
}

// suppressionFormView is what templates/suppression_new.html sees.
type suppressionFormView struct {
	Facility  string
	RuleID    string
	RuleTitle string
	Values    map[string]string // condition values by field
	Fields    []fieldOption
	Reason    string
	Ends      string // a date, YYYY-MM-DD
	MaxEnds   string
	AlertID   int64
	Error     string
	ErrField  string
}

type fieldOption struct {
	Name, Label, Value string
}

// suppressionForm serves the empty form, or, with ?alert=id, the form
// prefilled with the alert's facility, rule and group.
func (h *handlers) suppressionForm(w http.ResponseWriter, r *http.Request) {
	now := h.en.clock.Now()
	v := &suppressionFormView{Values: map[string]string{}, Ends: h.date(now.Add(7 * 24 * time.Hour)),
		Facility: strconv.FormatInt(web.PrincipalOf(r).Facility, 10)} // the caller's own, unless an alert says
	if s := r.URL.Query().Get("alert"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
			return
		}
		a, err := AlertByID(r.Context(), h.db, query(r), id)
		if errors.Is(err, db.ErrNotFound) {
			h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
			return
		} else if err != nil {
			h.srv.Log().Error("read an alert", "err", err)
			h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		v.AlertID, v.Facility, v.RuleID = a.ID, strconv.FormatInt(a.Facility, 10), a.RuleID
		for _, g := range a.Group {
			v.Values[g.Field] = g.Value
		}
	}
	h.renderSuppressionForm(w, r, http.StatusOK, v)
}

func (h *handlers) renderSuppressionForm(w http.ResponseWriter, r *http.Request, status int, v *suppressionFormView) {
	v.RuleTitle = h.en.ruleTitle(v.RuleID)
	v.MaxEnds = h.date(h.en.clock.Now().Add(MaxSuppression - 24*time.Hour))
	v.Fields = nil
	for _, f := range SuppressFields {
		v.Fields = append(v.Fields, fieldOption{Name: f, Label: h.srv.T(r, "detect.suppress.field."+f, nil), Value: v.Values[f]})
	}
	h.srv.Render(w, r, status, "detect/suppression_new", v)
}

// date writes t as a date where the hospital is.
func (h *handlers) date(t time.Time) string {
	return t.In(h.srv.Location()).Format(time.DateOnly)
}

// suppressionPost serves POST /alerts/suppressions, the form.
func (h *handlers) suppressionPost(w http.ResponseWriter, r *http.Request) {
	v := &suppressionFormView{Facility: strings.TrimSpace(r.PostFormValue("facility")), RuleID: r.PostFormValue("rule_id"),
		Reason: r.PostFormValue("reason"), Ends: r.PostFormValue("ends"), Values: map[string]string{}}
	v.AlertID, _ = strconv.ParseInt(r.PostFormValue("alert"), 10, 64)
	ns := NewSuppression{RuleID: v.RuleID, Reason: v.Reason}
	for _, f := range SuppressFields {
		if val := strings.TrimSpace(r.PostFormValue("cond_" + f)); val != "" {
			v.Values[f] = val
			ns.Conditions = append(ns.Conditions, Condition{Field: f, Value: val})
		}
	}
	var err error
	if ns.Facility, err = strconv.ParseInt(v.Facility, 10, 64); err != nil {
		err = &SuppressionError{"facility", "detect.suppress.error.facility"}
	} else if day, perr := time.ParseInLocation(time.DateOnly, v.Ends, h.srv.Location()); perr != nil {
		err = &SuppressionError{"ends", "detect.suppress.error.ends"}
	} else {
		// To the end of the day named.
		ns.Ends = day.AddDate(0, 0, 1)
		_, err = CreateSuppression(r.Context(), h.db, h.rec, manageQuery(r), reviewer(r), ns, h.en.clock.Now())
	}
	var se *SuppressionError
	switch {
	case errors.As(err, &se):
		v.Error, v.ErrField = h.srv.T(r, se.MsgID, map[string]any{"Days": int(MaxSuppression.Hours() / 24), "Max": maxReason}), se.Field
		h.renderSuppressionForm(w, r, http.StatusUnprocessableEntity, v)
	case err != nil:
		h.srv.Log().Error("create a suppression", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
	default:
		h.srv.Flash(w, "detect.suppress.created")
		http.Redirect(w, r, "/alerts/suppressions", http.StatusSeeOther)
	}
}

// suppressionEndPost serves POST /alerts/suppressions/{id}/end.
func (h *handlers) suppressionEndPost(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	_, err = EndSuppression(r.Context(), h.db, h.rec, manageQuery(r), id, reviewer(r), r.PostFormValue("comment"), h.en.clock.Now())
	var se *SuppressionError
	switch {
	case errors.As(err, &se):
		h.srv.ErrorPage(w, r, http.StatusConflict, se.MsgID)
	case errors.Is(err, db.ErrNotFound):
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
	case err != nil:
		h.srv.Log().Error("end a suppression", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
	default:
		h.srv.Flash(w, "detect.suppress.ended")
		http.Redirect(w, r, "/alerts/suppressions", http.StatusSeeOther)
	}
}
