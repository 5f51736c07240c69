package identity

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// NewUser is what it takes to create a user.
type NewUser struct {
	Facility   int64
	Login      string
	Name       string
	NameKana   string
	Department string
	Profession Profession
	ValidFrom  time.Time
	ValidUntil time.Time
	Grants     []authz.Grant
	// Password is the initial password; empty means anzen makes one. The
	// user must change it at first sign-in either way.
	Password string
}

var loginPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._@-]{1,63}$`)

func (s *Service) validateUser(ctx context.Context, ve *ValidationError, login string, checkLogin bool, u *User) {
	if checkLogin && !loginPattern.MatchString(login) {
		ve.add("login", "validation.login")
	}
	checkText(ve, "name", u.Name, true, 100)
	checkText(ve, "name_kana", u.NameKana, false, 100)
	checkText(ve, "department", u.Department, false, 100)
	if !slices.Contains(Professions, u.Profession) {
		ve.add("profession", "validation.profession")
	}
	if !slices.Contains(Statuses, u.Status) {
		ve.add("status", "validation.status")
	}
	if !u.ValidFrom.IsZero() && !u.ValidUntil.IsZero() && !u.ValidUntil.After(u.ValidFrom) {
		ve.add("valid_until", "validation.valid_until")
	}
	if len(u.Grants) == 0 {
		ve.add("roles", "validation.role_required")
	}
	facilities, err := s.Facilities(ctx)
	known := map[int64]bool{authz.AllFacilities: true}
	if err == nil {
		for _, f := range facilities {
			known[f.ID] = true
		}
	}
	if u.Facility == 0 || !known[u.Facility] {
		ve.add("facility", "validation.facility")
	}
	for _, g := range u.Grants {
		if _, err := authz.ParseRole(string(g.Role)); err != nil {
			ve.add("roles", "validation.role")
		}
		if !known[g.Facility] {
			ve.add("roles", "validation.facility")
		}
	}
}

// CreateUser adds a user and returns it with the initial password, which
// the caller shows once. The user must change it at first sign-in.
func (s *Service) CreateUser(ctx context.Context, by Actor, nu NewUser) (*User, string, error) {
	u := &User{Facility: nu.Facility, Login: strings.TrimSpace(nu.Login), Name: strings.TrimSpace(nu.Name),
		NameKana: strings.TrimSpace(nu.NameKana), Department: strings.TrimSpace(nu.Department),
		Profession: nu.Profession, Status: Active, ValidFrom: nu.ValidFrom, ValidUntil: nu.ValidUntil,
		Grants: normalizeGrants(nu.Grants), MustChangePassword: true}
	var ve ValidationError
	s.validateUser(ctx, &ve, u.Login, true, u)
	password := nu.Password
	if password == "" {
		password = RandomPassword()
	} else if broken := s.set.Policy.checkPassword(password, u.Login, s.MFARequired(u)); len(broken) > 0 {
		ve.add("password", broken[0])
	}
	if err := ve.orNil(); err != nil {
		return nil, "", err
	}
	hash, err := s.hash.Hash(password)
	if err != nil {
		return nil, "", err
	}
	now := s.clock.Now()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO identity_users (facility_id, login, name, name_kana, department,
			profession, status, valid_from, valid_until, password_hash, password_long, password_changed_at,
			must_change_password, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) RETURNING id`,
			u.Facility, u.Login, u.Name, u.NameKana, u.Department, string(u.Profession), string(u.Status),
			db.Millis(u.ValidFrom), db.Millis(u.ValidUntil), hash, boolInt(s.set.Policy.isLong(password)),
			db.Millis(now), db.Millis(now), db.Millis(now)).Scan(&u.ID)
		if db.IsUniqueViolation(err) {
			return ErrDuplicateLogin
		}
		if err != nil {
			return fmt.Errorf("create user: %w", err)
		}
		if err := insertGrants(ctx, tx, u.ID, u.Grants); err != nil {
			return err
		}
		if err := addHistory(ctx, tx, u.ID, hash, now); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, by.event("user.create", "user:"+u.Login, "success", u.Facility,
			map[string]string{"roles": grantsText(u.Grants), "profession": string(u.Profession)}))
	})
	if err != nil {
		return nil, "", err
	}
	u.CreatedAt, u.PasswordChangedAt = now, now
	return u, password, nil
}

