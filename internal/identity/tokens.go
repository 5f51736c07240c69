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

// TokenPrefix begins every API token, so that a leaked one is easy to
// recognise in code, logs and secret scanners.
const TokenPrefix = "anz_"

// Token is an API token for a program (log shipper, integration). Its
// secret is shown once at creation and only its hash is stored.
type Token struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Facility   int64     `json:"facility"`
	Scopes     []string  `json:"scopes"`
	Prefix     string    `json:"prefix"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// Active reports whether the token can be used at now.
func (t *Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

var tokenNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)

// NewToken is what it takes to create a token.
type NewToken struct {
	Name     string
	Scopes   []string
	Facility int64 // authz.AllFacilities for every facility
	TTL      time.Duration
}

// CreateToken makes an API token and returns it with its secret.
func (s *Service) CreateToken(ctx context.Context, by Actor, nt NewToken) (*Token, string, error) {
	var ve ValidationError
	if !tokenNamePattern.MatchString(nt.Name) {
		ve.add("name", "validation.token_name")
	}
	if len(nt.Scopes) == 0 {
		ve.add("scopes", "validation.scope_required")
	}
	for _, sc := range nt.Scopes {
		if !authz.ValidScope(sc) {
			ve.add("scopes", "validation.scope")
		}
	}
	if nt.TTL < 0 || nt.TTL > 5*365*24*time.Hour {
		ve.add("expires", "validation.token_ttl")
	}
	if nt.Facility != authz.AllFacilities {
		if _, err := s.facility(ctx, nt.Facility); err != nil {
			ve.add("facility", "validation.facility")
		}
	}
	if err := ve.orNil(); err != nil {
		return nil, "", err
	}
	secret := TokenPrefix + newSecret()
	now := s.clock.Now()
	t := &Token{Name: nt.Name, Facility: nt.Facility, Scopes: slices.Compact(slices.Sorted(slices.Values(nt.Scopes))),
		Prefix: secret[:len(TokenPrefix)+6], CreatedBy: by.Login, CreatedAt: now}
	if nt.TTL > 0 {
		t.ExpiresAt = now.Add(nt.TTL)
	}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO identity_tokens (name, facility_id, scopes, token_hash, prefix,
			created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, t.Name, t.Facility,
			strings.Join(t.Scopes, ","), hashSecret(secret), t.Prefix, t.CreatedBy, db.Millis(now),
			db.Millis(t.ExpiresAt)).Scan(&t.ID)
		if err != nil {
			return fmt.Errorf("create token: %w", err)
		}
		return s.audit.Record(ctx, tx, by.event("token.create", fmt.Sprintf("token:%d:%s", t.ID, t.Name), "success",
			t.Facility, map[string]string{"scopes": strings.Join(t.Scopes, ","), "expires": formatTime(t.ExpiresAt)}))
	})
	if err != nil {
		return nil, "", err
	}
	return t, secret, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.RFC3339)
}

func (s *Service) facility(ctx context.Context, id int64) (Facility, error) {
	var f Facility
	err := s.db.QueryRowContext(ctx, `SELECT id, code, name_ja, name_en FROM identity_facilities WHERE id = ?`, id).
		Scan(&f.ID, &f.Code, &f.NameJA, &f.NameEN)
	return f, db.NotFound(err)
}

const tokenColumns = `id, name, facility_id, scopes, prefix, created_by, created_at, expires_at, last_used_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (*Token, error) {
	var t Token
	var scopes string
	var created, expires, used, revoked int64
	if err := row.Scan(&t.ID, &t.Name, &t.Facility, &scopes, &t.Prefix, &t.CreatedBy, &created, &expires, &used,
		&revoked); err != nil {
		return nil, db.NotFound(err)
	}
	t.Scopes = strings.Split(scopes, ",")
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = db.Time(created), db.Time(expires), db.Time(used), db.Time(revoked)
	return &t, nil
}

// Tokens lists every token, newest first.
func (s *Service) Tokens(ctx context.Context) ([]*Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM identity_tokens ORDER BY id DESC`)
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

// RevokeToken makes a token unusable at once; revoking a revoked token
// changes nothing.
func (s *Service) RevokeToken(ctx context.Context, by Actor, id int64) error {
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM identity_tokens WHERE id = ?`, id))
	if err != nil {
		return err
	}
	// Whatever the outcome, the token is read from the database again.
	defer s.tokens.invalidate()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE identity_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0`,
			db.Millis(s.clock.Now()), id)
		if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // revoked before: nothing changes, nothing to record
		}
		return s.audit.Record(ctx, tx, by.event("token.revoke", fmt.Sprintf("token:%d:%s", t.ID, t.Name), "success",
			t.Facility, nil))
	})
}

// tokenPrincipal returns the principal of an API token, or nil when the
// token is unknown, revoked or expired. A token checked within the last
// Settings.SessionCacheTTL is answered from memory (tokencache.go); its
// expiry is still checked on every use.
func (s *Service) tokenPrincipal(ctx context.Context, secret string) (*authz.Principal, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 100 {
		return nil, nil
	}
	hash := hashSecret(secret)
	ttl := s.set.SessionCacheTTL
	t, ok := s.tokens.get(hash, ttl)
	if !ok {
		gen := s.tokens.generation()
		found, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM identity_tokens WHERE token_hash = ?`,
			hash))
		if err == db.ErrNotFound {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		t = *found
		s.tokens.put(hash, t, gen, ttl)
	}
	now := s.clock.Now()
	if !t.Active(now) {
		return nil, nil
	}
	if now.Sub(t.LastUsedAt) > time.Minute {
		if _, err := s.db.ExecContext(ctx, `UPDATE identity_tokens SET last_used_at = ? WHERE id = ?`,
			db.Millis(now), t.ID); err != nil {
			return nil, err
		}
		s.tokens.used(hash, now)
	}
	return &authz.Principal{Login: "token:" + t.Name, Name: t.Name, TokenID: t.ID, Scopes: t.Scopes,
		TokenFacility: t.Facility, Facility: t.Facility}, nil
}
