package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/config"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The route × role test walks every registered route (web.Server.Routes,
// so that a route added tomorrow is walked too) with every kind of caller
// and asserts the exact decision of the route guard:
//
//   - Public routes serve everyone.
//   - Pending routes serve any session, also one part-way through sign-in
//     (password accepted, second factor not yet given).
//   - SignedIn routes serve full sessions of every role.
//   - A permission route serves a full session of a role that holds the
//     permission (authz.RoleHas). Every walking user holds its role in all
//     facilities.
//   - An API token is a program, not a person. The guard treats a valid
//     token like a full session (identity.Authenticate returns
//     web.StageFull for it), so on the JSON API it passes every Pending and
//     SignedIn route, and a permission route when one of its scopes carries
//     the permission (authz.ScopeHas). It passes no page other than a
//     public one, not even one whose permission its scope carries.
//
// A denial is what the guard answers, and nothing else: for the JSON API a
// problem of type unauthenticated (401, no session), login-incomplete (401,
// pending session) or forbidden (403); for a page a redirect to
// /login?next=... (GET) or /login (no session), to /login/continue (pending
// session), or a 403 page. Anything else means the guard let the request
// through to the handler: even a 401 or 403 that the handler itself gives
// for the request (a wrong password at POST /api/v1/session, say), since the
// walk sends bodies that are only good enough to pass the guard.

// callerKind is how a caller proves who it is.
type callerKind int

const (
	anonymous callerKind = iota
	pendingSession
	signedIn
	apiToken
)

// caller is one column of the matrix.
type caller struct {
	name  string
	kind  callerKind
	role  authz.Role // signedIn
	scope string     // apiToken
	users []*apptest.User
	token string
}

// routeWorld is an anzen with a user of every role, users part-way
// through sign-in at each step, a token of every scope, and objects for
// path wildcards to name.
type routeWorld struct {
	e       *apptest.Env
	callers []*caller
	// values for path wildcards, by the path segment before the wildcard
	targets map[string]string
}

func newRouteWorld(t *testing.T, dialect string) *routeWorld {
	t.Helper()
	ctx := context.Background()
	e := apptest.New(t, dialect, func(c *config.Config) { c.Metrics = true })
	svc := e.App.Identity
	if _, err := svc.EnsureFacility(ctx, identity.Facility{Code: "branch", NameJA: "分院", NameEN: "Branch clinic"}); err != nil {
		t.Fatal(err)
	}
	w := &routeWorld{e: e, callers: []*caller{{name: "anonymous", kind: anonymous}}}

	// Part-way sessions at each step of sign-in. A handler of a Pending
	// route may itself send a person at the wrong step back to
	// /login/continue, so the walk tries every step: the guard sees only
	// "pending" and denies all alike, while a handler serves at least one.
	pending := &caller{name: "pending", kind: pendingSession}
	second := e.CreateUser(t, "pending-second-factor", true)
	enrol := e.CreateUser(t, "pending-enrol", false)
	fresh, initial, err := svc.CreateUser(ctx, identity.SystemActor, identity.NewUser{Facility: e.Facility,
		Login: "pending-password", Name: "初回 パスワード", Profession: "nurse",
		Grants: []authz.Grant{{Role: authz.Staff, Facility: e.Facility}}})
	if err != nil {
		t.Fatal(err)
	}
	change := &apptest.User{User: fresh, Password: initial}
	for u, want := range map[*apptest.User]identity.Step{second: identity.StepSecondFactor,
		enrol: identity.StepEnrol, change: identity.StepChangePassword} {
		if step, err := svc.NextStep(ctx, u.User); err != nil || step != want {
			t.Fatalf("%s is at step %q (%v), want %q", u.Login, step, err, want)
		}
	}
	pending.users = []*apptest.User{second, enrol, change}
	w.callers = append(w.callers, pending)

	for _, r := range authz.Roles {
		u := e.CreateUser(t, "walk-"+string(r), true, authz.Grant{Role: r, Facility: authz.AllFacilities})
		w.callers = append(w.callers, &caller{name: string(r), kind: signedIn, role: r, users: []*apptest.User{u}})
	}
	for _, sc := range authz.Scopes() {
		_, secret, err := svc.CreateToken(ctx, identity.SystemActor, identity.NewToken{Name: "walk-" + sc,
			Scopes: []string{sc}, Facility: authz.AllFacilities})
		if err != nil {
			t.Fatal(err)
		}
		w.callers = append(w.callers, &caller{name: "token:" + sc, kind: apiToken, scope: sc, token: secret})
	}

	// Objects that a route with a wildcard acts on; none of them is a
	// walking caller, so what a handler does to them changes no decision.
	target := e.CreateUser(t, "walk-target", true)
	tok, _, err := svc.CreateToken(ctx, identity.SystemActor, identity.NewToken{Name: "walk-target",
		Scopes: []string{"read"}, Facility: authz.AllFacilities})
	if err != nil {
		t.Fatal(err)
	}
	w.targets = map[string]string{
		"users":      strconv.FormatInt(target.ID, 10),
		"tokens":     strconv.FormatInt(tok.ID, 10),
		"facilities": strconv.FormatInt(e.Facility, 10),
	}
	w.checkRealPendingLogin(t, second)
	return w
}

