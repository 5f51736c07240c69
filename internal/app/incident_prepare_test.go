package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// The incident part's preparation rooms through the web: a CSIRT member
// edits a playbook (then new incidents of the kind get it), writes the
// BCP, attests a backup and records a drill whose lesson is marked done;
// an auditor reads and may change nothing; a refused form keeps what is
// stored.
func TestIncidentPrepare_CSIRTPreparesAndAuditorReads(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d)
			ctx := context.Background()
			csirt := e.CreateUser(t, "prep-csirt", true, authz.Grant{Role: authz.CSIRT, Facility: e.Facility})
			auditor := e.CreateUser(t, "prep-auditor", true, authz.Grant{Role: authz.Auditor, Facility: e.Facility})
			c := e.Login(t, csirt)
			expect := func(resp *http.Response, status int, want ...string) string {
				t.Helper()
				body := apptest.ReadBody(t, resp)
				if resp.StatusCode != status {
					t.Fatalf("%s %s: %d, want %d: %.400s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, body)
				}
				for _, w := range want {
					if !strings.Contains(body, w) {
						t.Errorf("%s: no %q in %.600s", resp.Request.URL.Path, w, body)
					}
				}
				return body
			}
			expect(e.Do(t, c, "GET", "/incident/bcp", nil), 200, "BCP", "未記入", "オフライン手順書")
			expect(e.Do(t, c, "GET", "/incident/playbooks", nil), 200, "ランサムウェア", "標準（組み込み）")
			expect(e.Do(t, c, "GET", "/incident/playbooks/ransomware", nil), 200, "外部ネットワーク")

			// A playbook edited through the API is what a new incident gets.
			put := map[string]any{"tasks": []map[string]string{{"phase": "triage", "due": "30m", "role": "it_liaison",
				"title_ja": "VPN 装置を停止する", "title_en": "Shut the VPN appliance down"}}}
			expect(e.Do(t, c, "PUT", "/api/v1/incident/playbooks/ransomware", put), 200, `"edited":true`)
			tasks, err := incident.PlaybookTasks(ctx, e.App.DB, e.Facility, incident.Ransomware)
			if err != nil || len(tasks) != 1 || tasks[0].TitleJA != "VPN 装置を停止する" {
				t.Fatalf("after the edit: %+v %v", tasks, err)
			}
			yml := expect(e.Do(t, c, "GET", "/api/v1/incident/playbooks/export", nil), 200, "VPN 装置を停止する")
			resp := e.Do(t, c, "POST", "/api/v1/incident/playbooks/import", strings.NewReader("playbooks: [}"))
			expect(resp, 422, "validation")
			expect(e.Do(t, c, "POST", "/api/v1/incident/playbooks/import", strings.NewReader(strings.Replace(yml, "VPN 装置", "VPN 機器", 1))), 200, "ransomware")

			// The BCP form: a section too long is refused and nothing is saved.
			form := url.Values{"section_purpose": {"当院の情報システムの事業継続計画です。"}, "section_contacts": {strings.Repeat("連", 20001)}}
			expect(e.Do(t, c, "POST", "/incident/bcp", form.Encode()), 422, "20000")
			if b, _ := incident.CurrentBCP(ctx, e.App.DB, e.Facility); b.Version != 0 {
				t.Fatalf("a refused form saved version %d", b.Version)
			}
			form.Set("section_contacts", "院内 PHS が使えないときは伝令を出します。")
			expect(e.Do(t, c, "POST", "/incident/bcp", form.Encode()), 303)
			expect(e.Do(t, c, "GET", "/incident/bcp", nil), 200, "第 1 版", "伝令を出します")
			expect(e.Do(t, c, "GET", "/incident/bcp/print", nil), 200, "<!DOCTYPE html>", "1. 目的と適用範囲")

			// A backup attestation shows on the dashboard card.
			expect(e.Do(t, c, "POST", "/incident/backups", url.Values{"system": {"電子カルテ"}, "generation": {"1"},
				"taken_at": {"2026-03-31T20:00"}, "method": {"tape"}, "offline": {"1"}}.Encode()), 303)
			expect(e.Do(t, c, "GET", "/", nil), 200, "電子カルテ")

			// A drill with a lesson; a bad kind is refused first.
			drill := url.Values{"title": {"ランサムウェア机上訓練"}, "held_at": {"2026-03-20T10:00"}, "kind": {"party"},
				"participants": {"山田 太郎, 対応責任者\n佐藤 花子、情報システム担当"}, "lesson_title": {"夜間連絡先を更新する", ""},
				"lesson_owner": {"prep-csirt", ""}, "lesson_due": {"2026-04-30", ""}, "lesson_description": {"", ""}}
			expect(e.Do(t, c, "POST", "/incident/drills", drill.Encode()), 422, "訓練の種類")
			drill.Set("kind", "tabletop")
			resp = e.Do(t, c, "POST", "/incident/drills", drill.Encode())
			loc := resp.Header.Get("Location")
			expect(resp, 303)
			page := expect(e.Do(t, c, "GET", loc, nil), 200, "夜間連絡先を更新する", "佐藤 花子", "完了にする")
			i := strings.Index(page, "/lessons/")
			done := page[strings.LastIndex(page[:i], `"`)+1 : i+strings.Index(page[i:], `"`)]
			expect(e.Do(t, c, "POST", done, ""), 303)
			expect(e.Do(t, c, "GET", loc, nil), 200, "完了（")

			// The auditor reads everything and changes nothing.
			a := e.Login(t, auditor)
			expect(e.Do(t, a, "GET", "/incident/drills", nil), 200, "ランサムウェア机上訓練")
			expect(e.Do(t, a, "GET", "/api/v1/incident/backups", nil), 200, `"offline":"ok"`, `"restore":"bad"`)
			if resp := e.Do(t, a, "POST", "/incident/bcp", form.Encode()); resp.StatusCode != http.StatusForbidden {
				t.Errorf("auditor saved the BCP: %d", resp.StatusCode)
			}
		})
	}
}
