package identity

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// sessionSettings: 15 minutes idle, 1 hour at most.
func sessionSettings(s *Settings) {
	s.SessionIdle = 15 * time.Minute
	s.SessionLifetime = time.Hour
}

func TestSession_ExpiresAfterIdleTimeoutAndLifetime(t *testing.T) {
	cases := []struct {
		name   string
		steps  []time.Duration // clock advances, each followed by a check that passes
		last   time.Duration   // the advance after which the session is gone
		reason string
	}{
		{"idle for exactly the timeout", nil, 15 * time.Minute, ""},
		{"idle past the timeout", nil, 15*time.Minute + time.Millisecond, "idle"},
		{"active, idle past the timeout", []time.Duration{10 * time.Minute, 10 * time.Minute}, 16 * time.Minute, "idle"},
		{"active until the lifetime", []time.Duration{14 * time.Minute, 14 * time.Minute, 14 * time.Minute, 14 * time.Minute},
			3*time.Minute + time.Millisecond, ""},
		{"active past the lifetime", []time.Duration{14 * time.Minute, 14 * time.Minute, 14 * time.Minute, 14 * time.Minute},
			4 * time.Minute, "lifetime"},
	}
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, sessionSettings, nil)
		ctx := context.Background()
		u := e.user(t, "nurse01", "")
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				secret, err := e.svc.StartSession(ctx, d, u, web.StageFull, "192.0.2.1", "test")
				if err != nil {
					t.Fatal(err)
				}
				id := hashSecret(secret)
				for i, step := range c.steps {
					e.clock.Advance(step)
					if p, _, err := e.svc.SessionPrincipal(ctx, id, "192.0.2.1"); p == nil || err != nil {
						t.Fatalf("step %d: session gone too early (%v)", i, err)
					}
				}
				before := len(e.events(t, "session.expired"))
				e.clock.Advance(c.last)
				p, stage, err := e.svc.SessionPrincipal(ctx, id, "192.0.2.1")
				if err != nil {
					t.Fatal(err)
				}
				ev := e.events(t, "session.expired")
				if c.reason == "" {
					if p == nil || stage != web.StageFull || len(ev) != before {
						t.Fatalf("session ended: principal %v, stage %v", p, stage)
					}
					return
				}
				if p != nil || stage != web.StageNone {
					t.Fatalf("expired session still valid: %+v", p)
				}
				if len(ev) != before+1 || ev[0].Detail["reason"] != c.reason || ev[0].Target != "user:nurse01" ||
					ev[0].ActorID != u.ID || ev[0].ClientAddr != "192.0.2.1" {
					t.Fatalf("session.expired = %+v, want one with reason %s", ev[:len(ev)-before], c.reason)
				}
				if _, err := e.svc.SessionByHash(ctx, id); err != ErrNotFound {
					t.Fatalf("expired session still stored: %v", err)
				}
				// Asking again is a plain unknown session, recorded no more.
				if p, _, _ := e.svc.SessionPrincipal(ctx, id, ""); p != nil || len(e.events(t, "session.expired")) != before+1 {
					t.Fatal("expired session answered or recorded twice")
				}
			})
		}
	})
}

func TestSession_PromoteChangesTheID(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, sessionSettings, nil)
		ctx := context.Background()
		u := e.user(t, "nurse01", "", authz.Staff, authz.Auditor)
		pending, err := e.svc.StartSession(ctx, d, u, web.StagePending, "", "")
		if err != nil {
			t.Fatal(err)
		}
		p, stage, err := e.svc.SessionPrincipal(ctx, hashSecret(pending), "")
		if err != nil || p == nil || stage != web.StagePending {
			t.Fatalf("pending session: %v, %v, %v", p, stage, err)
		}
		if err := e.svc.SetChallenge(ctx, hashSecret(pending), "webauthn-ceremony"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(5 * time.Minute)
		full, err := e.svc.PromoteSession(ctx, d, hashSecret(pending), web.StageFull)
		if err != nil {
			t.Fatal(err)
		}
		if full == pending {
			t.Fatal("promotion kept the session id")
		}
		if p, _, _ := e.svc.SessionPrincipal(ctx, hashSecret(pending), ""); p != nil {
			t.Fatal("the id from before the promotion still authenticates")
		}
		p, stage, err = e.svc.SessionPrincipal(ctx, hashSecret(full), "")
		if err != nil || p == nil || stage != web.StageFull {
			t.Fatalf("promoted session: %v, %v, %v", p, stage, err)
		}
		if p.UserID != u.ID || p.Login != "nurse01" || p.SessionID != hashSecret(full) || len(p.Grants) != 2 ||
			!p.Can(PermUsersRead) || p.Can(PermUsersManage) {
			t.Fatalf("principal = %+v", p)
		}
		ss, err := e.svc.SessionByHash(ctx, hashSecret(full))
		if err != nil {
			t.Fatal(err)
		}
		if ss.Challenge != "" || !ss.ExpiresAt.Equal(coreStart.Add(time.Hour)) || !ss.CreatedAt.Equal(coreStart) {
			t.Fatalf("promoted session = %+v; want the challenge cleared and the first lifetime kept", ss)
		}
		if _, err := e.svc.PromoteSession(ctx, d, hashSecret(pending), web.StageFull); err != ErrNotFound {
			t.Fatalf("promoting a stale id: err = %v, want ErrNotFound", err)
		}
	})
}