// checkRealPendingLogin signs in with a password through the login form
// and checks that the guard treats the session it gets as the walk treats
// the pending sessions it makes directly.
func (w *routeWorld) checkRealPendingLogin(t *testing.T, u *apptest.User) {
	t.Helper()
	c := w.e.Client()
	resp := w.e.Do(t, c, "POST", "/login", url.Values{"login": {u.Login}, "password": {u.Password}}.Encode())
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login/continue" {
		t.Fatalf("password sign-in of %s: %d to %q, want 303 to /login/continue", u.Login, resp.StatusCode,
			resp.Header.Get("Location"))
	}
	resp = w.e.Do(t, c, "GET", "/api/v1/me", nil)
	if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusUnauthorized ||
		!strings.Contains(body, web.ProblemTypePrefix+"login-incomplete") {
		t.Fatalf("a session after the password alone got GET /api/v1/me: %d %s", resp.StatusCode, body)
	}
}

// path fills the wildcards of pattern with the world's objects.
func (w *routeWorld) path(pattern string) string { return fillWildcards(pattern, w.targets) }

// expected is the decision the declared access of rt prescribes for c.
func expected(rt web.Route, c *caller) bool {
	a := rt.Access
	switch {
	case a.IsPublic():
		return true
	case c.kind == anonymous:
		return false
	}
	perm, isPerm := a.Permission()
	switch {
	case c.kind == apiToken && !rt.API():
		return false // a token is a program: never a page
	case a.IsPending():
		return true
	case c.kind == pendingSession:
		return false
	case !isPerm: // SignedIn
		return true
	case c.kind == apiToken:
		return authz.ScopeHas(c.scope, perm)
	}
	return authz.RoleHas(c.role, perm)
}

// outcome is what one request got.
type outcome struct {
	status   int
	location string
	problem  string // the problem type, without the prefix
}

func (o outcome) String() string {
	switch {
	case o.location != "":
		return fmt.Sprintf("%d → %s", o.status, o.location)
	case o.problem != "":
		return fmt.Sprintf("%d %s", o.status, o.problem)
	}
	return strconv.Itoa(o.status)
}

// denied reports whether o is the guard's refusal of a caller of kind k,
// and whether, being one, it has the form the guard gives that kind.
func denied(rt web.Route, k callerKind, o outcome) (isDenial, rightForm bool) {
	if rt.API() {
		want := map[callerKind]string{anonymous: "unauthenticated", pendingSession: "login-incomplete",
			signedIn: "forbidden", apiToken: "forbidden"}[k]
		switch o.problem {
		case "unauthenticated", "login-incomplete", "forbidden":
			wantStatus := http.StatusUnauthorized
			if want == "forbidden" {
				wantStatus = http.StatusForbidden
			}
			return true, o.problem == want && o.status == wantStatus
		}
		return false, false
	}
	toLogin := o.status == http.StatusSeeOther &&
		(o.location == "/login" || strings.HasPrefix(o.location, "/login?next="))
	toContinue := o.status == http.StatusSeeOther && o.location == "/login/continue"
	switch k {
	case anonymous:
		return toLogin, toLogin
	case pendingSession:
		return toContinue, toContinue
	}
	return o.status == http.StatusForbidden, o.status == http.StatusForbidden
}

