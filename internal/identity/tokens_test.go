package identity

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// bearer authenticates a request carrying the Authorization header h.
func bearer(t *testing.T, e *coreEnv, h string) *authz.Principal {
	t.Helper()
	r := httptest.NewRequest("GET", "/api/v1/me", nil)
	r.Header.Set("Authorization", h)
	p, stage, err := e.svc.Authenticate(httptest.NewRecorder(), r)
	if err != nil {
		t.Fatal(err)
	}
	if (p != nil) != (stage == web.StageFull) {
		t.Fatalf("principal %v with stage %v", p, stage)
	}
	return p
}

func TestCreateToken_RefusesBadInput(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		cases := []struct {
			name  string
			nt    NewToken
			field string
			msgID string
		}{
			{"empty name", NewToken{Scopes: []string{"read"}}, "name", "validation.token_name"},
			{"name with a space", NewToken{Name: "log shipper", Scopes: []string{"read"}}, "name", "validation.token_name"},
			{"name in kana", NewToken{Name: "ろぐ", Scopes: []string{"read"}}, "name", "validation.token_name"},
			{"overlong name", NewToken{Name: strings.Repeat("a", 65), Scopes: []string{"read"}}, "name", "validation.token_name"},
			{"no scope", NewToken{Name: "ehr-logs"}, "scopes", "validation.scope_required"},
			{"unknown scope", NewToken{Name: "ehr-logs", Scopes: []string{"read", "root"}}, "scopes", "validation.scope"},
			{"negative lifetime", NewToken{Name: "ehr-logs", Scopes: []string{"read"}, TTL: -time.Hour}, "expires", "validation.token_ttl"},
			{"lifetime over five years", NewToken{Name: "ehr-logs", Scopes: []string{"read"}, TTL: 6 * 365 * 24 * time.Hour}, "expires", "validation.token_ttl"},
			{"unknown facility", NewToken{Name: "ehr-logs", Scopes: []string{"read"}, Facility: 77}, "facility", "validation.facility"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				tok, secret, err := e.svc.CreateToken(ctx, SystemActor, c.nt)
				if got := fieldErr(err, c.field); got != c.msgID || tok != nil || secret != "" {
					t.Fatalf("error = %v; field %s = %q, want %q", err, c.field, got, c.msgID)
				}
			})
		}
		if list, err := e.svc.Tokens(ctx); err != nil || len(list) != 0 {
			t.Fatalf("tokens stored after refused input: %d (%v)", len(list), err)
		}
		if ev := e.events(t, "token.create"); len(ev) != 0 {
			t.Fatalf("token.create recorded for refused input")
		}
	})
}

