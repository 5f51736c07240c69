package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/config"
)

// TestAlerts_PagesAPIAndCardShowWhatTheEngineRaised sends break-glass
// accesses of facility 1 and of no facility through the detection engine
// and reads the alerts as a CSIRT member of every facility, a CISO of
// facility 1 and a staff member.
func TestAlerts_PagesAPIAndCardShowWhatTheEngineRaised(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			ctx := context.Background()
			now := e.App.Clock.Now()
			var events []audit.Event
			for i, facility := range []int64{1, 1, 0} {
				events = append(events, audit.Event{Time: now.Add(time.Duration(i) * time.Second), Facility: facility,
					Source: "ehr-main", Action: "emergency_access", Outcome: audit.OutcomeSuccess,
					Actor:   audit.Actor{ID: fmt.Sprintf("doctor-%d", i), Profession: "doctor"},
					Patient: audit.Patient{ID: fmt.Sprintf("P%d", i)}})
			}
			first, err := e.App.Audit.Append(ctx, events)
			if err != nil {
				t.Fatal(err)
			}
			for {
				n, err := e.App.Detect.Process(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			all, err := detect.Alerts(ctx, e.App.DB, 10)
			if err != nil || len(all) != 3 {
				t.Fatalf("%d alerts: %v", len(all), err)
			}
			csirt := e.Login(t, e.CreateUser(t, "csirt01", true, authz.Grant{Role: authz.CSIRT, Facility: authz.AllFacilities}))
			ciso := e.Login(t, e.CreateUser(t, "ciso01", true, authz.Grant{Role: authz.CISO, Facility: 1}))
			staff := e.Login(t, e.CreateUser(t, "staff01", true))

			// The list: every alert for every facility, facility 1's for
			// its CISO.
			for _, c := range []struct {
				client *http.Client
				want   int
			}{{csirt, 3}, {ciso, 2}} {
				resp := e.Do(t, c.client, "GET", "/alerts", nil)
				body := apptest.ReadBody(t, resp)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("/alerts: %d", resp.StatusCode)
				}
				if n := len(regexp.MustCompile(`<tr>\s*<td><a href="/alerts/\d+"`).FindAllString(body, -1)); n != c.want {
					t.Errorf("/alerts lists %d alerts, want %d", n, c.want)
				}
				if !strings.Contains(body, `<svg`) || !strings.Contains(body, fmt.Sprintf("過去 30 日間に %d 件の警告", c.want)) {
					t.Errorf("/alerts has no chart of its %d alerts", c.want)
				}
			}
			// One alert explains its rule and links its event.
			var facility0 detect.Alert
			for _, a := range all {
				if a.Facility == 0 {
					facility0 = a
				}
			}
			resp := e.Do(t, csirt, "GET", fmt.Sprintf("/alerts/%d", facility0.ID), nil)
			body := apptest.ReadBody(t, resp)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "緊急時アクセス（ブレークグラス）") ||
				!strings.Contains(body, fmt.Sprintf(`href="/audit/events/%d"`, first+2)) || !strings.Contains(body, "6.10 C-4") {
				t.Errorf("/alerts/%d: %d\n%s", facility0.ID, resp.StatusCode, body)
			}
			// The CISO of facility 1 does not find the alert of no facility.
			if resp := e.Do(t, ciso, "GET", fmt.Sprintf("/alerts/%d", facility0.ID), nil); resp.StatusCode != http.StatusNotFound {
				t.Errorf("facility 1's CISO reads an alert of no facility: %d", resp.StatusCode)
			}
			if resp := e.Do(t, csirt, "GET", "/alerts/x", nil); resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
				t.Errorf("/alerts/x: %d", resp.StatusCode)
			}
			if resp := e.Do(t, staff, "GET", "/alerts", nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("staff reads alerts: %d", resp.StatusCode)
			}

			// The API, with paging.
			resp = e.Do(t, csirt, "GET", "/api/v1/detect/alerts?limit=2", nil)
			var page detect.AlertsJSON
			if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("API: %d %v", resp.StatusCode, err)
			}
			resp.Body.Close()
			if len(page.Alerts) != 2 || page.Older == 0 || page.Alerts[0].Level != "high" || len(page.Alerts[0].Events) != 1 ||
				page.Alerts[0].RuleID != "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a02" || page.Alerts[0].State != "new" {
				t.Fatalf("API page: %+v", page)
			}
			resp = e.Do(t, csirt, "GET", fmt.Sprintf("/api/v1/detect/alerts?before=%d", page.Older), nil)
			var rest detect.AlertsJSON
			_ = json.NewDecoder(resp.Body).Decode(&rest)
			resp.Body.Close()
			if len(rest.Alerts) != 1 || rest.Older != 0 {
				t.Errorf("the next page: %+v", rest)
			}
			for _, bad := range []string{"limit=0", "limit=51", "before=-1", "before=x"} {
				resp := e.Do(t, csirt, "GET", "/api/v1/detect/alerts?"+bad, nil)
				if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "invalid-parameter") {
					t.Errorf("%s: %d %s", bad, resp.StatusCode, body)
				}
			}

			// The dashboard counts the new alerts of the last day.
			resp = e.Do(t, csirt, "GET", "/", nil)
			card := regexp.MustCompile(`(?s)id="card-alerts".*?</section>`).FindString(apptest.ReadBody(t, resp))
			if !regexp.MustCompile(`(?s)>3</span>(</a>)?\s*<span class="stat-label">重大・高`).MatchString(card) {
				t.Errorf("the alerts card:\n%s", card)
			}
		})
	}
}

