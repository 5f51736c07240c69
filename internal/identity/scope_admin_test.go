package identity_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

func TestFacilityScope_AdminOfOneFacilitySeesAndChangesOnlyItsUsers(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			main := a.createUser(t, "mainnurse", a.Facility, authz.Grant{Role: authz.Staff, Facility: a.Facility})
			east := a.createUser(t, "eastnurse", a.East, authz.Grant{Role: authz.Staff, Facility: a.East})

			_, body := a.get(t, a.EastClient, "/users")
			if !strings.Contains(body, ">eastnurse<") || strings.Contains(body, ">mainnurse<") {
				t.Errorf("the east administrator's list is not limited to east:\n%s", body)
			}
			var list identity.UsersResponse
			a.api(t, a.EastClient, "GET", "/api/v1/users", nil, &list)
			for _, u := range list.Users {
				if u.Facility != a.East {
					t.Errorf("API list shows %s of facility %d", u.Login, u.Facility)
				}
			}
			if list.Total != 1 {
				t.Errorf("API total %d, want 1", list.Total)
			}
			_, body = a.get(t, a.AdminClient, "/users")
			contains(t, body, ">eastnurse<", ">mainnurse<")

			// A user of another facility does not exist for the caller.
			other := fmt.Sprintf("/users/%d", main.ID)
			otherAPI := fmt.Sprintf("/api/v1/users/%d", main.ID)
			for _, tt := range []struct{ method, path string }{
				{"GET", other}, {"GET", other + "/edit"}, {"POST", other + "/edit"}, {"POST", other + "/unlock"},
				{"POST", other + "/reset-password"}, {"POST", other + "/reset-factors"}, {"POST", other + "/status"},
				{"GET", otherAPI}, {"PATCH", otherAPI}, {"POST", otherAPI + "/unlock"},
				{"POST", otherAPI + "/reset-password"}, {"POST", otherAPI + "/reset-second-factors"},
				{"GET", "/users/999999"}, {"GET", "/api/v1/users/999999"}, {"GET", "/users/abc"},
			} {
				var body any
				switch {
				case strings.HasPrefix(tt.path, "/api/") && tt.method == "PATCH":
					body = map[string]string{"name": "乗っ取り"}
				case strings.HasPrefix(tt.path, "/api/") && strings.HasSuffix(tt.path, "reset-password"):
					body = map[string]string{"verified_by": "in_person_known"}
				case tt.method == "POST" && !strings.HasPrefix(tt.path, "/api/"):
					body = "method=in_person_known&confirm=yes&status=retired&name=x&profession=nurse"
				}
				resp := a.Do(t, a.EastClient, tt.method, tt.path, body)
				raw := apptest.ReadBody(t, resp)
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s %s: %d, want 404\n%s", tt.method, tt.path, resp.StatusCode, raw)
				}
			}
			got, _ := a.App.Identity.UserByID(context.Background(), main.ID)
			if got.Name != main.Name || got.Status != identity.Active || len(a.events(t, "password.reset")) != 0 {
				t.Error("a refused action changed the user")
			}

			// The same actions on an east user work.
			if status, _ := a.form(t, a.EastClient, fmt.Sprintf("/users/%d/unlock", east.ID), url.Values{}); status != http.StatusSeeOther {
				t.Errorf("unlock of an east user: %d", status)
			}
			a.wantEvent(t, "user.unlock", "user:eastnurse", "eastadm")
		})
	}
}

