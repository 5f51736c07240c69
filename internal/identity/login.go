package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Step is what a person must do next to finish signing in.
type Step string

// Steps of signing in.
const (
	StepDone           Step = "done"
	StepChangePassword Step = "change_password"
	StepEnrol          Step = "enrol"
	StepSecondFactor   Step = "second_factor"
)

// CheckPassword checks a login name and password.
//
// The failure counter is raised atomically before the password is compared
// and lowered again only on success, so that parallel wrong attempts cannot
// slip past the lockout: exactly LockoutFailures wrong passwords are
// compared, the last of them locks the account, and every attempt after
// that is refused without comparing anything. (Another identity server had
// a real bypass from counting after the comparison.)
func (s *Service) CheckPassword(ctx context.Context, login, password, client string) (*User, error) {
	now := s.clock.Now()
	typed := clip(login, 64)
	// A NUL can be in no login, and PostgreSQL refuses it in a query.
	if password == "" || utf8.RuneCountInString(password) > MaxPasswordLength || !utf8.ValidString(login) ||
		strings.ContainsRune(login, 0) {
		return nil, s.failed(ctx, nil, typed, client, "malformed")
	}
	u, err := s.UserByLogin(ctx, login)
	if errors.Is(err, db.ErrNotFound) {
		_, _ = s.hash.Verify(s.hash.dummy(), password)
		return nil, s.failed(ctx, nil, typed, client, "unknown_login")
	}
	if err != nil {
		return nil, err
	}
	// Count the attempt first; a locked account counts nothing more.
	var failed int
	var lockedUntil int64
	// An expired lock (locked_until in the past) starts the count afresh.
	err = s.db.QueryRowContext(ctx, `UPDATE identity_users
		SET failed_count = CASE WHEN locked_until > 0 THEN 1 ELSE failed_count + 1 END,
		    locked_until = CASE WHEN (CASE WHEN locked_until > 0 THEN 1 ELSE failed_count + 1 END) >= ?
		                        THEN CAST(? AS BIGINT) ELSE 0 END
		WHERE id = ? AND locked_until <= ? RETURNING failed_count, locked_until`,
		s.set.LockoutFailures, db.Millis(now.Add(s.set.LockoutDuration)), u.ID, db.Millis(now)).Scan(&failed, &lockedUntil)
	if errors.Is(db.NotFound(err), db.ErrNotFound) {
		return nil, s.refuseLocked(ctx, u, client)
	}
	if err != nil {
		return nil, fmt.Errorf("count login attempt: %w", err)
	}
	ok, verr := s.hash.Verify(u.passwordHash, password)
	if verr != nil {
		s.log.Error("password hash unreadable", "user", u.Login, "err", verr)
	}
	if !ok {
		return nil, s.wrongPassword(ctx, u, client, failed, db.Time(lockedUntil), now)
	}
	if !u.Usable(now) {
		// Right password, but the account is disabled, retired or outside
		// its validity: say no more than for a wrong password.
		return nil, s.failed(ctx, u, u.Login, client, "account_"+string(u.Status)+usableReason(u, now))
	}
	// The right password takes back its own count, but earlier wrong
	// second factors stay counted until the sign-in is complete, so that
	// signing in again does not reset the guesses at the code.
	if _, err := s.db.ExecContext(ctx, `UPDATE identity_users
		SET failed_count = CASE WHEN failed_count > 0 THEN failed_count - 1 ELSE 0 END, locked_until = 0 WHERE id = ?`,
		u.ID); err != nil {
		return nil, fmt.Errorf("count login attempt: %w", err)
	}
	u.FailedCount, u.LockedUntil = max(failed-1, 0), time.Time{}
	return u, nil
}