func TestToken_AuthenticatesWithItsScopesUntilExpiryOrRevocation(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		admin := Actor{UserID: 1, Login: "admin01", Client: "192.0.2.9"}
		tok, secret, err := e.svc.CreateToken(ctx, admin, NewToken{Name: "ehr-logs", Scopes: []string{"read", "read"},
			Facility: e.facility, TTL: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, TokenPrefix) || len(secret) != len(TokenPrefix)+43 || tok.Prefix != secret[:10] {
			t.Fatalf("secret %q, prefix %q", secret, tok.Prefix)
		}
		if len(tok.Scopes) != 1 || !tok.ExpiresAt.Equal(coreStart.Add(24*time.Hour)) || tok.CreatedBy != "admin01" {
			t.Fatalf("token = %+v", tok)
		}
		var stored int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM identity_tokens WHERE token_hash = ? OR prefix = ?`,
			secret, secret).Scan(&stored); err != nil || stored != 0 {
			t.Fatalf("the secret is stored in clear (%v)", err)
		}
		ev := e.events(t, "token.create")
		if len(ev) != 1 || ev[0].Detail["scopes"] != "read" || ev[0].Detail["expires"] != "2026-04-02T00:00:00Z" ||
			strings.Contains(ev[0].Target+ev[0].Detail["scopes"], secret[len(TokenPrefix):]) {
			t.Fatalf("token.create events = %+v", ev)
		}

		p := bearer(t, e, "Bearer "+secret)
		if p == nil || p.TokenID != tok.ID || p.UserID != 0 || p.Login != "token:ehr-logs" || p.TokenFacility != e.facility {
			t.Fatalf("principal = %+v", p)
		}
		if !p.Can(PermUsersRead) || !p.CanIn(PermFacilitiesRead, e.facility) || p.CanIn(PermUsersRead, e.facility+1) ||
			p.Can(PermUsersManage) || p.Can(PermDashboard) {
			t.Fatalf("token with scope read: permissions wrong for %+v", p)
		}
		lastUsed := func() time.Time {
			t.Helper()
			list, err := e.svc.Tokens(ctx)
			if err != nil || len(list) != 1 {
				t.Fatalf("tokens: %v", err)
			}
			return list[0].LastUsedAt
		}
		if got := lastUsed(); !got.Equal(coreStart) {
			t.Fatalf("last used %v, want %v", got, coreStart)
		}
		e.clock.Advance(time.Minute)
		bearer(t, e, "Bearer "+secret)
		if got := lastUsed(); !got.Equal(coreStart) {
			t.Fatalf("last used written again within a minute: %v", got)
		}
		e.clock.Advance(time.Millisecond)
		bearer(t, e, "Bearer "+secret)
		if got, want := lastUsed(), coreStart.Add(time.Minute+time.Millisecond); !got.Equal(want) {
			t.Fatalf("last used %v, want %v", got, want)
		}

		for name, h := range map[string]string{
			"unknown token":         "Bearer " + TokenPrefix + newSecret(),
			"token without prefix":  "Bearer " + strings.TrimPrefix(secret, TokenPrefix),
			"the stored hash":       "Bearer " + hashSecret(secret),
			"overlong token":        "Bearer " + secret + strings.Repeat("a", 100),
			"lower-case scheme":     "bearer " + secret,
			"no scheme":             secret,
			"prefix only":           "Bearer " + TokenPrefix,
			"token of another case": "Bearer " + strings.ToUpper(secret),
		} {
			if p := bearer(t, e, h); p != nil {
				t.Fatalf("%s authenticated as %+v", name, p)
			}
		}

		e.clock.Set(tok.ExpiresAt.Add(-time.Millisecond))
		if bearer(t, e, "Bearer "+secret) == nil {
			t.Fatal("token refused before its expiry")
		}
		e.clock.Set(tok.ExpiresAt)
		if p := bearer(t, e, "Bearer "+secret); p != nil {
			t.Fatal("expired token accepted")
		}
	})
}

func TestRevokeToken_StopsItAtOnce(t *testing.T) {
	dbtest.Each(t, coreParts, func(t *testing.T, d *db.DB) {
		e := newCoreEnv(t, d, nil, nil)
		ctx := context.Background()
		tok, secret, err := e.svc.CreateToken(ctx, SystemActor, NewToken{Name: "siem", Scopes: []string{"read"},
			Facility: authz.AllFacilities})
		if err != nil {
			t.Fatal(err)
		}
		keep, keepSecret, err := e.svc.CreateToken(ctx, SystemActor, NewToken{Name: "backup", Scopes: []string{"read"},
			Facility: authz.AllFacilities})
		if err != nil {
			t.Fatal(err)
		}
		p := bearer(t, e, "Bearer "+secret)
		if p == nil || p.TokenFacility != authz.AllFacilities || !tok.ExpiresAt.IsZero() {
			t.Fatalf("token without expiry: %+v, %+v", p, tok)
		}
		if all, _ := p.Facilities(PermUsersRead); !all {
			t.Fatal("a token for every facility is scoped to some")
		}
		e.clock.Advance(time.Hour)
		if err := e.svc.RevokeToken(ctx, Actor{Login: "admin01"}, tok.ID); err != nil {
			t.Fatal(err)
		}
		if p := bearer(t, e, "Bearer "+secret); p != nil {
			t.Fatal("revoked token accepted")
		}
		if p := bearer(t, e, "Bearer "+keepSecret); p == nil || p.TokenID != keep.ID {
			t.Fatal("revoking one token stopped another")
		}
		list, err := e.svc.Tokens(ctx)
		if err != nil || len(list) != 2 || list[1].ID != tok.ID || !list[1].RevokedAt.Equal(coreStart.Add(time.Hour)) ||
			list[1].Active(e.clock.Now()) {
			t.Fatalf("tokens = %+v (%v)", list, err)
		}
		// Revoking again changes nothing and records nothing.
		e.clock.Advance(time.Hour)
		if err := e.svc.RevokeToken(ctx, Actor{Login: "admin01"}, tok.ID); err != nil {
			t.Fatal(err)
		}
		if list, _ := e.svc.Tokens(ctx); !list[1].RevokedAt.Equal(coreStart.Add(time.Hour)) {
			t.Fatalf("revoked at moved to %v", list[1].RevokedAt)
		}
		if ev := e.events(t, "token.revoke"); len(ev) != 1 || ev[0].Target != "token:"+itoa(tok.ID)+":siem" || ev[0].ActorLogin != "admin01" {
			t.Fatalf("token.revoke events = %+v", ev)
		}
		if err := e.svc.RevokeToken(ctx, SystemActor, 999); err != ErrNotFound {
			t.Fatalf("revoke unknown token: %v", err)
		}
	})
}
