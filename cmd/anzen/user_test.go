package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// createUser runs `anzen user create` for a staff nurse and returns the
// one-time password it printed.
func createUser(t *testing.T, c *cliEnv, login string, extra ...string) string {
	t.Helper()
	args := append([]string{"user", "create", "--login", login, "--name", "看護 花子", "--role", "staff",
		"--profession", "nurse"}, extra...)
	return secretLine(t, c.mustRun(args...))
}

func listed(t *testing.T, c *cliEnv) map[string]userListing {
	t.Helper()
	var users []userListing
	r := c.mustRun("user", "list", "--json")
	if err := json.Unmarshal([]byte(r.out), &users); err != nil {
		t.Fatalf("user list --json: %v\n%s", err, r.out)
	}
	out := map[string]userListing{}
	for _, u := range users {
		out[u.Login] = u
	}
	return out
}

func TestUserCreate_ListShowsTheNewUserAndTheAuditNamesTheCLI(t *testing.T) {
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			c := newCLI(t, dialect)
			r := c.mustRun("user", "create", "--login", "nurse01", "--name", "看護 花子", "--kana", "カンゴ ハナコ",
				"--department", "内科病棟", "--role", "staff,auditor", "--role", "csirt", "--profession", "nurse",
				"--valid-until", "2099-03-31")
			password := secretLine(t, r)
			if !strings.Contains(r.errOut, "created user nurse01") || strings.Contains(r.errOut, password) {
				t.Errorf("stderr should describe the user and not repeat the password: %q", r.errOut)
			}

			table := c.mustRun("user", "list").out
			lines := strings.Split(strings.TrimSpace(table), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], "LOGIN") {
				t.Fatalf("table should have a header, admin and nurse01:\n%s", table)
			}
			row := lines[2]
			for _, want := range []string{"nurse01", "nurse", "auditor@main,csirt@main,staff@main", "active", "never", "看護 花子"} {
				if !strings.Contains(row, want) {
					t.Errorf("row %q lacks %q", row, want)
				}
			}
			if strings.Index(lines[0], "ROLES") != strings.Index(row, "auditor@main") {
				t.Errorf("columns are not aligned:\n%s", table)
			}

			u := listed(t, c)["nurse01"]
			if u.User == nil || u.NameKana != "カンゴ ハナコ" || u.Department != "内科病棟" || !u.MustChangePassword ||
				u.SecondFactor || u.Locked {
				t.Fatalf("listed user: %+v", u)
			}
			a := c.open()
			if want := time.Date(2099, 4, 1, 0, 0, 0, 0, a.Cfg.Location()); !u.ValidUntil.Equal(want) {
				t.Errorf("valid until %v, want the end of 2099-03-31 in anzen's time zone (%v)", u.ValidUntil, want)
			}
			if _, err := a.Identity.CheckPassword(context.Background(), "nurse01", password, "test"); err != nil {
				t.Errorf("the printed password does not sign in: %v", err)
			}
			ev := eventsBy(t, a, "user.create")
			if ev[0].Target != "user:nurse01" || strings.Contains(ev[0].Detail["roles"], password) {
				t.Errorf("user.create event: %+v", ev[0])
			}
		})
	}
}