// send makes one request of rt as c, with fresh credentials made for it
// (so that a route that signs out or rotates a session spoils no other
// request, whatever the order), and a body that passes the guard: an empty
// JSON object or an empty form. The guard decides before the body is read.
func (w *routeWorld) send(t *testing.T, rt web.Route, c *caller, u *apptest.User) outcome {
	t.Helper()
	var body io.Reader
	ct := ""
	if rt.Method == http.MethodPost || rt.Method == http.MethodPut || rt.Method == http.MethodPatch {
		if rt.API() {
			body, ct = strings.NewReader("{}"), "application/json"
		} else {
			body, ct = strings.NewReader(""), "application/x-www-form-urlencoded"
		}
	}
	req, err := http.NewRequest(rt.Method, w.e.URL+w.path(rt.Pattern), body)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	switch c.kind {
	case pendingSession, signedIn:
		stage := web.StagePending
		if c.kind == signedIn {
			stage = web.StageFull
		}
		secret, err := w.e.App.Identity.StartSession(context.Background(), w.e.App.DB, u.User, stage,
			"127.0.0.1", "route-walk")
		if err != nil {
			t.Fatal(err)
		}
		req.AddCookie(&http.Cookie{Name: identity.SessionCookie, Value: secret})
	case apiToken:
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rt.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	o := outcome{status: resp.StatusCode, location: resp.Header.Get("Location")}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		var p web.Problem
		if err := json.Unmarshal(b, &p); err == nil {
			o.problem = strings.TrimPrefix(p.Type, web.ProblemTypePrefix)
		}
	}
	return o
}

// decision is the observed decision of one cell of the matrix.
type decision struct {
	allowed  bool
	outcomes []outcome
}

