package detect

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// PermAlertsReview lets a caller take, comment on and close the alerts of
// the facilities where it is held: the CISO and the CSIRT, and
// administrators, who often are the CSIRT of a small hospital.
var PermAlertsReview = authz.Define(authz.Spec{
	Name:   "detect.alerts.review",
	Kind:   authz.Write,
	Roles:  []authz.Role{authz.Admin, authz.CISO, authz.CSIRT},
	Scopes: []string{"manage"},
})

// reviewQuery is the alert query of the facilities where the caller may
// review.
func reviewQuery(r *http.Request) AlertQuery {
	all, ids := web.PrincipalOf(r).Facilities(PermAlertsReview)
	return AlertQuery{AllFacilities: all, Facilities: ids}
}

func reviewer(r *http.Request) Reviewer {
	p := web.PrincipalOf(r)
	return Reviewer{UserID: p.UserID, Login: p.Login, Client: web.ClientAddr(r)}
}

// reviewPost serves POST /alerts/{id}, the form of the alert's page.
func (h *handlers) reviewPost(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	rv := Review{State: r.PostFormValue("state"), Comment: r.PostFormValue("comment"), Take: r.PostFormValue("take") == "1",
		Assign: r.PostFormValue("assignee"), People: h.people}
	_, err = ReviewAlert(r.Context(), h.db, h.rec, reviewQuery(r), id, reviewer(r), rv, h.en.clock.Now())
	var re *ReviewError
	switch {
	case errors.As(err, &re):
		a, status := h.alertOf(r)
		if status != http.StatusOK {
			h.srv.ErrorPage(w, r, status, "error.not_found")
			return
		}
		v := h.detail(r, a)
		v.Error, v.Form = h.srv.T(r, re.MsgID, map[string]any{"Max": maxComment}), rv
		h.srv.Render(w, r, http.StatusUnprocessableEntity, "detect/alert", v)
	case errors.Is(err, db.ErrNotFound):
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
	case err != nil:
		h.srv.Log().Error("review an alert", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
	default:
		http.Redirect(w, r, "/alerts/"+strconv.FormatInt(id, 10)+"#alert-history", http.StatusSeeOther)
	}
}

// apiReview serves PATCH /api/v1/detect/alerts/{id}.
func (h *handlers) apiReview(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return
	}
	var rv Review
	if err := web.DecodeJSON(r, &rv); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	rv.People = h.people
	a, err := ReviewAlert(r.Context(), h.db, h.rec, reviewQuery(r), id, reviewer(r), rv, h.en.clock.Now())
	var re *ReviewError
	switch {
	case errors.As(err, &re):
		p := web.Problem{Type: web.ProblemTypePrefix + "validation", Title: "Unprocessable Entity",
			Status: http.StatusUnprocessableEntity, Detail: h.srv.T(r, re.MsgID, map[string]any{"Max": maxComment})}
		if re.Field != "" {
			p.Errors = []web.FieldError{{Field: re.Field, Message: p.Detail}}
		}
		h.srv.WriteProblem(w, p)
	case errors.Is(err, db.ErrNotFound):
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
	case err != nil:
		h.srv.Log().Error("review an alert", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
	default:
		web.JSON(w, http.StatusOK, alertJSON(a, h.srv.Catalog()))
	}
}