func TestUserCreate_BadInputFailsNamingTheFlagAndStoresNothing(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		stdin string
		flags []string // each named on its own line
	}{
		{"duplicate login", []string{"--login", "taken", "--name", "X", "--role", "staff"}, "", []string{"--login"}},
		{"unknown role lists the roles", []string{"--login", "n1", "--name", "X", "--role", "staff,nurse"}, "",
			[]string{`--role: unknown role "nurse" (allowed: admin, ciso, csirt, auditor, staff, vendor)`}},
		{"no role", []string{"--login", "n1", "--name", "X"}, "", []string{"--role"}},
		{"unknown profession", []string{"--login", "n1", "--name", "X", "--role", "staff", "--profession", "cook"}, "",
			[]string{"--profession: unknown profession \"cook\""}},
		{"overlong name", []string{"--login", "n1", "--name", strings.Repeat("長", 101), "--role", "staff"}, "",
			[]string{"--name: This is too long."}},
		{"malformed login", []string{"--login", "n 1", "--name", "X", "--role", "staff"}, "", []string{"--login"}},
		{"unknown facility", []string{"--login", "n1", "--name", "X", "--role", "staff", "--facility", "east"}, "",
			[]string{`--facility: unknown facility "east" (known: main, or all)`}},
		{"malformed date", []string{"--login", "n1", "--name", "X", "--role", "staff", "--valid-until", "31/03/2099"}, "",
			[]string{"--valid-until"}},
		{"date passed", []string{"--login", "n1", "--name", "X", "--role", "staff", "--valid-until", "2001-01-01"}, "",
			[]string{"--valid-until: 2001-01-01 has already passed"}},
		{"weak password on stdin", []string{"--login", "n1", "--name", "X", "--role", "staff", "--password-stdin"},
			"password\n", []string{"--password-stdin"}},
		{"empty stdin", []string{"--login", "n1", "--name", "X", "--role", "staff", "--password-stdin"}, "",
			[]string{"--password-stdin"}},
		{"several fields at once", []string{"--login", "n1", "--role", "chief", "--profession", "cook"}, "",
			[]string{"--name: required", "--profession", "--role"}},
	}
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			c := newCLI(t, dialect)
			createUser(t, c, "taken")
			a := c.open()
			before := listed(t, c)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					r := c.run(tc.stdin, append([]string{"user", "create"}, tc.args...)...)
					if r.err == nil {
						t.Fatalf("succeeded; stdout %q", r.out)
					}
					if r.out != "" {
						t.Errorf("printed %q on stdout", r.out)
					}
					lines := strings.Split(r.err.Error(), "\nanzen: ")
					if len(lines) != len(tc.flags) {
						t.Fatalf("error has %d lines, want %d: %q", len(lines), len(tc.flags), r.err)
					}
					for i, want := range tc.flags {
						if !strings.HasPrefix(lines[i], want) {
							t.Errorf("line %d is %q, want it to start with %q", i, lines[i], want)
						}
					}
				})
			}
			after := listed(t, c)
			if len(after) != len(before) {
				t.Errorf("users before %d, after %d", len(before), len(after))
			}
			if ev := eventsBy(t, a, "user.create"); len(ev) != 2 { // admin and taken
				t.Errorf("%d user.create events, want 2", len(ev))
			}
		})
	}
}

func TestUserCreate_PasswordFromStdinMustStillBeChanged(t *testing.T) {
	c := newCLI(t, "sqlite")
	const password = "Vr7#kettle-Lamp9"
	r := c.run(password+"\r\n", "user", "create", "--login", "ward02", "--name", "病棟 次郎", "--role", "staff",
		"--facility", "all", "--password-stdin")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.out != "" {
		t.Errorf("stdout %q, want nothing: the operator knows the password", r.out)
	}
	a := c.open()
	u, err := a.Identity.CheckPassword(context.Background(), "ward02", password, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !u.MustChangePassword {
		t.Error("a password from stdin must be changed at first sign-in")
	}
	if len(u.Grants) != 1 || u.Grants[0] != (authz.Grant{Role: authz.Staff, Facility: authz.AllFacilities}) {
		t.Errorf("grants %v, want staff in every facility", u.Grants)
	}
}

func TestUserDisable_StopsSignInAndEnableRestoresIt(t *testing.T) {
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			c := newCLI(t, dialect)
			password := createUser(t, c, "nurse03")
			a := c.open()
			ctx := context.Background()
			steps := []struct {
				args   []string
				status identity.Status
				fails  bool
			}{
				{[]string{"disable", "nurse03"}, identity.OnLeave, false},
				{[]string{"disable", "nurse03", "--status", "retired"}, identity.Retired, false},
				{[]string{"disable", "nurse03", "--status", "active"}, identity.Retired, true},
				{[]string{"enable", "nurse03"}, identity.Active, false},
			}
			for _, s := range steps {
				r := c.run("", append([]string{"user"}, s.args...)...)
				if (r.err != nil) != s.fails {
					t.Fatalf("%v: error %v", s.args, r.err)
				}
				u, err := a.Identity.UserByLogin(ctx, "nurse03")
				if err != nil {
					t.Fatal(err)
				}
				if u.Status != s.status {
					t.Fatalf("after %v status %s, want %s", s.args, u.Status, s.status)
				}
				_, err = a.Identity.CheckPassword(ctx, "nurse03", password, "test")
				if (err == nil) != (s.status == identity.Active) {
					t.Errorf("after %v sign-in gives %v", s.args, err)
				}
			}
			if ev := eventsBy(t, a, "user.status"); len(ev) != 3 {
				t.Errorf("%d user.status events, want 3", len(ev))
			}
		})
	}
}

