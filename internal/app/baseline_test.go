package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// TestBaselines_TheAlertPageListAndAPIExplainTheDay gives anzen five days
// of three nurses opening ten patients' records each, then a new nurse
// who opens sixty on her first day: the baselines judge her by her peers,
// and the list, the page and the API say why in plain words.
func TestBaselines_TheAlertPageListAndAPIExplainTheDay(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			ctx := context.Background()
			// The days after anzen's own first events (the bootstrap's).
			e.Clock.Advance(6 * 24 * time.Hour)
			at := e.App.Clock.Now().Truncate(time.Hour)
			var events []audit.Event
			add := func(user string, when time.Time, patient int) {
				events = append(events, audit.Event{Time: when, Facility: 1, Source: "ehr-main", Action: "view",
					Outcome: audit.OutcomeSuccess, Actor: audit.Actor{ID: user, Profession: "nurse", Department: "4A病棟"},
					Patient: audit.Patient{ID: fmt.Sprintf("P%03d", patient)}})
			}
			for day := 5; day >= 1; day-- {
				for _, n := range []string{"n-1", "n-2", "n-3"} {
					for p := range 10 {
						add(n, at.AddDate(0, 0, -day).Add(time.Duration(p)*time.Second), p)
					}
				}
			}
			for p := range 60 {
				add("n-9", at.Add(time.Duration(p)*time.Second), p)
			}
			if _, err := e.App.Audit.Append(ctx, events); err != nil {
				t.Fatal(err)
			}
			for {
				n, err := e.App.Baselines.Process(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			alerts, err := detect.Alerts(ctx, e.App.DB, 10)
			if err != nil || len(alerts) != 1 || alerts[0].RuleID != "model:patients_per_day" {
				t.Fatalf("alerts %+v: %v", alerts, err)
			}
			id := alerts[0].ID
			csirt := e.Login(t, e.CreateUser(t, "csirt01", true, authz.Grant{Role: authz.CSIRT, Facility: authz.AllFacilities}))
			ja := "この看護師は本日60人の患者の記録を開きました。通常は10〜10人です。" +
				"この職員の記録はまだ0日分（14日未満）のため、同じ施設の同じ職種の職員3人の通常と比べています。"
			for _, path := range []string{"/alerts", fmt.Sprintf("/alerts/%d", id)} {
				resp := e.Do(t, csirt, "GET", path, nil)
				body := apptest.ReadBody(t, resp)
				if resp.StatusCode != http.StatusOK || !strings.Contains(body, ja) ||
					!strings.Contains(body, "1日に記録を開いた患者の数が通常より多い") {
					t.Errorf("%s: %d\n%s", path, resp.StatusCode, body)
				}
			}
			// The alert links the nurse's baselines: today's 60 beyond
			// her peers' usual, drawn day by day.
			page := apptest.ReadBody(t, e.Do(t, csirt, "GET", fmt.Sprintf("/alerts/%d", id), nil))
			if !strings.Contains(page, `href="/detect/users/n-9?facility=1"`) {
				t.Errorf("the alert does not link the user's baselines")
			}
			resp := e.Do(t, csirt, "GET", "/detect/users/n-9?facility=1", nil)
			body := apptest.ReadBody(t, resp)
			for _, want := range []string{"職員 n-9 の行動ベースライン", "同じ施設の同じ職種の職員 3 人", `<span class="badge bad">60</span>`,
				"10–10", "<svg", "記録を開いた患者の数"} {
				if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
					t.Errorf("the baselines page: %d, lacks %q", resp.StatusCode, want)
				}
			}
			for path, code := range map[string]int{"/detect/users/n-9": http.StatusBadRequest, "/detect/users/n-9?facility=x": http.StatusBadRequest,
				"/detect/users/n-9?facility=2": http.StatusNotFound, "/detect/users/nobody?facility=1": http.StatusNotFound} {
				if resp := e.Do(t, csirt, "GET", path, nil); resp.StatusCode != code {
					t.Errorf("%s: %d, want %d", path, resp.StatusCode, code)
				}
			}
			// A user of no facility: read with every facility, not by a
			// CISO of facility 1.
			if _, err := e.App.Audit.Append(ctx, []audit.Event{{Time: at, Facility: 0, Source: "vpn", Action: "login",
				Outcome: audit.OutcomeSuccess, Actor: audit.Actor{ID: "x-1"}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.App.Baselines.Process(ctx); err != nil {
				t.Fatal(err)
			}
			ciso := e.Login(t, e.CreateUser(t, "ciso01", true, authz.Grant{Role: authz.CISO, Facility: 1}))
			for c, code := range map[*http.Client]int{csirt: http.StatusOK, ciso: http.StatusNotFound} {
				if resp := e.Do(t, c, "GET", "/detect/users/x-1?facility=0", nil); resp.StatusCode != code {
					t.Errorf("a user of no facility: %d, want %d", resp.StatusCode, code)
				}
			}
			resp = e.Do(t, csirt, "GET", fmt.Sprintf("/api/v1/detect/alerts/%d", id), nil)
			var got detect.AlertJSON
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("API: %d %v", resp.StatusCode, err)
			}
			resp.Body.Close()
			x := got.Explanation
			if x == nil || x.ID != "detect.baseline.explain.patients" || x.Params.Value != 60 || x.Params.Basis != "peers" ||
				x.Params.Peers != 3 || x.Text["ja"] != ja || !strings.HasPrefix(x.Text["en"], "This nurse opened 60 patients' records today; the usual is 10–10.") ||
				got.Score < 3 || got.Level != "high" {
				t.Errorf("API: %+v %+v", got, x)
			}
		})
	}
}
