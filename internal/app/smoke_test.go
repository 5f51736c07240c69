package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
)

func TestSmoke_SignInWithTOTPAndReadMe(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			u := e.CreateUser(t, "nurse01", true)
			c := e.Login(t, u)
			resp := e.Do(t, c, "GET", "/api/v1/me", nil)
			body := apptest.ReadBody(t, resp)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"login":"nurse01"`) {
				t.Fatalf("GET /api/v1/me: %d %s", resp.StatusCode, body)
			}
		})
	}
}
