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
			resp := e.Do(t, csirt, "GET", fmt.Sprintf("/api/v1/detect/alerts/%d", id), nil)
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
