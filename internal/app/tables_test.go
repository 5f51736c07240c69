package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// TestTables_LoadListExportThroughAPIAndPage loads reference tables as a
// CISO through the API and the page, refuses bad files with their line
// and column (changing nothing), reads them as an auditor, and sees the
// engine raise the flagged-patient rule with the list loaded.
func TestTables_LoadListExportThroughAPIAndPage(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			ctx := context.Background()
			ciso := e.Login(t, e.CreateUser(t, "ciso01", true, authz.Grant{Role: authz.CISO, Facility: e.Facility}))
			auditor := e.Login(t, e.CreateUser(t, "auditor01", true, authz.Grant{Role: authz.Auditor, Facility: e.Facility}))

			resp := e.Do(t, ciso, "PUT", "/api/v1/detect/tables/staff", strings.NewReader("user_id,family_name,end_date\nn1,山田,\nr1,佐藤,2026-03-31\n"))
			var info detect.TableInfo
			if err := json.Unmarshal([]byte(apptest.ReadBody(t, resp)), &info); err != nil || resp.StatusCode != http.StatusOK ||
				info.Rows != 2 || info.LoadedBy != "ciso01" || info.Facility != e.Facility {
				t.Fatalf("load: %d %+v %v", resp.StatusCode, info, err)
			}
			resp = e.Do(t, ciso, "PUT", "/api/v1/detect/tables/staff", strings.NewReader("user_id,end_date\nx1,\nx2,someday\n"))
			body := apptest.ReadBody(t, resp)
			var p struct {
				Type   string                   `json:"type"`
				Detail string                   `json:"detail"`
				Errors []struct{ Field string } `json:"errors"`
			}
			if err := json.Unmarshal([]byte(body), &p); err != nil || resp.StatusCode != http.StatusUnprocessableEntity ||
				p.Type != "urn:anzen:problem:invalid-table" || len(p.Errors) != 1 || p.Errors[0].Field != "line 3, column end_date" {
				t.Fatalf("bad file: %d %s", resp.StatusCode, body)
			}
			if resp := e.Do(t, ciso, "PUT", "/api/v1/detect/tables/shoes", strings.NewReader("x\n")); resp.StatusCode != http.StatusNotFound {
				t.Errorf("unknown kind: %d", resp.StatusCode)
			}
			// The auditor reads the roster as it was loaded first.
			resp = e.Do(t, auditor, "GET", "/api/v1/detect/tables/staff", nil)
			if csv := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusOK || !strings.HasPrefix(csv, "user_id,name,family_name") ||
				!strings.Contains(csv, "r1,,佐藤,,,,2026-03-31") || strings.Contains(csv, "x1") {
				t.Errorf("export: %d %s", resp.StatusCode, csv)
			}
			resp = e.Do(t, auditor, "GET", "/api/v1/detect/tables", nil)
			var list detect.TableInfosJSON
			if err := json.Unmarshal([]byte(apptest.ReadBody(t, resp)), &list); err != nil || len(list.Tables) != 1 || list.Tables[0].Rows != 2 {
				t.Errorf("list: %+v %v", list, err)
			}
			if resp := e.Do(t, auditor, "GET", "/api/v1/detect/tables/care_team", nil); resp.StatusCode != http.StatusNotFound {
				t.Errorf("a table never loaded: %d", resp.StatusCode)
			}

			// The page: a bad file is refused with its line, a good one loaded.
			post := func(kind, csv string) *http.Response {
				var buf bytes.Buffer
				mw := multipart.NewWriter(&buf)
				mw.WriteField("kind", kind)
				fw, _ := mw.CreateFormFile("file", "list.csv")
				fw.Write([]byte(csv))
				mw.Close()
				req, _ := http.NewRequest("POST", e.URL+"/detect/tables", &buf)
				req.Header.Set("Content-Type", mw.FormDataContentType())
				resp, err := ciso.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				return resp
			}
			resp = post(detect.TableFlagged, "list,patient_id\nVIP,\n")
			if page := apptest.ReadBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity ||
				!strings.Contains(page, "2 行目の「patient_id」列: 必須の値が空です。") {
				t.Errorf("bad upload: %d %s", resp.StatusCode, page)
			}
			if resp := post(detect.TableFlagged, "list,patient_id\nVIP,P-vip\n"); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("upload: %d", resp.StatusCode)
			}
			resp = e.Do(t, auditor, "GET", "/detect/tables", nil)
			if page := apptest.ReadBody(t, resp); !strings.Contains(page, "注意患者リスト") || !strings.Contains(page, "ciso01") ||
				strings.Contains(page, "tables-load-form") {
				t.Errorf("the page as auditor: %s", page)
			}

			// The engine raises the flagged-patient rule.
			now := e.App.Clock.Now()
			if _, err := e.App.Audit.Append(ctx, []audit.Event{{Time: now, Facility: e.Facility, Source: "ehr-main", Action: "view",
				Outcome: audit.OutcomeSuccess, Actor: audit.Actor{ID: "n1"}, Patient: audit.Patient{ID: "P-vip"}}}); err != nil {
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
			if err != nil || len(alerts) != 1 || !strings.HasSuffix(alerts[0].RuleID, "0b01") {
				t.Errorf("alerts %+v %v", alerts, err)
			}
		})
	}
}