func TestUserUnlock_LiftsALockoutFromFailedPasswords(t *testing.T) {
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			c := newCLI(t, dialect)
			password := createUser(t, c, "nurse04")
			a := c.open()
			ctx := context.Background()
			var err error
			for range a.Cfg.LockoutFailures {
				_, err = a.Identity.CheckPassword(ctx, "nurse04", "wrong-Password-1", "test")
			}
			if !errors.Is(err, identity.ErrLocked) {
				t.Fatalf("after %d failures: %v, want locked", a.Cfg.LockoutFailures, err)
			}
			if u := listed(t, c)["nurse04"]; !u.Locked {
				t.Fatal("user list does not show the lockout")
			}
			if row := c.mustRun("user", "list").out; !strings.Contains(row, "until ") {
				t.Errorf("table does not show until when the account is locked:\n%s", row)
			}
			if r := c.mustRun("user", "unlock", "nurse04"); !strings.Contains(r.out, "unlocked") {
				t.Errorf("unlock said %q", r.out)
			}
			if _, err := a.Identity.CheckPassword(ctx, "nurse04", password, "test"); err != nil {
				t.Errorf("after unlock the right password gives %v", err)
			}
			eventsBy(t, a, "user.unlock")
			if r := c.mustRun("user", "unlock", "nurse04"); !strings.Contains(r.out, "not locked") {
				t.Errorf("second unlock said %q", r.out)
			}
		})
	}
}

func TestUserResetPassword_NeedsTheVerificationAndRecordsIt(t *testing.T) {
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			c := newCLI(t, dialect)
			old := createUser(t, c, "nurse05")
			for _, bad := range []struct {
				args []string
				want string
			}{
				{nil, "--verified-by: required"},
				{[]string{"--verified-by", "phone"}, `--verified-by: unknown method "phone" (allowed: in_person_id_card`},
				{[]string{"--verified-by", "other"}, "--note: required with --verified-by other"},
				{[]string{"--verified-by", "other", "--note", strings.Repeat("x", 501)}, "--note: This is too long."},
			} {
				r := c.run("", append([]string{"user", "reset-password", "nurse05"}, bad.args...)...)
				if r.err == nil || !strings.HasPrefix(r.err.Error(), bad.want) || r.out != "" {
					t.Errorf("%v: error %v, stdout %q; want %q", bad.args, r.err, r.out, bad.want)
				}
			}
			r := c.mustRun("user", "reset-password", "nurse05", "--verified-by", "in_person_id_card", "--note", "職員証 123")
			fresh := secretLine(t, r)
			a := c.open()
			ctx := context.Background()
			if _, err := a.Identity.CheckPassword(ctx, "nurse05", old, "test"); err == nil {
				t.Error("the old password still works")
			}
			u, err := a.Identity.CheckPassword(ctx, "nurse05", fresh, "test")
			if err != nil || !u.MustChangePassword {
				t.Fatalf("new password: %v (must change %v)", err, u != nil && u.MustChangePassword)
			}
			ledger, err := a.Identity.PasswordResets(ctx, u.ID)
			if err != nil || len(ledger) != 1 {
				t.Fatalf("reset ledger %v, %v", ledger, err)
			}
			if l := ledger[0]; l.Method != "in_person_id_card" || l.Note != "職員証 123" || l.ResetBy != cliActor().Login {
				t.Errorf("ledger entry %+v", l)
			}
			if ev := eventsBy(t, a, "password.reset"); ev[0].Detail["verified_by"] != "in_person_id_card" {
				t.Errorf("password.reset event %+v", ev[0])
			}
		})
	}
}

