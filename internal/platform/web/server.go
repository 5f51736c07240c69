// Package web is anzen's HTTP toolkit: the router on which every part
// registers its pages and API routes, each with the access it requires; the
// security headers, CSRF protection and body limits every request passes;
// problem+json errors; and server-rendered pages in Japanese and English.
//
// A route cannot be registered without saying who may call it (Public,
// Pending, SignedIn, or a permission), and Routes lists them all for the
// route × role test in internal/app.
package web

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/i18n"
)

// Stage is how far a request's session has come through login.
type Stage int

// Stages of a session.
const (
	StageNone    Stage = iota // no session, or an expired one
	StagePending              // password accepted; must still change it, enrol or give a second factor
	StageFull                 // signed in
)

// Authenticator finds who a request acts as. identity implements it.
type Authenticator interface {
	Authenticate(w http.ResponseWriter, r *http.Request) (*authz.Principal, Stage, error)
}

// Access says who may call a route.
type Access struct {
	level int
	perm  authz.Permission
}

const (
	levelPublic = iota
	levelPending
	levelSignedIn
	levelPerm
)

var (
	// Public routes need no session (login page, health check, assets).
	Public = Access{level: levelPublic}
	// Pending routes serve a session part-way through login (password
	// change, second-factor enrolment and challenge) as well as full ones.
	Pending = Access{level: levelPending}
	// SignedIn routes serve any signed-in person, for their own account.
	SignedIn = Access{level: levelSignedIn}
)

// Perm is access for holders of permission p.
func Perm(p authz.Permission) Access {
	if _, ok := authz.Lookup(p); !ok {
		panic("web: route requires undeclared permission " + string(p))
	}
	return Access{level: levelPerm, perm: p}
}

// String names the access for listings and test output.
func (a Access) String() string {
	switch a.level {
	case levelPublic:
		return "public"
	case levelPending:
		return "pending"
	case levelSignedIn:
		return "signed-in"
	}
	return string(a.perm)
}

// Permission returns the permission the access requires, if any.
func (a Access) Permission() (authz.Permission, bool) { return a.perm, a.level == levelPerm }

// IsPublic reports whether the route needs no session.
func (a Access) IsPublic() bool { return a.level == levelPublic }

// IsPending reports whether a part-way session may call the route.
func (a Access) IsPending() bool { return a.level == levelPending }

// Route is one registered route.
type Route struct {
	Method  string
	Pattern string
	Access  Access
	machine bool // registered with HandleAPI outside /api/
}

// API reports whether the route is for programs: the JSON API under /api/,
// or a route registered with HandleAPI (such as Prometheus's /metrics). An
// API route answers errors as problem+json and accepts API tokens.
func (rt Route) API() bool { return rt.machine || strings.HasPrefix(rt.Pattern, "/api/") }

// Options configure a Server.
type Options struct {
	Log            *slog.Logger
	Catalog        *i18n.Catalog
	DefaultLang    string
	Location       *time.Location
	TLS            bool
	MaxBodyBytes   int64
	TrustedProxies []netip.Prefix
	// PendingPath is where a page request of a part-way session is sent.
	PendingPath string
	// LoginPath is where a page request without a session is sent.
	LoginPath string
}

// Server is the router and page renderer every part registers on.
type Server struct {
	opt    Options
	mux    *http.ServeMux
	routes []Route
	auth   Authenticator
	pages  *pages
	nav    []NavItem
	cards  []Card

	fallbacks sync.Once
}

// NewServer returns a server with no routes.
func NewServer(opt Options) *Server {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	if opt.MaxBodyBytes == 0 {
		opt.MaxBodyBytes = 1 << 20
	}
	if opt.LoginPath == "" {
		opt.LoginPath = "/login"
	}
	s := &Server{opt: opt, mux: http.NewServeMux()}
	s.pages = newPages(s)
	own, _ := fs.Sub(pagesFS, "pages")
	if err := s.AddPages("web", own); err != nil {
		panic(err)
	}
	s.mountStatic()
	return s
}

// SetAuthenticator installs the authenticator; identity calls it.
func (s *Server) SetAuthenticator(a Authenticator) { s.auth = a }

// Catalog returns the message catalog.
func (s *Server) Catalog() *i18n.Catalog { return s.opt.Catalog }

// Log returns anzen's logger.
func (s *Server) Log() *slog.Logger { return s.opt.Log }

