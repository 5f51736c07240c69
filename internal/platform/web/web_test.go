package web_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// Test permissions; the registry is process-wide, so their names are unique
// to this file.
var (
	permRead = authz.Define(authz.Spec{Name: "webtest.read", Kind: authz.Read,
		Roles: []authz.Role{authz.Admin, authz.Staff, authz.Auditor}, Scopes: []string{"webtest:read"}})
	permWrite = authz.Define(authz.Spec{Name: "webtest.write", Kind: authz.Write,
		Roles: []authz.Role{authz.Admin}})
)

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// testServer builds a server with the web catalogs; opt's Catalog and Log
// are filled in when empty.
func testServer(t *testing.T, opt web.Options) (*web.Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if opt.Catalog == nil {
		c := i18n.New()
		if err := c.Add(web.Locales()); err != nil {
			t.Fatal(err)
		}
		opt.Catalog = c
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opt.PendingPath == "" {
		opt.PendingPath = "/login/continue"
	}
	return web.NewServer(opt), logs
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// problemOf decodes a problem+json response, failing when it is not one.
func problemOf(t *testing.T, w *httptest.ResponseRecorder) web.Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (status %d, body %q)", ct, w.Code, w.Body.String())
	}
	var p web.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body %q: %v", w.Body.String(), err)
	}
	if p.Status != w.Code {
		t.Errorf("problem status %d, response status %d", p.Status, w.Code)
	}
	if p.Title == "" || p.Detail == "" {
		t.Errorf("problem without title or detail: %+v", p)
	}
	return p
}

func wantProblem(t *testing.T, w *httptest.ResponseRecorder, status int, kind string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d (body %q)", w.Code, status, w.Body.String())
	}
	if p := problemOf(t, w); p.Type != web.ProblemTypePrefix+kind {
		t.Errorf("problem type %q, want %q", p.Type, web.ProblemTypePrefix+kind)
	}
}

func TestSecurityHeaders_OnEveryResponse(t *testing.T) {
	for _, tls := range []bool{false, true} {
		srv, _ := testServer(t, web.Options{TLS: tls, MaxBodyBytes: 1024})
		srv.Handle("GET", "/api/ok", web.Public, func(w http.ResponseWriter, r *http.Request) {
			web.JSON(w, http.StatusOK, map[string]string{"ok": "yes"})
		})
		srv.Handle("POST", "/api/ok", web.Public, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		})
		srv.Handle("GET", "/api/panic", web.Public, func(w http.ResponseWriter, r *http.Request) { panic("test panic") })
		srv.Handle("GET", "/api/secret", web.SignedIn, func(w http.ResponseWriter, r *http.Request) {})
		srv.Handle("GET", "/secret", web.SignedIn, func(w http.ResponseWriter, r *http.Request) {})
		h := srv.Handler()

		crossSite := httptest.NewRequest("POST", "/api/ok", nil)
		crossSite.Header.Set("Sec-Fetch-Site", "cross-site")
		requests := map[string]*http.Request{
			"api 200":                httptest.NewRequest("GET", "/api/ok", nil),
			"api 404":                httptest.NewRequest("GET", "/api/nothing/here", nil),
			"page 404":               httptest.NewRequest("GET", "/nothing", nil),
			"static asset":           httptest.NewRequest("GET", "/static/app/app.css", nil),
			"panic 500":              httptest.NewRequest("GET", "/api/panic", nil),
			"api 401":                httptest.NewRequest("GET", "/api/secret", nil),
			"page redirect to login": httptest.NewRequest("GET", "/secret", nil),
			"cross-site 403":         crossSite,
			"body too large 413":     httptest.NewRequest("POST", "/api/ok", strings.NewReader(strings.Repeat("x", 2048))),
		}
		for name, r := range requests {
			t.Run(name+map[bool]string{false: " http", true: " https"}[tls], func(t *testing.T) {
				w := serve(h, r)
				hd := w.Header()
				csp := hd.Get("Content-Security-Policy")
				for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'",
					"frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
					if !strings.Contains(csp, want) {
						t.Errorf("CSP %q lacks %s", csp, want)
					}
				}
				for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "*"} {
					if strings.Contains(csp, bad) {
						t.Errorf("CSP %q allows %s", csp, bad)
					}
				}
				checks := map[string]string{
					"X-Content-Type-Options": "nosniff",
					"X-Frame-Options":        "DENY",
					"Referrer-Policy":        "same-origin",
				}
				for k, v := range checks {
					if got := hd.Get(k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
				hsts := hd.Get("Strict-Transport-Security")
				if tls && !strings.HasPrefix(hsts, "max-age=63072000") {
					t.Errorf("HSTS over TLS = %q, want max-age of two years", hsts)
				}
				if !tls && hsts != "" {
					t.Errorf("HSTS without TLS = %q, want none", hsts)
				}
				if !strings.HasPrefix(r.URL.Path, "/static/") && hd.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control = %q, want no-store", hd.Get("Cache-Control"))
				}
			})
		}
	}
}

