package identity

import (
	"context"
	"fmt"
	"strings"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
)

const userColumns = `id, facility_id, login, name, name_kana, department, profession, status, valid_from,
	valid_until, lang, password_hash, password_long, password_changed_at, must_change_password, failed_count,
	locked_until, last_login_at, created_at`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	var validFrom, validUntil, changed, locked, lastLogin, created int64
	var long, must int
	err := row.Scan(&u.ID, &u.Facility, &u.Login, &u.Name, &u.NameKana, &u.Department, &u.Profession, &u.Status,
		&validFrom, &validUntil, &u.Lang, &u.passwordHash, &long, &changed, &must, &u.FailedCount, &locked,
		&lastLogin, &created)
	if err != nil {
		return nil, db.NotFound(err)
	}
	u.ValidFrom, u.ValidUntil = db.Time(validFrom), db.Time(validUntil)
	u.PasswordChangedAt, u.LockedUntil, u.LastLoginAt, u.CreatedAt = db.Time(changed), db.Time(locked),
		db.Time(lastLogin), db.Time(created)
	u.passwordLong, u.MustChangePassword = long == 1, must == 1
	return &u, nil
}

func loadGrants(ctx context.Context, q db.Querier, u *User) error {
	rows, err := q.QueryContext(ctx, `SELECT role, facility_id FROM identity_grants WHERE user_id = ?
		ORDER BY role, facility_id`, u.ID)
	if err != nil {
		return fmt.Errorf("load grants: %w", err)
	}
	defer rows.Close()
	u.Grants = u.Grants[:0]
	for rows.Next() {
		var g authz.Grant
		if err := rows.Scan(&g.Role, &g.Facility); err != nil {
			return err
		}
		u.Grants = append(u.Grants, g)
	}
	return rows.Err()
}

func getUser(ctx context.Context, q db.Querier, where string, arg any) (*User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, "SELECT "+userColumns+" FROM identity_users WHERE "+where, arg))
	if err != nil {
		return nil, err
	}
	if err := loadGrants(ctx, q, u); err != nil {
		return nil, err
	}
	return u, nil
}

// UserByLogin returns the user with the given login name.
func (s *Service) UserByLogin(ctx context.Context, login string) (*User, error) {
	return getUser(ctx, s.db, "login = ?", login)
}

// UserByID returns the user with the given id.
func (s *Service) UserByID(ctx context.Context, id int64) (*User, error) {
	return getUser(ctx, s.db, "id = ?", id)
}

// UserFilter narrows a user listing.
type UserFilter struct {
	// Scope: every facility, or only these (from Principal.Facilities).
	AllFacilities bool
	Facilities    []int64

	Query      string // part of the login, name or kana
	Status     Status
	Profession Profession
	Role       authz.Role
	LockedOnly bool
	Limit      int
	Offset     int
}

// ListUsers returns the users the filter selects, ordered by login, and
// the total count.
func (s *Service) ListUsers(ctx context.Context, f UserFilter) ([]*User, int, error) {
	var where []string
	var args []any
	if !f.AllFacilities {
		if len(f.Facilities) == 0 {
			return nil, 0, nil
		}
		where = append(where, "facility_id IN ("+placeholders(len(f.Facilities))+")")
		for _, id := range f.Facilities {
			args = append(args, id)
		}
	}
	if f.Query != "" {
		where = append(where, `(login LIKE ? ESCAPE '\' OR name LIKE ? ESCAPE '\' OR name_kana LIKE ? ESCAPE '\')`)
		like := "%" + escapeLike(f.Query) + "%"
		args = append(args, like, like, like)
	}
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, string(f.Status))
	}
	if f.Profession != "" {
		where = append(where, "profession = ?")
		args = append(args, string(f.Profession))
	}
	if f.Role != "" {
		where = append(where, "id IN (SELECT user_id FROM identity_grants WHERE role = ?)")
		args = append(args, string(f.Role))
	}
	if f.LockedOnly {
		where = append(where, "locked_until > ?")
		args = append(args, db.Millis(s.clock.Now()))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM identity_users"+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+userColumns+" FROM identity_users"+cond+
		" ORDER BY login LIMIT ? OFFSET ?", append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	var users []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, 0, err
		}
		users = append(users, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	for _, u := range users {
		if err := loadGrants(ctx, s.db, u); err != nil {
			return nil, 0, err
		}
	}
	return users, total, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// escapeLike keeps % and _ typed by a person from acting as wildcards.
func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// Facilities lists every facility.
func (s *Service) Facilities(ctx context.Context) ([]Facility, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, code, name_ja, name_en FROM identity_facilities ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list facilities: %w", err)
	}
	defer rows.Close()
	var out []Facility
	for rows.Next() {
		var f Facility
		if err := rows.Scan(&f.ID, &f.Code, &f.NameJA, &f.NameEN); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// CreateFacility adds a facility.
func (s *Service) CreateFacility(ctx context.Context, by Actor, f Facility) (Facility, error) {
	var ve ValidationError
	checkText(&ve, "code", f.Code, true, 32)
	checkText(&ve, "name_ja", f.NameJA, true, 200)
	checkText(&ve, "name_en", f.NameEN, true, 200)
	if err := ve.orNil(); err != nil {
		return f, err
	}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO identity_facilities (code, name_ja, name_en, created_at)
			VALUES (?, ?, ?, ?) RETURNING id`, f.Code, f.NameJA, f.NameEN, db.Millis(s.clock.Now())).Scan(&f.ID)
		if db.IsUniqueViolation(err) {
			return &ValidationError{Fields: map[string]string{"code": "validation.duplicate"}}
		}
		if err != nil {
			return fmt.Errorf("create facility: %w", err)
		}
		return s.audit.Record(ctx, tx, by.event("facility.create", "facility:"+f.Code, "success", f.ID, nil))
	})
	return f, err
}

// EnsureFacility returns the first facility, creating one with the given
// names when there is none (first start).
func (s *Service) EnsureFacility(ctx context.Context, f Facility) (Facility, error) {
	list, err := s.Facilities(ctx)
	if err != nil {
		return f, err
	}
	if len(list) > 0 {
		return list[0], nil
	}
	return s.CreateFacility(ctx, SystemActor, f)
}

// CountUsers returns how many users exist.
func (s *Service) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM identity_users`).Scan(&n)
	return n, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
