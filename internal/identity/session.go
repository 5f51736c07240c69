package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "anzen_session"

// Session is a browser or API session after a correct password.
type Session struct {
	IDHash    string
	UserID    int64
	Stage     web.Stage
	Challenge string // WebAuthn ceremony data between begin and finish
	Client    string
	UserAgent string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}

func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// StartSession creates a session for u at the given stage and returns the
// secret to put in the cookie. Only its hash is stored.
func (s *Service) StartSession(ctx context.Context, q db.Querier, u *User, stage web.Stage, client, ua string) (string, error) {
	secret := newSecret()
	now := s.clock.Now()
	_, err := q.ExecContext(ctx, `INSERT INTO identity_sessions (id_hash, user_id, stage, client_addr, user_agent,
		created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		hashSecret(secret), u.ID, int(stage), clip(client, 64), clip(ua, 256), db.Millis(now), db.Millis(now),
		db.Millis(now.Add(s.set.SessionLifetime)))
	if err != nil {
		return "", fmt.Errorf("start session: %w", err)
	}
	return secret, nil
}

// PromoteSession moves a session to a new stage under a new id (so that an
// id seen before the change is worth nothing after it) and returns the new
// secret. The absolute lifetime still counts from the first sign-in.
func (s *Service) PromoteSession(ctx context.Context, q db.Querier, idHash string, stage web.Stage) (string, error) {
	secret := newSecret()
	res, err := q.ExecContext(ctx, `UPDATE identity_sessions SET id_hash = ?, stage = ?, challenge = '', last_seen_at = ?
		WHERE id_hash = ?`, hashSecret(secret), int(stage), db.Millis(s.clock.Now()), idHash)
	if err != nil {
		return "", fmt.Errorf("rotate session: %w", err)
	}
	s.sessions.invalidate() // the old id must not live on in the cache
	if n, _ := res.RowsAffected(); n != 1 {
		return "", ErrNotFound
	}
	return secret, nil
}

// EndSession deletes a session (sign-out).
func (s *Service) EndSession(ctx context.Context, p *authz.Principal, client string) error {
	if p == nil || p.SessionID == "" {
		return nil
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM identity_sessions WHERE id_hash = ?`, p.SessionID); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, ActorOf(p, client).event("logout", "user:"+p.Login, "success", p.Facility, nil))
	})
}

// SessionByHash returns a stored session.
func (s *Service) SessionByHash(ctx context.Context, idHash string) (*Session, error) {
	var ss Session
	var stage int
	var created, seen, expires int64
	err := s.db.QueryRowContext(ctx, `SELECT id_hash, user_id, stage, challenge, client_addr, user_agent, created_at,
		last_seen_at, expires_at FROM identity_sessions WHERE id_hash = ?`, idHash).Scan(&ss.IDHash, &ss.UserID, &stage,
		&ss.Challenge, &ss.Client, &ss.UserAgent, &created, &seen, &expires)
	if err != nil {
		return nil, db.NotFound(err)
	}
	ss.Stage = web.Stage(stage)
	ss.CreatedAt, ss.LastSeen, ss.ExpiresAt = db.Time(created), db.Time(seen), db.Time(expires)
	return &ss, nil
}

