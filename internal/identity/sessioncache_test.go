package identity

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// TestSessionCache_AnswersFromMemoryButEveryRecordedChangeEmptiesIt checks
// both halves of the cache's promise: a repeated check does not ask the
// database, and a sign-out, a role change or the idle timeout take effect
// at once all the same.
func TestSessionCache_AnswersFromMemoryButEveryRecordedChangeEmptiesIt(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, func(s *Settings) { s.SessionCacheTTL = time.Minute }, nil)
		ctx := context.Background()
		u := e.user(t, "cached01", "")
		start := func() string {
			secret, err := e.svc.StartSession(ctx, d, u, web.StageFull, "10.0.0.1", "test")
			if err != nil {
				t.Fatal(err)
			}
			return hashSecret(secret)
		}
		check := func(id string) (*authz.Principal, web.Stage) {
			t.Helper()
			p, st, err := e.svc.SessionPrincipal(ctx, id, "10.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			return p, st
		}

		id := start()
		if _, st := check(id); st != web.StageFull {
			t.Fatalf("first check: stage %v", st)
		}
		// Behind the service's back the row goes; the cache still answers.
		if _, err := d.ExecContext(ctx, `DELETE FROM identity_sessions WHERE id_hash = ?`, id); err != nil {
			t.Fatal(err)
		}
		if _, st := check(id); st != web.StageFull {
			t.Fatal("the second check asked the database: the cache does not work")
		}

		// A sign-out through the service takes effect at once.
		id = start()
		p, _ := check(id)
		if err := e.svc.EndSession(ctx, p, "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if _, st := check(id); st != web.StageNone {
			t.Fatal("a signed-out session still passes from the cache")
		}

		// A role change takes effect at once (it also ends the sessions).
		id = start()
		check(id)
		if _, err := e.svc.UpdateUser(ctx, SystemActor, u.ID, UserChange{Name: u.Name, Profession: u.Profession,
			Status: u.Status, Facility: u.Facility, Grants: []authz.Grant{{Role: authz.Auditor, Facility: u.Facility}}}); err != nil {
			t.Fatal(err)
		}
		if _, st := check(id); st != web.StageNone {
			t.Fatal("a session of a user whose roles changed still passes from the cache")
		}

		// The idle timeout is checked on every answer from the cache.
		id = start()
		check(id)
		e.clock.Advance(16 * time.Minute)
		if _, st := check(id); st != web.StageNone {
			t.Fatal("an idle session passes from the cache")
		}
		if n := len(e.events(t, "session.expired")); n != 1 {
			t.Fatalf("%d session.expired events, want 1", n)
		}
	})
}

// TestAuthenticate_ManyWrongTokensFromOneAddressAreRefusedUnread shows the
// rate limit on bearer tokens: past BadTokensPerMinute wrong tokens, even a
// right one from the same address is refused for a while, while another
// address is unaffected.
func TestAuthenticate_ManyWrongTokensFromOneAddressAreRefusedUnread(t *testing.T) {
	d := dbtest.SQLite(t, coreParts...)
	e := newCoreEnv(t, d, nil, nil)
	ctx := context.Background()
	_, secret, err := e.svc.CreateToken(ctx, SystemActor, NewToken{Name: "lis", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	try := func(addr, token string) web.Stage {
		r := httptest.NewRequest("GET", "/api/v1/me", nil)
		r.RemoteAddr = addr + ":40000"
		r.Header.Set("Authorization", "Bearer "+token)
		_, st, err := e.svc.Authenticate(httptest.NewRecorder(), r)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if try("192.0.2.10", secret) != web.StageFull {
		t.Fatal("the right token is refused")
	}
	for i := 0; i < BadTokensPerMinute; i++ {
		try("192.0.2.10", TokenPrefix+"wrong")
	}
	if try("192.0.2.10", secret) != web.StageNone {
		t.Fatal("after the limit of wrong tokens, a token from the same address still passes")
	}
	if try("192.0.2.11", secret) != web.StageFull {
		t.Fatal("another address is refused too")
	}
}
