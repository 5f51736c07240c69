package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// factors is what second factors a user has.
type factors struct {
	TOTP     bool
	WebAuthn int
	Recovery int // unused recovery codes
}

func (f factors) any() bool { return f.TOTP || f.WebAuthn > 0 }

// Factors summarises a user's second factors, for pages and the API.
type Factors struct {
	TOTP          bool `json:"totp"`
	WebAuthnKeys  int  `json:"webauthn_keys"`
	RecoveryCodes int  `json:"recovery_codes_left"`
}

// FactorsOf returns the second factors the user has enrolled.
func (s *Service) FactorsOf(ctx context.Context, userID int64) (Factors, error) {
	f, err := s.factorsOf(ctx, userID)
	return Factors{TOTP: f.TOTP, WebAuthnKeys: f.WebAuthn, RecoveryCodes: f.Recovery}, err
}

func (s *Service) factorsOf(ctx context.Context, userID int64) (factors, error) {
	var f factors
	var totpN int
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM identity_totp WHERE user_id = ? AND confirmed = 1),
		(SELECT COUNT(*) FROM identity_webauthn WHERE user_id = ?),
		(SELECT COUNT(*) FROM identity_recovery_codes WHERE user_id = ? AND used_at = 0)`,
		userID, userID, userID).Scan(&totpN, &f.WebAuthn, &f.Recovery)
	f.TOTP = totpN > 0
	return f, err
}

func (s *Service) hasSecondFactor(ctx context.Context, userID int64) bool {
	f, err := s.factorsOf(ctx, userID)
	return err == nil && f.any()
}

// TOTP parameters: RFC 6238 defaults that every authenticator app reads.
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// TOTPEnrolment is a new TOTP secret waiting for its first code.
type TOTPEnrolment struct {
	Secret string // base32, for typing into an app by hand
	URL    string // otpauth:// URL
	QRData string // data: URL of a PNG QR code of URL
}

// QRImage is QRData for an <img src>. html/template replaces a data: URL
// given as a string with "#ZgotmplZ", and the browser then fetches the page
// itself as the image, which began a new secret behind the person's back.
// The URL is made here from a PNG, so it is safe to mark as trusted.
func (e *TOTPEnrolment) QRImage() template.URL { return template.URL(e.QRData) }

// totpPendingLifetime is how long an enrolment shows the same secret
// before a new one is made.
const totpPendingLifetime = 15 * time.Minute

// BeginTOTP returns the TOTP secret the user is to scan: the unconfirmed one
// of the last 15 minutes if there is one (so a reload shows the same QR
// code), else a new one. It is not in force until ConfirmTOTP accepts a
// code from it.
func (s *Service) BeginTOTP(ctx context.Context, u *User) (*TOTPEnrolment, error) {
	now := s.clock.Now()
	var secret, stored string
	var confirmed int
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT secret, confirmed, created_at FROM identity_totp WHERE user_id = ?`, u.ID).
		Scan(&stored, &confirmed, &created)
	switch {
	case err == nil && confirmed == 1:
		return nil, errors.New("TOTP is already enrolled; reset it first")
	case err == nil && now.Sub(db.Time(created)) < totpPendingLifetime:
		// A reload or a second tab shows the secret already scanned
		// instead of silently replacing it.
		if secret, err = s.openTOTP(ctx, u.ID, stored); err != nil {
			return nil, err
		}
	case err != nil && db.NotFound(err) != db.ErrNotFound:
		return nil, fmt.Errorf("read TOTP secret: %w", err)
	default:
		key, err := totp.Generate(totp.GenerateOpts{Issuer: "anzen", AccountName: u.Login, Period: 30,
			SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return nil, fmt.Errorf("generate TOTP secret: %w", err)
		}
		secret = key.Secret()
		if stored, err = s.sealTOTP(ctx, u.ID, secret); err != nil {
			return nil, err
		}
		_, err = s.db.ExecContext(ctx, `INSERT INTO identity_totp (user_id, secret, confirmed, last_step, created_at)
			VALUES (?, ?, 0, 0, ?) ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret,
			created_at = excluded.created_at WHERE identity_totp.confirmed = 0`, u.ID, stored, db.Millis(now))
		if err != nil {
			return nil, fmt.Errorf("store TOTP secret: %w", err)
		}
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return nil, fmt.Errorf("stored TOTP secret is not base32: %w", err)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "anzen", AccountName: u.Login, Period: 30,
		Secret: raw, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, err
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return &TOTPEnrolment{Secret: key.Secret(), URL: key.URL(),
		QRData: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// matchTOTP returns the time step whose code equals code, or -1.
func matchTOTP(secret, code string, now time.Time) int64 {
	code = strings.TrimSpace(strings.ReplaceAll(code, " ", ""))
	if len(code) != 6 {
		return -1
	}
	step := now.Unix() / 30
	for _, off := range []int64{0, -1, 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((step+off)*30, 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step + off
		}
	}
	return -1
}

// ConfirmTOTP puts the pending TOTP secret in force when code is right,
// and returns fresh recovery codes when the user has none left.
func (s *Service) ConfirmTOTP(ctx context.Context, by Actor, u *User, code string) ([]string, error) {
	var stored string
	err := s.db.QueryRowContext(ctx, `SELECT secret FROM identity_totp WHERE user_id = ? AND confirmed = 0`, u.ID).Scan(&stored)
	if err != nil {
		return nil, ErrSecondFactor
	}
	secret, err := s.openTOTP(ctx, u.ID, stored)
	if err != nil {
		return nil, err
	}
	step := matchTOTP(secret, code, s.clock.Now())
	if step < 0 {
		return nil, ErrSecondFactor
	}
	var codes []string
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE identity_totp SET confirmed = 1, last_step = ? WHERE user_id = ?`,
			step, u.ID); err != nil {
			return err
		}
		if codes, err = s.ensureRecoveryCodes(ctx, tx, u.ID); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, by.event("mfa.enrol", "user:"+u.Login, "success", u.Facility,
			map[string]string{"factor": "totp"}))
	})
	return codes, err
}

// VerifyTOTP checks a code from the user's TOTP app. A code is accepted
// once: the time step it belongs to is stored, and a code of that step or
// an earlier one is refused.
func (s *Service) VerifyTOTP(ctx context.Context, u *User, code string) error {
	var stored string
	var last int64
	err := s.db.QueryRowContext(ctx, `SELECT secret, last_step FROM identity_totp WHERE user_id = ? AND confirmed = 1`,
		u.ID).Scan(&stored, &last)
	if err != nil {
		return ErrSecondFactor
	}
	secret, err := s.openTOTP(ctx, u.ID, stored)
	if err != nil {
		return err
	}
	step := matchTOTP(secret, code, s.clock.Now())
	if step < 0 || step <= last {
		return ErrSecondFactor
	}
	res, err := s.db.ExecContext(ctx, `UPDATE identity_totp SET last_step = ? WHERE user_id = ? AND last_step < ?`,
		step, u.ID, step)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrSecondFactor // another request used this code first
	}
	return nil
}

const recoveryCodeCount = 10

func hashRecoveryCode(code string) string {
	norm := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	sum := sha256.Sum256([]byte("anzen-recovery:" + norm))
	return hex.EncodeToString(sum[:])
}

func newRecoveryCode() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	s := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:12]
	return s[:4] + "-" + s[4:8] + "-" + s[8:12]
}

// ensureRecoveryCodes makes recovery codes when the user has none unused.
func (s *Service) ensureRecoveryCodes(ctx context.Context, tx *db.Tx, userID int64) ([]string, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM identity_recovery_codes WHERE user_id = ? AND used_at = 0`,
		userID).Scan(&n); err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, nil
	}
	return s.replaceRecoveryCodes(ctx, tx, userID)
}

func (s *Service) replaceRecoveryCodes(ctx context.Context, tx *db.Tx, userID int64) ([]string, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM identity_recovery_codes WHERE user_id = ?`, userID); err != nil {
		return nil, err
	}
	codes := make([]string, recoveryCodeCount)
	now := db.Millis(s.clock.Now())
	for i := range codes {
		codes[i] = newRecoveryCode()
		if _, err := tx.ExecContext(ctx, `INSERT INTO identity_recovery_codes (user_id, code_hash, created_at)
			VALUES (?, ?, ?)`, userID, hashRecoveryCode(codes[i]), now); err != nil {
			return nil, err
		}
	}
	return codes, nil
}

// NewRecoveryCodes replaces the user's recovery codes with new ones.
func (s *Service) NewRecoveryCodes(ctx context.Context, by Actor, u *User) ([]string, error) {
	var codes []string
	err := s.db.InTx(ctx, func(tx *db.Tx) (err error) {
		if codes, err = s.replaceRecoveryCodes(ctx, tx, u.ID); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, by.event("mfa.recovery_codes", "user:"+u.Login, "success", u.Facility, nil))
	})
	return codes, err
}

// UseRecoveryCode accepts one unused recovery code in place of a second
// factor and marks it used.
func (s *Service) UseRecoveryCode(ctx context.Context, u *User, code string) error {
	if len(code) > 64 {
		return ErrSecondFactor
	}
	res, err := s.db.ExecContext(ctx, `UPDATE identity_recovery_codes SET used_at = ?
		WHERE user_id = ? AND code_hash = ? AND used_at = 0`, db.Millis(s.clock.Now()), u.ID, hashRecoveryCode(code))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrSecondFactor
	}
	return nil
}

// ResetFactors removes every second factor of a user (an administrator's
// action when a phone or key is lost) and ends their sessions; the user
// enrols again at the next sign-in.
func (s *Service) ResetFactors(ctx context.Context, by Actor, login string) error {
	u, err := s.UserByLogin(ctx, login)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, q := range []string{
			`DELETE FROM identity_totp WHERE user_id = ?`,
			`DELETE FROM identity_webauthn WHERE user_id = ?`,
			`DELETE FROM identity_recovery_codes WHERE user_id = ?`,
			`DELETE FROM identity_sessions WHERE user_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, u.ID); err != nil {
				return fmt.Errorf("reset factors: %w", err)
			}
		}
		return s.audit.Record(ctx, tx, by.event("mfa.reset", "user:"+u.Login, "success", u.Facility, nil))
	})
}

// ErrLastFactor refuses to remove the only second factor of a user whose
// role requires one.
var ErrLastFactor = errors.New("the last second factor of a user who must have one cannot be removed")

// RemoveTOTP removes the user's own TOTP factor.
func (s *Service) RemoveTOTP(ctx context.Context, by Actor, u *User) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		// Lock the user's row first, so that two removals at once cannot
		// both see another factor left.
		if err := lockFactors(ctx, tx, u.ID, s.clock.Now()); err != nil {
			return err
		}
		var keys int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM identity_webauthn WHERE user_id = ?`, u.ID).
			Scan(&keys); err != nil {
			return err
		}
		if s.MFARequired(u) && keys == 0 {
			return ErrLastFactor
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM identity_totp WHERE user_id = ?`, u.ID); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, by.event("mfa.remove", "user:"+u.Login, "success", u.Facility,
			map[string]string{"factor": "totp"}))
	})
}