// SetChallenge keeps WebAuthn ceremony data with the session.
func (s *Service) SetChallenge(ctx context.Context, idHash, data string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE identity_sessions SET challenge = ? WHERE id_hash = ?`, data, idHash)
	return err
}

// SetSessionCookie writes the session cookie: HttpOnly, SameSite=Strict,
// Secure under TLS, and gone when the browser closes.
func (s *Service) SetSessionCookie(w http.ResponseWriter, secret string) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", HttpOnly: true,
		Secure: s.set.SecureCookies, SameSite: http.SameSiteStrictMode})
}

// ClearSessionCookie removes the session cookie.
func (s *Service) ClearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true,
		Secure: s.set.SecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// BadTokensPerMinute is how many wrong bearer tokens one client address
// may send a minute before its tokens are refused unread for a while
// (anzen policy, against guessing and misconfigured scripts hammering the
// database).
const BadTokensPerMinute = 60

// Authenticate implements web.Authenticator: a bearer API token, or the
// session cookie. It applies the idle timeout and the absolute lifetime,
// and refuses users who are no longer usable.
func (s *Service) Authenticate(w http.ResponseWriter, r *http.Request) (*authz.Principal, web.Stage, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		client := web.ClientAddr(r)
		if s.badTokens.Exhausted(client) {
			return nil, web.StageNone, nil // too many wrong tokens from here: not even looked up
		}
		token, ok := strings.CutPrefix(h, "Bearer ")
		var p *authz.Principal
		var err error
		if ok {
			p, err = s.tokenPrincipal(r.Context(), strings.TrimSpace(token))
		}
		if err != nil {
			return nil, web.StageNone, err
		}
		if p == nil {
			if !s.badTokens.Allow(client) {
				s.log.Warn("too many wrong API tokens; refusing this client's tokens for a while", "client", client)
			}
			return nil, web.StageNone, nil
		}
		return p, web.StageFull, nil
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, web.StageNone, nil
	}
	return s.SessionPrincipal(r.Context(), hashSecret(c.Value), web.ClientAddr(r))
}

// sessionQuery reads a session, its user and the user's grants in one
// query (one row per grant; a user without grants gives one row with NULL
// grant columns), so that checking a session costs one round trip and one
// statement to prepare.
const sessionQuery = `SELECT s.user_id, s.stage, s.last_seen_at, s.expires_at, u.facility_id, u.login, u.name,
	u.lang, u.status, u.valid_from, u.valid_until, g.role, g.facility_id
	FROM identity_sessions s JOIN identity_users u ON u.id = s.user_id
	LEFT JOIN identity_grants g ON g.user_id = s.user_id
	WHERE s.id_hash = ? ORDER BY g.role, g.facility_id`

// SessionPrincipal checks the session with the given id hash and returns
// who it acts as and how far it has come.
func (s *Service) SessionPrincipal(ctx context.Context, idHash, client string) (*authz.Principal, web.Stage, error) {
	now := s.clock.Now()
	if p, st, ok := s.cachedPrincipal(idHash, now); ok {
		return p, st, nil
	}
	gen := s.sessions.generation()
	var (
		u                                    *User
		stage                                int
		seen, expires, validFrom, validUntil int64
	)
	rows, err := s.db.QueryContext(ctx, sessionQuery, idHash)
	if err != nil {
		return nil, web.StageNone, fmt.Errorf("look up session: %w", err)
	}
	for rows.Next() {
		var (
			row       User
			status    string
			role      sql.NullString
			grantFrom sql.NullInt64
		)
		if err := rows.Scan(&row.ID, &stage, &seen, &expires, &row.Facility, &row.Login, &row.Name, &row.Lang,
			&status, &validFrom, &validUntil, &role, &grantFrom); err != nil {
			rows.Close()
			return nil, web.StageNone, fmt.Errorf("look up session: %w", err)
		}
		if u == nil {
			row.Status, row.ValidFrom, row.ValidUntil = Status(status), db.Time(validFrom), db.Time(validUntil)
			u = &row
		}
		if role.Valid {
			u.Grants = append(u.Grants, authz.Grant{Role: authz.Role(role.String), Facility: grantFrom.Int64})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, web.StageNone, fmt.Errorf("look up session: %w", err)
	}
	if u == nil {
		return nil, web.StageNone, nil
	}
	reason := ""
	switch {
	case now.Sub(db.Time(seen)) > s.set.SessionIdle:
		reason = "idle"
	case !now.Before(db.Time(expires)):
		reason = "lifetime"
	case !u.Usable(now):
		reason = "account_unusable"
	}
	if reason != "" {
		err := s.db.InTx(ctx, func(tx *db.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM identity_sessions WHERE id_hash = ?`, idHash)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil // another request ended it first
			}
			a := Actor{UserID: u.ID, Login: u.Login, Client: client}
			return s.audit.Record(ctx, tx, a.event("session.expired", "user:"+u.Login, "success", u.Facility,
				map[string]string{"reason": reason}))
		})
		return nil, web.StageNone, err
	}
	// Note activity when more than a tenth of the idle timeout (capped at
	// a minute) has passed since it was last noted, so that reading pages
	// does not write each time yet the stored time is never more than that
	// behind.
	touch := min(s.set.SessionIdle/10, time.Minute)
	lastSeen := db.Time(seen)
	if now.Sub(lastSeen) > touch {
		if _, err := s.db.ExecContext(ctx, `UPDATE identity_sessions SET last_seen_at = ? WHERE id_hash = ?`,
			db.Millis(now), idHash); err != nil {
			return nil, web.StageNone, err
		}
		lastSeen = now
	}
	p := u.Principal()
	p.SessionID = idHash
	s.sessions.put(idHash, cachedSession{p: *p, stage: web.Stage(stage), user: *u, seen: lastSeen,
		expires: db.Time(expires), gen: gen})
	return p, web.Stage(stage), nil
}

// EndSessionsOf ends every session of a user (after a password change
// elsewhere, for example); keep is a session id hash to spare, or "".
func (s *Service) EndSessionsOf(ctx context.Context, q db.Querier, userID int64, keep string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM identity_sessions WHERE user_id = ? AND id_hash <> ?`, userID, keep)
	s.sessions.invalidate()
	return err
}

// PurgeExpiredSessions deletes sessions past their lifetime or idle
// timeout; a background job runs it.
func (s *Service) PurgeExpiredSessions(ctx context.Context) (int64, error) {
	now := s.clock.Now()
	res, err := s.db.ExecContext(ctx, `DELETE FROM identity_sessions WHERE expires_at <= ? OR last_seen_at < ?`,
		db.Millis(now), db.Millis(now.Add(-s.set.SessionIdle)))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
