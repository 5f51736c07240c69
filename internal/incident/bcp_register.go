package incident

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The preparation rooms' routes and what their handlers share: the
// playbooks (playbook_http.go), the BCP with its offline procedures
// (bcp_http.go), the backup attestations (backup_http.go) and the drills
// (drill_http.go). They read with PermRead and change with PermPrepare.
// A request works on one facility: ?facility=N (a form's facility field),
// or else the caller's own.

// registerPrepare adds the preparation rooms' pages, API routes, the
// navigation entry "BCP & drills" and the backups' dashboard card.
func (h *handlers) registerPrepare() {
	h.registerPlaybooks()
	h.registerBCP()
	h.registerBackups()
	h.registerDrills()
	h.srv.AddNav(web.NavItem{Path: "/incident/bcp", LabelID: "incident.prep.nav", Access: web.Perm(PermRead), Order: 42})
	h.srv.AddCard(web.Card{ID: "incident-backups", TitleID: "incident.prep.backup.card", Access: web.Perm(PermRead), Order: 42,
		Stats: h.backupCard})
}

// errPrepFacility is a facility parameter that is not a number.
var errPrepFacility = errors.New("facility parameter is not valid")

// prepFacility returns the facility a request works on, where the caller
// must hold perm: db.ErrNotFound when it does not, errPrepFacility when
// the parameter is not a facility number or none is known.
func prepFacility(r *http.Request, perm authz.Permission, form bool) (int64, error) {
	p := web.PrincipalOf(r)
	f := p.Facility
	if p.TokenID != 0 && p.TokenFacility != authz.AllFacilities {
		f = p.TokenFacility
	}
	s := r.URL.Query().Get("facility")
	if form && r.PostFormValue("facility") != "" {
		s = r.PostFormValue("facility")
	}
	if s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return 0, errPrepFacility
		}
		f = n
	}
	if f <= 0 {
		return 0, errPrepFacility
	}
	if !p.CanIn(perm, f) {
		return 0, db.ErrNotFound
	}
	return f, nil
}

// prepActor is the caller as the stores record it.
func prepActor(r *http.Request) Actor {
	p := web.PrincipalOf(r)
	return Actor{UserID: p.UserID, Login: p.Login, Client: web.ClientAddr(r)}
}

// apiFacility is prepFacility for the API: it answers a problem and
// reports false when there is no facility to work on.
func (h *handlers) apiFacility(w http.ResponseWriter, r *http.Request, perm authz.Permission) (int64, bool) {
	f, err := prepFacility(r, perm, false)
	switch {
	case errors.Is(err, errPrepFacility):
		h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "incident.prep.error.facility", nil)
		return 0, false
	case err != nil:
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return 0, false
	}
	return f, true
}

// pageFacility is prepFacility for pages.
func (h *handlers) pageFacility(w http.ResponseWriter, r *http.Request, perm authz.Permission) (int64, bool) {
	f, err := prepFacility(r, perm, r.Method == http.MethodPost)
	if err != nil {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return 0, false
	}
	return f, true
}

// prepPathID reads the path value name as a positive id; 0 when it is not one.
func prepPathID(r *http.Request, name string) int64 {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

// prepProblem answers err, if any, as a problem and reports whether it
// did: a PrepError as 422 (409, lesson-done, when it names no field: the only such is a lesson done already), db.ErrNotFound as
// 404, anything else as 500.
func (h *handlers) prepProblem(w http.ResponseWriter, r *http.Request, err error) bool {
	var pe *PrepError
	switch {
	case err == nil:
		return false
	case errors.As(err, &pe) && pe.Field == "":
		h.srv.Problem(w, r, http.StatusConflict, "lesson-done", pe.MsgID, pe.Data)
	case errors.As(err, &pe):
		detail := h.srv.T(r, pe.MsgID, pe.Data)
		h.srv.WriteProblem(w, web.Problem{Type: web.ProblemTypePrefix + "validation", Title: "Unprocessable Entity",
			Status: http.StatusUnprocessableEntity, Detail: detail, Errors: []web.FieldError{{Field: pe.Field, Message: detail}}})
	case errors.Is(err, db.ErrNotFound):
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
	default:
		h.srv.Log().Error("incident preparation", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
	}
	return true
}

// prepPageError answers err on a page: the message of a PrepError (a
// refused input, 422, or a conflict, 409), 404 or 500. It reports
// whether err was a PrepError, for a form to show it again.
func (h *handlers) prepPageError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *PrepError
	switch {
	case errors.As(err, &pe) && pe.Field == "":
		h.srv.ErrorPage(w, r, http.StatusConflict, pe.MsgID)
	case errors.Is(err, db.ErrNotFound):
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
	default:
		h.srv.Log().Error("incident preparation", "err", err)
		h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
	}
}

// prepMessage is the translated message of a refused input, "" for
// another error.
func (h *handlers) prepMessage(r *http.Request, err error) string {
	var pe *PrepError
	if errors.As(err, &pe) && pe.Field != "" {
		return h.srv.T(r, pe.MsgID, pe.Data)
	}
	return ""
}

// prepFacilityQuery is "?facility=N" for links of pages about facility f.
func prepFacilityQuery(f int64) string { return "?facility=" + strconv.FormatInt(f, 10) }
