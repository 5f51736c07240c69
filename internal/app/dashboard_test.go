package app_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// TestDashboard_ShowsSignInTroubleToAuditReaders makes failed sign-ins and
// checks the figures on the dashboard of a CSIRT member, and that a staff
// member does not see that card.
func TestDashboard_ShowsSignInTroubleToAuditReaders(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			csirt := e.CreateUser(t, "csirt01", true, authz.Grant{Role: authz.CSIRT, Facility: authz.AllFacilities})
			staff := e.CreateUser(t, "staff01", true)
			for i := 0; i < 3; i++ {
				resp := e.Do(t, e.Client(), "POST", "/login", "login=staff01&password=wrong-password-"+string(rune('a'+i)))
				resp.Body.Close()
			}
			resp := e.Do(t, e.Login(t, csirt), "GET", "/", nil)
			body := apptest.ReadBody(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("dashboard: %d", resp.StatusCode)
			}
			card := regexp.MustCompile(`(?s)id="card-security-events".*?</section>`).FindString(body)
			if card == "" {
				t.Fatalf("no sign-in card on the CSIRT dashboard:\n%s", body)
			}
			if !regexp.MustCompile(`(?s)>3</span>(</a>)?\s*<span class="stat-label">ログイン失敗`).MatchString(card) {
				t.Fatalf("the card does not show 3 failed sign-ins:\n%s", card)
			}
			resp = e.Do(t, e.Login(t, staff), "GET", "/", nil)
			if body := apptest.ReadBody(t, resp); strings.Contains(body, `id="card-security-events"`) {
				t.Fatal("staff sees the security-event card")
			}
		})
	}
}
