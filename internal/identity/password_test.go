package identity

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHasher_WritesPHCWithOWASPParameters(t *testing.T) {
	h := newProductionHasher()
	a, err := h.Hash("Kx7#mPq2wZ")
	if err != nil {
		t.Fatal(err)
	}
	if !phcPattern.MatchString(a) {
		t.Fatalf("hash %q is not argon2id PHC with m=19456 t=2 p=1, 16-byte salt, 32-byte key", a)
	}
	b, err := h.Hash("Kx7#mPq2wZ")
	if err != nil {
		t.Fatal(err)
	}
	if a == b || strings.Split(a, "$")[4] == strings.Split(b, "$")[4] {
		t.Fatalf("two hashes of one password share a salt: %q, %q", a, b)
	}
	for _, phc := range []string{a, b} {
		if ok, err := h.Verify(phc, "Kx7#mPq2wZ"); !ok || err != nil {
			t.Fatalf("right password refused: %v %v", ok, err)
		}
		for _, wrong := range []string{"Kx7#mPq2wz", "", "Kx7#mPq2wZ ", "kx7#mpq2wz"} {
			if ok, err := h.Verify(phc, wrong); ok || err != nil {
				t.Fatalf("wrong password %q: ok = %v, err = %v", wrong, ok, err)
			}
		}
	}
}

func TestHasher_RefusesMalformedHashes(t *testing.T) {
	h := newProductionHasher()
	good, err := h.Hash("Kx7#mPq2wZ")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	with := func(i int, v string) string {
		p := slices.Clone(parts)
		p[i] = v
		return strings.Join(p, "$")
	}
	cases := map[string]string{
		"empty":                   "",
		"bcrypt":                  "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":                 with(1, "argon2i"),
		"argon2d":                 with(1, "argon2d"),
		"too few fields":          strings.Join(parts[:5], "$"),
		"too many fields":         good + "$x",
		"old version":             with(2, "v=16"),
		"no version":              with(2, "x"),
		"zero memory":             with(3, "m=0,t=2,p=1"),
		"zero time":               with(3, "m=19456,t=0,p=1"),
		"zero threads":            with(3, "m=19456,t=2,p=0"),
		"threads out of range":    with(3, "m=19456,t=2,p=300"),
		"huge memory":             with(3, "m=4194304,t=2,p=1"),
		"huge time":               with(3, "m=19456,t=1000,p=1"),
		"negative memory":         with(3, "m=-1,t=2,p=1"),
		"parameters missing":      with(3, "m=19456"),
		"salt not base64":         with(4, "!!!!"),
		"key not base64":          with(5, "not*base64"),
		"empty key":               with(5, ""),
		"overlong key":            with(5, strings.Repeat("A", 200)),
		"padded base64 key":       with(5, parts[5]+"="),
		"leading text":            "x" + good,
		"parameters out of order": with(3, "t=2,m=19456,p=1"),
		"text after parameters":   with(3, "m=19456,t=2,p=1,x"),
		"text after version":      with(2, "v=19x"),
		"leading zero":            with(3, "m=019456,t=2,p=1"),
	}
	for name, phc := range cases {
		t.Run(name, func(t *testing.T) {
			ok, err := h.Verify(phc, "Kx7#mPq2wZ")
			if ok || !errors.Is(err, errBadHash) {
				t.Fatalf("Verify(%q) = %v, %v; want false, errBadHash", phc, ok, err)
			}
		})
	}
}

