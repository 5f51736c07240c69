package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/config"
)

// keepCard returns the audit-keep card of the dashboard as user sees it.
func keepCard(t *testing.T, e *apptest.Env, u *apptest.User) string {
	t.Helper()
	resp := e.Do(t, e.Login(t, u), "GET", "/", nil)
	body := apptest.ReadBody(t, resp)
	return regexp.MustCompile(`(?s)id="card-audit-keep".*?</section>`).FindString(body)
}

// TestDashboard_WarnsWhenCheckpointsReachNoWitness shows the card's
// warning without witnesses, and its alarm when the one witness keeps
// failing.
func TestDashboard_WarnsWhenCheckpointsReachNoWitness(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			ciso := e.CreateUser(t, "ciso01", true, authz.Grant{Role: authz.CISO, Facility: authz.AllFacilities})
			card := keepCard(t, e, ciso)
			if !regexp.MustCompile(`badge warn">未設定</span>\s*<span class="stat-label">チェックポイントの送付先`).MatchString(card) {
				t.Fatalf("no warning without witnesses:\n%s", card)
			}
			staff := e.CreateUser(t, "staff01", true)
			if keepCard(t, e, staff) != "" {
				t.Fatal("staff sees the card")
			}

			down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			defer down.Close()
			e = apptest.New(t, d, func(c *config.Config) { c.Audit.Witness.Webhooks = []string{down.URL + "/witness"} })
			ciso = e.CreateUser(t, "ciso01", true, authz.Grant{Role: authz.CISO, Facility: authz.AllFacilities})
			ctx := context.Background()
			if _, err := e.App.Audit.SignCheckpoint(ctx); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if err := e.App.Audit.SendWitnesses(ctx, false); err != nil {
					t.Fatal(err)
				}
				e.Clock.Advance(time.Hour)
			}
			card = keepCard(t, e, ciso)
			if !regexp.MustCompile(`badge bad">1</span>\s*<span class="stat-label">送付に失敗している送付先`).MatchString(card) ||
				!regexp.MustCompile(`0 / 1</span>`).MatchString(card) {
				t.Fatalf("no alarm for a failing witness:\n%s", card)
			}
		})
	}
}