// TestAlerts_TheHospitalsRulesRunAndABadOneIsLeftOutAndNamed starts
// anzen with detect.rules naming a folder of one good rule and one that
// cannot be run.
func TestAlerts_TheHospitalsRulesRunAndABadOneIsLeftOutAndNamed(t *testing.T) {
	dir := t.TempDir()
	good := "title: Export by a vendor account\nid: hospital-vendor-export\nlogsource: {product: anzen, category: access}\n" +
		"detection:\n  selection: {action: export, user|startswith: 'vendor-'}\n  condition: selection\nlevel: critical\n"
	bad := strings.Replace(good, "user|startswith", "user|sounds_like", 1)
	for name, text := range map[string]string{"good.yml": good, "bad.yml": strings.Replace(bad, "hospital-vendor-export", "bad", 1)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var logs strings.Builder
	e := apptest.NewWithLog(t, "sqlite", &logs, func(c *config.Config) { c.Detect.Rules = []string{dir} })
	if !strings.Contains(logs.String(), "bad.yml") || !strings.Contains(logs.String(), "sounds_like") {
		t.Errorf("the bad file is not named in the log:\n%s", logs.String())
	}
	ctx := context.Background()
	ev := audit.Event{Time: e.App.Clock.Now(), Facility: 1, Source: "ehr-main", Action: "export",
		Actor: audit.Actor{ID: "vendor-7"}, Outcome: audit.OutcomeSuccess}
	if _, err := e.App.Audit.Append(ctx, []audit.Event{ev}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Detect.Process(ctx); err != nil {
		t.Fatal(err)
	}
	alerts, err := detect.Alerts(ctx, e.App.DB, 10)
	if err != nil || len(alerts) != 1 || alerts[0].RuleID != "hospital-vendor-export" || alerts[0].Level.String() != "critical" {
		t.Fatalf("alerts %+v, %v", alerts, err)
	}
}

// TestAlerts_ReviewIsKeptInTheHistoryAndTheAuditLog takes an alert and
// closes it, by the page's form and by the API, and checks what is shown,
// what is refused and what is recorded.
func TestAlerts_ReviewIsKeptInTheHistoryAndTheAuditLog(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			ctx := context.Background()
			now := e.App.Clock.Now()
			if _, err := e.App.Audit.Append(ctx, []audit.Event{
				{Time: now, Facility: 1, Source: "ehr-main", Action: "emergency_access", Outcome: audit.OutcomeSuccess,
					Actor: audit.Actor{ID: "doctor-1"}, Patient: audit.Patient{ID: "P1"}},
				{Time: now, Facility: 0, Source: "ehr-main", Action: "emergency_access", Outcome: audit.OutcomeSuccess,
					Actor: audit.Actor{ID: "doctor-2"}, Patient: audit.Patient{ID: "P2"}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.App.Detect.Process(ctx); err != nil {
				t.Fatal(err)
			}
			alerts, _ := detect.Alerts(ctx, e.App.DB, 10)
			var mine, other detect.Alert
			for _, a := range alerts {
				if a.Facility == 1 {
					mine = a
				} else {
					other = a
				}
			}
			csirt := e.Login(t, e.CreateUser(t, "csirt01", true, authz.Grant{Role: authz.CSIRT, Facility: 1}))
			auditor := e.Login(t, e.CreateUser(t, "auditor01", true, authz.Grant{Role: authz.Auditor, Facility: authz.AllFacilities}))
			path := fmt.Sprintf("/alerts/%d", mine.ID)

			// The form: take the alert and say what is being done.
			resp := e.Do(t, csirt, "POST", path, "state=acknowledged&take=1&comment=本人に確認中")
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("POST %s: %d", path, resp.StatusCode)
			}
			body := apptest.ReadBody(t, e.Do(t, csirt, "GET", path, nil))
			for _, want := range []string{`id="alert-state">対応中`, `id="alert-assignee">csirt01`, "本人に確認中", `id="review-form"`} {
				if !strings.Contains(body, want) {
					t.Errorf("the alert's page lacks %q", want)
				}
			}
			// A state that does not exist is refused with a message, and
			// what was typed stays.
			resp = e.Do(t, csirt, "POST", path, "state=closed&comment=x")
			if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity ||
				!strings.Contains(body, `id="review-error"`) || !strings.Contains(body, ">x</textarea>") {
				t.Errorf("a bad state: %d", resp.StatusCode)
			}
			// The auditor reads but cannot review, and sees no form.
			if body := apptest.ReadBody(t, e.Do(t, auditor, "GET", path, nil)); strings.Contains(body, `id="review-form"`) {
				t.Error("the auditor is offered the review form")
			}
			if resp := e.Do(t, auditor, "POST", path, "state=new"); resp.StatusCode != http.StatusForbidden {
				t.Errorf("the auditor reviews: %d", resp.StatusCode)
			}
			// The CSIRT member of facility 1 cannot review an alert of no
			// facility.
			if resp := e.Do(t, csirt, "POST", fmt.Sprintf("/alerts/%d", other.ID), "state=acknowledged"); resp.StatusCode != http.StatusNotFound {
				t.Errorf("review of another facility's alert: %d", resp.StatusCode)
			}

			// The API closes it as a false positive.
			api := "/api/v1/detect/alerts/" + fmt.Sprint(mine.ID)
			resp = e.Do(t, csirt, "PATCH", api, map[string]any{"state": "resolved_false", "comment": "予定された訓練"})
			var got detect.AlertJSON
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK ||
				got.State != "resolved_false" || got.Assignee != "csirt01" {
				t.Fatalf("PATCH: %d %+v %v", resp.StatusCode, got, err)
			}
			resp.Body.Close()
			for _, c := range []struct {
				body any
				code int
				kind string
			}{
				{map[string]any{"state": "closed"}, 422, "validation"},
				{map[string]any{}, 422, "validation"},
				{map[string]any{"comment": strings.Repeat("あ", 2001)}, 422, "validation"},
				{map[string]any{"status": "new"}, 400, "unknown-field"},
			} {
				resp := e.Do(t, csirt, "PATCH", api, c.body)
				if body := apptest.ReadBody(t, resp); resp.StatusCode != c.code || !strings.Contains(body, c.kind) {
					t.Errorf("PATCH %v: %d %s", c.body, resp.StatusCode, body)
				}
			}
			notes, err := detect.Notes(ctx, e.App.DB, mine.ID)
			if err != nil || len(notes) != 2 || notes[0].To != "acknowledged" || notes[1].From != "acknowledged" ||
				notes[1].To != "resolved_false" || notes[1].Comment != "予定された訓練" {
				t.Fatalf("history %+v %v", notes, err)
			}
			// The list shows open alerts unless asked for others.
			countIn := func(query string) int {
				body := apptest.ReadBody(t, e.Do(t, csirt, "GET", "/alerts"+query, nil))
				return len(regexp.MustCompile(fmt.Sprintf(`<tr>\s*<td><a href="/alerts/%d">`, mine.ID)).FindAllString(body, -1))
			}
			if countIn("") != 0 || countIn("?state=all") != 1 || countIn("?state=resolved_false") != 1 || countIn("?state=new") != 0 {
				t.Errorf("the filter: open %d, all %d, resolved_false %d, new %d", countIn(""), countIn("?state=all"),
					countIn("?state=resolved_false"), countIn("?state=new"))
			}
			if resp := e.Do(t, csirt, "GET", "/alerts?state=closed", nil); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("/alerts?state=closed: %d", resp.StatusCode)
			}
			resp = e.Do(t, csirt, "GET", "/api/v1/detect/alerts?state=closed", nil)
			if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "invalid-parameter") {
				t.Errorf("API state=closed: %d", resp.StatusCode)
			}
			// Both changes are in the audit log, with their comments.
			reviews, _, err := e.App.Audit.Search(ctx, audit.Filter{Action: detect.ActionReview, AllFacilities: true})
			if err != nil || len(reviews) != 2 || reviews[0].Detail["comment"] != "予定された訓練" ||
				reviews[0].Detail["to"] != "resolved_false" || reviews[0].ActorLogin != "csirt01" || reviews[0].Facility != 1 {
				t.Errorf("audit log: %+v %v", reviews, err)
			}
		})
	}
}

