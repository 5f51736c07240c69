package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/app/browsertest"
	"github.com/anzen-health/anzen/internal/audit"
)

// These tests drive anzen's pages in a headless Chromium, as a person
// would, on both databases. Selectors are the ids of the identity templates.

// msg returns the text of message id in lang, as the pages show it.
func msg(t *testing.T, e *apptest.Env, lang, id string) string {
	t.Helper()
	s := e.Web.Catalog().T(lang, id, nil)
	if s == "" || s == "["+id+"]" {
		t.Fatalf("message %s has no %s text", id, lang)
	}
	return s
}

// codeFor moves the frozen clock to the next 30-second step and returns the
// TOTP code of secret for it: anzen accepts a code only once.
func codeFor(t *testing.T, e *apptest.Env, secret string) string {
	t.Helper()
	e.Clock.Advance(30 * time.Second)
	code, err := totp.GenerateCodeCustom(strings.ReplaceAll(secret, " ", ""), e.Clock.Now(),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatalf("TOTP code from the secret on the page: %v", err)
	}
	return code
}

// wrongCode returns a six-digit code that anzen cannot accept for secret
// now: it differs from the codes of the current step and of the steps on
// either side, which anzen allows for clock drift.
func wrongCode(t *testing.T, e *apptest.Env, secret string) string {
	t.Helper()
	valid := map[string]bool{}
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		c, err := totp.GenerateCodeCustom(secret, e.Clock.Now().Add(d),
			totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		valid[c] = true
	}
	for n := 0; ; n += 111111 {
		if c := fmt.Sprintf("%06d", n%1000000); !valid[c] {
			return c
		}
	}
}

// signIn fills the login form and sends it.
func signIn(b *browsertest.Browser, login, password string) {
	b.Fill("#login", login)
	b.Fill("#password", password)
	b.Submit("#login-submit")
}

// signOut uses the sign-out button of the page header.
func signOut(b *browsertest.Browser) {
	b.Submit(`.user-menu form[action="/logout"] button`)
	b.Wait("#login-form")
}

// expectText fails the test when the visible text of sel is not want.
func expectText(t *testing.T, b *browsertest.Browser, sel, want string) {
	t.Helper()
	if got := b.Text(sel); got != want {
		t.Errorf("%s on %s = %q, want %q", sel, b.Path(), got, want)
	}
}

// firstAdminLogin takes the bootstrap administrator through the first
// sign-in in lang (chosen on the login page when the browser did not get
// it already): the one-time password, a refused weak password, a new
// password, TOTP enrolment with a code computed from the secret on the page,
// the recovery codes, and the dashboard.
func firstAdminLogin(t *testing.T, e *apptest.Env, b *browsertest.Browser, lang string) {
	t.Helper()
	if st := b.Open("/"); st != 200 {
		t.Fatalf("GET / ended with status %d, want 200 (the login page)", st)
	}
	b.Wait("#login-form")
	if p := b.Path(); p != "/login" {
		t.Fatalf("a visitor without a session is on %s, want /login", p)
	}
	if b.Attr("html", "lang") != lang {
		b.Leave()
		b.Select("#lang-select", lang)
		b.Wait("#login-form")
	}
	signIn(b, "admin", e.AdminPassword)

	b.Wait("#change-password-form")
	expectText(t, b, "h1", msg(t, e, lang, "login.change_password.title"))
	b.Fill("#current", e.AdminPassword)
	b.Fill("#password", "abc1")
	b.Fill("#confirm", "abc1")
	b.Submit("#change-password-submit")
	b.Wait("#password-error")
	expectText(t, b, "#password-error", msg(t, e, lang, "password.rule.length"))

	const good = "Hq8#mv-Trolley-29!"
	b.Fill("#current", e.AdminPassword)
	b.Fill("#password", good)
	b.Fill("#confirm", good)
	b.Submit("#change-password-submit")

	b.Wait("#totp-enrol-form")
	secret := b.Text("#totp-secret")
	if secret == "" {
		t.Fatal("the enrolment page shows no TOTP secret")
	}
	b.Fill("#code", codeFor(t, e, secret))
	b.Submit("#totp-enrol-submit")

	b.Wait("#recovery-codes")
	if n := b.Count("#recovery-codes li"); n != 10 {
		t.Errorf("the enrolment shows %d recovery codes, want 10", n)
	}
	b.Submit("#continue")
	b.Wait("main h1")
	expectText(t, b, "main h1", msg(t, e, lang, "dashboard.title"))
}

func TestBrowser_FirstLoginOfAdminChangesPasswordAndEnrolsTOTP(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			if _, err := os.Stat(e.App.InitialPasswordFile()); err != nil {
				t.Fatalf("before the first login: %v", err)
			}
			b := browsertest.New(t, e.URL)
			firstAdminLogin(t, e, b, "ja")
			if p := b.Path(); p != "/" {
				t.Errorf("after enrolment the administrator is on %s, want /", p)
			}
			if _, err := os.Stat(e.App.InitialPasswordFile()); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("initial-admin.txt after the first login: %v, want it deleted", err)
			}
		})
	}
}