// walk tries every route with every caller, in an order shuffled by seed,
// and returns the decisions by "METHOD pattern" and caller name.
func (w *routeWorld) walk(t *testing.T, routes []web.Route, seed uint64) map[string]map[string]decision {
	t.Helper()
	order := slices.Clone(routes)
	rand.New(rand.NewPCG(seed, seed)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	got := map[string]map[string]decision{}
	for _, rt := range order {
		key := rt.Method + " " + rt.Pattern
		got[key] = map[string]decision{}
		for _, c := range w.callers {
			tries := c.users
			if len(tries) == 0 {
				tries = []*apptest.User{nil}
			}
			d := decision{}
			allDenied := true
			for _, u := range tries {
				o := w.send(t, rt, c, u)
				d.outcomes = append(d.outcomes, o)
				isDenial, rightForm := denied(rt, c.kind, o)
				if isDenial && !rightForm {
					t.Errorf("%s as %s: refused with %s, which is not how the guard refuses this caller", key, c.name, o)
				}
				allDenied = allDenied && isDenial
			}
			d.allowed = !allDenied
			got[key][c.name] = d
		}
	}
	return got
}

// criticalCells are decisions written out by hand, so that the walk cannot
// pass by computing the expected matrix the same wrong way as the code.
// A cell of a route that is not registered fails.
var criticalCells = []struct {
	method, pattern, caller string
	allowed                 bool
}{
	{"POST", "/api/v1/session", "anonymous", true},
	{"GET", "/login", "anonymous", true},
	{"GET", "/healthz", "anonymous", true},
	{"GET", "/api/v1/openapi.json", "anonymous", true},
	{"GET", "/api/v1/me", "anonymous", false},
	{"GET", "/api/v1/me", "pending", false},
	{"GET", "/api/v1/me", "vendor", true},
	{"GET", "/api/v1/me", "token:read", true},
	{"DELETE", "/api/v1/session", "pending", true},
	{"DELETE", "/api/v1/session", "anonymous", false},
	{"POST", "/login/second-factor", "pending", true},
	{"GET", "/login/continue", "anonymous", false},
	{"GET", "/{$}", "pending", false},
	{"GET", "/{$}", "vendor", true},
	{"GET", "/{$}", "token:read", false},
	{"GET", "/settings", "pending", false},
	{"GET", "/settings", "staff", true},
	{"GET", "/settings", "token:read", false},
	{"POST", "/logout", "token:read", false},
	{"GET", "/audit/security-events", "staff", false},
	{"GET", "/audit/security-events", "vendor", false},
	{"GET", "/audit/security-events", "auditor", true},
	{"GET", "/audit/security-events.csv", "csirt", true},
	{"GET", "/api/v1/audit/security-events", "auditor", true},
	{"GET", "/api/v1/audit/security-events", "staff", false},
	{"GET", "/api/v1/audit/security-events", "token:read", true},
	{"GET", "/api/v1/audit/security-events", "token:metrics", false},
	{"GET", "/audit/events", "auditor", true},
	{"GET", "/alerts", "auditor", true},
	{"GET", "/alerts", "staff", false},
	{"GET", "/alerts/{id}", "vendor", false},
	{"GET", "/detect/users/{id}", "auditor", true},
	{"GET", "/detect/users/{id}", "staff", false},
	{"GET", "/detect/users/{id}", "vendor", false},
	{"POST", "/alerts/{id}", "csirt", true},
	{"POST", "/alerts/{id}", "auditor", false},
	{"PATCH", "/api/v1/detect/alerts/{id}", "token:manage", true},
	{"PATCH", "/api/v1/detect/alerts/{id}", "token:read", false},
	{"GET", "/api/v1/detect/alerts", "token:read", true},
	{"GET", "/alerts/rules", "auditor", true},
	{"GET", "/alerts/rules", "staff", false},
	{"GET", "/alerts/rules/{key}", "vendor", false},
	{"POST", "/alerts/rules/import", "csirt", true},
	{"POST", "/alerts/rules/import", "auditor", false},
	{"POST", "/alerts/rules/{key}", "ciso", true},
	{"POST", "/alerts/rules/{key}", "auditor", false},
	{"POST", "/alerts/rules/{key}/delete", "staff", false},
	{"POST", "/alerts/rules/try", "auditor", true},
	{"POST", "/alerts/rules/try", "token:read", false},
	{"GET", "/api/v1/detect/rules", "token:read", true},
	{"GET", "/api/v1/detect/rules", "vendor", false},
	{"POST", "/api/v1/detect/rules", "token:manage", true},
	{"POST", "/api/v1/detect/rules", "token:read", false},
	{"PATCH", "/api/v1/detect/rules/{key}", "token:manage", true},
	{"PATCH", "/api/v1/detect/rules/{key}", "auditor", false},
	{"DELETE", "/api/v1/detect/rules/{key}", "csirt", true},
	{"DELETE", "/api/v1/detect/rules/{key}", "token:read", false},
	{"POST", "/api/v1/detect/rules/try", "token:read", true},
	{"GET", "/api/v1/detect/rules.yaml", "auditor", true},
	{"GET", "/detect/tables", "auditor", true},
	{"GET", "/detect/tables", "csirt", true},
	{"GET", "/detect/tables", "staff", false},
	{"GET", "/detect/tables", "vendor", false},
	{"POST", "/detect/tables", "ciso", true},
	{"POST", "/detect/tables", "admin", true},
	{"POST", "/detect/tables", "csirt", false},
	{"POST", "/detect/tables", "auditor", false},
	{"GET", "/api/v1/detect/tables", "token:read", true},
	{"GET", "/api/v1/detect/tables", "staff", false},
	{"GET", "/api/v1/detect/tables/{kind}", "auditor", true},
	{"GET", "/api/v1/detect/tables/{kind}", "vendor", false},
	{"PUT", "/api/v1/detect/tables/{kind}", "token:manage", true},
	{"PUT", "/api/v1/detect/tables/{kind}", "token:read", false},
	{"PUT", "/api/v1/detect/tables/{kind}", "csirt", false},
	{"PUT", "/api/v1/detect/tables/{kind}", "ciso", true},
	{"GET", "/alerts/suppressions", "auditor", true},
	{"GET", "/alerts/suppressions", "staff", false},
	{"GET", "/alerts/suppressions/new", "auditor", false},
	{"GET", "/alerts/suppressions/new", "ciso", true},
	{"POST", "/alerts/suppressions", "csirt", true},
	{"POST", "/alerts/suppressions", "auditor", false},
	{"POST", "/alerts/suppressions/{id}/end", "auditor", false},
	{"POST", "/alerts/suppressions/{id}/end", "admin", true},
	{"GET", "/api/v1/detect/suppressions", "token:read", true},
	{"GET", "/api/v1/detect/suppressions/{id}", "vendor", false},
	// incident: reports to the authorities
	{"GET", "/incidents/{id}/reports", "auditor", true},
	{"GET", "/incidents/{id}/reports", "staff", false},
	{"POST", "/incidents/{id}/submissions", "csirt", true},
	{"POST", "/incidents/{id}/submissions", "auditor", false},
	{"POST", "/incidents/{id}/reports/{to}", "admin", false},
	{"GET", "/api/v1/incident/incidents/{id}/duties", "token:read", true},
	{"GET", "/api/v1/incident/incidents/{id}/duties", "staff", false},
	{"POST", "/api/v1/incident/incidents/{id}/submissions", "ciso", true},
	{"POST", "/api/v1/incident/incidents/{id}/submissions", "token:read", false},
	{"PUT", "/api/v1/incident/incidents/{id}/reports/{to}", "auditor", false},
	{"POST", "/api/v1/detect/suppressions", "token:read", false},
	{"POST", "/api/v1/detect/suppressions", "token:manage", true},
	{"POST", "/api/v1/detect/suppressions/{id}/end", "staff", false},
	// Incidents (internal/incident): the CSIRT and the CISO run them,
	// auditors read them and change nothing, staff only report.
	{"GET", "/incidents", "auditor", true},
	{"GET", "/incidents", "staff", false},
	{"GET", "/incidents/{id}", "staff", false},
	{"GET", "/incidents/{id}", "csirt", true},
	{"GET", "/incidents/new", "staff", false},
	{"POST", "/incidents", "csirt", true},
	{"POST", "/incidents", "auditor", false},
	{"POST", "/incidents/{id}", "auditor", false},
	{"POST", "/incidents/{id}/state", "ciso", true},
	{"POST", "/incidents/{id}/state", "auditor", false},
	{"POST", "/incidents/{id}/state", "admin", false},
	{"GET", "/incidents/{id}/evidence/{ev}", "auditor", true},
	{"GET", "/incidents/{id}/evidence/{ev}", "staff", false},
	{"POST", "/incidents/{id}/evidence", "auditor", false},
	{"GET", "/incident/raise", "staff", true},
	{"POST", "/incident/raise", "staff", true},
	{"POST", "/incident/raise", "vendor", false},
	{"POST", "/api/v1/incident/raise", "staff", true},
	{"POST", "/api/v1/incident/raise", "anonymous", false},
	{"GET", "/api/v1/incident/incidents", "token:read", true},
	{"GET", "/api/v1/incident/incidents", "staff", false},
	{"POST", "/api/v1/incident/incidents", "token:incident", true},
	{"POST", "/api/v1/incident/incidents", "token:read", false},
	{"POST", "/api/v1/incident/incidents", "auditor", false},
	{"PATCH", "/api/v1/incident/incidents/{id}", "csirt", true},
	{"PATCH", "/api/v1/incident/incidents/{id}", "auditor", false},
	{"POST", "/api/v1/incident/incidents/{id}/state", "token:incident", true},
	{"POST", "/api/v1/incident/incidents/{id}/state", "staff", false},
	{"POST", "/api/v1/incident/incidents/{id}/timeline", "auditor", false},
	{"POST", "/api/v1/incident/incidents/{id}/tasks", "csirt", true},
	{"PATCH", "/api/v1/incident/incidents/{id}/tasks/{task}", "auditor", false},
	{"POST", "/api/v1/incident/incidents/{id}/observables", "token:read", false},
	{"DELETE", "/api/v1/incident/incidents/{id}/observables/{obs}", "csirt", true},
	{"DELETE", "/api/v1/incident/incidents/{id}/observables/{obs}", "auditor", false},
	// Compliance (internal/compliance): the CISO and the administrators
	// keep it, the CSIRT and inspectors read it, staff and vendors do not
	// see it; evidence is approved by admin or ciso only.
	{"GET", "/{$}", "staff", true},
	{"GET", "/compliance/catalog", "auditor", true},
	{"GET", "/compliance/catalog", "staff", false},
	{"GET", "/compliance/checklist", "csirt", true},
	{"GET", "/compliance/checklist", "vendor", false},
	{"POST", "/compliance/checklist", "ciso", true},
	{"POST", "/compliance/checklist", "auditor", false},
	{"POST", "/compliance/checklist", "csirt", false},
	{"POST", "/compliance/attestations/{id}/approve", "admin", true},
	{"POST", "/compliance/attestations/{id}/approve", "csirt", false},
	{"GET", "/compliance/attestations/{id}/download", "auditor", true},
	{"GET", "/compliance/attestations/{id}/download", "staff", false},
	{"POST", "/compliance/snapshots", "auditor", false},
	{"GET", "/compliance/reports/{file}", "auditor", true},
	{"GET", "/compliance/reports/{file}", "vendor", false},
	{"GET", "/api/v1/compliance/state", "token:read", true},
	{"GET", "/api/v1/compliance/state", "token:incident", false},
	{"PUT", "/api/v1/compliance/answers", "token:compliance", true},
	{"PUT", "/api/v1/compliance/answers", "token:read", false},
	{"POST", "/api/v1/compliance/attestations", "auditor", false},
	{"POST", "/api/v1/compliance/attestations/{id}/approve", "token:compliance", true},
	{"GET", "/api/v1/compliance/exports/{format}", "token:compliance", true},
	{"GET", "/api/v1/compliance/exports/{format}", "staff", false},
	{"POST", "/incidents/{id}/observables/{obs}/delete", "staff", false},
	{"POST", "/api/v1/incident/incidents/{id}/evidence", "auditor", false},
	{"GET", "/api/v1/incident/incidents/{id}/evidence/{ev}/content", "auditor", true},
	{"GET", "/api/v1/incident/incidents/{id}/evidence/{ev}/content", "staff", false},
	{"POST", "/api/v1/incident/incidents/{id}/evidence/{ev}/custody", "auditor", false},
	{"POST", "/api/v1/incident/incidents/{id}/evidence/{ev}/verify", "csirt", true},
	{"POST", "/api/v1/incident/incidents/{id}/links", "auditor", false},
	{"POST", "/alerts/escalate/{id}", "csirt", true},
	{"POST", "/alerts/escalate/{id}", "auditor", false},
	{"POST", "/alerts/escalate/{id}", "admin", false}, // may review alerts, may not open incidents
	{"POST", "/api/v1/detect/alerts/{id}/escalate", "token:incident", true},
	{"POST", "/api/v1/detect/alerts/{id}/escalate", "token:manage", false},
	{"POST", "/api/v1/detect/alerts/{id}/escalate", "token:read", false},
	// incident: playbooks, BCP, backups, drills (read: PermRead; change: PermPrepare)
	{"GET", "/incident/bcp", "auditor", true},
	{"GET", "/incident/bcp", "staff", false},
	{"GET", "/incident/bcp.pdf", "vendor", false},
	{"POST", "/incident/bcp", "csirt", true},
	{"POST", "/incident/bcp", "auditor", false},
	{"POST", "/incident/playbooks/{kind}", "ciso", true},
	{"POST", "/incident/playbooks/{kind}", "staff", false},
	{"PUT", "/api/v1/incident/playbooks/{kind}", "token:incident", true},
	{"PUT", "/api/v1/incident/playbooks/{kind}", "token:read", false},
	{"PUT", "/api/v1/incident/playbooks/{kind}", "auditor", false},
	{"GET", "/api/v1/incident/playbooks", "token:read", true},
	{"POST", "/api/v1/incident/backups", "auditor", false},
	{"POST", "/api/v1/incident/backups", "admin", true},
	{"POST", "/api/v1/incident/drills", "csirt", true},
	{"POST", "/api/v1/incident/drills", "staff", false},
	{"POST", "/api/v1/incident/drills/{id}/lessons/{task}/done", "auditor", false},
	{"DELETE", "/api/v1/incident/bcp/procedures/{id}", "vendor", false},
	{"GET", "/audit/events", "staff", false},
	{"GET", "/audit/events/{seq}", "vendor", false},
	{"GET", "/audit/patients/{id}", "csirt", true},
	{"GET", "/audit/patients/{id}", "staff", false},
	{"GET", "/audit/patients/{id}/events.csv", "token:read", false},
	{"GET", "/audit/sources", "ciso", true},
	{"GET", "/api/v1/audit/events", "token:read", true},
	{"GET", "/api/v1/audit/events", "staff", false},
	{"GET", "/api/v1/audit/events/{seq}/proof", "auditor", true},
	{"GET", "/api/v1/audit/checkpoint", "token:read", true},
	{"GET", "/api/v1/audit/checkpoint", "token:metrics", false},
	{"GET", "/api/v1/audit/checkpoint", "staff", false},
	{"GET", "/api/v1/audit/verifications", "auditor", true},
	{"GET", "/api/v1/audit/verifications", "token:read", true},
	{"GET", "/api/v1/audit/verifications", "staff", false},
	{"GET", "/audit/integrity", "ciso", true},
	{"GET", "/audit/integrity", "vendor", false},
	{"GET", "/audit/integrity", "token:read", false},
	{"GET", "/metrics", "admin", true},
	{"GET", "/metrics", "ciso", false},
	{"GET", "/metrics", "token:read", false},
	{"GET", "/metrics", "token:metrics", true},
	{"GET", "/users", "vendor", false},
	{"GET", "/users", "admin", true},
	{"GET", "/users/{id}", "auditor", true},
	{"GET", "/users/{id}", "staff", false},
	{"POST", "/users/{id}/reset-password", "admin", true},
	{"POST", "/users/{id}/reset-password", "ciso", false},
	{"POST", "/users/{id}/reset-password", "auditor", false},
	{"GET", "/tokens", "auditor", true},
	{"GET", "/tokens", "csirt", false},
	{"GET", "/facilities", "ciso", false},
	{"GET", "/api/v1/users", "auditor", true},
	{"GET", "/api/v1/users", "staff", false},
	{"GET", "/api/v1/users", "token:read", true},
	{"POST", "/api/v1/users", "auditor", false},
	{"POST", "/api/v1/users", "ciso", false},
	{"POST", "/api/v1/users", "admin", true},
	{"POST", "/api/v1/users", "token:read", false},
	{"POST", "/api/v1/users/{id}/unlock", "auditor", false},
	{"PATCH", "/api/v1/users/{id}", "csirt", false},
	{"POST", "/api/v1/tokens", "admin", true},
	{"POST", "/api/v1/tokens", "auditor", false},
	{"GET", "/api/v1/tokens", "csirt", false},
	{"DELETE", "/api/v1/tokens/{id}", "token:read", false},
	{"GET", "/api/v1/facilities", "vendor", true},
	{"GET", "/api/v1/facilities", "token:read", true},
	{"POST", "/api/v1/facilities", "ciso", false},
	// The emergency organisation (incident): every member of staff reads the contact
	// diagram and the emergency rules; only the CISO and administrators change them; the
	// emergency accounts are read by those who read incidents.
	{"GET", "/incident/contacts", "staff", true},
	{"GET", "/incident/contacts", "vendor", false},
	{"GET", "/incident/contacts/print", "staff", true},
	{"GET", "/incident/emergency", "staff", true},
	{"GET", "/incident/org", "staff", false},
	{"POST", "/incident/org/contacts", "ciso", true},
	{"POST", "/incident/org/contacts", "csirt", false},
	{"POST", "/api/v1/incident/contacts", "staff", false},
	{"POST", "/api/v1/incident/contacts", "admin", true},
	{"PUT", "/api/v1/incident/emergency-rules", "token:manage", true},
	{"PUT", "/api/v1/incident/emergency-rules", "csirt", false},
	{"GET", "/api/v1/incident/emergency-rules", "staff", true},
	{"GET", "/api/v1/incident/emergency-accounts", "staff", false},
	{"GET", "/api/v1/incident/emergency-accounts", "auditor", true},
	{"POST", "/api/v1/incident/emergency-accounts/{id}/changed", "csirt", false},
	{"POST", "/api/v1/incident/emergency-accounts/{id}/changed", "ciso", true},
}

func TestRoutes_EveryCallerGetsExactlyTheDeclaredAccess(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			w := newRouteWorld(t, d)
			routes := w.e.Web.Routes()
			seed := uint64(time.Now().UnixNano())
			t.Logf("route order shuffled with seed %d", seed)
			setup := time.Since(start)
			got := w.walk(t, routes, seed)

			requests := 0
			t.Run("declared access", func(t *testing.T) {
				for _, rt := range routes {
					key := rt.Method + " " + rt.Pattern
					for _, c := range w.callers {
						d := got[key][c.name]
						requests += len(d.outcomes)
						if want := expected(rt, c); d.allowed != want {
							t.Errorf("%s (access %s) as %s: allowed = %v, want %v (got %v)", key, rt.Access, c.name,
								d.allowed, want, d.outcomes)
						}
					}
				}
			})
			checked := 0
			t.Run("hand-written cells", func(t *testing.T) {
				checked = checkCriticalCells(t, got)
			})
			t.Run("no server errors", func(t *testing.T) {
				for _, rt := range routes {
					key := rt.Method + " " + rt.Pattern
					for _, c := range w.callers {
						for _, o := range got[key][c.name].outcomes {
							if o.status >= 500 {
								t.Errorf("%s as %s: %s", key, c.name, o)
							}
						}
					}
				}
			})
			t.Logf("%d routes × %d callers = %d cells, %d requests, %d hand-written cells checked; setup %v, walk %v",
				len(routes), len(w.callers), len(routes)*len(w.callers), requests, checked,
				setup.Round(time.Millisecond), (time.Since(start) - setup).Round(time.Millisecond))
			if testing.Verbose() {
				t.Log("\n" + matrixText(routes, w.callers, got))
			}
		})
	}
}

