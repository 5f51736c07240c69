package identity

import (
	"context"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
)

// checkCatalog is identity's message catalog, loaded once.
var checkCatalog = sync.OnceValues(func() (*i18n.Catalog, error) {
	c := i18n.New()
	return c, c.Add(Locales())
})

// runCheck runs the check id of e's service on facility and asserts that
// what it says reads in both languages: its detail and link labels exist
// in ja and en and every figure the message uses is in the data.
func runCheck(t *testing.T, e *coreEnv, id string, facility int64) check.Result {
	t.Helper()
	var c *check.Check
	for _, ch := range e.svc.Checks() {
		if ch.ID == id {
			c = &ch
		}
	}
	if c == nil {
		t.Fatalf("no check %s", id)
	}
	res, err := c.Run(context.Background(), facility)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	cat, err := checkCatalog()
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{res.DetailID}
	for _, l := range res.Links {
		ids = append(ids, l.LabelID)
	}
	for _, lang := range i18n.Languages {
		for _, mid := range ids {
			if !cat.Has(lang, mid) {
				t.Errorf("%s: message %s missing in %s", id, mid, lang)
			}
		}
		text := cat.T(lang, res.DetailID, res.Data)
		if strings.Contains(text, "<no value>") || strings.HasPrefix(text, "[") {
			t.Errorf("%s in %s reads %q", res.DetailID, lang, text)
		}
	}
	return res
}

// want asserts a result's status, detail and the given data.
func want(t *testing.T, res check.Result, status check.Status, detail string, data map[string]any) {
	t.Helper()
	if res.Status != status || res.DetailID != detail {
		t.Fatalf("result = %s %s (%v), want %s %s", res.Status, res.DetailID, res.Data, status, detail)
	}
	for k, v := range data {
		if !reflect.DeepEqual(res.Data[k], v) {
			t.Errorf("%s: data[%s] = %#v, want %#v", detail, k, res.Data[k], v)
		}
	}
}

// setUser changes one column of a user in place, for states the service
// refuses to make (an account without a role) or that take time to reach.
func setUser(t *testing.T, e *coreEnv, u *User, column string, v any) {
	t.Helper()
	if _, err := e.db.ExecContext(context.Background(), `UPDATE identity_users SET `+column+` = ? WHERE id = ?`, v, u.ID); err != nil {
		t.Fatal(err)
	}
}

func TestChecks_AreValidUniqueAndNamedInBothLanguages(t *testing.T) {
	e := newCoreEnv(t, dbtest.SQLite(t, coreParts...), nil, nil)
	cat, err := checkCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if m := cat.Missing(); len(m) > 0 {
		t.Errorf("messages in one language only: %v", m)
	}
	seen := map[string]bool{}
	for _, c := range e.svc.Checks() {
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
		if seen[c.ID] {
			t.Errorf("check %s declared twice", c.ID)
		}
		seen[c.ID] = true
		if !strings.HasPrefix(c.ID, "identity.") || !strings.HasPrefix(c.TitleID, "identity.check.") {
			t.Errorf("check %s (title %s) is not identity's", c.ID, c.TitleID)
		}
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, c.TitleID) {
				t.Errorf("%s: title %s missing in %s", c.ID, c.TitleID, lang)
			}
		}
	}
	for _, id := range []string{"identity.mfa_enrolment", "identity.password_profile", "identity.lockout",
		"identity.session_timeout", "identity.leavers", "identity.role_grants"} {
		if !seen[id] {
			t.Errorf("check %s is not declared", id)
		}
	}
}

func TestCheckMFAEnrolment_FailsForRequiredRolesWarnsForOthers(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, func(s *Settings) { s.MFARoles = []authz.Role{authz.Admin, authz.CISO} }, nil)
		admin := e.user(t, "admin01", "", authz.Admin)
		nurses := []*User{e.user(t, "nurse01", ""), e.user(t, "nurse02", ""), e.user(t, "nurse03", ""),
			e.user(t, "nurse04", ""), e.user(t, "nurse05", ""), e.user(t, "nurse06", "")}
		retired := e.user(t, "ciso-old", "", authz.CISO)
		setUser(t, e, retired, "status", string(Retired))

		res := runCheck(t, e, "identity.mfa_enrolment", e.facility)
		want(t, res, check.Fail, "identity.check.mfa_enrolment.fail",
			map[string]any{"count": 1, "logins": "admin01", "more": 0, "active": 7, "others": 6})
		if len(res.Links) != 1 || res.Links[0].Href != "/users" {
			t.Errorf("links = %+v", res.Links)
		}

		enrolTOTP(t, e, admin)
		enrolTOTP(t, e, nurses[0])
		want(t, runCheck(t, e, "identity.mfa_enrolment", e.facility), check.Warning, "identity.check.mfa_enrolment.warn",
			map[string]any{"count": 5, "logins": "nurse02, nurse03, nurse04, nurse05, nurse06", "more": 0, "active": 7})

		for _, n := range nurses[1:] {
			enrolTOTP(t, e, n)
		}
		want(t, runCheck(t, e, "identity.mfa_enrolment", e.facility), check.Pass, "identity.check.mfa_enrolment.pass",
			map[string]any{"active": 7})
	})
}

