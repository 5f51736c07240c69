package keys_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/app/browsertest"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// browserSignIn signs u in through the sign-in pages (password, then TOTP).
func browserSignIn(t *testing.T, e *apptest.Env, b *browsertest.Browser, u *apptest.User) {
	t.Helper()
	b.Open("/login")
	b.Wait("#login-form")
	b.Fill("#login", u.Login)
	b.Fill("#password", u.Password)
	b.Submit("#login-submit")
	b.Wait("#totp-form")
	b.Fill("#code", e.Code(t, u))
	b.Submit("#totp-submit")
	b.Wait("main h1")
}

// fitsWidth fails the test when the page at path is wider than a window
// of width pixels (a table may scroll inside its box, the page may not).
func fitsWidth(t *testing.T, b *browsertest.Browser, path string, width int64) {
	t.Helper()
	ctx, cancel := b.Context()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
		t.Fatal(err)
	}
	b.Open(path)
	b.Wait("main h1")
	ctx, cancel = b.Context()
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if got > width {
		t.Errorf("%s is %d pixels wide in a window of %d", path, got, width)
	}
}

// TestBrowser_KeysPagesCreateAKeyAndShowItsChart goes through the pages in
// Chromium: a create form refused with its message beside the field, then
// accepted; the new signing key's page with the HSM warning and the usage
// chart (an SVG the Content-Security-Policy lets through); a grant set
// through the checkboxes; and both pages on a tablet's 1024 pixels.
func TestBrowser_KeysPagesCreateAKeyAndShowItsChart(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			u := e.CreateUser(t, "keyadmin", true, authz.Grant{Role: authz.Admin, Facility: authz.AllFacilities})
			b := browsertest.New(t, e.URL)
			browserSignIn(t, e, b, u)

			b.Open("/keys")
			b.Wait("#key-form")
			b.Fill("#key-name", "discharge-signing")
			b.Select("#key-purpose", "signing")
			b.Select("#key-algorithm", "aes256-gcm")
			b.Fill("#key-rotation", "0")
			b.Submit("#key-submit")
			b.Wait("#key-algorithm-error")
			if got := b.Attr("#key-algorithm", "aria-invalid"); got != "true" {
				t.Errorf("the algorithm is not marked invalid (aria-invalid %q)", got)
			}
			if got := b.Attr("#key-name", "value"); got != "discharge-signing" {
				t.Errorf("the form lost the name: %q", got)
			}

			b.Select("#key-algorithm", "ed25519")
			b.Submit("#key-submit")
			b.Wait("svg.chart")
			if p := b.Path(); p != "/keys/discharge-signing" {
				t.Fatalf("after creating: on %s", p)
			}
			if got := b.Text(".flash"); got != "鍵を作成しました。" {
				t.Errorf("flash message %q", got)
			}
			if n := b.Count("svg.chart g.bar"); n != 24 {
				t.Errorf("%d bars in the chart, want 24", n)
			}
			if !strings.Contains(b.Text("#hsm-warning"), "6.11 B-1 ④") {
				t.Error("no HSM warning on the signing key's page")
			}

			b.Click(`input[name="role_staff"][value="sign"]`)
			b.Fill("#token-0", "7")
			b.Click(`input[name="token_0_op"][value="verify"]`)
			b.Submit("#grants-save")
			b.Wait(".flash")
			grants, err := e.App.Keys.Grants(context.Background(), "discharge-signing")
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(grants); got != "[{role staff [sign]} {token 7 [verify]}]" {
				t.Errorf("grants after the form: %s", got)
			}

			for _, path := range []string{"/keys", "/keys/discharge-signing"} {
				fitsWidth(t, b, path, 1024)
			}
			for _, v := range b.TakeCSPViolations() {
				t.Errorf("keys pages: %s", v)
			}
		})
	}
}
