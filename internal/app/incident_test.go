package app_test

import (
	"context"
	"encoding/json"
	"github.com/anzen-health/anzen/internal/platform/config"
	"github.com/anzen-health/anzen/internal/platform/mail/mailtest"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// TestIncident_AnAlertEscalatesIntoOneIncident escalates a break-glass
// alert through the wired incident part, twice, on each database: one
// incident, linked to the alert, whose page the CSIRT opens and the
// alert's page links to.
func TestIncident_AnAlertEscalatesIntoOneIncident(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			csirt := e.Login(t, e.CreateUser(t, "csirt01", true, authz.Grant{Role: authz.CSIRT, Facility: 1}))
			breakGlassAt(t, e, "dr01")
			alerts, err := detect.Alerts(context.Background(), e.App.DB, 10)
			if err != nil || len(alerts) == 0 {
				t.Fatalf("alerts %v %v", alerts, err)
			}
			a := alerts[0]
			path := "/api/v1/detect/alerts/" + strconv.FormatInt(a.ID, 10) + "/escalate"
			var first, second detect.IncidentJSON
			for _, out := range []*detect.IncidentJSON{&first, &second} {
				resp := e.Do(t, csirt, http.MethodPost, path, map[string]string{"comment": "CSIRT で対応"})
				body := apptest.ReadBody(t, resp)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("escalate: %d %s", resp.StatusCode, body)
				}
				json.Unmarshal([]byte(body), out)
			}
			if first.Ref == "" || first != second || !strings.HasPrefix(first.URL, "/incidents/") {
				t.Fatalf("escalations %+v %+v", first, second)
			}
			list, err := incident.List(context.Background(), e.App.DB, incident.ListQuery{Scope: incident.Scope{All: true}})
			if err != nil || len(list) != 1 || list[0].SourceAlert != a.ID || list[0].Ref() != first.Ref {
				t.Fatalf("incidents %+v %v", list, err)
			}
			resp := e.Do(t, csirt, http.MethodGet, first.URL, nil)
			if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(body, first.Ref) ||
				!strings.Contains(body, "/alerts/"+strconv.FormatInt(a.ID, 10)) {
				t.Errorf("incident page: %d", resp.StatusCode)
			}
			resp = e.Do(t, csirt, http.MethodGet, "/alerts/"+strconv.FormatInt(a.ID, 10), nil)
			if body := apptest.ReadBody(t, resp); !strings.Contains(body, first.Ref) {
				t.Errorf("the alert's page does not name %s", first.Ref)
			}

			// The record was leaked, and the hospital knew it four days ago:
			// the PPC's preliminary report is past its deadline, and the
			// dashboard says so.
			api := "/api/v1/incident/incidents/" + strconv.FormatInt(list[0].ID, 10)
			resp = e.Do(t, csirt, http.MethodPatch, api, map[string]any{"leak": "confirmed", "medical_data": true, "people": 1})
			if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusOK {
				t.Fatalf("PATCH the incident: %d %s", resp.StatusCode, body)
			}
			overdue := regexp.MustCompile(`<span class="stat badge (\w+)">(\d+)</span></a>\s*<span class="stat-label">期限を過ぎた当局への報告`)
			dashboard := func() []string {
				body := apptest.ReadBody(t, e.Do(t, csirt, http.MethodGet, "/", nil))
				return overdue.FindStringSubmatch(body)
			}
			if m := dashboard(); m == nil || m[1] != "ok" || m[2] != "0" {
				t.Errorf("the dashboard's overdue reports at first: %v", m)
			}
			resp = e.Do(t, csirt, http.MethodPatch, api, map[string]any{"aware_at": e.Clock.Now().Add(-4 * 24 * time.Hour),
				"occurred_at": e.Clock.Now().Add(-5 * 24 * time.Hour)})
			if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusOK {
				t.Fatalf("PATCH the incident: %d %s", resp.StatusCode, body)
			}
			if m := dashboard(); m == nil || m[1] != "bad" || m[2] != "1" {
				t.Errorf("the dashboard's overdue reports after four days: %v", m)
			}
		})
	}
}

// TestIncident_RemindersReachTheRostersCSIRT: with mail set up and a CSIRT
// member with an address on the roster, a report due within the hour is
// mailed to that member, once, without detect.notify.oncall set.
func TestIncident_RemindersReachTheRostersCSIRT(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	e := apptest.New(t, "sqlite", func(c *config.Config) {
		c.Mail = srv.Config
		c.Mail.From = "anzen@hospital.example.jp"
	})
	ctx := context.Background()
	now := e.Clock.Now()
	sc := incident.Scope{All: true}
	if _, err := incident.CreateMember(ctx, e.App.DB, e.App.Audit, sc, incident.Actor{Login: "test"}, incident.MemberInput{
		Facility: e.Facility, Login: "csirt01", Roles: []string{"commander"},
		Person: incident.Person{Name: "中村 隆", PhoneMobile: "090-0000-1003", Mail: "csirt01@hospital.example.jp"}}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := incident.Create(ctx, e.App.DB, e.App.Audit, sc, incident.Actor{Login: "csirt01", Lang: "ja"}, incident.NewIncident{
		Facility: e.Facility, Kind: incident.DataLeak, Title: "紹介状の誤送信", AwareAt: now.Add(-71 * time.Hour),
		Leak: incident.LeakConfirmed, MedicalData: true, People: 1}, now); err != nil {
		t.Fatal(err)
	}
	n, err := e.App.SendIncidentReminders(ctx)
	if err != nil || n == 0 {
		t.Fatalf("reminders sent: %d %v", n, err)
	}
	got := srv.Wait(t, n, 10*time.Second)
	for _, m := range got {
		if len(m.To) != 1 || m.To[0] != "csirt01@hospital.example.jp" {
			t.Errorf("a reminder went to %v, want the roster's CSIRT member", m.To)
		}
	}
	if again, err := e.App.SendIncidentReminders(ctx); err != nil || again != 0 {
		t.Errorf("sent again: %d %v", again, err)
	}
}
