package identity

// The identity part's live evidence for the compliance centre: each check
// below looks at the policies in force or at the accounts of a facility and
// says whether the guideline's measures for identification, authentication
// and access rights (6.5 C-1, C-4, C-6, C-10, C-14, C-15, D-2) hold today.
// The checks' names and details are messages of locales/checks.*.toml.

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/check"
)

// Catalog items the checks give evidence for.
const (
	itemGuideline = "mhlw-gl-5.1:"
	itemChecklist = "mhlw-checklist-r6:"
)

// Figures the checks judge by. The guideline gives no number for the idle
// timeout or for an unused account; these are anzen's.
const (
	// GuidelinePasswordLong is option a's length: a password at least this
	// long need not be changed on a schedule.
	GuidelinePasswordLong = 13
	// GuidelinePasswordMin is the shortest password options b and c allow.
	GuidelinePasswordMin = 8
	// GuidelinePasswordClasses is how many kinds of characters (upper case,
	// lower case, digits, symbols) make a password "mixed" for options b
	// and c: the mhlw profile's own reading.
	GuidelinePasswordClasses = 3
	// IdleTimeoutLimit is the longest idle time before sign-out that the
	// session check accepts without a warning.
	IdleTimeoutLimit = 30 * time.Minute
	// UnusedAccountAfter is how long without a sign-in makes an account
	// unused: identity keeps an end of validity but no leaving date from
	// the personnel system, so a long silence is the other sign of a leaver.
	UnusedAccountAfter = 90 * 24 * time.Hour
	// AllFacilityAdminsLimit is how many accounts may hold the
	// administrator role in every facility before the grants check warns.
	AllFacilityAdminsLimit = 3
	// checkListNames is how many logins a detail names at most.
	checkListNames = 5
)

// Links of the checks' results.
var (
	linkUsers  = check.Link{LabelID: "identity.check.link.users", Href: "/users"}
	linkAdmins = check.Link{LabelID: "identity.check.link.admins", Href: "/users?role=admin"}
)

// Checks returns the identity part's checks, for the compliance centre.
func (s *Service) Checks() []check.Check {
	return []check.Check{
		{ID: "identity.mfa_enrolment", TitleID: "identity.check.mfa_enrolment.title",
			Items: []string{itemGuideline + "6.5-C-15"}, Run: s.checkMFAEnrolment},
		{ID: "identity.password_profile", TitleID: "identity.check.password_profile.title",
			Items: []string{itemGuideline + "6.5-C-10"}, Run: s.checkPasswordProfile},
		{ID: "identity.lockout", TitleID: "identity.check.lockout.title",
			Items: []string{itemGuideline + "6.5-C-14"}, Run: s.checkLockout},
		{ID: "identity.session_timeout", TitleID: "identity.check.session_timeout.title",
			Items: []string{itemGuideline + "6.5-C-4", itemGuideline + "6.5-D-2"}, Run: s.checkSessionTimeout},
		{ID: "identity.leavers", TitleID: "identity.check.leavers.title",
			Items: []string{itemGuideline + "6.5-C-1", itemChecklist + "hospital-2-5-server",
				itemChecklist + "hospital-2-5-terminal"}, Run: s.checkLeavers},
		{ID: "identity.role_grants", TitleID: "identity.check.role_grants.title",
			Items: []string{itemGuideline + "6.5-C-6", itemChecklist + "hospital-2-4-server",
				itemChecklist + "hospital-2-4-terminal"}, Run: s.checkRoleGrants},
	}
}

// everyoneMFA reports whether every role must use a second factor, so that
// no account signs in with a password alone.
func (s *Service) everyoneMFA() bool {
	for _, r := range authz.Roles {
		if !slices.Contains(s.set.MFARoles, r) {
			return false
		}
	}
	return true
}

// PasswordOptions returns which of the guideline's password options (6.5
// C-10: "a" at least 13 characters; "b" at least 8 mixed characters changed
// at least every two months; "c" at least 8 mixed characters with a second
// factor) the policy meets when everyoneMFA says whether every account must
// use a second factor. The figures judged are those the policy applies to
// an account without one, or, when every account must have one, to an
// account with one.
func (p PasswordPolicy) PasswordOptions(everyoneMFA bool) (options []string, minLen, minClasses int, maxAge time.Duration) {
	minLen, minClasses, maxAge, longAt := p.Rules(everyoneMFA)
	mixed := minLen >= GuidelinePasswordMin && minClasses >= GuidelinePasswordClasses
	if minLen >= GuidelinePasswordLong {
		options = append(options, "a")
	}
	if mixed && maxAge > 0 && maxAge <= MHLWMaxAge {
		options = append(options, "b")
		// The mhlw profile also lets a password of 13 or more characters
		// stand without a change: option a for those who choose one.
		if longAt >= GuidelinePasswordLong && !slices.Contains(options, "a") {
			options = append(options, "a")
		}
	}
	if mixed && everyoneMFA {
		options = append(options, "c")
	}
	slices.Sort(options)
	return options, minLen, minClasses, maxAge
}

func (s *Service) checkPasswordProfile(_ context.Context, _ int64) (check.Result, error) {
	all := s.everyoneMFA()
	options, minLen, minClasses, maxAge := s.set.Policy.PasswordOptions(all)
	profile := s.set.Policy.Profile
	if profile == "" {
		profile = "mhlw"
	}
	kv := []any{"profile", profile, "min_length", minLen, "min_classes", minClasses,
		"max_age_days", int(maxAge / (24 * time.Hour)), "everyone_mfa", all}
	if len(options) == 0 {
		return check.Failed("identity.check.password_profile.fail", kv...), nil
	}
	return check.Passed("identity.check.password_profile.pass",
		append(kv, "options", strings.Join(options, ", "))...), nil
}

func (s *Service) checkLockout(_ context.Context, _ int64) (check.Result, error) {
	kv := []any{"failures", s.set.LockoutFailures, "minutes", int(s.set.LockoutDuration / time.Minute),
		"delay_ms", int(s.set.FailureDelay / time.Millisecond)}
	switch {
	case s.set.LockoutFailures < 1 || s.set.LockoutDuration <= 0:
		return check.Failed("identity.check.lockout.disabled", kv...), nil
	case s.set.FailureDelay <= 0:
		return check.Warned("identity.check.lockout.no_delay", kv...), nil
	}
	return check.Passed("identity.check.lockout.pass", kv...), nil
}

func (s *Service) checkSessionTimeout(_ context.Context, _ int64) (check.Result, error) {
	idle := s.set.SessionIdle
	kv := []any{"idle_minutes", int(idle / time.Minute), "limit_minutes", int(IdleTimeoutLimit / time.Minute),
		"lifetime_hours", int(s.set.SessionLifetime / time.Hour)}
	switch {
	case idle <= 0:
		return check.Failed("identity.check.session_timeout.none", kv...), nil
	case idle > IdleTimeoutLimit:
		return check.Warned("identity.check.session_timeout.long", kv...), nil
	}
	return check.Passed("identity.check.session_timeout.pass", kv...), nil
}

// namesOf joins up to checkListNames logins for a detail, and says how
// many more there are.
func namesOf(us []*User) (names string, more int) {
	var list []string
	for i, u := range us {
		if i == checkListNames {
			break
		}
		list = append(list, u.Login)
	}
	return strings.Join(list, ", "), max(0, len(us)-checkListNames)
}
