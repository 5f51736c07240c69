package keys_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// The pages inside a whole anzen: real sign-in, the shell's navigation and
// dashboard, the key service as internal/app wires it (local root).

func TestPagesInApp_AdministratorManagesKeysAuditorOnlyReads(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			admin := e.CreateUser(t, "keyadmin", true, authz.Grant{Role: authz.Admin, Facility: authz.AllFacilities})
			auditor := e.CreateUser(t, "inspector", true, authz.Grant{Role: authz.Auditor, Facility: authz.AllFacilities})
			ac := e.Login(t, admin)

			page := func(c *http.Client, path string) string {
				t.Helper()
				resp := e.Do(t, c, "GET", path, nil)
				body := apptest.ReadBody(t, resp)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, body)
				}
				if m := untranslated.FindAllString(body, -1); m != nil {
					t.Errorf("GET %s shows untranslated ids %v", path, m)
				}
				return body
			}
			post := func(c *http.Client, path string, form url.Values, want string) {
				t.Helper()
				resp := e.Do(t, c, "POST", path, form.Encode())
				body := apptest.ReadBody(t, resp)
				if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
					t.Fatalf("POST %s: %d to %q, want 303 to %s\n%s", path, resp.StatusCode,
						resp.Header.Get("Location"), want, body)
				}
			}

			list := page(ac, "/keys")
			if !strings.Contains(list, `href="/keys" aria-current="page">鍵管理</a>`) || !strings.Contains(list, `id="key-form"`) {
				t.Error("the keys page lacks its navigation entry or the create form")
			}
			resp := e.Do(t, ac, "POST", "/keys", url.Values{"name": {"Bad"}, "purpose": {"storage"},
				"rotation_days": {"30"}}.Encode())
			if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity ||
				!strings.Contains(body, `id="key-name-error"`) {
				t.Errorf("a bad name: %d", resp.StatusCode)
			}
			post(ac, "/keys", url.Values{"name": {"referral-letters"}, "purpose": {"signing"}, "algorithm": {"ecdsa-p256"},
				"owner": {"地域連携室"}, "rotation_days": {"365"}}, "/keys/referral-letters")
			detail := page(ac, "/keys/referral-letters")
			if !strings.Contains(detail, "鍵を作成しました。") || !strings.Contains(detail, "ECDSA P-256") {
				t.Error("the new key's page does not show the flash message and the key")
			}
			if !strings.Contains(detail, `id="hsm-warning"`) || !strings.Contains(detail, "<svg") {
				t.Error("the signing key's page lacks the HSM warning or the usage chart")
			}
			post(ac, "/keys/referral-letters/rotate", url.Values{}, "/keys/referral-letters")
			if detail := page(ac, "/keys/referral-letters"); !strings.Contains(detail, `id="version-2"`) {
				t.Error("no version 2 after rotating through the form")
			}
			list = page(ac, "/keys")
			if !strings.Contains(list, `href="/keys/referral-letters"`) || !strings.Contains(list, `id="hsm-warning"`) {
				t.Error("the list does not warn about the signing key outside an HSM")
			}
			if dash := page(ac, "/"); !strings.Contains(dash, `id="card-keys"`) {
				t.Error("no keys card on the dashboard")
			}
			entries, _, err := e.App.Audit.Search(context.Background(), audit.Filter{Action: "key.", AllFacilities: true,
				ActorLogin: "keyadmin"})
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, en := range entries {
				actions = append(actions, en.Action)
			}
			if got := strings.Join(actions, " "); got != "key.rotate key.create" {
				t.Errorf("audit records of the administrator: %q", got)
			}

			uc := e.Login(t, auditor)
			for _, path := range []string{"/keys", "/keys/referral-letters"} {
				body := page(uc, path)
				for _, form := range []string{`id="key-form"`, `id="rotate-form"`, `id="grants-form"`} {
					if strings.Contains(body, form) {
						t.Errorf("%s shows the auditor %s", path, form)
					}
				}
			}
			for _, path := range []string{"/keys", "/keys/referral-letters/rotate", "/keys/referral-letters/grants"} {
				resp := e.Do(t, uc, "POST", path, url.Values{"name": {"x"}}.Encode())
				apptest.ReadBody(t, resp)
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("POST %s as auditor: %d, want 403", path, resp.StatusCode)
				}
			}
		})
	}
}