func TestUserReset2FA_RemovesEveryFactor(t *testing.T) {
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			c := newCLI(t, dialect)
			createUser(t, c, "nurse06")
			a := c.open()
			ctx := context.Background()
			u, err := a.Identity.UserByLogin(ctx, "nurse06")
			if err != nil {
				t.Fatal(err)
			}
			enr, err := a.Identity.BeginTOTP(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			code, err := totp.GenerateCode(enr.Secret, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Identity.ConfirmTOTP(ctx, identity.SystemActor, u, code); err != nil {
				t.Fatal(err)
			}
			if !listed(t, c)["nurse06"].SecondFactor {
				t.Fatal("user list does not show the enrolled TOTP")
			}
			c.mustRun("user", "reset-2fa", "nurse06")
			f, err := a.Identity.FactorsOf(ctx, u.ID)
			if err != nil || f.TOTP || f.WebAuthnKeys != 0 || f.RecoveryCodes != 0 {
				t.Fatalf("factors after reset: %+v, %v", f, err)
			}
			eventsBy(t, a, "mfa.reset")
			if r := c.mustRun("user", "reset-2fa", "nurse06"); !strings.Contains(r.out, "no second factor") {
				t.Errorf("second reset said %q", r.out)
			}
		})
	}
}

func TestUserCommands_UnknownLoginFailsNamingIt(t *testing.T) {
	c := newCLI(t, "sqlite")
	c.mustRun("migrate")
	for _, args := range [][]string{
		{"disable", "ghost"},
		{"enable", "ghost"},
		{"unlock", "ghost"},
		{"reset-password", "ghost", "--verified-by", "in_person_known"},
		{"reset-2fa", "ghost"},
	} {
		r := c.run("", append([]string{"user"}, args...)...)
		if r.err == nil || r.err.Error() != `unknown login "ghost"` {
			t.Errorf("%v: %v", args, r.err)
		}
	}
}

// TestUserAndTokenCommands_WorkWhileAnotherInstanceServes runs the commands
// on the database of a running anzen and checks that the server sees each
// change at once.
func TestUserAndTokenCommands_WorkWhileAnotherInstanceServes(t *testing.T) {
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			e := apptest.New(t, dialect)
			c := cliBeside(t, e)
			ward := e.CreateUser(t, "ward01", true)
			session := e.Login(t, ward)
			status := func(client *http.Client, bearer string) int {
				req, _ := http.NewRequest("GET", e.URL+"/api/v1/me", nil)
				if bearer != "" {
					req.Header.Set("Authorization", "Bearer "+bearer)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := status(session, ""); got != http.StatusOK {
				t.Fatalf("signed-in user gets %d", got)
			}

			if _, ok := listed(t, c)["ward01"]; !ok {
				t.Error("the CLI does not list the user the server created")
			}
			password := createUser(t, c, "cli01")
			resp := e.Do(t, e.Client(), "POST", "/api/v1/session", map[string]string{"login": "cli01", "password": password})
			if body := apptest.ReadBody(t, resp); !strings.Contains(body, "password-change-required") {
				t.Errorf("server on the CLI's new user: %d %s", resp.StatusCode, body)
			}

			c.mustRun("user", "disable", "ward01")
			if got := status(session, ""); got != http.StatusUnauthorized {
				t.Errorf("after disable the session gets %d, want 401", got)
			}

			token := secretLine(t, c.mustRun("token", "create", "--name", "shipper", "--scope", "read"))
			if got := status(e.Client(), token); got != http.StatusOK {
				t.Fatalf("the CLI's token gets %d from the server", got)
			}
			c.mustRun("token", "revoke", tokenID(t, c, "shipper"))
			if got := status(e.Client(), token); got != http.StatusUnauthorized {
				t.Errorf("revoked token gets %d, want 401", got)
			}
			assertCLIEvents(t, e.App, "user.create", "user.status", "token.create", "token.revoke")
		})
	}
}

// assertCLIEvents checks that the server's audit log holds each action,
// done by the CLI.
func assertCLIEvents(t *testing.T, a *app.App, actions ...string) {
	t.Helper()
	for _, action := range actions {
		eventsBy(t, a, action)
	}
}