// checkCriticalCells compares the walk with criticalCells and returns how
// many cells it checked.
func checkCriticalCells(t *testing.T, got map[string]map[string]decision) int {
	t.Helper()
	checked := 0
	for _, cell := range criticalCells {
		row, ok := got[cell.method+" "+cell.pattern]
		if !ok {
			t.Errorf("%s %s is not registered any more", cell.method, cell.pattern)
			continue
		}
		d, ok := row[cell.caller]
		if !ok {
			t.Errorf("no caller %q in the walk", cell.caller)
			continue
		}
		checked++
		if d.allowed != cell.allowed {
			t.Errorf("%s %s as %s: allowed = %v, want %v (got %v)", cell.method, cell.pattern,
				cell.caller, d.allowed, cell.allowed, d.outcomes)
		}
	}
	return checked
}

// matrixText draws the observed matrix: + allowed, - denied.
func matrixText(routes []web.Route, callers []*caller, got map[string]map[string]decision) string {
	var b strings.Builder
	width := 0
	for _, rt := range routes {
		width = max(width, len(rt.Method)+1+len(rt.Pattern))
	}
	fmt.Fprintf(&b, "%-*s", width, "")
	for _, c := range callers {
		fmt.Fprintf(&b, " %-6s", columnName(c))
	}
	b.WriteString("\n")
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		fmt.Fprintf(&b, "%-*s", width, key)
		for _, c := range callers {
			mark := "-"
			if got[key][c.name].allowed {
				mark = "+"
			}
			fmt.Fprintf(&b, " %-6s", mark)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// columnName is a caller's name cut to six characters (t:read for a token).
func columnName(c *caller) string {
	n := c.name
	if c.kind == apiToken {
		n = "t:" + c.scope
	}
	return n[:min(len(n), 6)]
}