func insertGrants(ctx context.Context, tx *db.Tx, userID int64, grants []authz.Grant) error {
	seen := map[authz.Grant]bool{}
	for _, g := range grants {
		if seen[g] {
			continue
		}
		seen[g] = true
		if _, err := tx.ExecContext(ctx, `INSERT INTO identity_grants (user_id, role, facility_id) VALUES (?, ?, ?)`,
			userID, string(g.Role), g.Facility); err != nil {
			return fmt.Errorf("grant role: %w", err)
		}
	}
	return nil
}

func grantsText(grants []authz.Grant) string {
	var parts []string
	for _, g := range grants {
		f := "all"
		if g.Facility != authz.AllFacilities {
			f = fmt.Sprint(g.Facility)
		}
		parts = append(parts, string(g.Role)+"@"+f)
	}
	return strings.Join(parts, ",")
}

// UserChange is an edit of a user's profile, status and roles.
type UserChange struct {
	Name       string
	NameKana   string
	Department string
	Profession Profession
	Status     Status
	ValidFrom  time.Time
	ValidUntil time.Time
	Facility   int64
	Grants     []authz.Grant
	Lang       string
}

// UpdateUser changes a user. A change of roles or status ends the user's
// sessions, so that new privileges take effect with a new session id.
func (s *Service) UpdateUser(ctx context.Context, by Actor, id int64, ch UserChange) (*User, error) {
	old, err := s.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	u := *old
	u.Name, u.NameKana, u.Department = strings.TrimSpace(ch.Name), strings.TrimSpace(ch.NameKana), strings.TrimSpace(ch.Department)
	u.Profession, u.Status, u.ValidFrom, u.ValidUntil = ch.Profession, ch.Status, ch.ValidFrom, ch.ValidUntil
	u.Facility, u.Grants = ch.Facility, normalizeGrants(ch.Grants)
	if ch.Lang != "" {
		u.Lang = ch.Lang
	}
	var ve ValidationError
	s.validateUser(ctx, &ve, u.Login, false, &u)
	if by.UserID == id && !sameAdmin(old.Grants, u.Grants) {
		ve.add("roles", "validation.own_admin")
	}
	if by.UserID == id && old.Status != u.Status {
		// Nobody retires or suspends their own account, by any route.
		ve.add("status", "admin.validation.own_status")
	}
	if err := ve.orNil(); err != nil {
		return nil, err
	}
	rolesChanged := grantsText(old.Grants) != grantsText(u.Grants)
	statusChanged := old.Status != u.Status
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE identity_users SET name = ?, name_kana = ?, department = ?,
			profession = ?, status = ?, valid_from = ?, valid_until = ?, facility_id = ?, lang = ?, updated_at = ?
			WHERE id = ?`, u.Name, u.NameKana, u.Department, string(u.Profession), string(u.Status),
			db.Millis(u.ValidFrom), db.Millis(u.ValidUntil), u.Facility, u.Lang, db.Millis(s.clock.Now()), id)
		if err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		detail := map[string]string{}
		if rolesChanged {
			if _, err := tx.ExecContext(ctx, `DELETE FROM identity_grants WHERE user_id = ?`, id); err != nil {
				return err
			}
			if err := insertGrants(ctx, tx, id, u.Grants); err != nil {
				return err
			}
			detail["roles_before"], detail["roles_after"] = grantsText(old.Grants), grantsText(u.Grants)
			if err := s.audit.Record(ctx, tx, by.event("role.change", "user:"+u.Login, "success", u.Facility, detail)); err != nil {
				return err
			}
		}
		if statusChanged {
			if err := s.audit.Record(ctx, tx, by.event("user.status", "user:"+u.Login, "success", u.Facility,
				map[string]string{"before": string(old.Status), "after": string(u.Status)})); err != nil {
				return err
			}
		}
		if rolesChanged || statusChanged {
			if _, err := tx.ExecContext(ctx, `DELETE FROM identity_sessions WHERE user_id = ?`, id); err != nil {
				return err
			}
		}
		return s.audit.Record(ctx, tx, by.event("user.update", "user:"+u.Login, "success", u.Facility, nil))
	})
	if err != nil {
		return nil, err
	}
	return s.UserByID(ctx, id)
}

func normalizeGrants(g []authz.Grant) []authz.Grant {
	out := slices.Clone(g)
	slices.SortFunc(out, func(a, b authz.Grant) int {
		if a.Role != b.Role {
			return strings.Compare(string(a.Role), string(b.Role))
		}
		return int(a.Facility - b.Facility)
	})
	return slices.Compact(out)
}

// sameAdmin reports whether the admin grants are unchanged, so an admin
// may edit their own other roles but cannot remove their own admin role.
func sameAdmin(before, after []authz.Grant) bool {
	pick := func(gs []authz.Grant) []authz.Grant {
		var out []authz.Grant
		for _, g := range normalizeGrants(gs) {
			if g.Role == authz.Admin {
				out = append(out, g)
			}
		}
		return out
	}
	return slices.Equal(pick(before), pick(after))
}

// SetStatus changes only a user's status (the CLI's disable).
func (s *Service) SetStatus(ctx context.Context, by Actor, login string, st Status) error {
	u, err := s.UserByLogin(ctx, login)
	if err != nil {
		return err
	}
	_, err = s.UpdateUser(ctx, by, u.ID, UserChange{Name: u.Name, NameKana: u.NameKana, Department: u.Department,
		Profession: u.Profession, Status: st, ValidFrom: u.ValidFrom, ValidUntil: u.ValidUntil,
		Facility: u.Facility, Grants: u.Grants, Lang: u.Lang})
	return err
}

// Unlock clears a lockout and the failure count.
func (s *Service) Unlock(ctx context.Context, by Actor, login string) error {
	u, err := s.UserByLogin(ctx, login)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE identity_users SET failed_count = 0, locked_until = 0, updated_at = ?
			WHERE id = ?`, db.Millis(s.clock.Now()), u.ID); err != nil {
			return fmt.Errorf("unlock: %w", err)
		}
		return s.audit.Record(ctx, tx, by.event("user.unlock", "user:"+u.Login, "success", u.Facility, nil))
	})
}

