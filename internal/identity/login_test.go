package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

func TestLockout_ParallelWrongPasswordsLockExactly(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		u := e.user(t, "nurse01", "")
		const attempts, limit = 100, 5

		errs := make([]error, attempts)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range attempts {
			wg.Go(func() {
				<-start
				_, errs[i] = e.svc.CheckPassword(ctx, "nurse01", fmt.Sprintf("Wrong#%03d", i), "198.51.100.7")
			})
		}
		close(start)
		wg.Wait()

		var invalid, locked int
		for i, err := range errs {
			switch {
			case errors.Is(err, ErrInvalidCredentials):
				invalid++
			case errors.Is(err, ErrLocked):
				locked++
			default:
				t.Fatalf("attempt %d: unexpected error %v", i, err)
			}
		}
		// Four wrong passwords are refused as wrong, the fifth locks, and
		// the other 95 meet a locked account.
		if invalid != limit-1 || locked != attempts-limit+1 {
			t.Fatalf("refused as invalid %d, as locked %d; want %d and %d", invalid, locked, limit-1, attempts-limit+1)
		}
		reasons := countReasons(e.events(t, "login.failure"))
		if reasons["wrong_password"] != limit || reasons["locked"] != attempts-limit || len(reasons) != 2 {
			t.Fatalf("login.failure reasons = %v, want %d wrong_password and %d locked", reasons, limit, attempts-limit)
		}
		lockEvents := e.events(t, "login.locked")
		if len(lockEvents) != 1 || lockEvents[0].Detail["failures"] != "5" || lockEvents[0].ClientAddr != "198.51.100.7" {
			t.Fatalf("login.locked events = %+v, want exactly one after 5 failures", lockEvents)
		}
		got := e.reload(t, u.ID)
		until := coreStart.Add(e.svc.Settings().LockoutDuration)
		if got.FailedCount != limit || !got.LockedUntil.Equal(until) || !got.Locked(e.clock.Now()) {
			t.Fatalf("failed_count = %d, locked_until = %v; want %d and %v", got.FailedCount, got.LockedUntil, limit, until)
		}

		// The right password is refused while locked, without counting.
		if _, err := e.svc.CheckPassword(ctx, "nurse01", corePassword, ""); !errors.Is(err, ErrLocked) {
			t.Fatalf("right password while locked: err = %v, want ErrLocked", err)
		}
		e.clock.Advance(e.svc.Settings().LockoutDuration - time.Millisecond)
		if _, err := e.svc.CheckPassword(ctx, "nurse01", corePassword, ""); !errors.Is(err, ErrLocked) {
			t.Fatalf("right password 1 ms before the lock ends: err = %v, want ErrLocked", err)
		}
		if got := e.reload(t, u.ID); got.FailedCount != limit {
			t.Fatalf("attempts on a locked account were counted: failed_count = %d", got.FailedCount)
		}

		// When the lock has run out the right password works and resets
		// the count.
		e.clock.Advance(time.Millisecond)
		if _, err := e.svc.CheckPassword(ctx, "nurse01", corePassword, ""); err != nil {
			t.Fatalf("right password after the lock: %v", err)
		}
		if got := e.reload(t, u.ID); got.FailedCount != 0 || !got.LockedUntil.IsZero() {
			t.Fatalf("after success: failed_count = %d, locked_until = %v", got.FailedCount, got.LockedUntil)
		}

		// Lock again; a wrong password after that lock has run out starts
		// a fresh count instead of locking at once.
		for i := range limit {
			_, err := e.svc.CheckPassword(ctx, "nurse01", "Wrong#again", "")
			if want := i == limit-1; errors.Is(err, ErrLocked) != want {
				t.Fatalf("wrong password %d: err = %v", i+1, err)
			}
		}
		e.clock.Advance(e.svc.Settings().LockoutDuration)
		if _, err := e.svc.CheckPassword(ctx, "nurse01", "Wrong#after", ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong password after the second lock: err = %v, want ErrInvalidCredentials", err)
		}
		if got := e.reload(t, u.ID); got.FailedCount != 1 || got.Locked(e.clock.Now()) {
			t.Fatalf("after the lock ran out: failed_count = %d, locked = %v; want 1 and unlocked",
				got.FailedCount, got.Locked(e.clock.Now()))
		}
		if n := len(e.events(t, "login.locked")); n != 2 {
			t.Fatalf("login.locked recorded %d times, want 2", n)
		}
	})
}

