package app_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/config"
)

// TestVerifyJob_RecordsAndSchedules runs the background verification's
// work once: it records the result, the dashboard shows it, and the next
// run waits for the interval after it (and at least a few minutes after a
// start).
func TestVerifyJob_RecordsAndSchedules(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			e := apptest.New(t, d, func(c *config.Config) { c.Audit.VerifyInterval = 6 * time.Hour })
			if got := e.App.NextVerify(ctx); got != 5*time.Minute {
				t.Errorf("a log never verified is verified %v after start, want 5m", got)
			}
			if _, err := e.App.Audit.Append(ctx, e.AccessEvents(t, 50)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.App.Audit.SignCheckpoint(ctx); err != nil {
				t.Fatal(err)
			}
			res, err := e.App.VerifyAudit(ctx, audit.VerifyOptions{}, audit.VerificationOrigin{Via: "job"})
			if err != nil || !res.OK || res.Size < 50 || !res.Signatures {
				t.Fatalf("verify: %+v, %v", res, err)
			}
			v, err := e.App.Audit.LatestVerification(ctx)
			if err != nil || v.Via != "job" || !v.Result.OK {
				t.Fatalf("recorded: %+v, %v", v, err)
			}
			if got := e.App.NextVerify(ctx); got < 5*time.Hour || got > 6*time.Hour+time.Minute {
				t.Errorf("next verification in %v, want about 6h", got)
			}

			ciso := e.CreateUser(t, "ciso01", true, authz.Grant{Role: authz.CISO, Facility: authz.AllFacilities})
			body := apptest.ReadBody(t, e.Do(t, e.Login(t, ciso), "GET", "/", nil))
			card := regexp.MustCompile(`(?s)id="card-audit-integrity".*?</section>`).FindString(body)
			if !regexp.MustCompile(`badge ok">正常</span></a>\s*<span class="stat-label">最新の改ざん検証`).MatchString(card) {
				t.Fatalf("the card does not show the verification:\n%s", card)
			}
			// Two intervals later, with no run in between, it is overdue.
			e.Clock.Advance(13 * time.Hour)
			body = apptest.ReadBody(t, e.Do(t, e.Login(t, ciso), "GET", "/", nil))
			card = regexp.MustCompile(`(?s)id="card-audit-integrity".*?</section>`).FindString(body)
			if !regexp.MustCompile(`badge warn">[0-9-]+ [0-9:]+</span></a>\s*<span class="stat-label">検証日時`).MatchString(card) {
				t.Fatalf("the card does not say the verification is overdue:\n%s", card)
			}
			if got := e.App.NextVerify(ctx); got != 5*time.Minute {
				t.Errorf("an overdue verification runs in %v, want 5m", got)
			}
		})
	}
}
