package identity

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// SecretSealer encrypts the secrets identity has to keep readable (TOTP
// secrets), so that a copy of the database alone does not reveal them.
// internal/app implements it with the key service. The context names where
// the secret is stored and is bound to the ciphertext: a sealed secret
// moved to another user's row does not open.
type SecretSealer interface {
	// Seal returns the sealed text form of plaintext; it starts with
	// SealedPrefix.
	Seal(ctx context.Context, plaintext []byte, context map[string]string) (string, error)
	// Open returns the plaintext of what Seal returned, given the same
	// context.
	Open(ctx context.Context, sealed string, context map[string]string) ([]byte, error)
}

// SealedPrefix begins every sealed secret as stored; a stored value without
// it is a secret kept in the clear by an earlier version of anzen.
const SealedPrefix = "anzen:"

// SetSecretSealer makes the service store its secrets sealed by ss. Call it
// before the service is used; internal/app always does, and then runs
// SealStoredSecrets. Without a sealer (as in this package's own tests)
// secrets are stored as they are.
func (s *Service) SetSecretSealer(ss SecretSealer) { s.sealer = ss }

// totpContext is the encryption context of a user's TOTP secret.
func totpContext(userID int64) map[string]string {
	return map[string]string{"table": "identity_totp", "user": strconv.FormatInt(userID, 10)}
}

// sealTOTP returns the stored form of a user's TOTP secret.
func (s *Service) sealTOTP(ctx context.Context, userID int64, secret string) (string, error) {
	if s.sealer == nil {
		return secret, nil
	}
	sealed, err := s.sealer.Seal(ctx, []byte(secret), totpContext(userID))
	if err != nil {
		return "", fmt.Errorf("seal TOTP secret: %w", err)
	}
	return sealed, nil
}

// openTOTP returns a user's TOTP secret from its stored form. With a sealer
// a secret stored in the clear is refused: SealStoredSecrets has sealed
// them all at start, so one found later was written behind anzen's back.
func (s *Service) openTOTP(ctx context.Context, userID int64, stored string) (string, error) {
	sealed := strings.HasPrefix(stored, SealedPrefix)
	switch {
	case s.sealer == nil && sealed:
		return "", errors.New("the TOTP secret is sealed, but no secret sealer is set")
	case s.sealer == nil:
		return stored, nil
	case !sealed:
		return "", fmt.Errorf("the TOTP secret of user %d is stored in the clear", userID)
	}
	plain, err := s.sealer.Open(ctx, stored, totpContext(userID))
	if err != nil {
		return "", fmt.Errorf("open TOTP secret of user %d: %w", userID, err)
	}
	return string(plain), nil
}

// SealStoredSecrets seals every TOTP secret still stored in the clear (as
// the foundation stored them) and records one "secrets.encrypt" event with
// their number. It returns how many it sealed; with none left it changes
// and records nothing.
func (s *Service) SealStoredSecrets(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, errors.New("no secret sealer is set")
	}
	type plain struct {
		user          int64
		stored, after string
	}
	rows, err := s.db.QueryContext(ctx, `SELECT user_id, secret FROM identity_totp ORDER BY user_id`)
	if err != nil {
		return 0, fmt.Errorf("read TOTP secrets: %w", err)
	}
	var unsealed []plain
	for rows.Next() {
		var p plain
		if err := rows.Scan(&p.user, &p.stored); err != nil {
			rows.Close()
			return 0, err
		}
		if !strings.HasPrefix(p.stored, SealedPrefix) {
			unsealed = append(unsealed, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(unsealed) == 0 {
		return 0, nil
	}
	// Seal first, outside the transaction: the sealer may read the
	// database itself.
	for i := range unsealed {
		if unsealed[i].after, err = s.sealTOTP(ctx, unsealed[i].user, unsealed[i].stored); err != nil {
			return 0, err
		}
	}
	n := 0
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		n = 0
		for _, p := range unsealed {
			// Only a row that still holds what was read: a secret replaced
			// in the meantime was stored sealed already.
			res, err := tx.ExecContext(ctx, `UPDATE identity_totp SET secret = ? WHERE user_id = ? AND secret = ?`,
				p.after, p.user, p.stored)
			if err != nil {
				return fmt.Errorf("store sealed TOTP secret: %w", err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		if n == 0 {
			return nil
		}
		return s.audit.Record(ctx, tx, SystemActor.event("secrets.encrypt", "table:identity_totp", "success", 0,
			map[string]string{"count": strconv.Itoa(n), "column": "secret"}))
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
