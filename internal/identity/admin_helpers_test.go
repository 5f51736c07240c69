package identity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// adminEnv is a running anzen with a second facility, an administrator of
// every facility and one of the second facility only.
type adminEnv struct {
	*apptest.Env
	East        int64 // the second facility
	Admin       *apptest.User
	EastAdmin   *apptest.User
	AdminClient *http.Client
	EastClient  *http.Client
}

func newAdminEnv(t *testing.T, dialect string) *adminEnv {
	t.Helper()
	e := apptest.New(t, dialect)
	f, err := e.App.Identity.CreateFacility(context.Background(), identity.SystemActor,
		identity.Facility{Code: "east", NameJA: "東病院", NameEN: "East hospital"})
	if err != nil {
		t.Fatal(err)
	}
	a := &adminEnv{Env: e, East: f.ID}
	a.Admin = e.CreateUser(t, "chief", true, authz.Grant{Role: authz.Admin, Facility: authz.AllFacilities})
	a.EastAdmin = e.CreateUser(t, "eastadm", true, authz.Grant{Role: authz.Admin, Facility: f.ID})
	a.AdminClient = e.Login(t, a.Admin)
	a.EastClient = e.Login(t, a.EastAdmin)
	return a
}

// createUser makes a user directly through the service, in facility home.
func (a *adminEnv) createUser(t *testing.T, login string, home int64, grants ...authz.Grant) *identity.User {
	t.Helper()
	u, _, err := a.App.Identity.CreateUser(context.Background(), identity.SystemActor, identity.NewUser{
		Facility: home, Login: login, Name: "利用者 " + login, Profession: "nurse", Grants: grants})
	if err != nil {
		t.Fatalf("create %s: %v", login, err)
	}
	return u
}

// form posts form values to a page.
func (a *adminEnv) form(t *testing.T, c *http.Client, path string, v url.Values) (int, string) {
	t.Helper()
	resp := a.Do(t, c, "POST", path, v.Encode())
	return resp.StatusCode, apptest.ReadBody(t, resp)
}

// get fetches a page or API resource.
func (a *adminEnv) get(t *testing.T, c *http.Client, path string) (int, string) {
	t.Helper()
	resp := a.Do(t, c, "GET", path, nil)
	return resp.StatusCode, apptest.ReadBody(t, resp)
}

// api sends a JSON request and decodes a JSON answer into out (when not
// nil); it returns the status and the raw body.
func (a *adminEnv) api(t *testing.T, c *http.Client, method, path string, body, out any) (int, string) {
	t.Helper()
	resp := a.Do(t, c, method, path, body)
	raw := apptest.ReadBody(t, resp)
	if out != nil && resp.StatusCode < 300 && raw != "" {
		if err := json.Unmarshal([]byte(raw), out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, raw
}

// events returns the audit entries of action (every facility).
func (a *adminEnv) events(t *testing.T, action string) []audit.Entry {
	t.Helper()
	es, _, err := a.App.Audit.Search(context.Background(), audit.Filter{AllFacilities: true, Action: action,
		Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// wantEvent fails unless the audit log holds action on target by actor.
func (a *adminEnv) wantEvent(t *testing.T, action, target, actor string) audit.Entry {
	t.Helper()
	for _, e := range a.events(t, action) {
		if e.Target == target && e.ActorLogin == actor && e.Outcome == "success" {
			return e
		}
	}
	t.Fatalf("no %s of %s by %s in the audit log: %+v", action, target, actor, a.events(t, action))
	return audit.Entry{}
}

// countUsers returns how many users exist.
func (a *adminEnv) countUsers(t *testing.T) int {
	t.Helper()
	n, err := a.App.Identity.CountUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// problem is a problem+json answer.
type problem struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func decodeProblem(t *testing.T, raw string) problem {
	t.Helper()
	var p problem
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		t.Fatalf("not a problem: %v: %s", err, raw)
	}
	return p
}

// fieldsOf lists the fields of a validation problem.
func (p problem) fields() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

var unknownMessage = regexp.MustCompile(`\[[a-z_]+\.[a-z_.]+\]`)

// noRawIDs fails when a page shows a message id in brackets (an id no
// catalog defines).
func noRawIDs(t *testing.T, body string) {
	t.Helper()
	if m := unknownMessage.FindString(body); m != "" {
		t.Errorf("page shows an undefined message %s", m)
	}
}

// contains fails unless body holds every s.
func contains(t *testing.T, body string, ss ...string) {
	t.Helper()
	for _, s := range ss {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

// requestJSON builds a request with body encoded as JSON (nil: no body).
func requestJSON(t *testing.T, url, method string, body any) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// bearer calls path with an API token and returns the status and body.
func (a *adminEnv) bearer(t *testing.T, secret, method, path string) (int, string) {
	t.Helper()
	req := requestJSON(t, a.URL+path, method, nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, apptest.ReadBody(t, resp)
}
