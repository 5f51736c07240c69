package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/config"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// storedTOTP is the identity_totp.secret column of a user, as stored.
func storedTOTP(t *testing.T, a *app.App, userID int64) string {
	t.Helper()
	var s string
	if err := a.DB.QueryRowContext(context.Background(), `SELECT secret FROM identity_totp WHERE user_id = ?`, userID).
		Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTOTP_SecretIsStoredSealedAndSignInStillWorks(t *testing.T) {
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			e := apptest.New(t, dialect)
			ctx := context.Background()
			u := e.CreateUser(t, "ward5nurse", true)
			other := e.CreateUser(t, "ward6nurse", true)

			stored := storedTOTP(t, e.App, u.ID)
			if !strings.HasPrefix(stored, "anzen:") || strings.Contains(stored, u.TOTPSecret) {
				t.Fatalf("identity_totp.secret = %q, want a sealed secret without the base32 secret %s", stored, u.TOTPSecret)
			}

			// Sign in through the API and through the pages.
			c := e.Login(t, u)
			resp := e.Do(t, c, "GET", "/api/v1/me", nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /api/v1/me after a TOTP sign-in: %d", resp.StatusCode)
			}
			resp.Body.Close()
			pc := e.Client()
			resp = e.Do(t, pc, "POST", "/login", "login=ward5nurse&password="+u.Password)
			resp.Body.Close()
			resp = e.Do(t, pc, "POST", "/login/second-factor", "code="+e.Code(t, u))
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("TOTP step of the sign-in page: %d %s", resp.StatusCode, apptest.ReadBody(t, resp))
			}
			resp.Body.Close()

			// The secret is bound to its row: moved to another user, it does
			// not open.
			if _, err := e.App.DB.ExecContext(ctx, `UPDATE identity_totp SET secret = ? WHERE user_id = ?`,
				stored, other.ID); err != nil {
				t.Fatal(err)
			}
			if err := e.App.Identity.VerifyTOTP(ctx, other.User, e.Code(t, u)); err == nil {
				t.Fatal("a sealed secret copied to another user's row verified a code")
			}

			// The enrolment page shows the same secret again for 15 minutes,
			// read back through the key service.
			fresh, _, err := e.App.Identity.CreateUser(ctx, identity.SystemActor, identity.NewUser{Facility: e.Facility,
				Login: "ward7nurse", Name: "テスト", NameKana: "テスト", Department: "看護部", Profession: "nurse",
				Grants: []authz.Grant{{Role: authz.Staff, Facility: e.Facility}}})
			if err != nil {
				t.Fatal(err)
			}
			first, err := e.App.Identity.BeginTOTP(ctx, fresh)
			if err != nil {
				t.Fatal(err)
			}
			e.Clock.Advance(10 * time.Minute)
			again, err := e.App.Identity.BeginTOTP(ctx, fresh)
			if err != nil || again.Secret != first.Secret {
				t.Fatalf("second enrolment within 15 minutes: %v (same secret: %v)", err, again != nil && again.Secret == first.Secret)
			}
			if pending := storedTOTP(t, e.App, fresh.ID); !strings.HasPrefix(pending, "anzen:") ||
				strings.Contains(pending, first.Secret) {
				t.Fatalf("pending secret stored as %q", pending)
			}

			// Every use went through the key service and is counted.
			if err := e.App.Keys.FlushUsage(ctx, true); err != nil {
				t.Fatal(err)
			}
			uses, _, err := e.App.Audit.Search(ctx, audit.Filter{Action: "key.use", Target: "anzen-secrets", AllFacilities: true})
			if err != nil || len(uses) == 0 {
				t.Fatalf("no key.use events for anzen-secrets: %v", err)
			}
			for _, ev := range uses {
				if ev.ActorLogin != "system:identity" || ev.Detail["context_keys"] != "table,user" {
					t.Errorf("key.use event %+v", ev)
				}
			}
		})
	}
}

func TestOpen_SealsPlaintextSecretsLeftByTheFoundation(t *testing.T) {
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			cfg := config.Default()
			cfg.DataDir = filepath.Join(t.TempDir(), "data")
			if dialect == "postgres" {
				cfg.DSN = dbtest.PostgresDSN(t)
			}
			clk := clock.NewFrozen(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			open := func() *app.App {
				t.Helper()
				a, err := app.Open(ctx, cfg, log, clk)
				if err != nil {
					t.Fatal(err)
				}
				return a
			}
			a := open()
			if err := a.Bootstrap(ctx, io.Discard); err != nil {
				t.Fatal(err)
			}
			facilities, err := a.Identity.Facilities(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Three users with TOTP, stored the way the foundation stored
			// them: the base32 secret in the clear.
			secrets := map[int64]string{}
			for i, login := range []string{"nurse01", "nurse02", "nurse03"} {
				u, _, err := a.Identity.CreateUser(ctx, identity.SystemActor, identity.NewUser{Facility: facilities[0].ID,
					Login: login, Name: "テスト", NameKana: "テスト", Department: "看護部", Profession: "nurse",
					Grants: []authz.Grant{{Role: authz.Staff, Facility: facilities[0].ID}}})
				if err != nil {
					t.Fatal(err)
				}
				key, err := totp.Generate(totp.GenerateOpts{Issuer: "anzen", AccountName: login})
				if err != nil {
					t.Fatal(err)
				}
				secrets[u.ID] = key.Secret()
				if _, err := a.DB.ExecContext(ctx, `INSERT INTO identity_totp (user_id, secret, confirmed, last_step, created_at)
					VALUES (?, ?, 1, 0, ?)`, u.ID, key.Secret(), int64(i)); err != nil {
					t.Fatal(err)
				}
			}
			a.Close()

			a = open()
			for id, secret := range secrets {
				stored := storedTOTP(t, a, id)
				if !strings.HasPrefix(stored, "anzen:") || strings.Contains(stored, secret) {
					t.Errorf("user %d: secret still stored as %q", id, stored)
				}
				u, err := a.Identity.UserByID(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				clk.Advance(30 * time.Second)
				code, err := totp.GenerateCodeCustom(secret, clk.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix,
					Algorithm: otp.AlgorithmSHA1})
				if err != nil {
					t.Fatal(err)
				}
				if err := a.Identity.VerifyTOTP(ctx, u, code); err != nil {
					t.Errorf("user %d: the sealed secret does not verify its code: %v", id, err)
				}
			}
			ev, _, err := a.Audit.Search(ctx, audit.Filter{Action: "secrets.encrypt", AllFacilities: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(ev) != 1 || ev[0].Detail["count"] != strconv.Itoa(len(secrets)) || ev[0].ActorLogin != "system" {
				t.Fatalf("secrets.encrypt events = %+v, want one with count %d", ev, len(secrets))
			}
			a.Close()

			// Nothing left in the clear: a restart seals and records nothing.
			a = open()
			defer a.Close()
			if ev, _, _ := a.Audit.Search(ctx, audit.Filter{Action: "secrets.encrypt", AllFacilities: true}); len(ev) != 1 {
				t.Fatalf("%d secrets.encrypt events after a restart, want 1", len(ev))
			}
		})
	}
}
