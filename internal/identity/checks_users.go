package identity

// The checks that look at a facility's accounts: second factors enrolled,
// leavers and unused accounts, role grants. A facility's accounts are the
// active accounts whose home is the facility or who hold a role there
// (including a role granted for every facility), since each of them can act
// on the facility's data.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// roster is the active accounts of a facility, with their grants, and which
// of them have no second factor.
type roster struct {
	users    []*User
	noFactor map[int64]bool
}

// rosterWhere limits identity_users u to the active accounts of facility
// (every facility for authz.AllFacilities).
func rosterWhere(facility int64) (string, []any) {
	if facility == authz.AllFacilities {
		return "u.status = 'active'", nil
	}
	return `u.status = 'active' AND (u.facility_id = ? OR EXISTS (SELECT 1 FROM identity_grants rg
		WHERE rg.user_id = u.id AND rg.facility_id IN (?, 0)))`, []any{facility, facility}
}

// rosterOf reads the facility's active accounts in three queries, however
// many there are.
func (s *Service) rosterOf(ctx context.Context, facility int64) (*roster, error) {
	cond, args := rosterWhere(facility)
	cols := "u." + strings.Join(strings.Fields(strings.ReplaceAll(userColumns, ",", " ")), ", u.")
	rows, err := s.db.QueryContext(ctx, "SELECT "+cols+" FROM identity_users u WHERE "+cond+" ORDER BY u.login", args...)
	if err != nil {
		return nil, fmt.Errorf("read the facility's accounts: %w", err)
	}
	r := &roster{noFactor: map[int64]bool{}}
	byID := map[int64]*User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		r.users = append(r.users, u)
		byID[u.ID] = u
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := eachRow(ctx, s.db, `SELECT g.user_id, g.role, g.facility_id FROM identity_grants g
		JOIN identity_users u ON u.id = g.user_id WHERE `+cond+` ORDER BY g.user_id, g.role, g.facility_id`, args,
		func(sc interface{ Scan(...any) error }) error {
			var id int64
			var g authz.Grant
			if err := sc.Scan(&id, &g.Role, &g.Facility); err != nil {
				return err
			}
			if u := byID[id]; u != nil {
				u.Grants = append(u.Grants, g)
			}
			return nil
		}); err != nil {
		return nil, fmt.Errorf("read the accounts' roles: %w", err)
	}
	if err := eachRow(ctx, s.db, `SELECT u.id FROM identity_users u WHERE `+cond+`
		AND NOT EXISTS (SELECT 1 FROM identity_totp t WHERE t.user_id = u.id AND t.confirmed = 1)
		AND NOT EXISTS (SELECT 1 FROM identity_webauthn k WHERE k.user_id = u.id)`, args,
		func(sc interface{ Scan(...any) error }) error {
			var id int64
			if err := sc.Scan(&id); err != nil {
				return err
			}
			r.noFactor[id] = true
			return nil
		}); err != nil {
		return nil, fmt.Errorf("read the accounts' second factors: %w", err)
	}
	return r, nil
}

// eachRow runs q and calls fn for each row.
func eachRow(ctx context.Context, q db.Querier, query string, args []any, fn func(interface{ Scan(...any) error }) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// usable returns the accounts that can sign in at the service's now.
func (s *Service) usable(r *roster) []*User {
	now := s.clock.Now()
	var out []*User
	for _, u := range r.users {
		if u.Usable(now) {
			out = append(out, u)
		}
	}
	return out
}

func (s *Service) checkMFAEnrolment(ctx context.Context, facility int64) (check.Result, error) {
	r, err := s.rosterOf(ctx, facility)
	if err != nil {
		return check.Result{}, err
	}
	active := s.usable(r)
	var required, others []*User
	for _, u := range active {
		switch {
		case !r.noFactor[u.ID]:
		case s.MFARequired(u):
			required = append(required, u)
		default:
			others = append(others, u)
		}
	}
	if len(required) > 0 {
		names, more := namesOf(required)
		return check.Failed("identity.check.mfa_enrolment.fail", "count", len(required), "logins", names,
			"more", more, "active", len(active), "others", len(others)).WithLinks(linkUsers), nil
	}
	if len(others) > 0 {
		names, more := namesOf(others)
		return check.Warned("identity.check.mfa_enrolment.warn", "count", len(others), "logins", names,
			"more", more, "active", len(active)).WithLinks(linkUsers), nil
	}
	return check.Passed("identity.check.mfa_enrolment.pass", "active", len(active)).WithLinks(linkUsers), nil
}

func (s *Service) checkLeavers(ctx context.Context, facility int64) (check.Result, error) {
	r, err := s.rosterOf(ctx, facility)
	if err != nil {
		return check.Result{}, err
	}
	now := s.clock.Now()
	var ended, unused []*User
	for _, u := range r.users {
		switch {
		case !u.ValidUntil.IsZero() && !now.Before(u.ValidUntil):
			ended = append(ended, u)
		case !u.Usable(now):
			// Not yet valid: it has not started, so it cannot be unused.
		case now.Sub(lastUse(u)) > UnusedAccountAfter:
			unused = append(unused, u)
		}
	}
	days := int(UnusedAccountAfter.Hours() / 24)
	if len(ended) > 0 {
		names, more := namesOf(ended)
		return check.Failed("identity.check.leavers.fail", "count", len(ended), "logins", names, "more", more,
			"unused", len(unused), "days", days).WithLinks(linkUsers), nil
	}
	if len(unused) > 0 {
		names, more := namesOf(unused)
		return check.Warned("identity.check.leavers.unused", "count", len(unused), "logins", names, "more", more,
			"days", days).WithLinks(linkUsers), nil
	}
	return check.Passed("identity.check.leavers.pass", "active", len(r.users), "days", days).WithLinks(linkUsers), nil
}

// lastUse is when the account last signed in, or when it was made (or
// became valid) if it never did.
func lastUse(u *User) time.Time {
	t := u.LastLoginAt
	if t.IsZero() {
		t = u.CreatedAt
		if u.ValidFrom.After(t) {
			t = u.ValidFrom
		}
	}
	return t
}

func (s *Service) checkRoleGrants(ctx context.Context, facility int64) (check.Result, error) {
	r, err := s.rosterOf(ctx, facility)
	if err != nil {
		return check.Result{}, err
	}
	active := s.usable(r)
	var none, admins []*User
	for _, u := range active {
		if len(u.Grants) == 0 {
			none = append(none, u)
		}
		for _, g := range u.Grants {
			if g.Role == authz.Admin && g.Facility == authz.AllFacilities {
				admins = append(admins, u)
				break
			}
		}
	}
	if len(none) > 0 {
		names, more := namesOf(none)
		return check.Failed("identity.check.role_grants.fail", "count", len(none), "logins", names, "more", more,
			"active", len(active)).WithLinks(linkUsers), nil
	}
	if len(admins) > AllFacilityAdminsLimit {
		names, more := namesOf(admins)
		return check.Warned("identity.check.role_grants.admins", "count", len(admins), "logins", names,
			"more", more, "limit", AllFacilityAdminsLimit).WithLinks(linkAdmins), nil
	}
	return check.Passed("identity.check.role_grants.pass", "active", len(active), "admins", len(admins)).
		WithLinks(linkUsers), nil
}
