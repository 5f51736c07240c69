package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/config"
)

// breakGlassAt appends a break-glass access of user in facility 1 at the
// app's clock and runs the engine over it.
func breakGlassAt(t *testing.T, e *apptest.Env, user string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.App.Audit.Append(ctx, []audit.Event{{Time: e.App.Clock.Now(), Facility: 1, Source: "ehr-main",
		Action: "emergency_access", Outcome: audit.OutcomeSuccess, Actor: audit.Actor{ID: user, Address: "10.0.0.7"},
		Patient: audit.Patient{ID: "P1"}}}); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := e.App.Detect.Process(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// TestAlertOps handles alerts on one anzen per database: suppressing
// them, assigning them.
func TestAlertOps(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "maintenance", http.StatusServiceUnavailable)
			}))
			t.Cleanup(down.Close)
			e := apptest.New(t, d, func(c *config.Config) { c.Detect.NotifyWebhooks = []string{down.URL + "/hook"} })
			csirt01 := e.CreateUser(t, "csirt01", true, authz.Grant{Role: authz.CSIRT, Facility: 1})
			csirt := e.Login(t, csirt01)
			auditor := e.Login(t, e.CreateUser(t, "auditor01", true, authz.Grant{Role: authz.Auditor, Facility: authz.AllFacilities}))
			t.Run("suppress alerts like this", func(t *testing.T) { suppressAlertsLikeThis(t, e, csirt, auditor) })
			t.Run("assign an alert", func(t *testing.T) { assignAnAlert(t, e, csirt) })
			t.Run("the card warns of notifications given up", func(t *testing.T) { cardWarnsOfGivenUp(t, e, csirt01) })
		})
	}
}

