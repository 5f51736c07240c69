package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// The reports' pages and API end to end: a CSIRT member records a
// submission and saves a draft; an auditor reads but changes nothing.
func TestIncidentReports_CSIRTRecordsAndDraftsAuditorOnlyReads(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d)
			ctx := context.Background()
			now := e.Clock.Now()
			var id int64
			if err := e.App.DB.QueryRowContext(ctx, `INSERT INTO incident_incidents (facility, kind, severity, state, title,
				aware_at, created, created_by, updated, affected_systems, care_impact, cyberattack, leak)
				VALUES (?, 'ransomware', 'critical', 'containment', '電子カルテ停止', ?, ?, 'csirt01', ?, '電子カルテ', 1, 1, 'none')
				RETURNING id`, e.Facility, db.Millis(now.Add(-2*time.Hour)), db.Millis(now), db.Millis(now)).Scan(&id); err != nil {
				t.Fatal(err)
			}
			base := "/api/v1/incident/incidents/" + strconv.FormatInt(id, 10)
			page := "/incidents/" + strconv.FormatInt(id, 10)
			csirt := e.Login(t, e.CreateUser(t, "rep-csirt", true, authz.Grant{Role: authz.CSIRT, Facility: e.Facility}))
			auditor := e.Login(t, e.CreateUser(t, "rep-auditor", true, authz.Grant{Role: authz.Auditor, Facility: e.Facility}))

			duties := func() map[incident.Recipient]string {
				t.Helper()
				resp := e.Do(t, auditor, "GET", base+"/duties", nil)
				var got incident.DutiesJSON
				if err := json.Unmarshal([]byte(apptest.ReadBody(t, resp)), &got); err != nil || resp.StatusCode != 200 {
					t.Fatalf("duties: %d %v", resp.StatusCode, err)
				}
				out := map[incident.Recipient]string{}
				for _, dj := range got.Duties {
					out[dj.Recipient] = dj.Status
				}
				return out
			}
			// Two hours after awareness the vendor (1 h) is overdue, MHLW due soon (24 h default).
			if got := duties(); got[incident.ToVendor] != "overdue" || got[incident.ToMHLW] != "due_soon" || len(got) != 2 {
				t.Fatalf("duties %v", got)
			}
			resp := e.Do(t, csirt, "POST", base+"/submissions", map[string]any{"recipient": "mhlw", "channel": "mail",
				"reference": "医政-118"})
			if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusCreated {
				t.Fatalf("submit: %d %s", resp.StatusCode, body)
			}
			if got := duties(); got[incident.ToMHLW] != "submitted" {
				t.Errorf("after the submission %v", got)
			}
			resp = e.Do(t, csirt, "POST", base+"/submissions", map[string]any{"recipient": "police", "status": "not_required"})
			if body := apptest.ReadBody(t, resp); resp.StatusCode != 422 || !strings.Contains(body, `"field":"note"`) {
				t.Errorf("no reason: %d %s", resp.StatusCode, body)
			}
			resp = e.Do(t, csirt, "PUT", base+"/reports/mhlw", map[string]any{"fields": map[string]string{"overview": "外来を停止しました。"}})
			if body := apptest.ReadBody(t, resp); resp.StatusCode != 200 || !strings.Contains(body, `"drafted":true`) {
				t.Errorf("draft: %d %s", resp.StatusCode, body)
			}
			// The auditor may not change anything.
			for _, c := range []struct{ method, path string }{{"PUT", base + "/reports/mhlw"}, {"POST", base + "/submissions"}} {
				resp := e.Do(t, auditor, c.method, c.path, map[string]any{"fields": map[string]string{}})
				if apptest.ReadBody(t, resp); resp.StatusCode != http.StatusForbidden {
					t.Errorf("auditor %s %s: %d", c.method, c.path, resp.StatusCode)
				}
			}
			// The pages.
			resp = e.Do(t, auditor, "GET", page+"/reports", nil)
			if body := apptest.ReadBody(t, resp); resp.StatusCode != 200 || !strings.Contains(body, `id="duty-mhlw" data-status="submitted"`) ||
				strings.Contains(body, `id="submission-form"`) || !strings.Contains(body, "医政-118") {
				t.Errorf("reports page as auditor: %d\n%s", resp.StatusCode, body)
			}
			resp = e.Do(t, auditor, "GET", page+"/reports/mhlw.txt", nil)
			if body := apptest.ReadBody(t, resp); resp.StatusCode != 200 || !strings.Contains(body, "外来を停止しました。") ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("text: %d %s", resp.StatusCode, body)
			}
			resp = e.Do(t, auditor, "GET", page+"/reports/mhlw/print?lang=en", nil)
			if body := apptest.ReadBody(t, resp); resp.StatusCode != 200 || !strings.Contains(body, "Report of a failure of medical information systems") ||
				!strings.Contains(resp.Header.Get("Content-Security-Policy"), "style-src 'sha256-") {
				t.Errorf("print: %d %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
			}
			form := url.Values{"to": {"police"}, "status": {"not_required"}, "at": {now.In(e.App.Cfg.Location()).Format("2006-01-02T15:04")}}
			resp = e.Do(t, csirt, "POST", page+"/submissions", form.Encode())
			if body := apptest.ReadBody(t, resp); resp.StatusCode != 422 || !strings.Contains(body, `id="submission-error"`) {
				t.Errorf("form without a reason: %d", resp.StatusCode)
			}
			form.Set("note", "犯罪の疑いはないと判断")
			resp = e.Do(t, csirt, "POST", page+"/submissions", form.Encode())
			if apptest.ReadBody(t, resp); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page+"/reports" {
				t.Errorf("form: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
			recs, _, err := e.App.Audit.Search(ctx, audit.Filter{Action: incident.ActionReportSubmit, AllFacilities: true})
			if err != nil || len(recs) != 2 || recs[0].ActorLogin != "rep-csirt" {
				t.Errorf("submissions audited: %+v %v", recs, err)
			}
		})
	}
}
