package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// expect sends a request and checks its status; it returns the body.
func expect(t *testing.T, e *apptest.Env, c *http.Client, method, path string, body any, status int) string {
	t.Helper()
	resp := e.Do(t, c, method, path, body)
	text := apptest.ReadBody(t, resp)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d: %.400s", method, path, resp.StatusCode, status, text)
	}
	return text
}

func TestIncidentOrg_TheCISOKeepsItStaffReadTheDiagramAndRulesButNotTheAccounts(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			f := e.Facility
			ciso := e.Login(t, e.CreateUser(t, "org-ciso", true, authz.Grant{Role: authz.CISO, Facility: f}))
			staff := e.Login(t, e.CreateUser(t, "org-nurse", true))

			expect(t, e, ciso, "PUT", "/api/v1/incident/org/officers/ciso", map[string]any{"facility": f, "name": "山田 太郎",
				"title": "副院長", "phone_mobile": "090-1111-2222"}, 200)
			expect(t, e, ciso, "POST", "/api/v1/incident/org/members", map[string]any{"facility": f, "name": "佐藤 花子",
				"roles": []string{"poc", "it"}, "phone_office": "内線 1234", "mail": "sato@example.jp"}, 201)
			std := expect(t, e, ciso, "POST", "/api/v1/incident/contacts/standard", map[string]any{"facility": f}, 200)
			if !strings.Contains(std, "個人情報保護委員会") || !strings.Contains(std, `"missing_phone":7`) {
				t.Fatalf("standard authorities: %s", std)
			}
			expect(t, e, ciso, "PUT", "/api/v1/incident/emergency-rules", map[string]any{"facility": f,
				"criteria": []string{"電子カルテが1時間以上使えない"}, "declarer": "病院長"}, 200)
			// Staff may not change any of it, nor see the accounts.
			expect(t, e, staff, "POST", "/api/v1/incident/contacts", map[string]any{"facility": f, "kind": "vendor",
				"organisation": "x", "phone": "000-000"}, 403)
			expect(t, e, staff, "GET", "/api/v1/incident/emergency-accounts", nil, 403)

			page := expect(t, e, staff, "GET", "/incident/contacts", nil, 200)
			for _, want := range []string{"<svg", "山田 太郎", "090-1111-2222", "佐藤 花子", "内線 1234", "個人情報保護委員会", `id="contacts-missing"`, `href="/incident/raise"`} {
				if !strings.Contains(page, want) {
					t.Errorf("the contacts page lacks %q", want)
				}
			}
			if strings.Contains(page, `id="org-manage"`) {
				t.Error("staff are offered the organisation's forms")
			}
			doc := expect(t, e, staff, "GET", "/incident/contacts/print", nil, 200)
			if !strings.HasPrefix(doc, "<!DOCTYPE html>") || !strings.Contains(doc, "@page") || !strings.Contains(doc, "山田 太郎") {
				t.Errorf("print document: %.300s", doc)
			}
			rules := expect(t, e, staff, "GET", "/incident/emergency", nil, 200)
			if !strings.Contains(rules, "電子カルテが1時間以上使えない") || strings.Contains(rules, `id="accounts-table"`) ||
				strings.Contains(rules, `id="account-new"`) {
				t.Errorf("emergency page for staff: %.2000s", rules)
			}
			expect(t, e, staff, "GET", "/incident/contacts?facility=999999", nil, 404)

			// A contact without a phone is refused on the form, with the message and what was typed, and nothing is stored.
			form := url.Values{"facility": {fmt.Sprint(f)}, "kind": {"vendor"}, "organisation": {"サンプル医療システム"}}
			refused := expect(t, e, ciso, "POST", "/incident/org/contacts", form.Encode(), 422)
			if !strings.Contains(refused, `id="org-error"`) || !strings.Contains(refused, `value="サンプル医療システム"`) {
				t.Errorf("refused form: %.3000s", refused)
			}
			list := expect(t, e, ciso, "GET", fmt.Sprintf("/api/v1/incident/contacts?facility=%d", f), nil, 200)
			if strings.Contains(list, "サンプル医療システム") {
				t.Error("a refused contact was stored")
			}
			form.Set("phone", "0120-000-111")
			expect(t, e, ciso, "POST", "/incident/org/contacts", form.Encode(), 303)
			if list := expect(t, e, staff, "GET", "/incident/contacts", nil, 200); !strings.Contains(list, "0120-000-111") {
				t.Error("the saved contact is not shown")
			}
		})
	}
}

func TestIncidentOrg_AnEmergencyAccountUsedInTheLogMustBeChanged(t *testing.T) {
	e := apptest.New(t, "sqlite")
	user := e.CreateUser(t, "acc-ciso", true, authz.Grant{Role: authz.CISO, Facility: e.Facility})
	ciso := e.Login(t, user)
	created := expect(t, e, ciso, "POST", "/api/v1/incident/emergency-accounts", map[string]any{"facility": e.Facility,
		"system": "電子カルテ", "source": "ehr-main", "account": "emergency01", "location": "事務長室の金庫", "custodian": "事務長"}, 201)
	var acc incident.AccountJSON
	if err := json.Unmarshal([]byte(created), &acc); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n, err := e.App.CheckEmergencyAccounts(ctx); err != nil || n != 0 {
		t.Fatalf("before any use: %d %v", n, err)
	}
	e.Clock.Advance(time.Minute)
	ev := audittest.Event(3)
	ev.Actor.ID, ev.Time, ev.Received, ev.Facility = "emergency01", e.Clock.Now(), e.Clock.Now(), e.Facility
	if _, err := e.App.Audit.Append(ctx, []audit.Event{ev}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.App.CheckEmergencyAccounts(ctx); err != nil || n != 1 {
		t.Fatalf("after a use: %d %v", n, err)
	}
	// The flag is in the audit log, where a critical alert of the
	// built-in pack picks it up (and goes to whoever is on call).
	if err := e.App.Audit.Flush(ctx); err != nil {
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
	alerts, err := detect.Alerts(ctx, e.App.DB, 10)
	if err != nil || len(alerts) != 1 || alerts[0].Title != "An emergency account was used" || alerts[0].Level != sigma.LevelCritical {
		t.Fatalf("alerts of the use: %+v %v", alerts, err)
	}
	e.Clock.Advance(incident.ChangeGrace + time.Hour)
	ciso = e.Login(t, user) // the session has expired meanwhile
	list := expect(t, e, ciso, "GET", "/api/v1/incident/emergency-accounts", nil, 200)
	if !strings.Contains(list, `"state":"used"`) || !strings.Contains(list, `"overdue":true`) {
		t.Fatalf("accounts: %s", list)
	}
	if page := expect(t, e, ciso, "GET", "/incident/emergency", nil, 200); !strings.Contains(page, `class="bad"`) {
		t.Error("the page does not mark the overdue account")
	}
	if dash := expect(t, e, ciso, "GET", "/", nil, 200); !strings.Contains(dash, "incident-org") {
		t.Error("no dashboard card")
	}
	expect(t, e, ciso, "POST", fmt.Sprintf("/api/v1/incident/emergency-accounts/%d/changed", acc.ID), map[string]any{}, 200)
	if n, err := e.App.CheckEmergencyAccounts(ctx); err != nil || n != 0 {
		t.Fatalf("after the change: %d %v", n, err)
	}
	if list := expect(t, e, ciso, "GET", "/api/v1/incident/emergency-accounts", nil, 200); !strings.Contains(list, `"state":"sealed"`) {
		t.Fatalf("after the change: %s", list)
	}
}