// Location is the time zone pages show times in.
func (s *Server) Location() *time.Location { return s.opt.Location }

// TLS reports whether anzen serves HTTPS itself.
func (s *Server) TLS() bool { return s.opt.TLS }

// Handle registers h for method and pattern (a net/http pattern without
// the method), callable by those access allows.
func (s *Server) Handle(method, pattern string, access Access, h http.HandlerFunc) {
	s.handle(Route{Method: method, Pattern: pattern, Access: access}, h)
}

// HandleAPI registers a route for programs outside /api/ (a path that
// other tools expect, such as /metrics): like the API, it answers errors as
// problem+json and accepts API tokens.
func (s *Server) HandleAPI(method, pattern string, access Access, h http.HandlerFunc) {
	s.handle(Route{Method: method, Pattern: pattern, Access: access, machine: true}, h)
}

func (s *Server) handle(rt Route, h http.HandlerFunc) {
	method, pattern := rt.Method, rt.Pattern
	for _, r := range s.routes {
		if r.Method == method && r.Pattern == pattern {
			panic(fmt.Sprintf("web: route %s %s registered twice", method, pattern))
		}
	}
	s.routes = append(s.routes, rt)
	s.mux.Handle(method+" "+pattern, s.guard(rt, h))
}

// Routes lists every registered route, sorted by pattern and method.
func (s *Server) Routes() []Route {
	out := append([]Route(nil), s.routes...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pattern != out[j].Pattern {
			return out[i].Pattern < out[j].Pattern
		}
		return out[i].Method < out[j].Method
	})
	return out
}

type ctxKey int

const (
	principalKey ctxKey = iota
	langKey
	clientKey
)

// PrincipalOf returns who the request acts as; nil for none.
func PrincipalOf(r *http.Request) *authz.Principal {
	p, _ := r.Context().Value(principalKey).(*authz.Principal)
	return p
}

// WithPrincipal returns r acting as p.
func WithPrincipal(r *http.Request, p *authz.Principal) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), principalKey, p))
}

// guard checks the route's access before calling h.
func (s *Server) guard(rt Route, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.Access.IsPublic() {
			// Public pages still show who is signed in; assets and the API
			// need not look the session up.
			if s.auth != nil && !rt.API() && !strings.HasPrefix(rt.Pattern, "/static/") {
				if p, st, err := s.auth.Authenticate(w, r); err == nil && st == StageFull {
					r = WithPrincipal(r, p)
				}
			}
			h(w, r)
			return
		}
		if s.auth == nil {
			s.deny(w, r, rt, http.StatusUnauthorized)
			return
		}
		p, stage, err := s.auth.Authenticate(w, r)
		if err != nil {
			s.opt.Log.Error("authenticate", "err", err)
			s.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
			return
		}
		switch {
		case stage == StageNone:
			s.deny(w, r, rt, http.StatusUnauthorized)
			return
		case stage == StagePending && !rt.Access.IsPending():
			if rt.API() {
				s.Problem(w, r, http.StatusUnauthorized, "login-incomplete", "error.login_incomplete", nil)
			} else {
				http.Redirect(w, r, s.opt.PendingPath, http.StatusSeeOther)
			}
			return
		}
		r = WithPrincipal(r, p)
		// An API token is a program, not a person: it may call the API,
		// never a page (settings, forms).
		if p.TokenID != 0 && !rt.API() {
			s.deny(w, r, rt, http.StatusForbidden)
			return
		}
		if perm, ok := rt.Access.Permission(); ok && !p.Can(perm) {
			s.deny(w, r, rt, http.StatusForbidden)
			return
		}
		h(w, r)
	})
}

func (s *Server) deny(w http.ResponseWriter, r *http.Request, rt Route, status int) {
	if rt.API() {
		if status == http.StatusUnauthorized {
			s.Problem(w, r, status, "unauthenticated", "error.unauthenticated", nil)
		} else {
			s.Problem(w, r, status, "forbidden", "error.forbidden", nil)
		}
		return
	}
	if status == http.StatusUnauthorized {
		if r.Method == http.MethodGet {
			http.Redirect(w, r, s.opt.LoginPath+"?next="+safeNext(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, s.opt.LoginPath, http.StatusSeeOther)
		return
	}
	s.ErrorPage(w, r, status, "error.forbidden")
}