func TestCheckPassword_RefusesUnusableAccountsLikeWrongPasswords(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		e.user(t, "nurse01", "")
		e.user(t, "leave01", "")
		e.user(t, "retired01", "")
		for login, st := range map[string]Status{"leave01": OnLeave, "retired01": Retired} {
			if err := e.svc.SetStatus(ctx, SystemActor, login, st); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			login string
			from  time.Time
			until time.Time
		}{
			{"contract01", time.Time{}, coreStart.Add(time.Hour)},
			{"vendor01", coreStart.Add(48 * time.Hour), time.Time{}},
		} {
			if _, _, err := e.svc.CreateUser(ctx, SystemActor, NewUser{Facility: e.facility, Login: c.login,
				Name: "契約 太郎", Profession: "vendor", ValidFrom: c.from, ValidUntil: c.until,
				Grants: []authz.Grant{{Role: authz.Vendor, Facility: e.facility}}, Password: corePassword}); err != nil {
				t.Fatal(err)
			}
		}
		e.clock.Advance(2 * time.Hour) // contract01's validity has ended, vendor01's not begun

		cases := []struct {
			name, login, password, reason string
			facility                      int64
		}{
			{"unknown login", "nobody", corePassword, "unknown_login", 0},
			{"empty password", "nurse01", "", "malformed", 0},
			{"overlong password", "nurse01", strings.Repeat("x", MaxPasswordLength+1), "malformed", 0},
			{"login not UTF-8", "nurse\xff", corePassword, "malformed", 0},
			{"wrong password", "nurse01", "Kx7#mPq2wY", "wrong_password", e.facility},
			{"account on leave", "leave01", corePassword, "account_on_leave", e.facility},
			{"retired account", "retired01", corePassword, "account_retired", e.facility},
			{"validity ended", "contract01", corePassword, "account_active_outside_validity", e.facility},
			{"validity not begun", "vendor01", corePassword, "account_active_outside_validity", e.facility},
			{"wrong password of a retired account", "retired01", "Kx7#mPq2wY", "wrong_password", e.facility},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := len(e.events(t, "login.failure"))
				u, err := e.svc.CheckPassword(ctx, c.login, c.password, "203.0.113.5")
				if !errors.Is(err, ErrInvalidCredentials) || u != nil {
					t.Fatalf("err = %v, user = %v; want ErrInvalidCredentials and no user", err, u)
				}
				ev := e.events(t, "login.failure")
				if len(ev) != before+1 {
					t.Fatalf("login.failure recorded %d times, want once", len(ev)-before)
				}
				last := ev[0]
				if last.Detail["reason"] != c.reason || last.Facility != c.facility || last.ClientAddr != "203.0.113.5" ||
					last.Outcome != "failure" {
					t.Fatalf("recorded %+v, want reason %q in facility %d", last, c.reason, c.facility)
				}
				if strings.Contains(fmt.Sprint(last.Detail), corePassword) {
					t.Fatalf("the password is in the audit record")
				}
			})
		}
	})
}

func TestNextStep_LeadsThroughFirstLogin(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, func(s *Settings) { s.MFARoles = []authz.Role{authz.Admin} }, nil)
		ctx := context.Background()
		step := func(u *User, want Step) {
			t.Helper()
			got, err := e.svc.NextStep(ctx, e.reload(t, u.ID))
			if err != nil || got != want {
				t.Fatalf("%s: next step = %q (%v), want %q", u.Login, got, err, want)
			}
		}
		admin := e.user(t, "admin01", "", authz.Admin)
		staff := e.user(t, "nurse01", "", authz.Staff)

		step(admin, StepChangePassword)
		step(staff, StepChangePassword)
		for _, u := range []*User{admin, staff} {
			if err := e.svc.ChangePassword(ctx, SystemActor, u.ID, corePassword, "Tr0pical#Fish"); err != nil {
				t.Fatal(err)
			}
		}
		step(admin, StepEnrol)
		step(staff, StepDone) // staff need no second factor here

		enrolTOTP(t, e, admin)
		step(admin, StepSecondFactor)

		// A reset password must be changed again before anything else.
		if _, err := e.svc.ResetPassword(ctx, SystemActor, "admin01", "in_person_id_card", ""); err != nil {
			t.Fatal(err)
		}
		step(admin, StepChangePassword)
	})
}

func TestNextStep_ForcesChangeOfExpiredPasswords(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		// Only admins need a second factor, so staff show the mhlw rules
		// for users without one.
		e := newCoreEnv(t, d, func(s *Settings) { s.MFARoles = []authz.Role{authz.Admin} }, nil)
		ctx := context.Background()
		short := e.user(t, "short01", "")
		long := e.user(t, "long01", "")
		withTOTP := e.user(t, "totp01", "")
		enrolTOTP(t, e, withTOTP)
		for u, next := range map[*User]string{
			short:    "Tr0pical#Fi",   // 11 characters: changed every 60 days
			long:     "Tr0pical#Fish", // 13 characters: no forced change
			withTOTP: "Tr0pical#Fi",   // 11 characters, but a second factor
		} {
			if err := e.svc.ChangePassword(ctx, SystemActor, u.ID, corePassword, next); err != nil {
				t.Fatal(err)
			}
		}

		check := func(when string, want map[*User]Step) {
			t.Helper()
			for u, w := range want {
				got, err := e.svc.NextStep(ctx, e.reload(t, u.ID))
				if err != nil || got != w {
					t.Fatalf("%s, %s: next step = %q (%v), want %q", when, u.Login, got, err, w)
				}
			}
		}
		check("at once", map[*User]Step{short: StepDone, long: StepDone, withTOTP: StepSecondFactor})
		e.clock.Advance(MHLWMaxAge)
		check("after exactly 60 days", map[*User]Step{short: StepDone, long: StepDone, withTOTP: StepSecondFactor})
		e.clock.Advance(time.Millisecond)
		check("after 60 days", map[*User]Step{short: StepChangePassword, long: StepDone, withTOTP: StepSecondFactor})
		e.clock.Advance(10 * 365 * 24 * time.Hour)
		check("after ten years", map[*User]Step{short: StepChangePassword, long: StepDone, withTOTP: StepSecondFactor})
	})
}

// enrolTOTP enrols a TOTP factor for u with a code of the current step
// and moves the clock on past it.
func enrolTOTP(t *testing.T, e *coreEnv, u *User) string {
	t.Helper()
	ctx := context.Background()
	en, err := e.svc.BeginTOTP(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCodeCustom(en.Secret, e.clock.Now(), totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ConfirmTOTP(ctx, SystemActor, u, code); err != nil {
		t.Fatalf("confirm TOTP: %v", err)
	}
	e.clock.Advance(30 * time.Second)
	return en.Secret
}
