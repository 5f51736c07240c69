package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
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

const (
	breakGlassRule = "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a02"
	vendorRule     = "title: Export by a vendor account\nid: hospital-vendor-export\nlogsource: {product: anzen, category: access}\n" +
		"detection:\n  selection: {action: export, user|startswith: 'vendor-'}\n  condition: selection\nlevel: critical\n"
)

// uploadRules posts a YAML file to the import form as a browser uploads it.
func uploadRules(t *testing.T, e *apptest.Env, c *http.Client, name, text string) *http.Response {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	fw, err := w.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write([]byte(text))
	_ = w.WriteField("yaml", "")
	_ = w.Close()
	req, _ := http.NewRequest("POST", e.URL+"/alerts/rules/import", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// tokenClient is a client that calls with a new API token of scope in
// facility.
func tokenClient(t *testing.T, e *apptest.Env, scope string, facility int64) *http.Client {
	t.Helper()
	_, secret, err := e.App.Identity.CreateToken(context.Background(), identity.SystemActor, identity.NewToken{
		Name: "rules-" + scope, Scopes: []string{scope}, Facility: facility})
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: bearer{secret, http.DefaultTransport}}
}

type bearer struct {
	secret string
	next   http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.secret)
	return b.next.RoundTrip(r)
}

// processAll runs the engine until the log is analysed.
func processAll(t *testing.T, e *apptest.Env) {
	t.Helper()
	for {
		n, err := e.App.Detect.Process(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// TestRules_PagesAndAPIManageTheRulesTheEngineRuns imports a rule by the
// page (upload) and a bad one, disables and changes a pack rule by its
// page and sees the engine follow, tries a rule over the log, and uses the
// API, with a reading token and a token that manages one facility only. The store under it is tested on
// both databases in internal/detect; the pages run on SQLite.
func TestRules_PagesAndAPIManageTheRulesTheEngineRuns(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.yml"), []byte(strings.Replace(vendorRule, "user|startswith", "user|sounds_like", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"sqlite"} {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d, func(c *config.Config) { c.Detect.Rules = []string{dir} })
			ctx := context.Background()
			csirt := e.Login(t, e.CreateUser(t, "csirt01", true, authz.Grant{Role: authz.CSIRT, Facility: authz.AllFacilities}))
			// Programs (tokens cost no password hashing): a reader of every
			// facility, and a manager of facility 1 only.
			reader := tokenClient(t, e, "read", authz.AllFacilities)
			local := tokenClient(t, e, "manage", 1)

			// /alerts links the rules; the list names the rejected file.
			if body := apptest.ReadBody(t, e.Do(t, csirt, "GET", "/alerts", nil)); !strings.Contains(body, `id="alerts-rules-link"`) {
				t.Error("/alerts does not link the rules")
			}
			body := apptest.ReadBody(t, e.Do(t, csirt, "GET", "/alerts/rules", nil))
			for _, want := range []string{breakGlassRule, "builtin:medical/break_glass_access.yml", `id="rules-rejected"`, "bad.yml", "sounds_like", "検知ルール"} {
				if !strings.Contains(body, want) {
					t.Errorf("/alerts/rules lacks %q", want)
				}
			}
			if !strings.Contains(body, `id="rules-import-link"`) {
				t.Error("the CSIRT member is not offered the import")
			}

			// A file the engine cannot run: refused, named, nothing kept.
			resp := uploadRules(t, e, csirt, "bad.yml", strings.Replace(vendorRule, "user|startswith", "user|sounds_like", 1))
			if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity ||
				!strings.Contains(body, `id="import-error"`) || !strings.Contains(body, "sounds_like") || !strings.Contains(body, "取り込みませんでした") {
				t.Errorf("a bad import: %d\n%s", resp.StatusCode, body)
			}
			if stored, _ := detect.ListStoredRules(ctx, e.App.DB); len(stored) != 0 {
				t.Fatalf("a bad file was stored: %+v", stored)
			}
			// A good file: kept, and shown with who added it.
			resp = uploadRules(t, e, csirt, "vendor.yml", vendorRule)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/alerts/rules/hospital-vendor-export" {
				t.Fatalf("import: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
			body = apptest.ReadBody(t, e.Do(t, csirt, "GET", "/alerts/rules/hospital-vendor-export", nil))
			for _, want := range []string{`id="rule-added">csirt01`, "user|startswith", `id="rule-delete-form"`, `id="rule-form"`} {
				if !strings.Contains(body, want) {
					t.Errorf("the imported rule's page lacks %q", want)
				}
			}

			// The pack's break-glass rule disabled by its page: no alert.
			page := "/alerts/rules/" + breakGlassRule
			resp = e.Do(t, local, "PATCH", "/api/v1/detect/rules/"+breakGlassRule, map[string]any{"enabled": false})
			if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "すべての施設") {
				t.Errorf("a manager of one facility changes a rule: %d %s", resp.StatusCode, body)
			}
			resp = e.Do(t, csirt, "POST", page, "level=&tags=attack.initial-access")
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("disable: %d", resp.StatusCode)
			}
			now := e.App.Clock.Now()
			access := func(at time.Time, user, action string) audit.Event {
				return audit.Event{Time: at, Facility: 1, Source: "ehr-main", Action: action, Outcome: audit.OutcomeSuccess,
					Actor: audit.Actor{ID: user}, Patient: audit.Patient{ID: "P-" + user}}
			}
			first, err := e.App.Audit.Append(ctx, []audit.Event{access(now, "doctor-1", "emergency_access"), access(now, "vendor-3", "export")})
			if err != nil {
				t.Fatal(err)
			}
			processAll(t, e)
			alerts, _ := detect.Alerts(ctx, e.App.DB, 10)
			if len(alerts) != 1 || alerts[0].RuleID != "hospital-vendor-export" || alerts[0].Level.String() != "critical" {
				t.Fatalf("alerts with the break-glass rule disabled: %+v", alerts)
			}
			// Enabled again at level critical: new alerts have it.
			resp = e.Do(t, csirt, "POST", page, "enabled=1&level=critical&tags=attack.initial-access+hospital.review")
			resp.Body.Close()
			body = apptest.ReadBody(t, e.Do(t, csirt, "GET", page, nil))
			if !strings.Contains(body, `id="rule-changed">csirt01`) || !strings.Contains(body, "<code>hospital.review</code>") {
				t.Errorf("the rule's page after the change:\n%s", body)
			}
			if _, err := e.App.Audit.Append(ctx, []audit.Event{access(now.Add(time.Second), "doctor-2", "emergency_access")}); err != nil {
				t.Fatal(err)
			}
			processAll(t, e)
			alerts, _ = detect.Alerts(ctx, e.App.DB, 10)
			if len(alerts) != 2 || alerts[0].RuleID != breakGlassRule || alerts[0].Level.String() != "critical" {
				t.Fatalf("alerts after enabling at critical: %+v", alerts)
			}
			if resp := e.Do(t, csirt, "POST", page, "enabled=1&level=severe"); resp.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("a level that does not exist: %d", resp.StatusCode)
			}

			// Trying the rule finds the planted break-glass accesses.
			resp = e.Do(t, csirt, "POST", "/alerts/rules/try", url.Values{"rule": {breakGlassRule}, "hours": {"24"}}.Encode())
			body = apptest.ReadBody(t, resp)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, fmt.Sprintf(`href="/audit/events/%d"`, first)) ||
				!strings.Contains(body, "2 件が該当しました") {
				t.Errorf("try: %d\n%s", resp.StatusCode, body)
			}
			resp = e.Do(t, csirt, "POST", "/alerts/rules/try", url.Values{"rule": {breakGlassRule}, "hours": {"500"}}.Encode())
			if body := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="try-error"`) {
				t.Errorf("try 500 hours: %d", resp.StatusCode)
			}

			// The API.
			resp = e.Do(t, reader, "GET", "/api/v1/detect/rules", nil)
			var list detect.RulesJSON
			if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK || len(list.Rejected) != 1 {
				t.Fatalf("list: %d %v %+v", resp.StatusCode, err, list.Rejected)
			}
			resp.Body.Close()
			for _, r := range list.Rules {
				if r.Key == breakGlassRule && (r.Level != "critical" || r.OwnLevel != "high" || !r.Running || r.UpdatedBy != "csirt01") {
					t.Errorf("the break-glass rule in the API: %+v", r)
				}
			}
			for _, c := range []struct {
				method, path string
				body         any
				code         int
				kind         string
			}{
				{"POST", "/api/v1/detect/rules", map[string]any{"yaml": "title: ["}, 422, "validation"},
				{"POST", "/api/v1/detect/rules", map[string]any{"yaml": vendorRule}, 409, "rule-conflict"},
				{"POST", "/api/v1/detect/rules", map[string]any{"rules": vendorRule}, 400, "unknown-field"},
				{"PATCH", "/api/v1/detect/rules/" + breakGlassRule, map[string]any{"level": "severe"}, 422, "validation"},
				{"PATCH", "/api/v1/detect/rules/no-such-rule", map[string]any{"enabled": false}, 404, "not-found"},
				{"DELETE", "/api/v1/detect/rules/" + breakGlassRule, nil, 409, "rule-conflict"},
				{"POST", "/api/v1/detect/rules/try", map[string]any{"rule": breakGlassRule, "hours": 169}, 422, "validation"},
				{"POST", "/api/v1/detect/rules/try", map[string]any{"hours": 1}, 422, "validation"},
			} {
				resp := e.Do(t, csirt, c.method, c.path, c.body)
				if body := apptest.ReadBody(t, resp); resp.StatusCode != c.code || !strings.Contains(body, c.kind) {
					t.Errorf("%s %s %v: %d %s", c.method, c.path, c.body, resp.StatusCode, body)
				}
			}
			resp = e.Do(t, reader, "POST", "/api/v1/detect/rules/try", map[string]any{"yaml": vendorRule, "hours": 2})
			var tried detect.TryResultJSON
			if err := json.NewDecoder(resp.Body).Decode(&tried); err != nil || tried.Count != 1 || tried.Hits[0].Events[0] != first+1 {
				t.Errorf("API try: %d %+v %v", resp.StatusCode, tried, err)
			}
			resp.Body.Close()
			if body := apptest.ReadBody(t, e.Do(t, reader, "GET", "/api/v1/detect/rules.yaml", nil)); strings.Count(body, "\n---\n") < 6 ||
				!strings.Contains(body, "hospital-vendor-export") {
				t.Errorf("export of all:\n%s", body)
			}
			one := apptest.ReadBody(t, e.Do(t, reader, "GET", "/api/v1/detect/rules/hospital-vendor-export/yaml", nil))
			if one != vendorRule {
				t.Errorf("export of one: %q", one)
			}
			if resp := e.Do(t, csirt, "DELETE", "/api/v1/detect/rules/hospital-vendor-export", nil); resp.StatusCode != http.StatusNoContent {
				t.Errorf("delete: %d", resp.StatusCode)
			}
			// Every change is in the audit log.
			for action, want := range map[string]int{detect.ActionRuleImport: 1, detect.ActionRuleSettings: 2, detect.ActionRuleDelete: 1, detect.ActionRuleTry: 2} {
				got, _, err := e.App.Audit.Search(ctx, audit.Filter{Action: action, AllFacilities: true})
				if err != nil || len(got) != want {
					t.Errorf("%s in the audit log: %d, want %d (%v)", action, len(got), want, err)
				}
			}
		})
	}
}
