package identity_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/identity"
)

func TestTokensAPI_BearerWorksUntilRevokedOrExpired(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			var made identity.CreateTokenResponse
			status, raw := a.api(t, a.AdminClient, "POST", "/api/v1/tokens", identity.CreateTokenRequest{
				Name: "ehr-shipper", Scopes: []string{"read"}, Facility: a.Facility, ExpiresInDays: 30}, &made)
			if status != http.StatusCreated || !strings.HasPrefix(made.Secret, identity.TokenPrefix) ||
				made.Token.ExpiresAt.IsZero() {
				t.Fatalf("create: %d %s", status, raw)
			}
			a.wantEvent(t, "token.create", fmt.Sprintf("token:%d:ehr-shipper", made.Token.ID), "chief")

			status, raw = a.bearer(t, made.Secret, "GET", "/api/v1/me")
			if status != http.StatusOK || !strings.Contains(raw, `"login":"token:ehr-shipper"`) {
				t.Fatalf("bearer /api/v1/me: %d %s", status, raw)
			}
			// The read scope lists users of the token's facility only.
			status, raw = a.bearer(t, made.Secret, "GET", "/api/v1/users")
			if status != http.StatusOK || strings.Contains(raw, `"facility":`+fmt.Sprint(a.East)+`,`) {
				t.Errorf("bearer /api/v1/users: %d %s", status, raw)
			}
			// Nor may a read token change anything.
			if status, _ := a.bearer(t, made.Secret, "POST", "/api/v1/users"); status != http.StatusForbidden {
				t.Errorf("read token creating a user: %d", status)
			}

			status, raw = a.api(t, a.AdminClient, "GET", "/api/v1/tokens", nil, nil)
			if status != http.StatusOK || !strings.Contains(raw, `"name":"ehr-shipper"`) ||
				strings.Contains(raw, made.Secret) || !strings.Contains(raw, `"last_used_at"`) {
				t.Errorf("list: %d %s", status, raw)
			}

			path := fmt.Sprintf("/api/v1/tokens/%d", made.Token.ID)
			if status, raw := a.api(t, a.AdminClient, "DELETE", path, nil, nil); status != http.StatusNoContent {
				t.Fatalf("revoke: %d %s", status, raw)
			}
			if status, _ := a.bearer(t, made.Secret, "GET", "/api/v1/me"); status != http.StatusUnauthorized {
				t.Errorf("revoked token: %d, want 401", status)
			}
			status, raw = a.api(t, a.AdminClient, "DELETE", path, nil, nil)
			if status != http.StatusConflict || decodeProblem(t, raw).Type != "urn:anzen:problem:token-revoked" {
				t.Errorf("second revoke: %d %s", status, raw)
			}
			if n := len(a.events(t, "token.revoke")); n != 1 {
				t.Errorf("%d revocations recorded, want 1", n)
			}
			a.wantEvent(t, "token.revoke", fmt.Sprintf("token:%d:ehr-shipper", made.Token.ID), "chief")
			if status, _ := a.api(t, a.AdminClient, "DELETE", "/api/v1/tokens/424242", nil, nil); status != http.StatusNotFound {
				t.Errorf("revoke of an unknown token: %d", status)
			}

			var short identity.CreateTokenResponse
			a.api(t, a.AdminClient, "POST", "/api/v1/tokens", identity.CreateTokenRequest{
				Name: "short", Scopes: []string{"read"}, Facility: 0, ExpiresInDays: 30}, &short)
			if status, _ := a.bearer(t, short.Secret, "GET", "/api/v1/me"); status != http.StatusOK {
				t.Fatalf("fresh token: %d", status)
			}
			a.Clock.Advance(30*24*time.Hour + time.Second)
			if status, _ := a.bearer(t, short.Secret, "GET", "/api/v1/me"); status != http.StatusUnauthorized {
				t.Errorf("expired token: %d, want 401", status)
			}
		})
	}
}

func TestTokensAPI_InvalidInputIs422AndMakesNoToken(t *testing.T) {
	tests := []struct {
		name  string
		req   identity.CreateTokenRequest
		field string
	}{
		{"bad name", identity.CreateTokenRequest{Name: "has space", Scopes: []string{"read"}}, "name"},
		{"long name", identity.CreateTokenRequest{Name: strings.Repeat("n", 65), Scopes: []string{"read"}}, "name"},
		{"no scope", identity.CreateTokenRequest{Name: "x"}, "scopes"},
		{"unknown scope", identity.CreateTokenRequest{Name: "x", Scopes: []string{"root"}}, "scopes"},
		{"negative expiry", identity.CreateTokenRequest{Name: "x", Scopes: []string{"read"}, ExpiresInDays: -1}, "expires_in_days"},
		{"expiry too far", identity.CreateTokenRequest{Name: "x", Scopes: []string{"read"}, ExpiresInDays: 5*365 + 1}, "expires_in_days"},
		{"unknown facility", identity.CreateTokenRequest{Name: "x", Scopes: []string{"read"}, Facility: 999}, "facility"},
	}
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					status, raw := a.api(t, a.AdminClient, "POST", "/api/v1/tokens", tt.req, nil)
					p := decodeProblem(t, raw)
					if status != http.StatusUnprocessableEntity || p.Type != "urn:anzen:problem:validation" ||
						!containsField(p, tt.field) {
						t.Errorf("%d %+v, want 422 on %s", status, p, tt.field)
					}
				})
			}
			if status, raw := a.api(t, a.AdminClient, "POST", "/api/v1/tokens",
				map[string]any{"name": "x", "scopes": []string{"read"}, "secret": "mine"}, nil); status != http.StatusBadRequest {
				t.Errorf("unknown field: %d %s", status, raw)
			}
			if n := len(a.events(t, "token.create")); n != 0 {
				t.Errorf("%d tokens made", n)
			}
		})
	}
}

