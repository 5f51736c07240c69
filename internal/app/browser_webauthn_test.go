package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/app/browsertest"
	"github.com/anzen-health/anzen/internal/audit"
)

// The WebAuthn tests use Chrome's virtual authenticator (the DevTools
// WebAuthn domain), so navigator.credentials in the page runs the real
// ceremonies against anzen on http://localhost, a secure context.

// lastLoginMethod returns the method of the newest login.success event of
// login.
func lastLoginMethod(t *testing.T, e *apptest.Env, login string) string {
	t.Helper()
	entries, _, err := e.App.Audit.Search(context.Background(),
		audit.Filter{Action: "login.success", ActorLogin: login, AllFacilities: true, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatalf("no login.success event for %s", login)
	}
	return entries[0].Detail["method"]
}

func TestBrowser_SecurityKeyAddedInSettingsSignsIn(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			u := e.CreateUser(t, "nurse04", true)
			b := browsertest.New(t, e.URL)
			key := b.AddVirtualAuthenticator()

			b.Open("/login")
			b.Wait("#login-form")
			signIn(b, u.Login, u.Password)
			b.Wait("#totp-form")
			b.Fill("#code", e.Code(t, u))
			b.Submit("#totp-submit")
			b.Wait("main h1")

			b.Open("/settings")
			b.Wait("#webauthn-add") // shown by webauthn.js
			b.Fill("#webauthn-name", "ナースステーション端末")
			b.Leave()
			b.Click("#webauthn-add-button")
			b.WaitOrError("#webauthn-keys", "#webauthn-error")
			if p := b.Path(); p != "/settings" {
				t.Errorf("after adding a key the page is %s, want /settings", p)
			}
			if n := b.Count("#webauthn-keys tbody tr"); n != 1 {
				t.Fatalf("settings list %d keys, want 1", n)
			}
			if got := b.Text("#webauthn-keys tbody tr td"); got != "ナースステーション端末" {
				t.Errorf("key name shown = %q", got)
			}
			if creds := b.Credentials(key); len(creds) != 1 {
				t.Fatalf("the authenticator holds %d credentials, want 1", len(creds))
			}

			signOut(b)
			signIn(b, u.Login, u.Password)
			b.Wait("#webauthn-login") // shown by webauthn.js beside the TOTP form
			b.Leave()
			b.Click("#webauthn-login-button")
			b.WaitOrError("main h1", "#webauthn-error")
			expectText(t, b, "main h1", msg(t, e, "ja", "dashboard.title"))
			if m := lastLoginMethod(t, e, u.Login); m != "webauthn" {
				t.Errorf("the last sign-in was recorded with method %q, want webauthn", m)
			}
			if creds := b.Credentials(key); len(creds) != 1 || creds[0].SignCount < 1 {
				t.Errorf("after the sign-in the authenticator holds %+v, want one credential used", creds)
			}
		})
	}
}

func TestBrowser_FirstLoginEnrolsAPasskeyInsteadOfTOTP(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			b := browsertest.New(t, e.URL)
			key := b.AddVirtualAuthenticator()

			b.Open("/login")
			b.Wait("#login-form")
			signIn(b, "admin", e.AdminPassword)
			b.Wait("#change-password-form")
			const good = "Hq8#mv-Trolley-29!"
			b.Fill("#current", e.AdminPassword)
			b.Fill("#password", good)
			b.Fill("#confirm", good)
			b.Submit("#change-password-submit")

			b.Wait("#webauthn-enrol")
			b.Fill("#webauthn-name", "管理者の端末")
			b.Click("#webauthn-enrol-button")
			// The recovery codes take the place of the page.
			b.Wait("#webauthn-codes")
			if n := b.Count("#webauthn-recovery-codes li"); n != 10 {
				t.Errorf("the passkey enrolment shows %d recovery codes, want 10", n)
			}
			b.Submit("#webauthn-continue")
			b.Wait("main h1")
			expectText(t, b, "main h1", msg(t, e, "ja", "dashboard.title"))
			if creds := b.Credentials(key); len(creds) != 1 || !strings.EqualFold(creds[0].RpID, "localhost") {
				t.Errorf("the authenticator holds %+v, want one credential for localhost", creds)
			}
			if m := lastLoginMethod(t, e, "admin"); m != "webauthn" {
				t.Errorf("the first sign-in was recorded with method %q, want webauthn", m)
			}
		})
	}
}
