package identity

import (
	"context"
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