func TestSession_EndsWhenTheAccountChanges(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, sessionSettings, nil)
		ctx := context.Background()
		onLeave := e.user(t, "nurse01", "")
		other := e.user(t, "nurse02", "")
		s1, _ := e.svc.StartSession(ctx, d, onLeave, web.StageFull, "", "")
		s2, _ := e.svc.StartSession(ctx, d, onLeave, web.StagePending, "", "")
		kept, _ := e.svc.StartSession(ctx, d, other, web.StageFull, "", "")
		if err := e.svc.SetStatus(ctx, SystemActor, "nurse01", OnLeave); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{s1, s2} {
			if p, _, _ := e.svc.SessionPrincipal(ctx, hashSecret(s), ""); p != nil {
				t.Fatal("a session survived the change of status")
			}
		}
		if p, _, _ := e.svc.SessionPrincipal(ctx, hashSecret(kept), ""); p == nil {
			t.Fatal("another user's session ended")
		}
		if ev := e.events(t, "user.status"); len(ev) != 1 || ev[0].Detail["before"] != "active" || ev[0].Detail["after"] != "on_leave" {
			t.Fatalf("user.status events = %+v", ev)
		}

		// An account whose validity ends while signed in is signed out.
		contract, _, err := e.svc.CreateUser(ctx, SystemActor, NewUser{Facility: e.facility, Login: "contract01",
			Name: "契約 太郎", Profession: "vendor", ValidUntil: coreStart.Add(10 * time.Minute),
			Grants: []authz.Grant{{Role: authz.Vendor, Facility: e.facility}}, Password: corePassword})
		if err != nil {
			t.Fatal(err)
		}
		s3, _ := e.svc.StartSession(ctx, d, contract, web.StageFull, "", "")
		e.clock.Advance(10 * time.Minute)
		if p, _, _ := e.svc.SessionPrincipal(ctx, hashSecret(s3), ""); p != nil {
			t.Fatal("session valid after the account's validity ended")
		}
		if ev := e.events(t, "session.expired"); len(ev) != 1 || ev[0].Detail["reason"] != "account_unusable" {
			t.Fatalf("session.expired events = %+v", ev)
		}
	})
}

func TestSession_TouchesLastSeenAtMostEveryTenthOfIdle(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, func(s *Settings) { s.SessionIdle = 5 * time.Minute }, nil) // touch after 30 s
		ctx := context.Background()
		u := e.user(t, "nurse01", "")
		secret, _ := e.svc.StartSession(ctx, d, u, web.StageFull, "", "")
		id := hashSecret(secret)
		lastSeen := func() time.Time {
			t.Helper()
			ss, err := e.svc.SessionByHash(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return ss.LastSeen
		}
		for _, c := range []struct {
			advance time.Duration
			want    time.Time
		}{
			{10 * time.Second, coreStart},
			{20 * time.Second, coreStart}, // 30 s: not more than a tenth of idle
			{time.Millisecond, coreStart.Add(30*time.Second + time.Millisecond)},
			{29 * time.Second, coreStart.Add(30*time.Second + time.Millisecond)},
			{2 * time.Second, coreStart.Add(61*time.Second + time.Millisecond)},
		} {
			e.clock.Advance(c.advance)
			if p, _, err := e.svc.SessionPrincipal(ctx, id, ""); p == nil || err != nil {
				t.Fatalf("session refused: %v", err)
			}
			if got := lastSeen(); !got.Equal(c.want) {
				t.Fatalf("at %v: last seen %v, want %v", e.clock.Now().Sub(coreStart), got.Sub(coreStart), c.want.Sub(coreStart))
			}
		}
	})
}

