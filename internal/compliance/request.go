package compliance

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// What every page and API route of the part shares: the facility a request
// works on and who is asking.

// errFacility is a facility parameter that is not a facility number.
var errFacility = errors.New("facility parameter is not valid")

// requestFacility returns the facility a request works on — the
// "facility" parameter (query, or form on a POST), else the caller's own
// — where the caller must hold perm: db.ErrNotFound when it does not,
// errFacility when the parameter is not a facility number.
func requestFacility(r *http.Request, perm authz.Permission) (int64, error) {
	p := web.PrincipalOf(r)
	f := p.Facility
	if p.TokenID != 0 && p.TokenFacility != authz.AllFacilities {
		f = p.TokenFacility
	}
	s := r.URL.Query().Get("facility")
	if r.Method == http.MethodPost && r.PostFormValue("facility") != "" {
		s = r.PostFormValue("facility")
	}
	if s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return 0, errFacility
		}
		f = n
	}
	if f <= 0 {
		return 0, errFacility
	}
	if !p.CanIn(perm, f) {
		return 0, db.ErrNotFound
	}
	return f, nil
}

// apiFacility is requestFacility for the API: it answers a problem and
// reports false when there is no facility to work on.
func apiFacility(srv *web.Server, w http.ResponseWriter, r *http.Request, perm authz.Permission) (int64, bool) {
	f, err := requestFacility(r, perm)
	switch {
	case errors.Is(err, errFacility):
		srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "compliance.error.facility", nil)
		return 0, false
	case err != nil:
		srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return 0, false
	}
	return f, true
}

// pageFacility is requestFacility for pages.
func pageFacility(srv *web.Server, w http.ResponseWriter, r *http.Request, perm authz.Permission) (int64, bool) {
	f, err := requestFacility(r, perm)
	switch {
	case errors.Is(err, errFacility):
		srv.ErrorPage(w, r, http.StatusBadRequest, "compliance.error.facility")
		return 0, false
	case err != nil:
		srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return 0, false
	}
	return f, true
}

// Actor is the caller as the part's records and the audit log name them.
type Actor struct {
	UserID int64
	Login  string
	Client string // the caller's address
}

// actorOf is the caller of r.
func actorOf(r *http.Request) Actor {
	p := web.PrincipalOf(r)
	return Actor{UserID: p.UserID, Login: p.Login, Client: web.ClientAddr(r)}
}
