package identity_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

func validCreate(a *adminEnv, login string) map[string]any {
	return map[string]any{"login": login, "name": "佐藤 健", "name_kana": "サトウ ケン", "department": "薬剤部",
		"profession": "pharmacist", "facility": a.Facility,
		"grants":      []authz.Grant{{Role: authz.Staff, Facility: a.Facility}},
		"valid_until": "2027-04-01T00:00:00+09:00"}
}

func TestUsersAPI_CreateReturnsTheInitialPasswordOnce(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			var created identity.CreateUserResponse
			status, raw := a.api(t, a.AdminClient, "POST", "/api/v1/users", validCreate(a, "sato"), &created)
			if status != http.StatusCreated || created.InitialPassword == "" || created.User.ID == 0 ||
				created.User.Login != "sato" || created.User.SecondFactor || !created.User.MustChangePassword {
				t.Fatalf("create: %d %s", status, raw)
			}
			status, raw = a.api(t, a.AdminClient, "GET", fmt.Sprintf("/api/v1/users/%d", created.User.ID), nil, nil)
			if status != http.StatusOK || strings.Contains(raw, created.InitialPassword) ||
				!strings.Contains(raw, `"password_resets":[]`) || !strings.Contains(raw, `"factors":{`) {
				t.Errorf("detail: %d %s", status, raw)
			}
			if strings.Contains(raw, "hash") {
				t.Errorf("the detail shows a hash: %s", raw)
			}
			status, raw = a.api(t, a.Client(), "POST", "/api/v1/session",
				map[string]string{"login": "sato", "password": created.InitialPassword}, nil)
			if status != http.StatusForbidden || decodeProblem(t, raw).Type != "urn:anzen:problem:password-change-required" {
				t.Errorf("sign-in with the initial password: %d %s", status, raw)
			}
			a.wantEvent(t, "user.create", "user:sato", "chief")
		})
	}
}

func TestUsersAPI_InvalidInputIs422AndChangesNothing(t *testing.T) {
	tests := []struct {
		name   string
		change func(m map[string]any)
		status int
		kind   string
		field  string
	}{
		{"login too short", func(m map[string]any) { m["login"] = "a" }, 422, "validation", "login"},
		{"login too long", func(m map[string]any) { m["login"] = strings.Repeat("a", 65) }, 422, "validation", "login"},
		{"login with SQL", func(m map[string]any) { m["login"] = "x'; DROP TABLE identity_users; --" }, 422, "validation", "login"},
		{"name missing", func(m map[string]any) { delete(m, "name") }, 422, "validation", "name"},
		{"name too long", func(m map[string]any) { m["name"] = strings.Repeat("名", 101) }, 422, "validation", "name"},
		{"kana far too long", func(m map[string]any) { m["name_kana"] = strings.Repeat("カ", 100000) }, 422, "validation", "name_kana"},
		{"department too long", func(m map[string]any) { m["department"] = strings.Repeat("部", 101) }, 422, "validation", "department"},
		{"unknown profession", func(m map[string]any) { m["profession"] = "surgeon" }, 422, "validation", "profession"},
		{"no grants", func(m map[string]any) { m["grants"] = []authz.Grant{} }, 422, "validation", "grants"},
		{"unknown role", func(m map[string]any) { m["grants"] = []authz.Grant{{Role: "root", Facility: 1}} }, 422, "validation", "grants"},
		{"too many grants", func(m map[string]any) {
			var gs []authz.Grant
			for i := range 21 {
				gs = append(gs, authz.Grant{Role: authz.Roles[i%len(authz.Roles)], Facility: int64(i)})
			}
			m["grants"] = gs
		}, 422, "validation", "grants"},
		{"unknown facility", func(m map[string]any) { m["facility"] = 999 }, 422, "validation", "facility"},
		{"bad time", func(m map[string]any) { m["valid_from"] = "yesterday" }, 422, "validation", "valid_from"},
		{"end before start", func(m map[string]any) { m["valid_from"] = "2028-01-01T00:00:00Z" }, 422, "validation", "valid_until"},
		{"unknown field", func(m map[string]any) { m["password"] = "chosen" }, 400, "unknown-field", ""},
		{"wrong type", func(m map[string]any) { m["facility"] = "main" }, 400, "invalid-field-type", ""},
		{"duplicate login", func(m map[string]any) { m["login"] = "chief" }, 409, "duplicate-login", ""},
	}
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			before := a.countUsers(t)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					m := validCreate(a, "tanaka")
					tt.change(m)
					status, raw := a.api(t, a.AdminClient, "POST", "/api/v1/users", m, nil)
					p := decodeProblem(t, raw)
					if status != tt.status || p.Type != "urn:anzen:problem:"+tt.kind {
						t.Fatalf("%d %s, want %d %s", status, p.Type, tt.status, tt.kind)
					}
					if tt.field != "" {
						if !slices.Contains(p.fields(), tt.field) {
							t.Errorf("errors %+v lack %s", p.Errors, tt.field)
						}
						for _, e := range p.Errors {
							if e.Message == "" || strings.HasPrefix(e.Message, "[") || strings.Contains(e.Message, "validation.") {
								t.Errorf("untranslated message %+v", e)
							}
						}
					}
					if n := a.countUsers(t); n != before {
						t.Errorf("%d users, want %d", n, before)
					}
				})
			}
			// Messages follow the caller's language.
			m := validCreate(a, "a")
			resp := a.doLang(t, a.AdminClient, "POST", "/api/v1/users", m, "en")
			p := decodeProblem(t, apptest.ReadBody(t, resp))
			if len(p.Errors) != 1 || !strings.HasPrefix(p.Errors[0].Message, "A login ID has") {
				t.Errorf("English errors: %+v", p.Errors)
			}
		})
	}
}

