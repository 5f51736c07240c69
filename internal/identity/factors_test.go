package identity

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// codeAt is the TOTP code of secret at t.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode returns a six-digit code that matches none of the steps
// around at.
func wrongCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	near := map[string]bool{}
	for _, off := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		near[codeAt(t, secret, at.Add(off))] = true
	}
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", i)
		if !near[c] {
			return c
		}
	}
}

func TestTOTP_EnrolAndUseEachCodeOnce(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		u := e.user(t, "nurse01", "")
		by := Actor{UserID: u.ID, Login: u.Login, Client: "192.0.2.1"}

		if err := e.svc.VerifyTOTP(ctx, u, "123456"); !errors.Is(err, ErrSecondFactor) {
			t.Fatalf("verify without TOTP: %v", err)
		}
		en, err := e.svc.BeginTOTP(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(en.URL, "otpauth://totp/anzen:nurse01?") || !strings.HasPrefix(en.QRData, "data:image/png;base64,") ||
			len(en.Secret) != 32 {
			t.Fatalf("enrolment = %+v", en)
		}
		// A begin after the pending secret got old (15 min) replaces it;
		// the first no longer counts.
		e.clock.Advance(16 * time.Minute)
		en2, err := e.svc.BeginTOTP(ctx, u)
		if err != nil || en2.Secret == en.Secret {
			t.Fatalf("second begin: %v (same secret: %v)", err, en2.Secret == en.Secret)
		}
		if f, _ := e.svc.FactorsOf(ctx, u.ID); f.TOTP {
			t.Fatal("an unconfirmed secret counts as a factor")
		}
		now := e.clock.Now()
		for _, bad := range []string{wrongCode(t, en2.Secret, now), codeAt(t, en.Secret, now), "", "12345", "1234567", "abcdef"} {
			if _, err := e.svc.ConfirmTOTP(ctx, by, u, bad); !errors.Is(err, ErrSecondFactor) {
				t.Fatalf("confirm with %q: err = %v, want ErrSecondFactor", bad, err)
			}
		}
		confirmCode := codeAt(t, en2.Secret, now)
		codes, err := e.svc.ConfirmTOTP(ctx, by, u, confirmCode)
		if err != nil {
			t.Fatal(err)
		}
		if len(codes) != recoveryCodeCount {
			t.Fatalf("recovery codes = %d, want %d", len(codes), recoveryCodeCount)
		}
		if ev := e.events(t, "mfa.enrol"); len(ev) != 1 || ev[0].Detail["factor"] != "totp" {
			t.Fatalf("mfa.enrol events = %+v", ev)
		}
		if _, err := e.svc.BeginTOTP(ctx, u); err == nil {
			t.Fatal("begin replaced a confirmed secret")
		}
		// The code that confirmed the secret cannot sign in.
		if err := e.svc.VerifyTOTP(ctx, u, confirmCode); !errors.Is(err, ErrSecondFactor) {
			t.Fatalf("confirmation code reused: err = %v", err)
		}

		e.clock.Advance(30 * time.Second)
		code := codeAt(t, en2.Secret, e.clock.Now())
		if err := e.svc.VerifyTOTP(ctx, u, code[:3]+" "+code[3:]); err != nil {
			t.Fatalf("fresh code refused: %v", err)
		}
		if err := e.svc.VerifyTOTP(ctx, u, code); !errors.Is(err, ErrSecondFactor) {
			t.Fatalf("replayed code: err = %v, want ErrSecondFactor", err)
		}

		e.clock.Advance(90 * time.Second)
		now = e.clock.Now()
		if err := e.svc.VerifyTOTP(ctx, u, codeAt(t, en2.Secret, now.Add(-60*time.Second))); !errors.Is(err, ErrSecondFactor) {
			t.Fatalf("code from two steps ago: err = %v, want ErrSecondFactor", err)
		}
		if err := e.svc.VerifyTOTP(ctx, u, wrongCode(t, en2.Secret, now)); !errors.Is(err, ErrSecondFactor) {
			t.Fatalf("wrong code: err = %v", err)
		}
		// One step of clock drift either way is allowed, once.
		if err := e.svc.VerifyTOTP(ctx, u, codeAt(t, en2.Secret, now.Add(-30*time.Second))); err != nil {
			t.Fatalf("code of the previous step: %v", err)
		}
		if err := e.svc.VerifyTOTP(ctx, u, codeAt(t, en2.Secret, now.Add(30*time.Second))); err != nil {
			t.Fatalf("code of the next step: %v", err)
		}
		// After the next step's code, the current one is older and refused.
		if err := e.svc.VerifyTOTP(ctx, u, codeAt(t, en2.Secret, now)); !errors.Is(err, ErrSecondFactor) {
			t.Fatalf("code older than the last one used: err = %v", err)
		}
	})
}

