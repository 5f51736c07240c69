package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// WebAuthnKey is one registered security key or passkey of a user.
type WebAuthnKey struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// WebAuthnKeys lists a user's registered keys.
func (s *Service) WebAuthnKeys(ctx context.Context, userID int64) ([]WebAuthnKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, created_at, last_used_at FROM identity_webauthn
		WHERE user_id = ? ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list security keys: %w", err)
	}
	defer rows.Close()
	var out []WebAuthnKey
	for rows.Next() {
		var k WebAuthnKey
		var created, used int64
		if err := rows.Scan(&k.ID, &k.Name, &created, &used); err != nil {
			return nil, err
		}
		k.CreatedAt, k.LastUsedAt = db.Time(created), db.Time(used)
		out = append(out, k)
	}
	return out, rows.Err()
}

// storedCredential is a row of identity_webauthn with its credential
// record decoded; raw is the stored JSON, compared when the record is
// written back so that two uses of one key cannot both count.
type storedCredential struct {
	id   int64
	name string
	cred webauthn.Credential
	raw  string
}

// webauthnCredentials loads every credential record of a user.
func webauthnCredentials(ctx context.Context, q db.Querier, userID int64) ([]storedCredential, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name, credential FROM identity_webauthn WHERE user_id = ? ORDER BY id`,
		userID)
	if err != nil {
		return nil, fmt.Errorf("load security keys: %w", err)
	}
	defer rows.Close()
	var out []storedCredential
	for rows.Next() {
		var sc storedCredential
		if err := rows.Scan(&sc.id, &sc.name, &sc.raw); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(sc.raw), &sc.cred); err != nil {
			return nil, fmt.Errorf("security key %d: stored credential unreadable: %w", sc.id, err)
		}
		out = append(out, sc)
	}
	return out, rows.Err()
}

// credentialIDText is how a credential id is kept in the credential_id
// column: base64url without padding, as WebAuthn clients write it.
func credentialIDText(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

// insertWebAuthn stores a newly registered credential and returns its row id.
func insertWebAuthn(ctx context.Context, tx *db.Tx, userID int64, name string, cred *webauthn.Credential, now time.Time) (int64, error) {
	b, err := json.Marshal(cred)
	if err != nil {
		return 0, fmt.Errorf("encode credential: %w", err)
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO identity_webauthn (user_id, credential_id, name, credential, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`, userID, credentialIDText(cred.ID), name, string(b), db.Millis(now)).Scan(&id)
	if err != nil {
		return 0, err
	}
	return id, nil
}

// useWebAuthn writes back a credential record after a successful
// assertion (new signature counter and flags) and notes the time of use.
// It changes nothing and reports false when the record is no longer the
// one the assertion was checked against: another sign-in used the key
// meanwhile, or the key was removed.
func useWebAuthn(ctx context.Context, tx *db.Tx, sc storedCredential, cred *webauthn.Credential, now time.Time) (bool, error) {
	b, err := json.Marshal(cred)
	if err != nil {
		return false, fmt.Errorf("encode credential: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE identity_webauthn SET credential = ?, last_used_at = ?
		WHERE id = ? AND credential = ?`, string(b), db.Millis(now), sc.id, sc.raw)
	if err != nil {
		return false, fmt.Errorf("update security key: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// lockFactors serialises changes to one user's second factors: it writes
// the user's row, which PostgreSQL then keeps locked to the end of the
// transaction (SQLite runs one writer at a time anyway). Without it two
// removals of two different keys could each see the other key and leave
// none.
func lockFactors(ctx context.Context, tx *db.Tx, userID int64, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE identity_users SET updated_at = ? WHERE id = ?`, db.Millis(now), userID)
	if err != nil {
		return fmt.Errorf("lock user: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	return nil
}

// factorCount counts a user's confirmed second factors (TOTP and keys)
// within tx.
func factorCount(ctx context.Context, tx *db.Tx, userID int64) (int, error) {
	var totpN, keys int
	err := tx.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM identity_totp WHERE user_id = ? AND confirmed = 1),
		(SELECT COUNT(*) FROM identity_webauthn WHERE user_id = ?)`, userID, userID).Scan(&totpN, &keys)
	return totpN + keys, err
}

// saveCeremony keeps a begun ceremony with the session, replacing any
// earlier one.
func (s *Service) saveCeremony(ctx context.Context, sessionHash string, c ceremony) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode ceremony: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE identity_sessions SET challenge = ? WHERE id_hash = ?`, string(b), sessionHash)
	if err != nil {
		return fmt.Errorf("store ceremony: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	return nil
}

// takeCeremony removes the ceremony kept with the session and returns it,
// when it is of the wanted kind and not expired. Taking is atomic: of two
// finishes racing for one ceremony, one gets it and the other gets
// ErrNoCeremony. A ceremony is taken whether or not its finish succeeds,
// so every attempt needs a fresh begin.
func (s *Service) takeCeremony(ctx context.Context, sessionHash, kind string) (*ceremony, error) {
	ss, err := s.SessionByHash(ctx, sessionHash)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoCeremony, err)
	}
	if ss.Challenge == "" {
		return nil, ErrNoCeremony
	}
	res, err := s.db.ExecContext(ctx, `UPDATE identity_sessions SET challenge = '' WHERE id_hash = ? AND challenge = ?`,
		sessionHash, ss.Challenge)
	if err != nil {
		return nil, fmt.Errorf("clear ceremony: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, ErrNoCeremony
	}
	var c ceremony
	if err := json.Unmarshal([]byte(ss.Challenge), &c); err != nil {
		return nil, fmt.Errorf("%w: unreadable: %w", ErrNoCeremony, err)
	}
	if c.Kind != kind || !s.clock.Now().Before(db.Time(c.Expires)) {
		return nil, ErrNoCeremony
	}
	return &c, nil
}
