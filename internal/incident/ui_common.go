package incident

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// What the incidents' pages and API share: the caller's scope and who
// they are.

// scopeOf is the facilities where the caller holds perm.
func scopeOf(r *http.Request, perm authz.Permission) Scope {
	all, ids := web.PrincipalOf(r).Facilities(perm)
	return Scope{All: all, Facilities: ids}
}

// actorOf is the caller as the timeline and the audit log name them.
func actorOf(srv *web.Server, r *http.Request) Actor {
	p := web.PrincipalOf(r)
	return Actor{UserID: p.UserID, Login: p.Login, Client: web.ClientAddr(r), Lang: srv.Lang(r)}
}

// defaultFacility is the facility an incident opened without one goes
// to: the caller's own when in scope, else the only one of the scope.
func defaultFacility(r *http.Request, s Scope) int64 {
	p := web.PrincipalOf(r)
	if p.TokenID != 0 && p.TokenFacility != authz.AllFacilities {
		return p.TokenFacility
	}
	if p.Facility != 0 && s.Has(p.Facility) {
		return p.Facility
	}
	if !s.All && len(s.Facilities) > 0 {
		return slices.Min(s.Facilities)
	}
	return p.Facility
}

func urlPathEscape(s string) string { return url.PathEscape(s) }
