package keys_test

import (
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The pages are tested on their own web server with a fake authenticator
// (the X-Test-As header names the caller), over both databases.

var pageParts = []db.Migrations{audit.Migrations(), keys.Migrations()}

// pageRoot is one local root for every page test (its argon2id sealing
// costs time); the file is removed at once, the root stays in memory.
var pageRoot = sync.OnceValues(func() (*keys.LocalRoot, error) {
	dir, err := os.MkdirTemp("", "anzen-keys-pages-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	return keys.CreateLocalRoot(filepath.Join(dir, "root.json"), "pages test passphrase")
})

// stillSealed given to newPageEnv leaves the key service sealed.
type stillSealed struct{ keys.Root }

type fakeAuth map[string]*authz.Principal

func (a fakeAuth) Authenticate(_ http.ResponseWriter, r *http.Request) (*authz.Principal, web.Stage, error) {
	if p, ok := a[r.Header.Get("X-Test-As")]; ok {
		return p, web.StageFull, nil
	}
	return nil, web.StageNone, nil
}

func person(id int64, login string, role authz.Role) *authz.Principal {
	return &authz.Principal{UserID: id, Login: login, Name: login,
		Grants: []authz.Grant{{Role: role, Facility: authz.AllFacilities}}}
}

// pageEnv is the key service's pages on a web server.
type pageEnv struct {
	t     *testing.T
	svc   *keys.Service
	log   *audit.Log
	clock *clock.Frozen
	h     http.Handler
}

func newPageEnv(t *testing.T, d *db.DB, root keys.Root) *pageEnv {
	t.Helper()
	if root == nil {
		r, err := pageRoot()
		if err != nil {
			t.Fatal(err)
		}
		root = r
	}
	c := clock.NewFrozen(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) // 09:00 in Tokyo
	l := audit.New(d, c)
	svc := keys.New(d, c, l, nil)
	if _, sealed := root.(stillSealed); !sealed {
		svc.Unseal(root)
	}
	cat := i18n.New()
	for _, fsys := range []fs.FS{web.Locales(), identity.Locales(), audit.Locales(), keys.Locales()} {
		if err := cat.Add(fsys); err != nil {
			t.Fatal(err)
		}
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer(web.Options{Catalog: cat, DefaultLang: "ja", Location: tokyo})
	if err := keys.Register(srv, svc); err != nil {
		t.Fatal(err)
	}
	srv.Handle("GET", "/{$}", web.Perm(keys.PermRead), srv.Dashboard)
	srv.SetAuthenticator(fakeAuth{
		"admin":   person(1, "admin", authz.Admin),
		"auditor": person(2, "auditor", authz.Auditor),
		"staff":   person(3, "nurse01", authz.Staff),
		"admin2":  person(4, "admin2", authz.Admin),
	})
	return &pageEnv{t: t, svc: svc, log: l, clock: c, h: srv.Handler()}
}

// do sends a request as who ("" for no one) in lang; a non-nil form is
// posted.
func (e *pageEnv) do(method, path, who, lang string, form url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	r := httptest.NewRequest(method, path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if who != "" {
		r.Header.Set("X-Test-As", who)
	}
	if lang != "" {
		r.Header.Set("Accept-Language", lang)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// page GETs path and fails unless it answers 200.
func (e *pageEnv) page(path, who, lang string) string {
	e.t.Helper()
	w := e.do("GET", path, who, lang, nil)
	if w.Code != http.StatusOK {
		e.t.Fatalf("GET %s as %s (%s): %d\n%s", path, who, lang, w.Code, w.Body)
	}
	return w.Body.String()
}

// post sends a form as admin and fails unless it redirects to want with
// the flash message id flash.
func (e *pageEnv) post(path string, form url.Values, want, flash string) {
	e.t.Helper()
	w := e.do("POST", path, "admin", "", form)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
		e.t.Fatalf("POST %s: %d to %q, want 303 to %q\n%s", path, w.Code, w.Header().Get("Location"), want, w.Body)
	}
	if c := w.Header().Get("Set-Cookie"); !strings.Contains(c, "anzen_flash="+flash) {
		e.t.Errorf("POST %s: flash cookie %q, want %s", path, c, flash)
	}
}

func (e *pageEnv) create(name string, p keys.Purpose, a keys.Algorithm, rotation time.Duration) *keys.Key {
	e.t.Helper()
	k, err := e.svc.Create(context.Background(), keys.Actor{UserID: 1, Login: "admin"},
		keys.NewKey{Name: name, Purpose: p, Algorithm: a, Owner: "情報システム室", RotationPeriod: rotation})
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

// audited returns the targets of the audit records of action.
func (e *pageEnv) audited(action string) []string {
	e.t.Helper()
	entries, _, err := e.log.Search(context.Background(), audit.Filter{Action: action, AllFacilities: true})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		out = append(out, en.Target+" by "+en.ActorLogin)
	}
	return out
}

// untranslated matches a message id the catalog did not know, which it
// renders in brackets.
var untranslated = regexp.MustCompile(`\[[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+\]`)
