package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app"
	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/web"
)

func TestParseExpiry_ReadsHoursDaysWeeksYearsAndNever(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"12h", 12 * time.Hour, true},
		{"30d", 30 * day, true},
		{"90d", 90 * day, true},
		{"2w", 14 * day, true},
		{"1y", 365 * day, true},
		{"never", 0, true},
		{"0d", 0, false},
		{"", 0, false},
		{"90", 0, false},
		{"-1d", 0, false},
		{"1.5d", 0, false},
		{"30D", 0, false},
		{"99999y", 0, false},
		{"1m", 0, false},
	}
	for _, tc := range cases {
		got, err := parseExpiry(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func tokens(t *testing.T, c *cliEnv) []tokenListing {
	t.Helper()
	var out []tokenListing
	r := c.mustRun("token", "list", "--json")
	if err := json.Unmarshal([]byte(r.out), &out); err != nil {
		t.Fatalf("token list --json: %v\n%s", err, r.out)
	}
	return out
}

// tokenID returns the id of the token with the given name, as text.
func tokenID(t *testing.T, c *cliEnv, name string) string {
	t.Helper()
	list := tokens(t, c)
	i := slices.IndexFunc(list, func(l tokenListing) bool { return l.Name == name })
	if i < 0 {
		t.Fatalf("no token %q in %v", name, list)
	}
	return fmt.Sprint(list[i].ID)
}

// principalOf authenticates a request that carries token as a bearer.
func principalOf(t *testing.T, a *app.App, token string) *authz.Principal {
	t.Helper()
	r := httptest.NewRequest("GET", "/api/v1/me", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	p, stage, err := a.Identity.Authenticate(httptest.NewRecorder(), r)
	if err != nil {
		t.Fatal(err)
	}
	if p != nil && stage != web.StageFull {
		t.Fatalf("token principal at stage %v", stage)
	}
	return p
}

func TestTokenCreate_PrintsATokenThatAuthenticatesUntilRevoked(t *testing.T) {
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			c := newCLI(t, dialect)
			r := c.mustRun("token", "create", "--name", "log-shipper", "--scope", "read", "--facility", "main",
				"--expires", "30d")
			token := secretLine(t, r)
			if !strings.HasPrefix(token, identity.TokenPrefix) {
				t.Fatalf("token %q lacks the prefix %s", token, identity.TokenPrefix)
			}
			if !strings.Contains(r.errOut, `created token 1 "log-shipper"`) || strings.Contains(r.errOut, token) {
				t.Errorf("stderr should describe the token and not repeat it: %q", r.errOut)
			}
			a := c.open()
			facilities, err := a.Identity.Facilities(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			p := principalOf(t, a, token)
			if p == nil || !slices.Equal(p.Scopes, []string{"read"}) || p.TokenFacility != facilities[0].ID {
				t.Fatalf("principal of the new token: %+v", p)
			}

			list := tokens(t, c)
			if len(list) != 1 || list[0].State != "active" || list[0].FacilityCode != "main" ||
				list[0].CreatedBy != cliActor().Login {
				t.Fatalf("token list: %+v", list)
			}
			if left := time.Until(list[0].ExpiresAt); left < 29*24*time.Hour || left > 30*24*time.Hour {
				t.Errorf("expires in %v, want 30 days", left)
			}
			table := c.mustRun("token", "list").out
			if strings.Contains(table, token) || !strings.Contains(table, "log-shipper") {
				t.Errorf("table shows the secret or lacks the token:\n%s", table)
			}
			eventsBy(t, a, "token.create")

			if r := c.mustRun("token", "revoke", "1"); !strings.Contains(r.out, "revoked") {
				t.Errorf("revoke said %q", r.out)
			}
			if p := principalOf(t, a, token); p != nil {
				t.Errorf("revoked token still authenticates as %+v", p)
			}
			if r := c.mustRun("token", "revoke", "1"); !strings.Contains(r.out, "already revoked") {
				t.Errorf("second revoke said %q", r.out)
			}
			if ev := eventsBy(t, a, "token.revoke"); len(ev) != 1 {
				t.Errorf("%d token.revoke events, want 1", len(ev))
			}
			if list := tokens(t, c); list[0].State != "revoked" {
				t.Errorf("state after revoke: %s", list[0].State)
			}
		})
	}
}

func TestTokenCreate_NeverAndAllFacilities(t *testing.T) {
	c := newCLI(t, "sqlite")
	token := secretLine(t, c.mustRun("token", "create", "--name", "metrics", "--scope", "metrics,read",
		"--expires", "never", "--facility", "all"))
	list := tokens(t, c)
	if len(list) != 1 || !list[0].ExpiresAt.IsZero() || list[0].Facility != authz.AllFacilities ||
		!slices.Equal(list[0].Scopes, []string{"metrics", "read"}) {
		t.Fatalf("token list: %+v", list)
	}
	if p := principalOf(t, c.open(), token); p == nil || p.TokenFacility != authz.AllFacilities {
		t.Fatalf("principal: %+v", p)
	}
}

func TestTokenCreate_BadInputFailsNamingTheFlagAndStoresNothing(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"--scope", "read"}, "--name: required"},
		{"no scope", []string{"--name", "n"}, "--scope: at least one scope is required (allowed: "},
		{"unknown scope", []string{"--name", "n", "--scope", "read,write"}, `--scope: unknown scope "write"`},
		{"malformed lifetime", []string{"--name", "n", "--scope", "read", "--expires", "3 months"}, "--expires"},
		{"lifetime over five years", []string{"--name", "n", "--scope", "read", "--expires", "6y"}, "--expires"},
		{"malformed name", []string{"--name", "log shipper", "--scope", "read"}, "--name"},
		{"unknown facility", []string{"--name", "n", "--scope", "read", "--facility", "east"}, "--facility"},
	}
	for _, dialect := range apptest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			c := newCLI(t, dialect)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					r := c.run("", append([]string{"token", "create"}, tc.args...)...)
					if r.err == nil || !strings.HasPrefix(r.err.Error(), tc.want) || r.out != "" {
						t.Errorf("error %v, stdout %q; want %q", r.err, r.out, tc.want)
					}
				})
			}
			if list := tokens(t, c); len(list) != 0 {
				t.Errorf("tokens were stored: %+v", list)
			}
		})
	}
}

func TestTokenRevoke_UnknownOrMalformedIDFails(t *testing.T) {
	c := newCLI(t, "sqlite")
	c.mustRun("migrate")
	for _, id := range []string{"999", "0", "abc"} {
		r := c.run("", "token", "revoke", id)
		if r.err == nil || !strings.Contains(r.err.Error(), "token ID") {
			t.Errorf("revoke %s: %v", id, r.err)
		}
	}
}