// VerificationMethods are the ways an administrator confirms a person's
// identity before resetting their password; the guideline asks that this
// be recorded.
var VerificationMethods = []string{"in_person_id_card", "in_person_known", "callback_registered_phone",
	"supervisor_confirmation", "other"}

// PasswordReset is the record of an administrator's reset.
type PasswordReset struct {
	ID      int64     `json:"id"`
	UserID  int64     `json:"user_id"`
	ResetBy string    `json:"reset_by"`
	Method  string    `json:"method"`
	Note    string    `json:"note"`
	At      time.Time `json:"at"`
}

// ResetPassword gives a user a new one-time password after the caller has
// verified who they are (method and note go into the reset ledger). It ends
// the user's sessions and clears a lockout.
func (s *Service) ResetPassword(ctx context.Context, by Actor, login, method, note string) (string, error) {
	var ve ValidationError
	if !slices.Contains(VerificationMethods, method) {
		ve.add("method", "validation.verification_method")
	}
	checkText(&ve, "note", note, method == "other", 500)
	if err := ve.orNil(); err != nil {
		return "", err
	}
	u, err := s.UserByLogin(ctx, login)
	if err != nil {
		return "", err
	}
	password := RandomPassword()
	hash, err := s.hash.Hash(password)
	if err != nil {
		return "", err
	}
	now := s.clock.Now()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE identity_users SET password_hash = ?, password_long = 1,
			password_changed_at = ?, must_change_password = 1, failed_count = 0, locked_until = 0, updated_at = ?
			WHERE id = ?`, hash, db.Millis(now), db.Millis(now), u.ID); err != nil {
			return fmt.Errorf("reset password: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO identity_password_resets (user_id, reset_by, method, note, at)
			VALUES (?, ?, ?, ?, ?)`, u.ID, by.Login, method, note, db.Millis(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM identity_sessions WHERE user_id = ?`, u.ID); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, by.event("password.reset", "user:"+u.Login, "success", u.Facility,
			map[string]string{"verified_by": method}))
	})
	if err != nil {
		return "", err
	}
	return password, nil
}

// PasswordResets lists the reset ledger of a user, newest first.
func (s *Service) PasswordResets(ctx context.Context, userID int64) ([]PasswordReset, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, user_id, reset_by, method, note, at FROM identity_password_resets
		WHERE user_id = ? ORDER BY at DESC, id DESC`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PasswordReset
	for rows.Next() {
		var r PasswordReset
		var at int64
		if err := rows.Scan(&r.ID, &r.UserID, &r.ResetBy, &r.Method, &r.Note, &at); err != nil {
			return nil, err
		}
		r.At = db.Time(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

func addHistory(ctx context.Context, tx *db.Tx, userID int64, hash string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO identity_password_history (user_id, hash, created_at) VALUES (?, ?, ?)`,
		userID, hash, db.Millis(now))
	return err
}

// ChangePassword sets a new password chosen by the user, after checking
// the current one and the policy, including the history of earlier ones.
func (s *Service) ChangePassword(ctx context.Context, by Actor, userID int64, current, next string) error {
	u, err := s.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	var ve ValidationError
	if ok, err := s.hash.Verify(u.passwordHash, current); err != nil || !ok {
		ve.add("current", "password.rule.current")
		return &ve
	}
	if next == current {
		ve.add("password", "password.rule.same")
	}
	for _, rule := range s.set.Policy.checkPassword(next, u.Login, s.MFARequired(u) || s.hasSecondFactor(ctx, u.ID)) {
		ve.add("password", rule)
	}
	if err := ve.orNil(); err != nil {
		return err
	}
	if reused, err := s.inHistory(ctx, u.ID, next); err != nil {
		return err
	} else if reused {
		ve.add("password", "password.rule.history")
		return &ve
	}
	hash, err := s.hash.Hash(next)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE identity_users SET password_hash = ?, password_long = ?,
			password_changed_at = ?, must_change_password = 0, updated_at = ? WHERE id = ?`,
			hash, boolInt(s.set.Policy.isLong(next)), db.Millis(now), db.Millis(now), u.ID); err != nil {
			return fmt.Errorf("change password: %w", err)
		}
		if err := addHistory(ctx, tx, u.ID, hash, now); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, by.event("password.change", "user:"+u.Login, "success", u.Facility, nil))
	})
}

// inHistory reports whether password matches one of the user's last N
// passwords (N from the policy).
func (s *Service) inHistory(ctx context.Context, userID int64, password string) (bool, error) {
	n := s.set.Policy.History
	if n <= 0 {
		return false, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT hash FROM identity_password_history WHERE user_id = ?
		ORDER BY created_at DESC LIMIT ?`, userID, n)
	if err != nil {
		return false, err
	}
	var hashes []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return false, err
		}
		hashes = append(hashes, h)
	}
	rows.Close()
	for _, h := range hashes {
		if ok, _ := s.hash.Verify(h, password); ok {
			return true, nil
		}
	}
	return false, rows.Err()
}
