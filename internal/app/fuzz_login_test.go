package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// FuzzLoginRequestDecoding feeds arbitrary bodies and content types to
// POST /api/v1/session of a whole anzen. Whatever arrives, the answer is
// never a server error and never a panic: a problem+json of an anzen type,
// or a signed-in user with the session cookie.
//
//	go test ./internal/app -run '^$' -fuzz FuzzLoginRequestDecoding -fuzztime 60s
func FuzzLoginRequestDecoding(f *testing.F) {
	e := apptest.New(f, "sqlite")
	u := e.CreateUser(f, "fuzz-nurse", true)
	h := e.Server.Config.Handler
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
		req := httptest.NewRequest(http.MethodPost, "/api/v1/session", bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q (%q): %d %s", body, contentType, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusOK {
			var me identity.MeResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &me); err != nil || me.Login == "" {
				t.Fatalf("body %q: 200 without a user: %s", body, rec.Body)
			}
			if !strings.Contains(rec.Header().Get("Set-Cookie"), identity.SessionCookie+"=") {
				t.Fatalf("body %q: 200 without the session cookie", body)
			}
			return
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("body %q (%q): %d with Content-Type %q", body, contentType, rec.Code, ct)
		}
		var p web.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code ||
			!strings.HasPrefix(p.Type, web.ProblemTypePrefix) {
			t.Fatalf("body %q (%q): %d with a malformed problem %s", body, contentType, rec.Code, rec.Body)
		}
	})
}