func TestRecoveryCodes_EachWorksOnce(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		u := e.user(t, "nurse01", "")
		other := e.user(t, "nurse02", "")
		en, err := e.svc.BeginTOTP(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		codes, err := e.svc.ConfirmTOTP(ctx, SystemActor, u, codeAt(t, en.Secret, e.clock.Now()))
		if err != nil {
			t.Fatal(err)
		}
		pattern := regexp.MustCompile(`^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$`)
		seen := map[string]bool{}
		for _, c := range codes {
			if !pattern.MatchString(c) || seen[c] {
				t.Fatalf("recovery code %q malformed or repeated", c)
			}
			seen[c] = true
		}
		var stored int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM identity_recovery_codes WHERE code_hash = ?`,
			codes[0]).Scan(&stored); err != nil || stored != 0 {
			t.Fatalf("a recovery code is stored in clear (%v)", err)
		}

		if err := e.svc.UseRecoveryCode(ctx, other, codes[0]); !errors.Is(err, ErrSecondFactor) {
			t.Fatalf("another user's code: err = %v", err)
		}
		if err := e.svc.UseRecoveryCode(ctx, u, codes[0]); err != nil {
			t.Fatalf("first use: %v", err)
		}
		if err := e.svc.UseRecoveryCode(ctx, u, codes[0]); !errors.Is(err, ErrSecondFactor) {
			t.Fatalf("second use: err = %v, want ErrSecondFactor", err)
		}
		typed := strings.ToUpper(strings.ReplaceAll(codes[1], "-", ""))
		if err := e.svc.UseRecoveryCode(ctx, u, typed); err != nil {
			t.Fatalf("code typed as %q: %v", typed, err)
		}
		if err := e.svc.UseRecoveryCode(ctx, u, " "+strings.ToUpper(codes[2])); err != nil {
			t.Fatalf("code with a space and capitals: %v", err)
		}
		for _, bad := range []string{"", "aaaa-bbbb-cccc", strings.Repeat("a", 65)} {
			if err := e.svc.UseRecoveryCode(ctx, u, bad); !errors.Is(err, ErrSecondFactor) {
				t.Fatalf("code %q: err = %v", bad, err)
			}
		}
		if f, _ := e.svc.FactorsOf(ctx, u.ID); f.RecoveryCodes != recoveryCodeCount-3 || !f.TOTP {
			t.Fatalf("factors = %+v, want %d recovery codes left", f, recoveryCodeCount-3)
		}

		fresh, err := e.svc.NewRecoveryCodes(ctx, SystemActor, u)
		if err != nil || len(fresh) != recoveryCodeCount {
			t.Fatalf("new codes: %d (%v)", len(fresh), err)
		}
		if err := e.svc.UseRecoveryCode(ctx, u, codes[3]); !errors.Is(err, ErrSecondFactor) {
			t.Fatalf("a replaced code still works: %v", err)
		}
		if err := e.svc.UseRecoveryCode(ctx, u, fresh[0]); err != nil {
			t.Fatalf("a new code: %v", err)
		}
		if ev := e.events(t, "mfa.recovery_codes"); len(ev) != 1 {
			t.Fatalf("mfa.recovery_codes recorded %d times", len(ev))
		}
	})
}

func TestResetFactors_RemovesEverythingAndEndsSessions(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		u := e.user(t, "nurse01", "", authz.Staff)
		bystander := e.user(t, "nurse02", "", authz.Staff)
		enrolTOTP(t, e, u)
		enrolTOTP(t, e, bystander)
		if _, err := d.ExecContext(ctx, `INSERT INTO identity_webauthn (user_id, credential_id, name, credential, created_at)
			VALUES (?, 'cred-1', 'YubiKey', '{}', ?)`, u.ID, db.Millis(e.clock.Now())); err != nil {
			t.Fatal(err)
		}
		mine, _ := e.svc.StartSession(ctx, d, u, web.StageFull, "", "")
		theirs, _ := e.svc.StartSession(ctx, d, bystander, web.StageFull, "", "")

		if err := e.svc.ResetFactors(ctx, Actor{Login: "admin01", Client: "192.0.2.9"}, "nurse01"); err != nil {
			t.Fatal(err)
		}
		if f, err := e.svc.FactorsOf(ctx, u.ID); err != nil || f != (Factors{}) {
			t.Fatalf("factors after reset = %+v (%v)", f, err)
		}
		if p, _, _ := e.svc.SessionPrincipal(ctx, hashSecret(mine), ""); p != nil {
			t.Fatal("session survived a reset of factors")
		}
		if p, _, _ := e.svc.SessionPrincipal(ctx, hashSecret(theirs), ""); p == nil {
			t.Fatal("another user's session ended")
		}
		if f, _ := e.svc.FactorsOf(ctx, bystander.ID); !f.TOTP || f.RecoveryCodes != recoveryCodeCount {
			t.Fatalf("another user's factors changed: %+v", f)
		}
		ev := e.events(t, "mfa.reset")
		if len(ev) != 1 || ev[0].ActorLogin != "admin01" || ev[0].Target != "user:nurse01" {
			t.Fatalf("mfa.reset events = %+v", ev)
		}
		if err := e.svc.ResetFactors(ctx, SystemActor, "nobody"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("reset of an unknown login: %v", err)
		}
		// Enrolment starts afresh.
		enrolTOTP(t, e, e.reload(t, u.ID))
	})
}

func TestRemoveTOTP_KeepsTheLastRequiredFactor(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, func(s *Settings) { s.MFARoles = []authz.Role{authz.Admin} }, nil)
		ctx := context.Background()
		admin := e.user(t, "admin01", "", authz.Admin)
		staff := e.user(t, "nurse01", "", authz.Staff)
		enrolTOTP(t, e, admin)
		enrolTOTP(t, e, staff)
		if err := e.svc.RemoveTOTP(ctx, SystemActor, admin); !errors.Is(err, ErrLastFactor) {
			t.Fatalf("remove the admin's only factor: err = %v", err)
		}
		if err := e.svc.RemoveTOTP(ctx, SystemActor, staff); err != nil {
			t.Fatalf("remove an optional factor: %v", err)
		}
		if f, _ := e.svc.FactorsOf(ctx, staff.ID); f.TOTP {
			t.Fatal("TOTP still there")
		}
		if ev := e.events(t, "mfa.remove"); len(ev) != 1 || ev[0].Target != "user:nurse01" {
			t.Fatalf("mfa.remove events = %+v", ev)
		}
	})
}

func TestBeginTOTP_ReloadShowsTheSameSecretUntilItGetsOld(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		svc, clk := e.svc, e.clock
		u := e.user(t, "reloader", "")
		ctx := context.Background()
		first, err := svc.BeginTOTP(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(10 * time.Minute)
		again, err := svc.BeginTOTP(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if again.Secret != first.Secret || again.URL != first.URL {
			t.Fatalf("a reload within 15 minutes made a new secret")
		}
		clk.Advance(6 * time.Minute)
		later, err := svc.BeginTOTP(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if later.Secret == first.Secret {
			t.Fatalf("an enrolment older than 15 minutes kept its secret")
		}
	})
}