func TestFacilityScope_NoEscalationBeyondTheCallersFacilities(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			ctx := context.Background()
			east := a.createUser(t, "eastclerk", a.East, authz.Grant{Role: authz.Staff, Facility: a.East})
			// Home in east, but with a role in the main facility, or everywhere.
			wide := a.createUser(t, "roamer", a.East, authz.Grant{Role: authz.Staff, Facility: a.East},
				authz.Grant{Role: authz.CSIRT, Facility: a.Facility})
			global := a.createUser(t, "bigboss", a.East, authz.Grant{Role: authz.Admin, Facility: authz.AllFacilities})

			create := func(home int64, grants ...authz.Grant) identity.CreateUserRequest {
				return identity.CreateUserRequest{Login: "newbie", Name: "新人", Profession: "nurse",
					Facility: home, Grants: grants}
			}
			tests := []struct {
				name   string
				method string
				path   string
				body   any
				status int
				field  string
			}{
				{"grant in every facility", "POST", "/api/v1/users",
					create(a.East, authz.Grant{Role: authz.Admin, Facility: authz.AllFacilities}), 422, "grants"},
				{"grant in another facility", "POST", "/api/v1/users",
					create(a.East, authz.Grant{Role: authz.Staff, Facility: a.Facility}), 422, "grants"},
				{"home in another facility", "POST", "/api/v1/users",
					create(a.Facility, authz.Grant{Role: authz.Staff, Facility: a.East}), 422, "facility"},
				{"page: grant in every facility", "POST", "/users", url.Values{"login": {"newbie"}, "name": {"新人"},
					"profession": {"nurse"}, "facility": {fmt.Sprint(a.East)}, "grant_role_0": {"admin"},
					"grant_facility_0": {"all"}}.Encode(), 422, ""},
				{"add a role in another facility", "PATCH", fmt.Sprintf("/api/v1/users/%d", east.ID),
					map[string]any{"grants": []authz.Grant{{Role: authz.Staff, Facility: a.East},
						{Role: authz.Admin, Facility: a.Facility}}}, 422, "grants"},
				{"move home to another facility", "PATCH", fmt.Sprintf("/api/v1/users/%d", east.ID),
					map[string]any{"facility": a.Facility}, 422, "facility"},
				{"page: role in another facility", "POST", fmt.Sprintf("/users/%d/edit", east.ID), url.Values{
					"name": {"x"}, "profession": {"nurse"}, "facility": {fmt.Sprint(a.East)}, "grant_role_0": {"admin"},
					"grant_facility_0": {fmt.Sprint(a.Facility)}}.Encode(), 422, ""},
				{"reset a user who acts in another facility", "POST", fmt.Sprintf("/api/v1/users/%d/reset-password", wide.ID),
					map[string]string{"verified_by": "in_person_known"}, 403, ""},
				{"reset an administrator of every facility", "POST", fmt.Sprintf("/api/v1/users/%d/reset-password", global.ID),
					map[string]string{"verified_by": "in_person_known"}, 403, ""},
				{"reset factors of an administrator of every facility", "POST",
					fmt.Sprintf("/api/v1/users/%d/reset-second-factors", global.ID), nil, 403, ""},
				{"page: retire an administrator of every facility", "POST", fmt.Sprintf("/users/%d/status", global.ID),
					"status=retired", 403, ""},
				{"edit a user who acts in another facility", "PATCH", fmt.Sprintf("/api/v1/users/%d", wide.ID),
					map[string]any{"grants": []authz.Grant{{Role: authz.Staff, Facility: a.East}}}, 403, ""},
				{"token for every facility", "POST", "/api/v1/tokens", identity.CreateTokenRequest{Name: "wide",
					Scopes: []string{"read"}, Facility: authz.AllFacilities, ExpiresInDays: 30}, 422, "facility"},
				{"token for another facility", "POST", "/api/v1/tokens", identity.CreateTokenRequest{Name: "other",
					Scopes: []string{"read"}, Facility: a.Facility, ExpiresInDays: 30}, 422, "facility"},
				{"add a facility", "POST", "/api/v1/facilities", identity.CreateFacilityRequest{Code: "west",
					NameJA: "西病院", NameEN: "West hospital"}, 403, ""},
			}
			users, tokens := a.countUsers(t), len(a.events(t, "token.create"))
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					resp := a.Do(t, a.EastClient, tt.method, tt.path, tt.body)
					raw := apptest.ReadBody(t, resp)
					if resp.StatusCode != tt.status {
						t.Fatalf("%d, want %d\n%s", resp.StatusCode, tt.status, raw)
					}
					if tt.field != "" {
						p := decodeProblem(t, raw)
						if p.Type != "urn:anzen:problem:validation" || !slices.Contains(p.fields(), tt.field) {
							t.Errorf("problem %+v, want a validation error of %s", p, tt.field)
						}
					}
					if tt.status == 403 && strings.HasPrefix(tt.path, "/api/") && tt.path != "/api/v1/facilities" &&
						decodeProblem(t, raw).Type != "urn:anzen:problem:out-of-scope" {
						t.Errorf("403 of type %s, want out-of-scope", decodeProblem(t, raw).Type)
					}
				})
			}
			if n := a.countUsers(t); n != users {
				t.Errorf("%d users, want %d", n, users)
			}
			if n := len(a.events(t, "token.create")); n != tokens {
				t.Errorf("%d tokens made, want %d", n, tokens)
			}
			for _, u := range []*identity.User{east, wide, global} {
				got, _ := a.App.Identity.UserByID(ctx, u.ID)
				if got.Facility != u.Facility || len(got.Grants) != len(u.Grants) || got.Status != identity.Active {
					t.Errorf("%s changed: %+v", u.Login, got)
				}
			}
			if len(a.events(t, "password.reset")) != 0 || len(a.events(t, "mfa.reset")) != 0 {
				t.Error("a refused reset was recorded")
			}
			// The user page of such a user offers no action.
			_, body := a.get(t, a.EastClient, fmt.Sprintf("/users/%d", global.ID))
			if strings.Contains(body, `id="reset-password-form"`) || !strings.Contains(body, "管理する施設の範囲外") {
				t.Error("the page of an out-of-scope user offers actions or no explanation")
			}

			// Within the scope the same requests succeed, and an
			// administrator of every facility may grant everywhere.
			var created identity.CreateUserResponse
			if status, raw := a.api(t, a.EastClient, "POST", "/api/v1/users",
				create(a.East, authz.Grant{Role: authz.Admin, Facility: a.East}), &created); status != http.StatusCreated {
				t.Fatalf("create in east: %d %s", status, raw)
			}
			a.wantEvent(t, "user.create", "user:newbie", "eastadm")
			body2 := create(a.East, authz.Grant{Role: authz.Admin, Facility: authz.AllFacilities})
			body2.Login = "newboss"
			if status, raw := a.api(t, a.AdminClient, "POST", "/api/v1/users", body2, nil); status != http.StatusCreated {
				t.Fatalf("create with a role everywhere by an administrator of every facility: %d %s", status, raw)
			}
			if status, raw := a.api(t, a.EastClient, "POST", "/api/v1/tokens", identity.CreateTokenRequest{Name: "east-read",
				Scopes: []string{"read"}, Facility: a.East, ExpiresInDays: 30}, nil); status != http.StatusCreated {
				t.Fatalf("token for east: %d %s", status, raw)
			}
		})
	}
}