func TestPasswordPolicy_CheckPassword(t *testing.T) {
	mhlw := PasswordPolicy{Profile: "mhlw"}
	nist := PasswordPolicy{Profile: "nist"}
	custom := PasswordPolicy{Profile: "custom", MinLength: 10, MinClasses: 2}
	cases := []struct {
		name     string
		policy   PasswordPolicy
		password string
		twoFA    bool
		want     []string
	}{
		{"mhlw: 8 characters of 4 classes", mhlw, "Kx7#mPq2", false, nil},
		{"mhlw: 8 characters of 3 classes", mhlw, "Kx7bmPq2", false, nil},
		{"mhlw: 7 characters", mhlw, "Kx7#mPq", false, []string{"password.rule.length"}},
		{"mhlw: 2 classes", mhlw, "kx7bmpq2", false, []string{"password.rule.classes"}},
		{"mhlw: 2 classes with a second factor", mhlw, "kx7bmpq2", true, []string{"password.rule.classes"}},
		{"mhlw: kanji count as a class", mhlw, "安全kx7bmpq2", false, nil},
		{"mhlw: contains the login", mhlw, "Kx7#nurse01", false, []string{"password.rule.login"}},
		{"mhlw: contains the login in capitals", mhlw, "Kx7#NURSE01", false, []string{"password.rule.login"}},
		{"mhlw: common", mhlw, "password", false, []string{"password.rule.classes", "password.rule.common"}},
		{"mhlw: common with trailing digits and symbol", mhlw, "Password123!", false, []string{"password.rule.common"}},
		{"mhlw: common in capitals", mhlw, "PASSWORD", false, []string{"password.rule.classes", "password.rule.common"}},
		{"mhlw: common Japanese addition", mhlw, "Sakura2024!", false, []string{"password.rule.common"}},
		{"mhlw: too long", mhlw, "Kx7#" + strings.Repeat("a", MaxPasswordLength), false, []string{"password.rule.too_long"}},
		{"mhlw: invalid UTF-8", mhlw, "Kx7#mPq2\xff", false, []string{"password.rule.utf8"}},
		{"nist: 15 lower-case letters", nist, "kxbmpqwzrtvnlsd", false, nil},
		{"nist: 14 characters without a second factor", nist, "Kx7#mPq2wZyT4!", false, []string{"password.rule.length"}},
		{"nist: 8 characters with a second factor", nist, "kxbmpqwz", true, nil},
		{"nist: 7 characters with a second factor", nist, "kxbmpqw", true, []string{"password.rule.length"}},
		{"nist: common list applies", nist, "password1234567", false, []string{"password.rule.common"}},
		{"custom: minimum length", custom, "Kx7#mPq2w", false, []string{"password.rule.length"}},
		{"custom: minimum classes", custom, "kxbmpqwzrt", false, []string{"password.rule.classes"}},
		{"custom: met", custom, "kxbmpqwzr7", false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.policy.checkPassword(c.password, "nurse01", c.twoFA)
			if !slices.Equal(got, c.want) {
				t.Fatalf("checkPassword(%q) = %q, want %q", c.password, got, c.want)
			}
		})
	}
}

func TestPasswordPolicy_Expiry(t *testing.T) {
	changed := coreStart
	day := 24 * time.Hour
	cases := []struct {
		name     string
		policy   PasswordPolicy
		password string
		twoFA    bool
		age      time.Duration
		want     bool
	}{
		{"mhlw: 8 characters, 60 days", PasswordPolicy{Profile: "mhlw"}, "Kx7#mPq2", false, 60 * day, false},
		{"mhlw: 8 characters, 60 days and 1 ms", PasswordPolicy{Profile: "mhlw"}, "Kx7#mPq2", false, 60*day + time.Millisecond, true},
		{"mhlw: 12 characters, 61 days", PasswordPolicy{Profile: "mhlw"}, "Kx7#mPq2wZyT", false, 61 * day, true},
		{"mhlw: 13 characters, never", PasswordPolicy{Profile: "mhlw"}, "Kx7#mPq2wZyT4", false, 3650 * day, false},
		{"mhlw: 8 characters with a second factor, never", PasswordPolicy{Profile: "mhlw"}, "Kx7#mPq2", true, 3650 * day, false},
		{"nist: never", PasswordPolicy{Profile: "nist"}, "kxbmpqwzrtvnlsd", false, 3650 * day, false},
		{"custom: within max age", PasswordPolicy{Profile: "custom", MaxAge: 90 * day}, "Kx7#mPq2wZyT4abc", false, 90 * day, false},
		{"custom: past max age, even long", PasswordPolicy{Profile: "custom", MaxAge: 90 * day}, "Kx7#mPq2wZyT4abc", false, 91 * day, true},
		{"custom: past max age with a second factor", PasswordPolicy{Profile: "custom", MaxAge: 90 * day}, "Kx7#mPq2", true, 91 * day, true},
		{"custom: no max age", PasswordPolicy{Profile: "custom"}, "Kx7#mPq2", false, 3650 * day, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.policy.expired(changed, c.policy.isLong(c.password), c.twoFA, changed.Add(c.age))
			if got != c.want {
				t.Fatalf("expired after %v = %v, want %v", c.age, got, c.want)
			}
		})
	}
	if (PasswordPolicy{Profile: "mhlw"}).expired(time.Time{}, false, false, changed) {
		t.Fatal("a password without a change time counts as expired")
	}
}