func TestCheckMFAEnrolment_CountsTheFacilitysAccountsOnly(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		other, err := e.svc.CreateFacility(ctx, SystemActor, Facility{Code: "H2", NameJA: "安全北病院", NameEN: "Anzen North Hospital"})
		if err != nil {
			t.Fatal(err)
		}
		enrolTOTP(t, e, e.user(t, "nurse01", ""))
		if _, _, err := e.svc.CreateUser(ctx, SystemActor, NewUser{Facility: other.ID, Login: "north01", Name: "北 太郎",
			Profession: "doctor", Grants: []authz.Grant{{Role: authz.Staff, Facility: other.ID}}, Password: corePassword}); err != nil {
			t.Fatal(err)
		}
		want(t, runCheck(t, e, "identity.mfa_enrolment", e.facility), check.Pass, "identity.check.mfa_enrolment.pass",
			map[string]any{"active": 1})
		want(t, runCheck(t, e, "identity.mfa_enrolment", other.ID), check.Fail, "identity.check.mfa_enrolment.fail",
			map[string]any{"count": 1, "logins": "north01", "active": 1})

		// An administrator of every facility is an account of each of them.
		if _, _, err := e.svc.CreateUser(ctx, SystemActor, NewUser{Facility: other.ID, Login: "group-admin", Name: "本部 花子",
			Profession: "it", Grants: []authz.Grant{{Role: authz.Admin, Facility: authz.AllFacilities}}, Password: corePassword}); err != nil {
			t.Fatal(err)
		}
		want(t, runCheck(t, e, "identity.mfa_enrolment", e.facility), check.Fail, "identity.check.mfa_enrolment.fail",
			map[string]any{"count": 1, "logins": "group-admin", "active": 2})
		want(t, runCheck(t, e, "identity.mfa_enrolment", authz.AllFacilities), check.Fail, "identity.check.mfa_enrolment.fail",
			map[string]any{"count": 2, "logins": "group-admin, north01", "active": 3})
	})
}

func TestCheckPasswordProfile_JudgesTheGuidelinesOptions(t *testing.T) {
	e := newCoreEnv(t, dbtest.SQLite(t, coreParts...), nil, nil)
	some := []authz.Role{authz.Admin}
	cases := []struct {
		name    string
		policy  PasswordPolicy
		mfa     []authz.Role
		status  check.Status
		options string
		minLen  int
		maxAge  int
	}{
		{"mhlw without 2FA for all: mixed 8 changed every 60 days, or 13", PasswordPolicy{Profile: "mhlw"}, some, check.Pass, "a, b", 8, 60},
		{"mhlw with 2FA for all: mixed 8", PasswordPolicy{Profile: "mhlw"}, authz.Roles, check.Pass, "c", 8, 0},
		{"nist without 2FA for all: 15 characters", PasswordPolicy{Profile: "nist"}, some, check.Pass, "a", 15, 0},
		{"nist with 2FA for all: 8 characters of any kind", PasswordPolicy{Profile: "nist"}, authz.Roles, check.Fail, "", 8, 0},
		{"custom 14", PasswordPolicy{Profile: "custom", MinLength: 14}, some, check.Pass, "a", 14, 0},
		{"custom mixed 8 changed every 90 days", PasswordPolicy{Profile: "custom", MinLength: 8, MinClasses: 3, MaxAge: 90 * 24 * time.Hour},
			some, check.Fail, "", 8, 90},
		{"custom mixed 8 changed every 60 days", PasswordPolicy{Profile: "custom", MinLength: 8, MinClasses: 3, MaxAge: 60 * 24 * time.Hour},
			some, check.Pass, "b", 8, 60},
		{"custom mixed 10, no change, 2FA for all", PasswordPolicy{Profile: "custom", MinLength: 10, MinClasses: 3},
			authz.Roles, check.Pass, "c", 10, 0},
		{"custom 10 of one kind, 2FA for all", PasswordPolicy{Profile: "custom", MinLength: 10, MinClasses: 1},
			authz.Roles, check.Fail, "", 10, 0},
		{"custom 6 mixed changed monthly", PasswordPolicy{Profile: "custom", MinLength: 6, MinClasses: 4, MaxAge: 30 * 24 * time.Hour},
			some, check.Fail, "", 6, 30},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.svc.set.Policy, e.svc.set.MFARoles = tc.policy, tc.mfa
			res := runCheck(t, e, "identity.password_profile", e.facility)
			data := map[string]any{"profile": tc.policy.Profile, "min_length": tc.minLen, "max_age_days": tc.maxAge,
				"everyone_mfa": len(tc.mfa) == len(authz.Roles)}
			if tc.status == check.Pass {
				data["options"] = tc.options
				want(t, res, check.Pass, "identity.check.password_profile.pass", data)
			} else {
				want(t, res, check.Fail, "identity.check.password_profile.fail", data)
				if _, ok := res.Data["options"]; ok {
					t.Errorf("a failing profile names options: %v", res.Data)
				}
			}
		})
	}
}