func TestFacilityScope_ReadersSeeButCannotChange(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			u := a.createUser(t, "someone", a.Facility, authz.Grant{Role: authz.Staff, Facility: a.Facility})
			auditor := a.CreateUser(t, "inspector", true, authz.Grant{Role: authz.Auditor, Facility: authz.AllFacilities})
			staff := a.CreateUser(t, "plain", true)
			ac, sc := a.Login(t, auditor), a.Login(t, staff)
			if status, body := a.get(t, ac, fmt.Sprintf("/users/%d", u.ID)); status != http.StatusOK ||
				strings.Contains(body, `id="reset-password-form"`) || strings.Contains(body, `id="user-edit"`) {
				t.Errorf("auditor's view of a user: %d, or it offers actions", status)
			}
			for _, tt := range []struct {
				c      *http.Client
				method string
				path   string
				body   any
			}{
				{ac, "POST", fmt.Sprintf("/users/%d/unlock", u.ID), ""},
				{ac, "POST", "/api/v1/users", identity.CreateUserRequest{Login: "x1"}},
				{ac, "POST", "/api/v1/tokens", identity.CreateTokenRequest{Name: "x"}},
				{sc, "GET", "/users", nil},
				{sc, "GET", "/api/v1/users", nil},
				{sc, "GET", "/tokens", nil},
				{sc, "GET", "/facilities", nil},
			} {
				resp := a.Do(t, tt.c, tt.method, tt.path, tt.body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s %s: %d, want 403", tt.method, tt.path, resp.StatusCode)
				}
			}
			// Navigation shows only what the person may open.
			_, body := a.get(t, sc, "/settings")
			if strings.Contains(body, `href="/users"`) || strings.Contains(body, `href="/tokens"`) {
				t.Error("staff see administrators' navigation entries")
			}
			_, body = a.get(t, a.AdminClient, "/settings")
			contains(t, body, `href="/users"`, `href="/tokens"`, `href="/facilities"`)
		})
	}
}