func TestRandomPassword_MeetsEveryProfile(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		p := RandomPassword()
		if seen[p] {
			t.Fatalf("RandomPassword repeated %q", p)
		}
		seen[p] = true
		if !(PasswordPolicy{Profile: "mhlw"}).isLong(p) {
			t.Fatalf("%q is not long enough to be exempt from forced change", p)
		}
		for _, pol := range []PasswordPolicy{{Profile: "mhlw"}, {Profile: "nist"}} {
			if broken := pol.checkPassword(p, "admin", false); len(broken) > 0 {
				t.Fatalf("%s refuses %q: %q", pol.Profile, p, broken)
			}
		}
	}
}

func TestChangePassword_RefusesTheLastNPasswords(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil) // history 3
		ctx := context.Background()
		u := e.user(t, "nurse01", "")
		change := func(current, next string) error {
			e.clock.Advance(time.Minute)
			return e.svc.ChangePassword(ctx, Actor{UserID: u.ID, Login: u.Login}, u.ID, current, next)
		}
		p := []string{corePassword, "Tr0pical#Fi", "Bl0ssom#Sky", "Qu1et#River"}
		for i := 1; i < len(p); i++ {
			if err := change(p[i-1], p[i]); err != nil {
				t.Fatalf("change %d: %v", i, err)
			}
		}
		// The last three are p[3] (current), p[2], p[1]; p[0] is fourth.
		cur := p[3]
		for _, c := range []struct {
			next, field, msgID string
		}{
			{p[3], "password", "password.rule.same"},
			{p[2], "password", "password.rule.history"},
			{p[1], "password", "password.rule.history"},
			{"short", "password", "password.rule.length"},
		} {
			if err := change(cur, c.next); fieldErr(err, c.field) != c.msgID {
				t.Fatalf("change to %q: err = %v, want %s", c.next, err, c.msgID)
			}
		}
		if err := change("Wrong#Current1", "Fr3sh#Meadow"); fieldErr(err, "current") != "password.rule.current" {
			t.Fatalf("wrong current password: err = %v", err)
		}
		if err := change(cur, p[0]); err != nil {
			t.Fatalf("the fourth-last password (outside a history of 3) was refused: %v", err)
		}
		if _, err := e.svc.CheckPassword(ctx, "nurse01", p[0], ""); err != nil {
			t.Fatalf("sign-in with the new password: %v", err)
		}
		if n := len(e.events(t, "password.change")); n != 4 {
			t.Fatalf("password.change recorded %d times, want 4", n)
		}
		got := e.reload(t, u.ID)
		if got.MustChangePassword || !got.PasswordChangedAt.Equal(e.clock.Now()) {
			t.Fatalf("after change: must change %v, changed at %v", got.MustChangePassword, got.PasswordChangedAt)
		}
	})
}