func TestCheckLockout_FailsWhenOffWarnsWithoutDelay(t *testing.T) {
	e := newCoreEnv(t, dbtest.SQLite(t, coreParts...), nil, nil)
	e.svc.set.FailureDelay = 500 * time.Millisecond
	want(t, runCheck(t, e, "identity.lockout", e.facility), check.Pass, "identity.check.lockout.pass",
		map[string]any{"failures": 5, "minutes": 15, "delay_ms": 500})
	e.svc.set.FailureDelay = 0
	want(t, runCheck(t, e, "identity.lockout", e.facility), check.Warning, "identity.check.lockout.no_delay",
		map[string]any{"failures": 5, "minutes": 15, "delay_ms": 0})
	e.svc.set.LockoutDuration = 0
	want(t, runCheck(t, e, "identity.lockout", e.facility), check.Fail, "identity.check.lockout.disabled",
		map[string]any{"minutes": 0})
}

func TestCheckSessionTimeout_ThirtyMinutesIsTheLimit(t *testing.T) {
	e := newCoreEnv(t, dbtest.SQLite(t, coreParts...), nil, nil)
	for _, tc := range []struct {
		idle   time.Duration
		status check.Status
		detail string
	}{
		{15 * time.Minute, check.Pass, "identity.check.session_timeout.pass"},
		{30 * time.Minute, check.Pass, "identity.check.session_timeout.pass"},
		{31 * time.Minute, check.Warning, "identity.check.session_timeout.long"},
		{8 * time.Hour, check.Warning, "identity.check.session_timeout.long"},
		{0, check.Fail, "identity.check.session_timeout.none"},
	} {
		e.svc.set.SessionIdle = tc.idle
		want(t, runCheck(t, e, "identity.session_timeout", e.facility), tc.status, tc.detail,
			map[string]any{"idle_minutes": int(tc.idle / time.Minute), "limit_minutes": 30, "lifetime_hours": 12})
	}
}

func TestCheckLeavers_FailsPastValidityWarnsWhenUnused(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		recent := e.user(t, "nurse01", "")
		quiet := e.user(t, "nurse02", "")
		leaver := e.user(t, "nurse03", "")
		retired := e.user(t, "nurse04", "")
		setUser(t, e, retired, "status", string(Retired))
		future := e.user(t, "nurse05", "")

		want(t, runCheck(t, e, "identity.leavers", e.facility), check.Pass, "identity.check.leavers.pass",
			map[string]any{"active": 4, "days": 90})

		// 100 days on: nurse01 signed in yesterday, nurse02 never did,
		// nurse05 only starts next week; nurse03 left 10 days ago.
		e.clock.Advance(100 * 24 * time.Hour)
		now := e.clock.Now()
		setUser(t, e, recent, "last_login_at", db.Millis(now.Add(-24*time.Hour)))
		setUser(t, e, future, "valid_from", db.Millis(now.Add(7*24*time.Hour)))
		want(t, runCheck(t, e, "identity.leavers", e.facility), check.Warning, "identity.check.leavers.unused",
			map[string]any{"count": 2, "logins": "nurse02, nurse03", "days": 90})

		setUser(t, e, leaver, "valid_until", db.Millis(now.Add(-10*24*time.Hour)))
		want(t, runCheck(t, e, "identity.leavers", e.facility), check.Fail, "identity.check.leavers.fail",
			map[string]any{"count": 1, "logins": "nurse03", "unused": 1})

		setUser(t, e, leaver, "status", string(Retired))
		setUser(t, e, quiet, "last_login_at", db.Millis(now.Add(-89*24*time.Hour)))
		want(t, runCheck(t, e, "identity.leavers", e.facility), check.Pass, "identity.check.leavers.pass",
			map[string]any{"active": 3})
	})
}