// suppressAlertsLikeThis makes a suppression from an alert's page, sees
// it keep back the next alert of the same user and count it, and ends it
// through the API.
func suppressAlertsLikeThis(t *testing.T, e *apptest.Env, csirt, auditor *http.Client) {
	ctx := context.Background()
	breakGlassAt(t, e, "doctor-7")
	alerts, _ := detect.Alerts(ctx, e.App.DB, 10)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts", len(alerts))
	}
	a := alerts[0]

	body := apptest.ReadBody(t, e.Do(t, csirt, "GET", fmt.Sprintf("/alerts/%d", a.ID), nil))
	if !strings.Contains(body, fmt.Sprintf(`href="/alerts/suppressions/new?alert=%d"`, a.ID)) {
		t.Fatal("the alert's page offers no suppression")
	}
	if body := apptest.ReadBody(t, e.Do(t, auditor, "GET", fmt.Sprintf("/alerts/%d", a.ID), nil)); strings.Contains(body, "suppress-like-this") {
		t.Error("the auditor is offered a suppression")
	}
	// The form is prefilled with the alert's facility, rule and user.
	body = apptest.ReadBody(t, e.Do(t, csirt, "GET", fmt.Sprintf("/alerts/suppressions/new?alert=%d", a.ID), nil))
	for _, want := range []string{`name="facility" min="0" required value="1"`, `value="` + a.RuleID + `"`, `name="cond_user" maxlength="200" value="doctor-7"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the form lacks %q", want)
		}
	}
	ends := e.App.Clock.Now().Add(3 * 24 * time.Hour).In(time.FixedZone("JST", 9*3600)).Format(time.DateOnly)
	form := url.Values{"facility": {"1"}, "rule_id": {a.RuleID}, "cond_user": {"doctor-7"}, "reason": {""}, "ends": {ends}}
	// Without a reason it is refused with a message, what was typed kept.
	resp := e.Do(t, csirt, "POST", "/alerts/suppressions", form.Encode())
	if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "理由を入力してください") || !strings.Contains(body, `value="doctor-7"`) {
		t.Errorf("no reason: %d", resp.StatusCode)
	}
	form.Set("reason", "夜間の緊急時アクセス訓練")
	if resp := e.Do(t, auditor, "POST", "/alerts/suppressions", form.Encode()); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the auditor suppresses: %d", resp.StatusCode)
	}
	resp = e.Do(t, csirt, "POST", "/alerts/suppressions", form.Encode())
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /alerts/suppressions: %d", resp.StatusCode)
	}

	// The same user's next break-glass is kept back and counted;
	// another user's is raised.
	breakGlassAt(t, e, "doctor-7")
	breakGlassAt(t, e, "doctor-8")
	if alerts, _ := detect.Alerts(ctx, e.App.DB, 10); len(alerts) != 2 || alerts[0].Group[0].Value != "doctor-8" || alerts[1].Total != 1 {
		t.Fatalf("alerts after the suppression: %+v", alerts)
	}
	body = apptest.ReadBody(t, e.Do(t, auditor, "GET", "/alerts/suppressions", nil))
	if !strings.Contains(body, `id="suppressions-active-table"`) || !strings.Contains(body, "夜間の緊急時アクセス訓練") ||
		!strings.Contains(body, `<td class="num">1<br>`) || strings.Contains(body, `/end"`) {
		t.Errorf("the auditor's list:\n%s", body)
	}

	// The API lists it and ends it; ending again is a conflict.
	resp = e.Do(t, csirt, "GET", "/api/v1/detect/suppressions", nil)
	var list detect.SuppressionsJSON
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list.Suppressions) != 1 || list.Suppressions[0].Hits != 1 ||
		!list.Suppressions[0].Active || list.Suppressions[0].CreatedBy != "csirt01" {
		t.Fatalf("API list: %+v %v", list, err)
	}
	resp.Body.Close()
	end := fmt.Sprintf("/api/v1/detect/suppressions/%d/end", list.Suppressions[0].ID)
	resp = e.Do(t, csirt, "POST", end, map[string]any{"comment": "訓練終了"})
	var ended detect.SuppressionJSON
	if err := json.NewDecoder(resp.Body).Decode(&ended); err != nil || resp.StatusCode != http.StatusOK || ended.Active || ended.EndedBy != "csirt01" {
		t.Fatalf("end: %d %+v %v", resp.StatusCode, ended, err)
	}
	resp.Body.Close()
	resp = e.Do(t, csirt, "POST", end, map[string]any{})
	if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "suppression-ended") {
		t.Errorf("ended twice: %d %s", resp.StatusCode, body)
	}
	breakGlassAt(t, e, "doctor-7")
	if alerts, _ := detect.Alerts(ctx, e.App.DB, 10); len(alerts) != 2 || alerts[1].Total != 2 {
		t.Errorf("after the end the alert is raised (joining the open one): %+v", alerts)
	}

	// Bad requests of the API: problems, nothing stored.
	for _, c := range []struct {
		body any
		code int
		kind string
	}{
		{map[string]any{"facility": 1, "reason": "x", "ends": e.App.Clock.Now().Add(time.Hour)}, 422, "validation"},
		{map[string]any{"facility": 1, "rule_id": a.RuleID, "reason": "x", "ends": e.App.Clock.Now().Add(100 * 24 * time.Hour)}, 422, "validation"},
		{map[string]any{"facility": 2, "rule_id": a.RuleID, "reason": "x", "ends": e.App.Clock.Now().Add(time.Hour)}, 422, "validation"},
		{map[string]any{"facility": 1, "rule_id": a.RuleID, "reason": "x", "ends": "tomorrow"}, 400, "invalid-json"},
		{map[string]any{"facility": 1, "rule": a.RuleID}, 400, "unknown-field"},
	} {
		resp := e.Do(t, csirt, "POST", "/api/v1/detect/suppressions", c.body)
		if body := apptest.ReadBody(t, resp); resp.StatusCode != c.code || !strings.Contains(body, c.kind) {
			t.Errorf("POST %v: %d %s", c.body, resp.StatusCode, body)
		}
	}
	if resp := e.Do(t, csirt, "GET", "/api/v1/detect/suppressions?state=all", nil); apptest.ReadBody(t, resp) == "" ||
		resp.StatusCode != http.StatusOK {
		t.Errorf("state=all: %d", resp.StatusCode)
	}
	if resp := e.Do(t, csirt, "GET", "/api/v1/detect/suppressions?state=x", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("state=x: %d", resp.StatusCode)
	}
	n := 0
	for _, st := range []bool{true, false} {
		l, _ := detect.Suppressions(ctx, e.App.DB, detect.AlertQuery{AllFacilities: true, Limit: 50}, st, e.App.Clock.Now())
		n += len(l)
	}
	if n != 1 {
		t.Errorf("%d suppressions stored", n)
	}
	recs, _, err := e.App.Audit.Search(ctx, audit.Filter{Action: "alert.suppression.", AllFacilities: true})
	if err != nil || len(recs) != 2 || recs[0].Action != detect.ActionSuppressionEnd || recs[0].Detail["comment"] != "訓練終了" {
		t.Errorf("audit log: %+v %v", recs, err)
	}
}