// TestAlerts_ThePageShowsHowTheNotificationsWent sends a break-glass alert
// to a webhook that is down and reads the alert's page.
func TestAlerts_ThePageShowsHowTheNotificationsWent(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	e := apptest.New(t, "sqlite", func(c *config.Config) { c.Detect.NotifyWebhooks = []string{down.URL + "/hook?key=secret"} })
	ctx := context.Background()
	if _, err := e.App.Audit.Append(ctx, []audit.Event{{Time: e.App.Clock.Now(), Facility: 1, Source: "ehr-main",
		Action: "emergency_access", Actor: audit.Actor{ID: "doctor-1"}, Outcome: audit.OutcomeSuccess}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Detect.Process(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Detect.Deliver(ctx); err != nil {
		t.Fatal(err)
	}
	alerts, _ := detect.Alerts(ctx, e.App.DB, 1)
	csirt := e.Login(t, e.CreateUser(t, "csirt01", true, authz.Grant{Role: authz.CSIRT, Facility: authz.AllFacilities}))
	body := apptest.ReadBody(t, e.Do(t, csirt, "GET", fmt.Sprintf("/alerts/%d", alerts[0].ID), nil))
	for _, want := range []string{`id="alert-delivery-list"`, "再送待ち（1 回失敗）", "webhook answered HTTP 503", "/hook?…"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "secret") {
		t.Error("the page shows the webhook's query")
	}
}