func TestCheckRoleGrants_FailsWithoutARoleWarnsOnManyGroupAdmins(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		e.user(t, "nurse01", "")
		orphan := e.user(t, "nurse02", "")
		e.user(t, "admin-h1", "", authz.Admin)
		want(t, runCheck(t, e, "identity.role_grants", e.facility), check.Pass, "identity.check.role_grants.pass",
			map[string]any{"active": 3, "admins": 0})

		var group []string
		for _, login := range []string{"group-a", "group-b", "group-c", "group-d"} {
			if _, _, err := e.svc.CreateUser(ctx, SystemActor, NewUser{Facility: e.facility, Login: login, Name: "本部",
				Profession: "it", Grants: []authz.Grant{{Role: authz.Admin, Facility: authz.AllFacilities}},
				Password: corePassword}); err != nil {
				t.Fatal(err)
			}
			group = append(group, login)
			res := runCheck(t, e, "identity.role_grants", e.facility)
			if len(group) <= AllFacilityAdminsLimit {
				want(t, res, check.Pass, "identity.check.role_grants.pass", map[string]any{"admins": len(group)})
				continue
			}
			want(t, res, check.Warning, "identity.check.role_grants.admins",
				map[string]any{"count": 4, "logins": "group-a, group-b, group-c, group-d", "limit": 3})
			if res.Links[0].Href != "/users?role=admin" {
				t.Errorf("links = %+v", res.Links)
			}
		}

		if _, err := e.db.ExecContext(ctx, `DELETE FROM identity_grants WHERE user_id = ?`, orphan.ID); err != nil {
			t.Fatal(err)
		}
		want(t, runCheck(t, e, "identity.role_grants", e.facility), check.Fail, "identity.check.role_grants.fail",
			map[string]any{"count": 1, "logins": "nurse02", "active": 7})
	})
}

// TestCheckMessages_SourceAndCatalogAgree fails when the checks' code names
// a message the catalog lacks in a language, or the catalog keeps a check
// message no code uses any more.
func TestCheckMessages_SourceAndCatalogAgree(t *testing.T) {
	ids := regexp.MustCompile(`"(identity\.check\.[a-z0-9_.]+)"`)
	used := map[string]bool{}
	for _, name := range []string{"checks.go", "checks_users.go"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ids.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	cat, err := checkCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 10 {
		t.Fatalf("found only %d message ids in the checks' code", len(used))
	}
	for id := range used {
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, id) {
				t.Errorf("message %s is not in the %s catalog", id, lang)
			}
		}
	}
	keys := regexp.MustCompile(`(?m)^"(identity\.check\.[^"]+)"\s*=`)
	for _, name := range []string{"checks.ja.toml", "checks.en.toml"} {
		b, err := fs.ReadFile(Locales(), name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keys.FindAllStringSubmatch(string(b), -1) {
			if !used[m[1]] {
				t.Errorf("%s: message %s is used by no check", name, m[1])
			}
		}
	}
}

func TestChecks_ADatabaseErrorIsAnErrorNotAFailure(t *testing.T) {
	d := dbtest.SQLite(t, coreParts...)
	e := newCoreEnv(t, d, nil, nil)
	d.Close()
	for _, c := range e.svc.Checks() {
		switch c.ID {
		case "identity.mfa_enrolment", "identity.leavers", "identity.role_grants":
			if res, err := c.Run(context.Background(), e.facility); err == nil {
				t.Errorf("%s on a closed database: %+v, want an error", c.ID, res)
			}
		}
	}
}