func TestUsersAPI_PatchListAndActions(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := newAdminEnv(t, d)
			ctx := context.Background()
			u := a.CreateUser(t, "tech1", true)
			path := fmt.Sprintf("/api/v1/users/%d", u.ID)

			var detail identity.UserDetail
			status, raw := a.api(t, a.AdminClient, "PATCH", path, map[string]any{"department": "放射線部",
				"profession": "radiological_technologist",
				"grants":     []authz.Grant{{Role: authz.Staff, Facility: a.Facility}, {Role: authz.CSIRT, Facility: a.East}}},
				&detail)
			if status != http.StatusOK || detail.Department != "放射線部" || detail.Name != u.Name ||
				len(detail.Grants) != 2 || !detail.Factors.TOTP {
				t.Fatalf("patch: %d %s", status, raw)
			}
			a.wantEvent(t, "role.change", "user:tech1", "chief")
			for _, bad := range []map[string]any{
				{"status": "fired"}, {"name": strings.Repeat("x", 101)}, {"valid_until": "2027-13-01T00:00:00Z"},
				{"grants": []authz.Grant{}},
			} {
				if status, raw := a.api(t, a.AdminClient, "PATCH", path, bad, nil); status != http.StatusUnprocessableEntity {
					t.Errorf("patch %v: %d %s", bad, status, raw)
				}
			}
			if status, raw := a.api(t, a.AdminClient, "PATCH", fmt.Sprintf("/api/v1/users/%d", a.Admin.ID),
				map[string]any{"status": "retired"}, nil); status != http.StatusUnprocessableEntity ||
				!slices.Contains(decodeProblem(t, raw).fields(), "status") {
				t.Errorf("retiring oneself: %d %s", status, raw)
			}
			got, _ := a.App.Identity.UserByID(ctx, u.ID)
			if got.Department != "放射線部" || got.Status != identity.Active {
				t.Errorf("a refused patch changed the user: %+v", got)
			}

			var list identity.UsersResponse
			a.api(t, a.AdminClient, "GET", "/api/v1/users?role=csirt", nil, &list)
			if list.Total != 1 || list.Users[0].Login != "tech1" || !list.Users[0].SecondFactor {
				t.Errorf("role filter: %+v", list)
			}
			a.api(t, a.AdminClient, "GET", "/api/v1/users?limit=1&offset=1", nil, &list)
			if len(list.Users) != 1 || list.Total < 3 || list.Limit != 1 || list.Offset != 1 {
				t.Errorf("paging: %+v", list)
			}
			for _, q := range []string{"limit=0", "limit=501", "limit=x", "offset=-1", "status=x", "profession=x",
				"role=root", "locked=2", "q=" + strings.Repeat("x", 101), "q=a%00b", "q=%ff%fe"} {
				status, raw := a.api(t, a.AdminClient, "GET", "/api/v1/users?"+q, nil, nil)
				if p := decodeProblem(t, raw); status != http.StatusBadRequest ||
					p.Type != "urn:anzen:problem:invalid-parameter" || len(p.Errors) != 1 {
					t.Errorf("?%s: %d %s", q, status, raw)
				}
			}
			if status, raw := a.api(t, a.AdminClient, "GET", "/api/v1/users?q=%27%20OR%201%3D1%20--", nil, &list); status != http.StatusOK ||
				list.Total != 0 {
				t.Errorf("SQL in the search text: %d %s", status, raw)
			}

			// Reset the password: the ledger records the method and the
			// person must change the password.
			for _, bad := range []map[string]any{{"verified_by": "guess"}, {"verified_by": "other", "note": ""},
				{"verified_by": "in_person_known", "note": strings.Repeat("n", 501)}} {
				status, raw := a.api(t, a.AdminClient, "POST", path+"/reset-password", bad, nil)
				if status != http.StatusUnprocessableEntity {
					t.Errorf("reset %v: %d %s", bad, status, raw)
				}
			}
			if status, raw := a.api(t, a.AdminClient, "POST", path+"/reset-password",
				map[string]any{"verified_by": "guess"}, nil); !slices.Contains(decodeProblem(t, raw).fields(), "verified_by") {
				t.Errorf("reset with an unknown method: %d %s", status, raw)
			}
			var reset identity.ResetPasswordResponse
			status, raw = a.api(t, a.AdminClient, "POST", path+"/reset-password",
				map[string]any{"verified_by": "in_person_id_card", "note": "職員証を確認"}, &reset)
			if status != http.StatusOK || reset.Password == "" {
				t.Fatalf("reset: %d %s", status, raw)
			}
			rs, _ := a.App.Identity.PasswordResets(ctx, u.ID)
			if len(rs) != 1 || rs[0].Method != "in_person_id_card" || rs[0].Note != "職員証を確認" {
				t.Errorf("ledger %+v", rs)
			}
			nu, err := a.App.Identity.CheckPassword(ctx, "tech1", reset.Password, "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			if step, _ := a.App.Identity.NextStep(ctx, nu); step != identity.StepChangePassword {
				t.Errorf("next step after reset: %s", step)
			}
			a.wantEvent(t, "password.reset", "user:tech1", "chief")

			// Reset the second factors.
			if status, raw := a.api(t, a.AdminClient, "POST", path+"/reset-second-factors",
				map[string]any{"force": true}, nil); status != http.StatusBadRequest {
				t.Errorf("reset factors with an unknown field: %d %s", status, raw)
			}
			if status, raw := a.api(t, a.AdminClient, "POST", path+"/reset-second-factors", nil, nil); status != http.StatusNoContent {
				t.Fatalf("reset factors: %d %s", status, raw)
			}
			if f, _ := a.App.Identity.FactorsOf(ctx, u.ID); f.TOTP {
				t.Error("TOTP survived the reset")
			}
			a.wantEvent(t, "mfa.reset", "user:tech1", "chief")

			// Unlock.
			for range 5 {
				_, _ = a.App.Identity.CheckPassword(ctx, "tech1", "wrong-password", "127.0.0.1")
			}
			if status, raw := a.api(t, a.AdminClient, "POST", path+"/unlock", nil, nil); status != http.StatusNoContent {
				t.Fatalf("unlock: %d %s", status, raw)
			}
			got, _ = a.App.Identity.UserByID(ctx, u.ID)
			if got.Locked(a.Clock.Now()) || got.FailedCount != 0 {
				t.Errorf("still locked: %+v", got)
			}
			a.wantEvent(t, "user.unlock", "user:tech1", "chief")
		})
	}
}

// doLang sends a JSON request asking for lang.
func (a *adminEnv) doLang(t *testing.T, c *http.Client, method, path string, body any, lang string) *http.Response {
	t.Helper()
	// The user's own language wins over Accept-Language; chief has none,
	// so the header decides.
	req := requestJSON(t, a.URL+path, method, body)
	req.Header.Set("Accept-Language", lang)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