func containsField(p problem, f string) bool {
	for _, e := range p.Errors {
		if e.Field == f {
			return true
		}
	}
	return false
}

var tokenSecret = regexp.MustCompile(`id="token-secret">([^<]+)<`)

func TestTokensPage_CreateShowsTheSecretOnceAndRevokes(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			status, body := a.form(t, a.AdminClient, "/tokens", url.Values{"name": {"bad name"}, "scope": {"read"},
				"facility": {"all"}, "expires": {"90"}})
			if status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="token-name-error"`) ||
				!strings.Contains(body, `value="bad name"`) {
				t.Fatalf("bad name: %d", status)
			}
			noRawIDs(t, body)
			status, body = a.form(t, a.AdminClient, "/tokens", url.Values{"name": {"scraper"}, "scope": {"metrics"},
				"facility": {"all"}, "expires": {"7"}})
			if status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="token-expires-error"`) {
				t.Errorf("an expiry not offered: %d", status)
			}
			status, body = a.form(t, a.AdminClient, "/tokens", url.Values{"name": {"scraper"}, "scope": {"metrics"},
				"facility": {"all"}, "expires": {"0"}})
			m := tokenSecret.FindStringSubmatch(body)
			if status != http.StatusCreated || m == nil {
				t.Fatalf("create: %d\n%s", status, body)
			}
			m[1] = html.UnescapeString(m[1])
			contains(t, body, "一度だけ", "無期限", "scraper")
			if s, _ := a.bearer(t, m[1], "GET", "/api/v1/me"); s != http.StatusOK {
				t.Errorf("the page's token does not work: %d", s)
			}
			_, body = a.get(t, a.AdminClient, "/tokens")
			if strings.Contains(body, m[1]) {
				t.Error("the list shows the secret again")
			}
			id := regexp.MustCompile(`action="/tokens/(\d+)/revoke"`).FindStringSubmatch(body)
			if id == nil {
				t.Fatalf("no revoke button:\n%s", body)
			}
			if status, _ := a.form(t, a.AdminClient, "/tokens/"+id[1]+"/revoke", url.Values{}); status != http.StatusSeeOther {
				t.Fatalf("revoke: %d", status)
			}
			if s, _ := a.bearer(t, m[1], "GET", "/api/v1/me"); s != http.StatusUnauthorized {
				t.Errorf("revoked token: %d", s)
			}
			_, body = a.get(t, a.AdminClient, "/tokens")
			contains(t, body, "失効済み")
			a.wantEvent(t, "token.revoke", "token:"+id[1]+":scraper", "chief")

			// The east administrator neither sees nor revokes it.
			_, body = a.get(t, a.EastClient, "/tokens")
			if strings.Contains(body, "scraper") {
				t.Error("a token for every facility shows to an administrator of one")
			}
			if status, _ := a.form(t, a.EastClient, "/tokens/"+id[1]+"/revoke", url.Values{}); status != http.StatusNotFound {
				t.Errorf("east revoking it: %d, want 404", status)
			}
		})
	}
}

func TestFacilities_AddListAndRefuse(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			status, body := a.form(t, a.AdminClient, "/facilities", url.Values{"code": {"west"}, "name_ja": {""},
				"name_en": {"West hospital"}})
			if status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="name_ja-error"`) ||
				!strings.Contains(body, `value="West hospital"`) {
				t.Fatalf("missing Japanese name: %d", status)
			}
			status, _ = a.form(t, a.AdminClient, "/facilities", url.Values{"code": {"west"}, "name_ja": {"西病院"},
				"name_en": {"West hospital"}})
			if status != http.StatusSeeOther {
				t.Fatalf("add: %d", status)
			}
			a.wantEvent(t, "facility.create", "facility:west", "chief")
			_, body = a.get(t, a.AdminClient, "/facilities")
			contains(t, body, "西病院", "east")
			noRawIDs(t, body)

			var list identity.FacilitiesResponse
			a.api(t, a.Login(t, a.CreateUser(t, "nurse5", true)), "GET", "/api/v1/facilities", nil, &list)
			if len(list.Facilities) != 3 {
				t.Errorf("facilities for staff: %+v", list)
			}
			for _, tt := range []struct {
				body   identity.CreateFacilityRequest
				status int
				kind   string
			}{
				{identity.CreateFacilityRequest{Code: "west", NameJA: "西", NameEN: "W"}, 409, "duplicate-facility"},
				{identity.CreateFacilityRequest{Code: strings.Repeat("c", 33), NameJA: "x", NameEN: "x"}, 422, "validation"},
				{identity.CreateFacilityRequest{Code: "n", NameJA: strings.Repeat("名", 201), NameEN: "x"}, 422, "validation"},
			} {
				status, raw := a.api(t, a.AdminClient, "POST", "/api/v1/facilities", tt.body, nil)
				if status != tt.status || decodeProblem(t, raw).Type != "urn:anzen:problem:"+tt.kind {
					t.Errorf("%+v: %d %s", tt.body, status, raw)
				}
			}
			var made identity.Facility
			if status, raw := a.api(t, a.AdminClient, "POST", "/api/v1/facilities",
				identity.CreateFacilityRequest{Code: "north", NameJA: "北病院", NameEN: "North hospital"}, &made); status != http.StatusCreated || made.ID == 0 {
				t.Errorf("API add: %d %s", status, raw)
			}
			if status, _ := a.form(t, a.EastClient, "/facilities", url.Values{"code": {"south"}, "name_ja": {"南"},
				"name_en": {"South"}}); status != http.StatusForbidden {
				t.Errorf("an administrator of one facility adding one: %d", status)
			}
		})
	}
}