func TestPages_HaveNoInlineScriptOrStyle(t *testing.T) {
	srv, _ := testServer(t, web.Options{})
	h := srv.Handler()
	for _, lang := range []string{"ja", "en"} {
		r := httptest.NewRequest("GET", "/no-such-page", nil)
		r.Header.Set("Accept-Language", lang)
		w := serve(h, r)
		body := w.Body.String()
		if w.Code != http.StatusNotFound || !strings.Contains(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("%s: status %d, type %q", lang, w.Code, w.Header().Get("Content-Type"))
		}
		if !strings.Contains(body, `<html lang="`+lang+`">`) {
			t.Errorf("%s: page not in the request's language", lang)
		}
		// The CSP forbids inline code, so the pages must not rely on it.
		for _, bad := range []string{"<style", " style=", " onclick=", " onchange=", " onsubmit=", "javascript:"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: page contains %q, which the CSP blocks", lang, bad)
			}
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, "<script type") {
			t.Errorf("%s: page has an inline script", lang)
		}
		if strings.Contains(body, "[error.") || strings.Contains(body, "[nav.") {
			t.Errorf("%s: page shows an untranslated message id:\n%s", lang, body)
		}
	}
}

func TestCrossOrigin_UnsafeRequestsFromOtherSitesAreRefused(t *testing.T) {
	srv, _ := testServer(t, web.Options{})
	called := 0
	handler := func(w http.ResponseWriter, r *http.Request) { called++; w.WriteHeader(http.StatusNoContent) }
	srv.Handle("POST", "/api/things", web.Public, handler)
	srv.Handle("GET", "/api/things", web.Public, handler)
	srv.Handle("POST", "/things", web.Public, handler)
	h := srv.Handler()

	tests := []struct {
		name       string
		method     string
		path       string
		headers    map[string]string
		wantStatus int
		wantKind   string // problem type for API refusals
	}{
		{"cross-site POST to the API", "POST", "/api/things", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "cross-origin"},
		{"same-site POST to the API", "POST", "/api/things", map[string]string{"Sec-Fetch-Site": "same-site"}, 403, "cross-origin"},
		{"cross-site POST to a page", "POST", "/things", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, ""},
		{"foreign Origin without Sec-Fetch-Site", "POST", "/api/things", map[string]string{"Origin": "https://evil.example"}, 403, "cross-origin"},
		{"same-origin POST", "POST", "/api/things", map[string]string{"Sec-Fetch-Site": "same-origin"}, 204, ""},
		{"non-browser client without those headers", "POST", "/api/things", nil, 204, ""},
		{"cross-site GET is safe", "GET", "/api/things", map[string]string{"Sec-Fetch-Site": "cross-site"}, 204, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := called
			r := httptest.NewRequest(tt.method, "http://anzen.example"+tt.path, nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			w := serve(h, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tt.wantStatus)
			}
			if tt.wantKind != "" {
				wantProblem(t, w, tt.wantStatus, tt.wantKind)
			}
			if refused := tt.wantStatus == 403; refused && called != before {
				t.Error("the handler ran for a refused request")
			}
		})
	}
}

