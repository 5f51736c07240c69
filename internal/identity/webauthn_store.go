package identity

import (
	"context"
	"fmt"
	"time"

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