func TestAuthenticate_ReadsTheSessionCookie(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, sessionSettings, nil)
		ctx := context.Background()
		u := e.user(t, "nurse01", "")
		secret, _ := e.svc.StartSession(ctx, d, u, web.StageFull, "", "")
		cases := []struct {
			name   string
			cookie string
			header string
			want   web.Stage
		}{
			{"session cookie", secret, "", web.StageFull},
			{"no cookie", "", "", web.StageNone},
			{"unknown cookie", newSecret(), "", web.StageNone},
			{"overlong cookie", strings.Repeat("a", 101), "", web.StageNone},
			{"the stored hash as cookie", hashSecret(secret), "", web.StageNone},
			{"authorization other than bearer", secret, "Basic bnVyc2UwMTpwYXNz", web.StageNone},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := httptest.NewRequest("GET", "/", nil)
				if c.cookie != "" {
					r.AddCookie(&http.Cookie{Name: SessionCookie, Value: c.cookie})
				}
				if c.header != "" {
					r.Header.Set("Authorization", c.header)
				}
				p, stage, err := e.svc.Authenticate(httptest.NewRecorder(), r)
				if err != nil || stage != c.want || (p != nil) != (c.want != web.StageNone) {
					t.Fatalf("Authenticate = %v, %v, %v; want stage %v", p, stage, err, c.want)
				}
			})
		}
	})
}

func TestEndSession_SignsOutAndRecords(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, sessionSettings, nil)
		ctx := context.Background()
		u := e.user(t, "nurse01", "")
		secret, _ := e.svc.StartSession(ctx, d, u, web.StageFull, "", "")
		other, _ := e.svc.StartSession(ctx, d, u, web.StageFull, "", "")
		p, _, _ := e.svc.SessionPrincipal(ctx, hashSecret(secret), "")
		if err := e.svc.EndSession(ctx, p, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		if p, _, _ := e.svc.SessionPrincipal(ctx, hashSecret(secret), ""); p != nil {
			t.Fatal("session valid after sign-out")
		}
		if p, _, _ := e.svc.SessionPrincipal(ctx, hashSecret(other), ""); p == nil {
			t.Fatal("sign-out ended the user's other session")
		}
		if ev := e.events(t, "logout"); len(ev) != 1 || ev[0].ActorID != u.ID || ev[0].ClientAddr != "192.0.2.1" {
			t.Fatalf("logout events = %+v", ev)
		}
		if err := e.svc.EndSession(ctx, nil, ""); err != nil {
			t.Fatalf("sign-out without a session: %v", err)
		}
		if err := e.svc.EndSessionsOf(ctx, d, u.ID, ""); err != nil {
			t.Fatal(err)
		}
		if p, _, _ := e.svc.SessionPrincipal(ctx, hashSecret(other), ""); p != nil {
			t.Fatal("EndSessionsOf left a session")
		}
	})
}

func TestPurgeExpiredSessions_DeletesOnlyExpired(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, sessionSettings, nil)
		ctx := context.Background()
		u := e.user(t, "nurse01", "")
		idle, _ := e.svc.StartSession(ctx, d, u, web.StageFull, "", "")
		e.clock.Advance(10 * time.Minute)
		fresh, _ := e.svc.StartSession(ctx, d, u, web.StageFull, "", "")
		e.clock.Advance(6 * time.Minute)
		n, err := e.svc.PurgeExpiredSessions(ctx)
		if err != nil || n != 1 {
			t.Fatalf("purged %d (%v), want 1", n, err)
		}
		if _, err := e.svc.SessionByHash(ctx, hashSecret(idle)); err != ErrNotFound {
			t.Fatalf("idle session kept: %v", err)
		}
		if _, err := e.svc.SessionByHash(ctx, hashSecret(fresh)); err != nil {
			t.Fatalf("fresh session purged: %v", err)
		}
	})
}
