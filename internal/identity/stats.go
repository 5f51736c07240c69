package identity

import (
	"context"
	"fmt"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// FacilityScope is the set of facilities a query may look at: every facility, or
// only the listed ones (from authz.Principal.Facilities).
type FacilityScope struct {
	All        bool
	Facilities []int64
}

// FacilityScopeOf returns where p holds perm.
func FacilityScopeOf(p *authz.Principal, perm authz.Permission) FacilityScope {
	all, ids := p.Facilities(perm)
	return FacilityScope{All: all, Facilities: ids}
}

// Has reports whether facility f lies in the scope. AllFacilities (0), as
// in a grant or token for every facility, lies only in a scope of all.
func (sc FacilityScope) Has(f int64) bool {
	if sc.All {
		return true
	}
	if f == authz.AllFacilities {
		return false
	}
	for _, id := range sc.Facilities {
		if id == f {
			return true
		}
	}
	return false
}

// Covers reports whether the scope takes in the user's home facility and
// every facility where the user holds a role, so that acting on the user
// (resetting a password, say) gives the caller no reach beyond the scope.
func (sc FacilityScope) Covers(u *User) bool {
	if !sc.Has(u.Facility) {
		return false
	}
	for _, g := range u.Grants {
		if !sc.Has(g.Facility) {
			return false
		}
	}
	return true
}

// where returns an SQL condition on column limiting rows to the scope, and
// its arguments; "1 = 0" for an empty scope.
func (sc FacilityScope) where(column string) (string, []any) {
	if sc.All {
		return "1 = 1", nil
	}
	if len(sc.Facilities) == 0 {
		return "1 = 0", nil
	}
	args := make([]any, len(sc.Facilities))
	for i, id := range sc.Facilities {
		args[i] = id
	}
	return column + " IN (" + placeholders(len(sc.Facilities)) + ")", args
}

// UserStats are the figures of the users card on the dashboard.
type UserStats struct {
	Active        int `json:"active"`         // active and within validity
	WithoutFactor int `json:"without_factor"` // of those, with no TOTP or WebAuthn key
	Locked        int `json:"locked"`         // locked after failed sign-ins, now
	ExpiredActive int `json:"expired_active"` // status active, validity ended
	VendorsActive int `json:"vendors_active"` // active vendor accounts (profession or role)
}

// UserStats counts users of the scope's facilities, in one query.
func (s *Service) UserStats(ctx context.Context, sc FacilityScope) (UserStats, error) {
	now := db.Millis(s.clock.Now())
	cond, args := sc.where("u.facility_id")
	usable := `u.status = 'active' AND (u.valid_from = 0 OR u.valid_from <= ?) AND (u.valid_until = 0 OR u.valid_until > ?)`
	q := `SELECT
		COALESCE(SUM(CASE WHEN ` + usable + ` THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN ` + usable + `
			AND NOT EXISTS (SELECT 1 FROM identity_totp t WHERE t.user_id = u.id AND t.confirmed = 1)
			AND NOT EXISTS (SELECT 1 FROM identity_webauthn k WHERE k.user_id = u.id) THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN u.locked_until > ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN u.status = 'active' AND u.valid_until <> 0 AND u.valid_until <= ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN ` + usable + ` AND (u.profession = 'vendor'
			OR EXISTS (SELECT 1 FROM identity_grants g WHERE g.user_id = u.id AND g.role = 'vendor')) THEN 1 ELSE 0 END), 0)
		FROM identity_users u WHERE ` + cond
	// Two for each use of usable (three), one each for locked and expired.
	params := append([]any{now, now, now, now, now, now, now, now}, args...)
	var a, b, c, d, e int64
	if err := s.db.QueryRowContext(ctx, q, params...).Scan(&a, &b, &c, &d, &e); err != nil {
		return UserStats{}, fmt.Errorf("count users: %w", err)
	}
	return UserStats{Active: int(a), WithoutFactor: int(b), Locked: int(c), ExpiredActive: int(d), VendorsActive: int(e)}, nil
}

// WithoutSecondFactor returns which of the given users have neither a
// confirmed TOTP nor a WebAuthn key, in one query.
func (s *Service) WithoutSecondFactor(ctx context.Context, ids []int64) (map[int64]bool, error) {
	out := map[int64]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.db.QueryContext(ctx, `SELECT u.id FROM identity_users u WHERE u.id IN (`+placeholders(len(ids))+`)
		AND NOT EXISTS (SELECT 1 FROM identity_totp t WHERE t.user_id = u.id AND t.confirmed = 1)
		AND NOT EXISTS (SELECT 1 FROM identity_webauthn k WHERE k.user_id = u.id)`, args...)
	if err != nil {
		return nil, fmt.Errorf("users without a second factor: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// TokensIn lists the tokens of the scope's facilities, newest first. A
// token for every facility shows only to a scope of all.
func (s *Service) TokensIn(ctx context.Context, sc FacilityScope) ([]*Token, error) {
	cond, args := sc.where("facility_id")
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM identity_tokens WHERE `+cond+` ORDER BY id DESC`,
		args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []*Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// TokenByID returns one token (never its secret).
func (s *Service) TokenByID(ctx context.Context, id int64) (*Token, error) {
	return scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM identity_tokens WHERE id = ?`, id))
}