func TestBrowser_LoginWithTOTPRefusesWrongAndReusedCodes(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			u := e.CreateUser(t, "nurse01", true)
			b := browsertest.New(t, e.URL)
			b.Open("/login")
			b.Wait("#login-form")
			signIn(b, u.Login, u.Password)

			b.Wait("#totp-form")
			code := e.Code(t, u)
			b.Fill("#code", wrongCode(t, e, u.TOTPSecret))
			b.Submit("#totp-submit")
			b.Wait("#mfa-error")
			expectText(t, b, "#mfa-error", msg(t, e, "ja", "login.error.second_factor"))

			b.Fill("#code", code)
			b.Submit("#totp-submit")
			b.Wait("main h1")
			expectText(t, b, "main h1", msg(t, e, "ja", "dashboard.title"))

			// The same code, still within its 30 seconds, is refused the
			// second time.
			signOut(b)
			signIn(b, u.Login, u.Password)
			b.Wait("#totp-form")
			b.Fill("#code", code)
			b.Submit("#totp-submit")
			b.Wait("#mfa-error")
			expectText(t, b, "#mfa-error", msg(t, e, "ja", "login.error.second_factor"))
			if p := b.Path(); p == "/" {
				t.Fatal("a reused code reached the dashboard")
			}

			b.Fill("#code", e.Code(t, u))
			b.Submit("#totp-submit")
			b.Wait("main h1")
			expectText(t, b, "main h1", msg(t, e, "ja", "dashboard.title"))
		})
	}
}

func TestBrowser_LockoutAfterFiveWrongPasswords(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			if n := e.App.Cfg.LockoutFailures; n != 5 {
				t.Fatalf("lockout.max_failures = %d, want the default 5", n)
			}
			u := e.CreateUser(t, "nurse02", true)
			b := browsertest.New(t, e.URL)
			b.Open("/login")
			b.Wait("#login-form")
			for i := 1; i <= 5; i++ {
				signIn(b, u.Login, "Wrong-pass-"+string(rune('0'+i)))
				b.Wait("#login-error")
				if i < 5 {
					expectText(t, b, "#login-error", msg(t, e, "ja", "login.error.invalid"))
				}
			}
			signIn(b, u.Login, u.Password)
			b.Wait("#login-error")
			if got := b.Text("#login-error"); !strings.Contains(got, "ロック") {
				t.Errorf("the right password after 5 wrong ones shows %q, want the locked message", got)
			}
			if p := b.Path(); p != "/login" {
				t.Errorf("a locked account got to %s", p)
			}

			entries, _, err := e.App.Audit.Search(context.Background(),
				audit.Filter{Action: "login.locked", Target: "user:" + u.Login, AllFacilities: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Fatalf("login.locked events for %s: %d, want 1", u.Login, len(entries))
			}
			if entries[0].Outcome != "failure" {
				t.Errorf("login.locked outcome = %q, want failure", entries[0].Outcome)
			}
		})
	}
}

func TestBrowser_LanguageSwitchFollowsThePersonAcrossSignIn(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			u := e.CreateUser(t, "nurse03", true)
			b := browsertest.New(t, e.URL)
			b.Open("/login")
			b.Wait("#login-form")
			expectText(t, b, "h1", msg(t, e, "ja", "login.title"))

			// app.js submits the form when the choice changes.
			b.Leave()
			b.Select("#lang-select", "en")
			b.Wait("#login-form")
			expectText(t, b, "h1", "Sign in")
			if title := b.Title(); !strings.HasPrefix(title, "Sign in") {
				t.Errorf("title = %q, want it to start with Sign in", title)
			}

			signIn(b, u.Login, u.Password)
			b.Wait("#totp-form")
			expectText(t, b, "h1", msg(t, e, "en", "login.second_factor.title"))
			b.Fill("#code", e.Code(t, u))
			b.Submit("#totp-submit")
			b.Wait("main h1")
			expectText(t, b, "main h1", "Dashboard")

			b.Leave()
			b.Select("#lang-select", "ja")
			b.Wait("main h1")
			expectText(t, b, "main h1", "ダッシュボード")
			if got := storedLang(t, e, u.Login); got != "ja" {
				t.Errorf("stored language after choosing 日本語 = %q, want ja", got)
			}

			// Without the button's script: the plain form works too.
			b.Fill("#lang-select", "en")
			b.Submit("#lang-submit")
			b.Wait("main h1")
			expectText(t, b, "main h1", "Dashboard")
			if got := storedLang(t, e, u.Login); got != "en" {
				t.Errorf("stored language after choosing English = %q, want en", got)
			}

			// A browser that knows nothing of the person shows Japanese
			// until the sign-in, then the person's own choice.
			signOut(b)
			b.ClearCookies()
			b.Open("/login")
			b.Wait("#login-form")
			expectText(t, b, "h1", msg(t, e, "ja", "login.title"))
			signIn(b, u.Login, u.Password)
			b.Wait("#totp-form")
			b.Fill("#code", e.Code(t, u))
			b.Submit("#totp-submit")
			b.Wait("main h1")
			expectText(t, b, "main h1", "Dashboard")
		})
	}
}

func storedLang(t *testing.T, e *apptest.Env, login string) string {
	t.Helper()
	u, err := e.App.Identity.UserByLogin(context.Background(), login)
	if err != nil {
		t.Fatal(err)
	}
	return u.Lang
}
