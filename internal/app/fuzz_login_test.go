package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// FuzzLoginRequestDecoding feeds arbitrary bodies and content types to
// POST /api/v1/session of a whole anzen, through its handler. Whatever arrives, the answer is
// never a server error and never a panic: a problem+json of an anzen type,
// or a signed-in user with the session cookie.
//
//	go test ./internal/app -run '^$' -fuzz FuzzLoginRequestDecoding -fuzztime 60s
func FuzzLoginRequestDecoding(f *testing.F) {
	// Every input goes to anzen on SQLite and, when there is one (always in
	// CI), on PostgreSQL, which refuses some strings SQLite takes.
	dialects := []string{"sqlite"}
	if os.Getenv("ANZEN_TEST_POSTGRES") != "" || dbtest.Strict() {
		dialects = append(dialects, "postgres")
	}
	var handlers []http.Handler
	var u *apptest.User
	for _, d := range dialects {
		e := apptest.New(f, d)
		u = e.CreateUser(f, "fuzz-nurse", true)
		handlers = append(handlers, e.Server.Config.Handler)
	}
	seeds := []string{
		`{"login":"` + u.Login + `","password":"` + u.Password + `","otp":"123456"}`,
		`{"login":"` + u.Login + `","password":"` + u.Password + `"}`,
		`{"login":"admin","password":"wrong"}`,
		`{"login":"nobody","password":"x","otp":""}`,
		`{}`, ``, `null`, `[]`, `"x"`, `0`, `{"login":5}`, `{"login":null,"password":null}`,
		`{"login":"x","password":"y","extra":1}`,
		`{"login":"x"}{"login":"y"}`, `{"login":"x"}}`, `{"login":"x",`,
		"{\"login\":\"\xff\",\"password\":\"y\"}",
		`{"login":"bad\u0000nul","password":"y"}`,
		`{"login":"` + sqlMeta + `","password":"` + sqlMeta + `"}`,
		`{"login":"` + strings.Repeat("x", 300) + `","password":"` + strings.Repeat("y", 300) + `"}`,
		`{"login":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
		`{"login":1e400}`, `{"otp":123456}`, `{"login":"\ud800","password":"\udfff"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte(seeds[0]), "")
	f.Add([]byte(seeds[0]), "text/plain")
	f.Add([]byte("login=x&password=y"), "application/x-www-form-urlencoded")
	f.Add([]byte(seeds[0]), "application/json; charset=utf-8")
	f.Add([]byte(seeds[0]), "application/json; charset")

	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		for i, h := range handlers {
			checkLoginAnswer(t, dialects[i], h, body, contentType)
		}
	})
}

// checkLoginAnswer posts body to h, anzen on dialect, and checks the
// answer.
func checkLoginAnswer(t *testing.T, dialect string, h http.Handler, body []byte, contentType string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/session", bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s: body %q (%q): %d %s", dialect, body, contentType, rec.Code, rec.Body)
	}
	if rec.Code == http.StatusOK {
		var me identity.MeResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &me); err != nil || me.Login == "" {
			t.Fatalf("%s: body %q: 200 without a user: %s", dialect, body, rec.Body)
		}
		if !strings.Contains(rec.Header().Get("Set-Cookie"), identity.SessionCookie+"=") {
			t.Fatalf("%s: body %q: 200 without the session cookie", dialect, body)
		}
		return
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s: body %q (%q): %d with Content-Type %q", dialect, body, contentType, rec.Code, ct)
	}
	var p web.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code ||
		!strings.HasPrefix(p.Type, web.ProblemTypePrefix) {
		t.Fatalf("%s: body %q (%q): %d with a malformed problem %s", dialect, body, contentType, rec.Code, rec.Body)
	}
}