// SecondFactorFailed records a wrong second factor (TOTP code, recovery
// code, security key) after a correct password. It counts towards the same
// lockout as wrong passwords, so that a stolen password does not give
// unlimited guesses at the code; it reports whether the account is now
// locked.
func (s *Service) SecondFactorFailed(ctx context.Context, u *User, client, reason string) (locked bool, err error) {
	now := s.clock.Now()
	var failed int
	var lockedUntil int64
	err = s.db.QueryRowContext(ctx, `UPDATE identity_users
		SET failed_count = CASE WHEN locked_until > 0 THEN 1 ELSE failed_count + 1 END,
		    locked_until = CASE WHEN (CASE WHEN locked_until > 0 THEN 1 ELSE failed_count + 1 END) >= ?
		                        THEN CAST(? AS BIGINT) ELSE 0 END
		WHERE id = ? AND locked_until <= ? RETURNING failed_count, locked_until`,
		s.set.LockoutFailures, db.Millis(now.Add(s.set.LockoutDuration)), u.ID, db.Millis(now)).Scan(&failed, &lockedUntil)
	if errors.Is(db.NotFound(err), db.ErrNotFound) {
		return true, s.refuseLocked(ctx, u, client)
	}
	if err != nil {
		return false, fmt.Errorf("count second-factor failure: %w", err)
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		a := Actor{UserID: u.ID, Login: u.Login, Client: client}
		if err := s.audit.Record(ctx, tx, a.event("login.failure", "user:"+u.Login, "failure", u.Facility,
			map[string]string{"reason": reason, "failures": fmt.Sprint(failed)})); err != nil {
			return err
		}
		if db.Time(lockedUntil).After(now) {
			return s.audit.Record(ctx, tx, a.event("login.locked", "user:"+u.Login, "failure", u.Facility,
				map[string]string{"until": db.Time(lockedUntil).Format(time.RFC3339), "failures": fmt.Sprint(failed)}))
		}
		return nil
	})
	return db.Time(lockedUntil).After(now), err
}

func usableReason(u *User, now time.Time) string {
	if u.Status == Active {
		return "_outside_validity"
	}
	return ""
}

func (s *Service) wrongPassword(ctx context.Context, u *User, client string, failed int, lockedUntil, now time.Time) error {
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		a := Actor{Login: u.Login, Client: client}
		if err := s.audit.Record(ctx, tx, a.event("login.failure", "user:"+u.Login, "failure", u.Facility,
			map[string]string{"reason": "wrong_password", "failures": fmt.Sprint(failed)})); err != nil {
			return err
		}
		if lockedUntil.After(now) {
			return s.audit.Record(ctx, tx, a.event("login.locked", "user:"+u.Login, "failure", u.Facility,
				map[string]string{"until": lockedUntil.Format(time.RFC3339), "failures": fmt.Sprint(failed)}))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if lockedUntil.After(now) {
		return ErrLocked
	}
	return ErrInvalidCredentials
}

func (s *Service) refuseLocked(ctx context.Context, u *User, client string) error {
	a := Actor{Login: u.Login, Client: client}
	if err := s.audit.Record(ctx, s.db, a.event("login.failure", "user:"+u.Login, "failure", u.Facility,
		map[string]string{"reason": "locked"})); err != nil {
		return err
	}
	return ErrLocked
}

func (s *Service) failed(ctx context.Context, u *User, login, client, reason string) error {
	a := Actor{Login: login, Client: client}
	var facility int64
	if u != nil {
		facility = u.Facility
	}
	if err := s.audit.Record(ctx, s.db, a.event("login.failure", "user:"+login, "failure", facility,
		map[string]string{"reason": reason})); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// FailureDelay is how long to wait before answering a failed sign-in.
func (s *Service) FailureDelay() time.Duration { return s.set.FailureDelay }

// NextStep says what the user must still do after a correct password:
// change it (first use, reset, or expired under the policy), enrol a second
// factor their role requires, or present one they have.
func (s *Service) NextStep(ctx context.Context, u *User) (Step, error) {
	has, err := s.factorsOf(ctx, u.ID)
	if err != nil {
		return "", err
	}
	required := s.MFARequired(u)
	if u.MustChangePassword || s.set.Policy.expired(u.PasswordChangedAt, u.passwordLong, required || has.any(), s.clock.Now()) {
		return StepChangePassword, nil
	}
	if has.any() {
		return StepSecondFactor, nil
	}
	if required {
		return StepEnrol, nil
	}
	return StepDone, nil
}

// recordLogin notes a completed sign-in.
func (s *Service) recordLogin(ctx context.Context, tx *db.Tx, u *User, client, method string) error {
	now := s.clock.Now()
	if _, err := tx.ExecContext(ctx, `UPDATE identity_users SET last_login_at = ?, failed_count = 0, locked_until = 0
		WHERE id = ?`, db.Millis(now), u.ID); err != nil {
		return err
	}
	a := Actor{UserID: u.ID, Login: u.Login, Client: client}
	if err := s.audit.Record(ctx, tx, a.event("login.success", "user:"+u.Login, "success", u.Facility,
		map[string]string{"method": method})); err != nil {
		return err
	}
	for _, fn := range s.onLogin {
		fn(u)
	}
	return nil
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