// assignAnAlert gives an alert to another reviewer of its facility by the
// page's form, refuses people who may not review it, and finds it among
// the alerts assigned to a reviewer.
func assignAnAlert(t *testing.T, e *apptest.Env, csirt *http.Client) {
	ctx := context.Background()
	breakGlassAt(t, e, "doctor-9")
	alerts, _ := detect.ListAlerts(ctx, e.App.DB, detect.AlertQuery{AllFacilities: true, Limit: 1})
	a := alerts[0]
	f2, err := e.App.Identity.CreateFacility(ctx, identity.SystemActor, identity.Facility{Code: "east", NameJA: "東病院", NameEN: "East Hospital"})
	if err != nil {
		t.Fatal(err)
	}
	e.CreateUser(t, "ciso02", false, authz.Grant{Role: authz.CISO, Facility: f2.ID})
	e.CreateUser(t, "csirt02", false, authz.Grant{Role: authz.CSIRT, Facility: 1})
	path := fmt.Sprintf("/alerts/%d", a.ID)
	body := apptest.ReadBody(t, e.Do(t, csirt, "GET", path, nil))
	for want, in := range map[string]bool{`<option value="csirt01">`: true, `<option value="csirt02">`: true,
		`<option value="ciso02">`: false, `<option value="auditor01">`: false} {
		if strings.Contains(body, want) != in {
			t.Errorf("the choice of assignees: %s shown = %v", want, !in)
		}
	}
	// Facility 2's CISO may not review facility 1's alerts.
	resp := e.Do(t, csirt, "POST", path, "assignee=ciso02")
	if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "この施設の警告を確認できる人にだけ") {
		t.Errorf("assigned to ciso02: %d", resp.StatusCode)
	}
	resp = e.Do(t, csirt, "POST", path, "assignee=csirt02&comment=夜勤明けに確認をお願いします")
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("assign: %d", resp.StatusCode)
	}
	if body := apptest.ReadBody(t, e.Do(t, csirt, "GET", path, nil)); !strings.Contains(body, `id="alert-assignee">csirt02`) {
		t.Error("the page does not show the assignee")
	}
	api := fmt.Sprintf("/api/v1/detect/alerts/%d", a.ID)
	for _, c := range []map[string]any{{"assignee": "auditor01"}, {"assignee": "nobody"}, {"assignee": "csirt02", "take": true}} {
		resp := e.Do(t, csirt, "PATCH", api, c)
		if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `"field":"assignee"`) {
			t.Errorf("PATCH %v: %d %s", c, resp.StatusCode, body)
		}
	}
	// The lists of "assigned to me" and of an assignee.
	mine := func() int {
		body := apptest.ReadBody(t, e.Do(t, csirt, "GET", "/alerts?assignee=me", nil))
		return len(regexp.MustCompile(fmt.Sprintf(`<tr>\s*<td><a href="/alerts/%d">`, a.ID)).FindAllString(body, -1))
	}
	listed := func(query string) []detect.AlertJSON {
		resp := e.Do(t, csirt, "GET", "/api/v1/detect/alerts?"+query, nil)
		defer resp.Body.Close()
		var page detect.AlertsJSON
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
			t.Fatal(err)
		}
		return page.Alerts
	}
	if got := listed("assignee=csirt02"); mine() != 0 || len(got) != 1 || got[0].ID != a.ID || len(listed("assignee=me")) != 0 {
		t.Errorf("assigned to csirt02: mine %d, csirt02's %+v", mine(), got)
	}
	resp = e.Do(t, csirt, "PATCH", api, map[string]any{"assignee": "csirt01"})
	resp.Body.Close()
	if got := listed("assignee=me"); resp.StatusCode != http.StatusOK || mine() != 1 || len(got) != 1 || got[0].Assignee != "csirt01" {
		t.Errorf("assigned to me: %d, mine %d, %+v", resp.StatusCode, mine(), got)
	}
	recs, _, err := e.App.Audit.Search(ctx, audit.Filter{Action: detect.ActionReview, AllFacilities: true})
	if err != nil || len(recs) != 2 || recs[1].Detail["assignee"] != "csirt02" || recs[0].Detail["assignee"] != "csirt01" || recs[1].ActorLogin != "csirt01" {
		t.Errorf("audit log: %+v %v", recs, err)
	}
}

// cardWarnsOfGivenUp lets the webhook, which is down, fail for more than
// a day, and reads the dashboard's alerts card and its link.
func cardWarnsOfGivenUp(t *testing.T, e *apptest.Env, csirt01 *apptest.User) {
	ctx := context.Background()
	csirt := e.Login(t, csirt01)
	card := func() string {
		return regexp.MustCompile(`(?s)id="card-alerts".*?</section>`).FindString(apptest.ReadBody(t, e.Do(t, csirt, "GET", "/", nil)))
	}
	if strings.Contains(card(), "送れなかった通知") {
		t.Fatal("the card warns before anything was given up")
	}
	for range 2 {
		if _, err := e.App.Detect.Deliver(ctx); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(25 * time.Hour)
	}
	csirt = e.Login(t, csirt01) // the session ended meanwhile
	alerts, _ := detect.ListAlerts(ctx, e.App.DB, detect.AlertQuery{Facilities: []int64{1}, Limit: 50})
	c := card()
	if !regexp.MustCompile(fmt.Sprintf(`(?s)>%d</span>(</a>)?\s*<span class="stat-label">送れなかった通知`, len(alerts))).MatchString(c) ||
		!strings.Contains(c, `href="/alerts?state=all&amp;delivery=given_up"`) {
		t.Errorf("the card, with %d alerts whose webhook was given up:\n%s", len(alerts), c)
	}
	body := apptest.ReadBody(t, e.Do(t, csirt, "GET", "/alerts?state=all&delivery=given_up", nil))
	if n := len(regexp.MustCompile(`<tr>\s*<td><a href="/alerts/\d+"`).FindAllString(body, -1)); n != len(alerts) {
		t.Errorf("the list of alerts given up shows %d, want %d", n, len(alerts))
	}
	// A week later the card no longer warns.
	e.Clock.Advance(8 * 24 * time.Hour)
	csirt = e.Login(t, csirt01)
	if strings.Contains(card(), "送れなかった通知") {
		t.Error("the card still warns a week later")
	}
}
