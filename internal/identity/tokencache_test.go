package identity

import (
	"context"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// TestTokenCache_AnswersFromMemoryButRevocationStillStopsTheToken checks
// the token cache's promise: repeated checks do not ask the database; a
// revocation here stops the token at once, one by another instance within
// the TTL; expiry and the last-use note hold as without the cache.
func TestTokenCache_AnswersFromMemoryButRevocationStillStopsTheToken(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		const ttl = 300 * time.Millisecond
		e := newCoreEnv(t, d, func(s *Settings) { s.SessionCacheTTL = ttl }, nil)
		ctx := context.Background()
		token := func(name string, life time.Duration) (*Token, string) {
			t.Helper()
			tok, secret, err := e.svc.CreateToken(ctx, SystemActor, NewToken{Name: name, Scopes: []string{"read"},
				Facility: authz.AllFacilities, TTL: life})
			if err != nil {
				t.Fatal(err)
			}
			return tok, secret
		}
		accepted := func(secret string) bool {
			t.Helper()
			return bearer(t, e, "Bearer "+secret) != nil
		}

		// Behind the service's back the row goes; the cache still answers.
		gone, goneSecret := token("gone", 0)
		if !accepted(goneSecret) {
			t.Fatal("a new token is refused")
		}
		if _, err := d.ExecContext(ctx, `DELETE FROM identity_tokens WHERE id = ?`, gone.ID); err != nil {
			t.Fatal(err)
		}
		if !accepted(goneSecret) {
			t.Fatal("the second check asked the database: the cache does not work")
		}

		// A revocation through this service takes effect at once.
		tok, secret := token("lis", 0)
		if !accepted(secret) {
			t.Fatal("token refused")
		}
		if err := e.svc.RevokeToken(ctx, Actor{Login: "admin01"}, tok.ID); err != nil {
			t.Fatal(err)
		}
		if accepted(secret) {
			t.Fatal("a token revoked here still passes from the cache")
		}

		// A revocation by another instance on the same database (or the
		// command line) takes effect within the TTL.
		other, err := New(d, e.clock, e.log, e.svc.set, nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, secret = token("siem", 0)
		if !accepted(secret) {
			t.Fatal("token refused")
		}
		revoked := time.Now()
		if err := other.RevokeToken(ctx, Actor{Login: "admin02"}, tok.ID); err != nil {
			t.Fatal(err)
		}
		for accepted(secret) {
			if time.Since(revoked) > ttl+200*time.Millisecond {
				t.Fatalf("a token revoked elsewhere still passes after %v (TTL %v)", time.Since(revoked), ttl)
			}
			time.Sleep(20 * time.Millisecond)
		}

		// Expiry is checked on every answer from the cache.
		exp, expSecret := token("short", time.Hour)
		if !accepted(expSecret) {
			t.Fatal("token refused before its expiry")
		}
		e.clock.Set(exp.ExpiresAt)
		if accepted(expSecret) {
			t.Fatal("an expired token passes from the cache")
		}

		// The last use is still noted once a minute.
		used, usedSecret := token("used", 0)
		accepted(usedSecret)
		e.clock.Advance(time.Minute + time.Millisecond)
		accepted(usedSecret)
		var at int64
		if err := d.QueryRowContext(ctx, `SELECT last_used_at FROM identity_tokens WHERE id = ?`, used.ID).Scan(&at); err != nil {
			t.Fatal(err)
		}
		if !db.Time(at).Equal(e.clock.Now()) {
			t.Fatalf("last used %v, want %v", db.Time(at), e.clock.Now())
		}

		// Without a TTL nothing is kept.
		set := e.svc.set
		set.SessionCacheTTL = 0
		off, err := New(d, e.clock, e.log, set, nil)
		if err != nil {
			t.Fatal(err)
		}
		plain := &coreEnv{svc: off, db: d, clock: e.clock, log: e.log, facility: e.facility}
		_, gone2 := token("gone2", 0)
		if bearer(t, plain, "Bearer "+gone2) == nil {
			t.Fatal("token refused")
		}
		if _, err := d.ExecContext(ctx, `DELETE FROM identity_tokens WHERE name = 'gone2'`); err != nil {
			t.Fatal(err)
		}
		if bearer(t, plain, "Bearer "+gone2) != nil {
			t.Fatal("with the cache off, a deleted token still passes")
		}
	})
}