type item struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func TestDecodeJSON_EachFaultHasItsOwnProblemType(t *testing.T) {
	srv, _ := testServer(t, web.Options{MaxBodyBytes: 1024})
	var got item
	srv.Handle("POST", "/api/items", web.Public, func(w http.ResponseWriter, r *http.Request) {
		got = item{}
		if err := web.DecodeJSON(r, &got); err != nil {
			srv.DecodeProblem(w, r, err)
			return
		}
		web.JSON(w, http.StatusCreated, got)
	})
	h := srv.Handler()

	tests := []struct {
		name        string
		contentType string
		body        string
		chunked     bool // no Content-Length, so only the reader sees the limit
		wantStatus  int
		wantKind    string
	}{
		{"valid object", "application/json", `{"name":"ward 3","count":2}`, false, 201, ""},
		{"valid with charset", "application/json; charset=utf-8", `{"name":"x"}`, false, 201, ""},
		{"no content type", "", `{"name":"x"}`, false, 201, ""},
		{"trailing white space", "application/json", "{\"name\":\"x\"}\n\t ", false, 201, ""},
		{"unknown field", "application/json", `{"name":"x","colour":"red"}`, false, 400, "unknown-field"},
		{"wrong type", "application/json", `{"name":"x","count":"two"}`, false, 400, "invalid-field-type"},
		{"array instead of object", "application/json", `[1,2]`, false, 400, "invalid-field-type"},
		{"invalid UTF-8", "application/json", "{\"name\":\"\xff\xfe\"}", false, 400, "invalid-utf8"},
		{"trailing object", "application/json", `{"name":"x"}{"name":"y"}`, false, 400, "invalid-json"},
		{"trailing garbage", "application/json", `{"name":"x"} nonsense`, false, 400, "invalid-json"},
		{"trailing close brace", "application/json", `{"name":"x"}}`, false, 400, "invalid-json"},
		{"trailing close bracket", "application/json", `{"name":"x"}]`, false, 400, "invalid-json"},
		{"not JSON", "application/json", `name=x`, false, 400, "invalid-json"},
		{"empty body", "application/json", ``, false, 400, "invalid-json"},
		{"truncated", "application/json", `{"name":`, false, 400, "invalid-json"},
		{"form content type", "application/x-www-form-urlencoded", `{"name":"x"}`, false, 415, "unsupported-media-type"},
		{"text content type", "text/plain", `{"name":"x"}`, false, 415, "unsupported-media-type"},
		{"lookalike content type", "application/jsonp", `{"name":"x"}`, false, 415, "unsupported-media-type"},
		{"malformed content type", "application/json; ===", `{"name":"x"}`, false, 415, "unsupported-media-type"},
		{"body over the limit with length", "application/json", `{"name":"` + strings.Repeat("x", 2000) + `"}`, false, 413, "body-too-large"},
		{"body over the limit chunked", "application/json", `{"name":"` + strings.Repeat("x", 2000) + `"}`, true, 413, "body-too-large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/items", strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			if tt.chunked {
				r.ContentLength = -1
			}
			w := serve(h, r)
			if tt.wantKind == "" {
				if w.Code != tt.wantStatus {
					t.Fatalf("status %d, want %d (body %q)", w.Code, tt.wantStatus, w.Body.String())
				}
				return
			}
			wantProblem(t, w, tt.wantStatus, tt.wantKind)
		})
	}
}

func TestDecodeJSON_ErrorIsADecodeError(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"nope":1}`))
	var v item
	err := web.DecodeJSON(r, &v)
	var de *web.DecodeError
	if !errors.As(err, &de) || de.Kind != "unknown-field" || de.Status != http.StatusBadRequest || de.MsgID == "" {
		t.Fatalf("err = %#v, want a DecodeError of kind unknown-field", err)
	}
	if de.Unwrap() == nil || !strings.Contains(de.Error(), "unknown-field") {
		t.Errorf("DecodeError %q does not carry its cause", de.Error())
	}
}

func TestBodyLimit_OversizedRequestGets413ProblemBeforeTheHandler(t *testing.T) {
	srv, _ := testServer(t, web.Options{MaxBodyBytes: 1024})
	called := false
	srv.Handle("POST", "/api/upload", web.Public, func(w http.ResponseWriter, r *http.Request) { called = true })
	srv.Handle("POST", "/upload", web.Public, func(w http.ResponseWriter, r *http.Request) { called = true })
	h := srv.Handler()

	r := httptest.NewRequest("POST", "/api/upload", bytes.NewReader(make([]byte, 1025)))
	r.Header.Set("Accept-Language", "en")
	w := serve(h, r)
	wantProblem(t, w, http.StatusRequestEntityTooLarge, "body-too-large")
	if p := problemOf(t, w); p.Detail != "The data sent is too large." {
		t.Errorf("detail %q is not the English message", p.Detail)
	}

	w = serve(h, httptest.NewRequest("POST", "/upload", bytes.NewReader(make([]byte, 1025))))
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("page upload over the limit: status %d, type %q", w.Code, w.Header().Get("Content-Type"))
	}
	if called {
		t.Error("the handler ran for an oversized body")
	}

	w = serve(h, httptest.NewRequest("POST", "/api/upload", bytes.NewReader(make([]byte, 1024))))
	if w.Code != http.StatusOK || !called {
		t.Errorf("body at the limit: status %d, handler ran %v", w.Code, called)
	}
}

func TestClientAddr_TrustsForwardedForOnlyFromTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		proxies []string
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies configured: peer", nil, "10.0.0.1:5000", []string{"198.51.100.7"}, "10.0.0.1"},
		{"spoofed header from an untrusted peer is ignored", []string{"10.0.0.0/8"}, "203.0.113.5:5000", []string{"1.2.3.4"}, "203.0.113.5"},
		{"trusted proxy: the client it names", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"client-supplied hops before the proxy's are ignored", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"1.2.3.4, 198.51.100.7"}, "198.51.100.7"},
		{"trusted hops are skipped", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"198.51.100.7, 10.0.0.2"}, "198.51.100.7"},
		{"several header lines", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"1.2.3.4", "198.51.100.7, 10.0.0.2"}, "198.51.100.7"},
		{"single trusted address, not a range", []string{"10.0.0.1/32"}, "10.0.0.1:5000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"malformed header: the proxy", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"not-an-ip"}, "10.0.0.1"},
		{"header with a port: the proxy", []string{"10.0.0.0/8"}, "10.0.0.1:5000", []string{"198.51.100.7:1234"}, "10.0.0.1"},
		{"no header from a trusted proxy: the proxy", []string{"10.0.0.0/8"}, "10.0.0.1:5000", nil, "10.0.0.1"},
		{"IPv6 proxy", []string{"fd00::/8"}, "[fd00::1]:443", []string{"2001:db8::7"}, "2001:db8::7"},
		{"IPv4-mapped peer matches an IPv4 range", []string{"10.0.0.0/8"}, "[::ffff:10.0.0.1]:5000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"IPv6 peer, no proxies", nil, "[2001:db8::1]:443", nil, "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prefixes []netip.Prefix
			for _, p := range tt.proxies {
				prefixes = append(prefixes, netip.MustParsePrefix(p))
			}
			srv, logs := testServer(t, web.Options{TrustedProxies: prefixes})
			var got string
			srv.Handle("GET", "/api/whoami", web.Public, func(w http.ResponseWriter, r *http.Request) { got = web.ClientAddr(r) })
			r := httptest.NewRequest("GET", "/api/whoami", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			serve(srv.Handler(), r)
			if got != tt.want {
				t.Errorf("ClientAddr = %q, want %q", got, tt.want)
			}
			// anzen's own request log names the same client.
			if !strings.Contains(logs.String(), "client="+tt.want) {
				t.Errorf("request log does not name client %s:\n%s", tt.want, logs.String())
			}
		})
	}
}

func TestClientAddr_WithoutMiddlewareIsThePeer(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.9:4444"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	if got := web.ClientAddr(r); got != "192.0.2.9" {
		t.Errorf("ClientAddr = %q, want the peer", got)
	}
	r.RemoteAddr = "@unix"
	if got := web.ClientAddr(r); got != "@unix" {
		t.Errorf("ClientAddr without a port = %q", got)
	}
}

func TestSafeNext_RefusesOtherSites(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/dashboard", "/dashboard"},
		{"/audit/events?facility=3&q=a%20b", "/audit/events?facility=3&q=a%20b"},
		{"/", "/"},
		{"", "/"},
		{"//evil.example", "/"},
		{"//evil.example/path", "/"},
		{"https://evil.example", "/"},
		{"http:evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/x\r\nSet-Cookie: a=b", "/"},
		{"/x\x00", "/"},
		{"javascript:alert(1)", "/"},
		{"relative/path", "/"},
		{" /leading-space", "/"},
	}
	for _, tt := range tests {
		if got := web.SafeNext(tt.in); got != tt.want {
			t.Errorf("SafeNext(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNotFound_APIGetsProblemPagesGetHTML(t *testing.T) {
	srv, _ := testServer(t, web.Options{})
	h := srv.Handler()
	for _, path := range []string{"/api/", "/api/nothing", "/api/v1/deep/nothing"} {
		for _, method := range []string{"GET", "DELETE"} {
			w := serve(h, httptest.NewRequest(method, path, nil))
			wantProblem(t, w, http.StatusNotFound, "not-found")
		}
	}
	r := httptest.NewRequest("GET", "/api/nothing", nil)
	r.Header.Set("Accept-Language", "ja")
	if p := problemOf(t, serve(h, r)); p.Detail != "お探しのページは見つかりませんでした。" {
		t.Errorf("Japanese detail = %q", p.Detail)
	}
	w := serve(h, httptest.NewRequest("GET", "/nothing", nil))
	if w.Code != http.StatusNotFound || !strings.Contains(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("page 404: status %d, type %q", w.Code, w.Header().Get("Content-Type"))
	}
}

func TestPanic_IsA500ProblemAndLogged(t *testing.T) {
	srv, logs := testServer(t, web.Options{})
	srv.Handle("GET", "/api/boom", web.Public, func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	w := serve(srv.Handler(), httptest.NewRequest("GET", "/api/boom", nil))
	wantProblem(t, w, http.StatusInternalServerError, "internal")
	if !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged:\n%s", logs.String())
	}
}

// fakeAuth answers with the session named by the X-Test-Session header.
type fakeAuth map[string]session

type session struct {
	p     *authz.Principal
	stage web.Stage
	err   error
}

func (f fakeAuth) Authenticate(w http.ResponseWriter, r *http.Request) (*authz.Principal, web.Stage, error) {
	s, ok := f[r.Header.Get("X-Test-Session")]
	if !ok {
		return nil, web.StageNone, nil
	}
	return s.p, s.stage, s.err
}

func user(role authz.Role) *authz.Principal {
	return &authz.Principal{UserID: 7, Login: "u", Name: "U", Grants: []authz.Grant{{Role: role, Facility: 1}}}
}

func TestGuard_AccessLevels(t *testing.T) {
	srv, _ := testServer(t, web.Options{})
	srv.SetAuthenticator(fakeAuth{
		"pending": {user(authz.Staff), web.StagePending, nil},
		"staff":   {user(authz.Staff), web.StageFull, nil},
		"vendor":  {user(authz.Vendor), web.StageFull, nil},
		"admin":   {user(authz.Admin), web.StageFull, nil},
		"token":   {&authz.Principal{UserID: 7, TokenID: 3, Scopes: []string{"webtest:read"}}, web.StageFull, nil},
		"broken":  {nil, web.StageNone, errors.New("session store down")},
	})
	var seen *authz.Principal
	ok := func(w http.ResponseWriter, r *http.Request) {
		seen = web.PrincipalOf(r)
		w.WriteHeader(http.StatusOK)
	}
	srv.Handle("GET", "/api/public", web.Public, ok)
	srv.Handle("GET", "/public", web.Public, ok)
	srv.Handle("GET", "/api/pending", web.Pending, ok)
	srv.Handle("GET", "/api/me", web.SignedIn, ok)
	srv.Handle("GET", "/api/read", web.Perm(permRead), ok)
	srv.Handle("POST", "/api/write", web.Perm(permWrite), ok)
	srv.Handle("GET", "/me", web.SignedIn, ok)
	srv.Handle("GET", "/read", web.Perm(permRead), ok)
	srv.Handle("POST", "/write", web.Perm(permWrite), ok)
	h := srv.Handler()

	const (
		pass       = 200
		redirect   = 303
		unauth     = 401
		forbidden  = 403
		serverFail = 500
	)
	tests := []struct {
		method, path, session string
		wantStatus            int
		wantKind              string // problem type, for API refusals
		wantLocation          string // for page redirects
		wantPrincipal         bool   // the handler sees a principal
	}{
		// Public: anyone; a public page sees the principal of a full
		// session, a public API route never looks it up.
		{"GET", "/api/public", "", pass, "", "", false},
		{"GET", "/api/public", "pending", pass, "", "", false},
		{"GET", "/api/public", "staff", pass, "", "", false},
		{"GET", "/api/public", "broken", pass, "", "", false},
		{"GET", "/public", "", pass, "", "", false},
		{"GET", "/public", "pending", pass, "", "", false},
		{"GET", "/public", "staff", pass, "", "", true},
		{"GET", "/public", "broken", pass, "", "", false},
		// Pending: part-way and full sessions.
		{"GET", "/api/pending", "", unauth, "unauthenticated", "", false},
		{"GET", "/api/pending", "pending", pass, "", "", true},
		{"GET", "/api/pending", "staff", pass, "", "", true},
		{"GET", "/api/pending", "broken", serverFail, "internal", "", false},
		// SignedIn: full sessions only.
		{"GET", "/api/me", "", unauth, "unauthenticated", "", false},
		{"GET", "/api/me", "pending", unauth, "login-incomplete", "", false},
		{"GET", "/api/me", "vendor", pass, "", "", true},
		{"GET", "/me", "", redirect, "", "/login?next=%2Fme", false},
		{"GET", "/me", "pending", redirect, "", "/login/continue", false},
		{"GET", "/me", "staff", pass, "", "", true},
		// Perm: full sessions holding the permission.
		{"GET", "/api/read", "", unauth, "unauthenticated", "", false},
		{"GET", "/api/read", "pending", unauth, "login-incomplete", "", false},
		{"GET", "/api/read", "vendor", forbidden, "forbidden", "", false},
		{"GET", "/api/read", "staff", pass, "", "", true},
		{"GET", "/api/read", "token", pass, "", "", true},
		{"POST", "/api/write", "staff", forbidden, "forbidden", "", false},
		{"POST", "/api/write", "token", forbidden, "forbidden", "", false},
		{"POST", "/api/write", "admin", pass, "", "", true},
		{"GET", "/read", "", redirect, "", "/login?next=%2Fread", false},
		{"GET", "/read", "vendor", forbidden, "", "", false},
		{"GET", "/read", "admin", pass, "", "", true},
		// An API token may call the API, never a page, even with the permission.
		{"GET", "/read", "token", forbidden, "", "", false},
		{"GET", "/me", "token", forbidden, "", "", false},
		{"POST", "/write", "", redirect, "", "/login", false},
		{"POST", "/write", "staff", forbidden, "", "", false},
	}
	for _, tt := range tests {
		name := tt.method + " " + tt.path + " as " + tt.session
		if tt.session == "" {
			name = tt.method + " " + tt.path + " anonymous"
		}
		t.Run(name, func(t *testing.T) {
			seen = nil
			r := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.session != "" {
				r.Header.Set("X-Test-Session", tt.session)
			}
			w := serve(h, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", w.Code, tt.wantStatus, w.Body.String())
			}
			if tt.wantKind != "" {
				wantProblem(t, w, tt.wantStatus, tt.wantKind)
			}
			if tt.wantLocation != "" {
				if loc := w.Header().Get("Location"); loc != tt.wantLocation {
					t.Errorf("Location = %q, want %q", loc, tt.wantLocation)
				}
			}
			if (seen != nil) != tt.wantPrincipal {
				t.Errorf("handler saw principal %v, want one: %v", seen, tt.wantPrincipal)
			}
		})
	}
}

func TestGuard_NoAuthenticatorRefusesAllButPublic(t *testing.T) {
	srv, _ := testServer(t, web.Options{})
	srv.Handle("GET", "/api/public", web.Public, func(w http.ResponseWriter, r *http.Request) {})
	srv.Handle("GET", "/api/me", web.SignedIn, func(w http.ResponseWriter, r *http.Request) {})
	h := srv.Handler()
	if w := serve(h, httptest.NewRequest("GET", "/api/public", nil)); w.Code != http.StatusOK {
		t.Errorf("public: %d", w.Code)
	}
	wantProblem(t, serve(h, httptest.NewRequest("GET", "/api/me", nil)), http.StatusUnauthorized, "unauthenticated")
}

func TestRoutes_ListedWithTheirAccess(t *testing.T) {
	srv, _ := testServer(t, web.Options{})
	nop := func(w http.ResponseWriter, r *http.Request) {}
	srv.Handle("POST", "/api/b", web.Perm(permWrite), nop)
	srv.Handle("GET", "/api/b", web.Perm(permRead), nop)
	srv.Handle("GET", "/api/a", web.Pending, nop)
	var got []string
	for _, rt := range srv.Routes() {
		if strings.HasPrefix(rt.Pattern, "/api/") {
			got = append(got, rt.Method+" "+rt.Pattern+" "+rt.Access.String())
			if !rt.API() {
				t.Errorf("%s is not an API route", rt.Pattern)
			}
		}
	}
	want := []string{"GET /api/a pending", "GET /api/b webtest.read", "POST /api/b webtest.write"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Routes() = %v, want %v", got, want)
	}

	if msg := panicMessage(func() { srv.Handle("GET", "/api/a", web.Public, nop) }); !strings.Contains(msg, "twice") {
		t.Errorf("registering a route twice: panic %q", msg)
	}
	if msg := panicMessage(func() { web.Perm("webtest.undeclared") }); !strings.Contains(msg, "undeclared") {
		t.Errorf("Perm of an undeclared permission: panic %q", msg)
	}
}

func panicMessage(f func()) (msg string) {
	defer func() {
		if p := recover(); p != nil {
			msg = strings.TrimSpace(strings.ReplaceAll(strings.ToLower(toString(p)), "\n", " "))
		}
	}()
	f()
	return ""
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if e, ok := v.(error); ok {
		return e.Error()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestRateLimiter_AllowsNThenRefuses(t *testing.T) {
	tests := []struct {
		name    string
		perMin  int
		attempt int
	}{
		{"one per minute", 1, 3},
		{"five per minute", 5, 8},
		{"thirty per minute", 30, 35},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := web.NewRateLimiter(tt.perMin)
			allowed := 0
			for i := 0; i < tt.attempt; i++ {
				if l.Allow("192.0.2.1") {
					allowed++
				}
			}
			if allowed != tt.perMin {
				t.Errorf("allowed %d of %d, want %d", allowed, tt.attempt, tt.perMin)
			}
			if !l.Allow("192.0.2.2") {
				t.Error("another key was refused: keys must not share a budget")
			}
		})
	}
}

func TestRateLimiter_ConcurrentCallersShareOneBudget(t *testing.T) {
	l := web.NewRateLimiter(10)
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				if l.Allow("k") {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed != 10 {
		t.Errorf("allowed %d of 40 concurrent attempts, want 10", allowed)
	}
}

func TestJSON_WritesBodyAndType(t *testing.T) {
	w := httptest.NewRecorder()
	web.JSON(w, http.StatusAccepted, map[string]string{"html": "<script>"})
	if w.Code != http.StatusAccepted || w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("status %d, type %q", w.Code, w.Header().Get("Content-Type"))
	}
	body, _ := io.ReadAll(w.Body)
	if bytes.Contains(body, []byte("<script>")) {
		t.Errorf("HTML not escaped in JSON: %s", body)
	}
}

// TestHandleAPI_AProgramsRouteOutsideAPIActsLikeTheAPI covers routes such
// as Prometheus's /metrics: tokens pass, refusals are problem+json, and the
// route is listed as an API route.
func TestHandleAPI_AProgramsRouteOutsideAPIActsLikeTheAPI(t *testing.T) {
	srv, _ := testServer(t, web.Options{})
	srv.SetAuthenticator(fakeAuth{
		"token": {&authz.Principal{UserID: 7, TokenID: 3, Scopes: []string{"webtest:read"}}, web.StageFull, nil},
		"staff": {user(authz.Staff), web.StageFull, nil},
	})
	ok := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }
	srv.HandleAPI("GET", "/scrape", web.Perm(permRead), ok)
	srv.Handle("GET", "/page", web.Perm(permRead), ok)
	h := srv.Handler()
	get := func(path, session string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if session != "" {
			r.Header.Set("X-Test-Session", session)
		}
		return serve(h, r)
	}
	if w := get("/scrape", "token"); w.Code != http.StatusOK {
		t.Errorf("token on a HandleAPI route: %d", w.Code)
	}
	if w := get("/page", "token"); w.Code != http.StatusForbidden {
		t.Errorf("token on a page: %d", w.Code)
	}
	wantProblem(t, get("/scrape", ""), http.StatusUnauthorized, "unauthenticated")
	for _, rt := range srv.Routes() {
		if want := rt.Pattern == "/scrape"; rt.API() != want {
			t.Errorf("%s API() = %v", rt.Pattern, rt.API())
		}
	}
}
