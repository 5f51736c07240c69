package compliance

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// roleAuth signs requests in with the role named by the X-Test-Role
// header, as the login X-Test-Login (else <role>01), in facility 1.
type roleAuth struct{}

func (roleAuth) Authenticate(_ http.ResponseWriter, r *http.Request) (*authz.Principal, web.Stage, error) {
	role := authz.Role(r.Header.Get("X-Test-Role"))
	login := r.Header.Get("X-Test-Login")
	if login == "" {
		login = string(role) + "01"
	}
	lang := r.Header.Get("X-Test-Lang")
	if lang == "" {
		lang = "ja"
	}
	return &authz.Principal{UserID: 5, Login: login, Facility: 1, Lang: lang,
		Grants: []authz.Grant{{Role: role, Facility: 1}}}, web.StageFull, nil
}

type site struct {
	t *testing.T
	e *env
	h http.Handler
}

func newSite(t *testing.T, d *db.DB) *site {
	t.Helper()
	e := newEnv(t, d)
	for _, l := range []fs.FS{web.Locales()} {
		if err := e.cat.Add(l); err != nil {
			t.Fatal(err)
		}
	}
	srv := web.NewServer(web.Options{Catalog: e.cat, DefaultLang: "ja", Location: time.UTC, MaxBodyBytes: 1 << 20,
		Log: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	if err := Register(srv, e.svc, PermRead); err != nil {
		t.Fatal(err)
	}
	srv.SetAuthenticator(roleAuth{})
	return &site{t: t, e: e, h: srv.Handler()}
}

type req struct {
	role   authz.Role
	login  string
	method string
	path   string
	ctype  string
	body   []byte
}

func (s *site) do(q req) *httptest.ResponseRecorder {
	s.t.Helper()
	r := httptest.NewRequest(q.method, q.path, bytes.NewReader(q.body))
	r.Header.Set("X-Test-Role", string(q.role))
	if q.login != "" {
		r.Header.Set("X-Test-Login", q.login)
	}
	if q.ctype != "" {
		r.Header.Set("Content-Type", q.ctype)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

func (s *site) get(role authz.Role, path string) *httptest.ResponseRecorder {
	return s.do(req{role: role, method: http.MethodGet, path: path})
}

func (s *site) form(role authz.Role, login, path string, v url.Values) *httptest.ResponseRecorder {
	return s.do(req{role: role, login: login, method: http.MethodPost, path: path, ctype: "application/x-www-form-urlencoded",
		body: []byte(v.Encode())})
}

func (s *site) json(role authz.Role, method, path string, body any) *httptest.ResponseRecorder {
	b, _ := json.Marshal(body)
	return s.do(req{role: role, method: method, path: path, ctype: "application/json", body: b})
}

func multipartBody(t *testing.T, fields map[string]string, file string, content []byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if file != "" {
		fw, _ := mw.CreateFormFile("file", file)
		fw.Write(content)
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func contains(t *testing.T, w *httptest.ResponseRecorder, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestPages_AControlIsAttestedApprovedByAnotherAndTheChecklistAnswered(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		if w := s.form(authz.CISO, "", "/compliance/checks/run", url.Values{"control": {"ctl-mfa"}}); w.Code != http.StatusSeeOther ||
			w.Header().Get("Location") != "/compliance/controls/ctl-mfa?facility=1" {
			t.Fatalf("run now: %d %s", w.Code, w.Header().Get("Location"))
		}
		page := s.get(authz.CISO, "/compliance/controls/ctl-mfa")
		if page.Code != http.StatusOK {
			t.Fatalf("control page: %d %s", page.Code, page.Body)
		}
		contains(t, page, "二要素認証", "二要素の登録", "問題ありません", "合格", "ロックアウト")
		// The catalog shows the item ready, the filter keeps the revised one.
		cat := s.get(authz.Auditor, "/compliance/catalog?filter=revised")
		contains(t, cat, `id="item-6.5-C-15"`, `data-readiness="ready"`)
		if strings.Contains(cat.Body.String(), `id="item-6.5-C-1"`) {
			t.Error("the revised filter shows an item not revised")
		}
		if w := s.get(authz.Auditor, "/compliance/catalog?filter=bogus"); w.Code != http.StatusBadRequest {
			t.Errorf("a bad filter: %d", w.Code)
		}
		// A chapter alone, as the home page links it.
		ch := s.get(authz.Auditor, "/compliance/catalog?chapter=7")
		contains(t, ch, `id="catalog-chapter"`, `id="item-7.1-C-1"`)
		if strings.Contains(ch.Body.String(), `id="item-6.5-C-1"`) {
			t.Error("chapter 7 alone shows an item of chapter 6")
		}
		for _, bad := range []string{"6.5", "99", "%00"} {
			if w := s.get(authz.Auditor, "/compliance/catalog?chapter="+bad); w.Code != http.StatusBadRequest {
				t.Errorf("chapter %q: %d, want 400", bad, w.Code)
			}
		}

		// Upload with a bad date: the page again, translated, with what was typed.
		ct, body := multipartBody(t, map[string]string{"evidence_id": "rules", "title": "規程 2026", "effective_on": "2026/04/01"},
			"rules.pdf", []byte("%PDF-1.7 rules"))
		w := s.do(req{role: authz.CISO, method: http.MethodPost, path: "/compliance/controls/ctl-rules/attestations", ctype: ct, body: body})
		if w.Code != http.StatusUnprocessableEntity {
			t.Fatalf("a bad date: %d", w.Code)
		}
		contains(t, w, "日付は YYYY-MM-DD の形で入力してください。", `value="規程 2026"`)
		ct, body = multipartBody(t, map[string]string{"evidence_id": "rules", "title": "規程 2026", "effective_on": "2026-04-01"},
			"rules.pdf", []byte("%PDF-1.7 rules"))
		w = s.do(req{role: authz.CISO, method: http.MethodPost, path: "/compliance/controls/ctl-rules/attestations", ctype: ct, body: body})
		if w.Code != http.StatusSeeOther {
			t.Fatalf("upload: %d %s", w.Code, w.Body)
		}
		// The uploader sees no approve button and is refused; another approves.
		page = s.get(authz.CISO, "/compliance/controls/ctl-rules")
		contains(t, page, "rules.pdf", "承認待ち", "2027-04-01", "自分が登録した証跡は他の担当者が承認します")
		if strings.Contains(page.Body.String(), `id="approve-1"`) {
			t.Error("the uploader is offered the approval")
		}
		// The uploader is refused on the control's own page, with the reason.
		if w := s.form(authz.CISO, "", "/compliance/attestations/1/approve", nil); w.Code != http.StatusConflict ||
			!strings.Contains(w.Body.String(), "自分が登録した証跡は承認・差し戻しできません") ||
			!strings.Contains(w.Body.String(), `id="attestations"`) {
			t.Fatalf("the uploader approved, or the refusal is not on the control's page: %d", w.Code)
		}
		if w := s.form(authz.Admin, "", "/compliance/attestations/1/approve", nil); w.Code != http.StatusSeeOther {
			t.Fatalf("approve: %d %s", w.Code, w.Body)
		}
		contains(t, s.get(authz.Admin, "/compliance/controls/ctl-rules"), "承認済み", "admin01")
		if w := s.get(authz.Auditor, "/compliance/attestations/1/download"); w.Code != http.StatusOK ||
			w.Body.String() != "%PDF-1.7 rules" || !strings.HasPrefix(w.Header().Get("Content-Disposition"), "attachment") {
			t.Errorf("download: %d %q", w.Code, w.Header().Get("Content-Disposition"))
		}
		// An auditor may not upload.
		if w := s.do(req{role: authz.Auditor, method: http.MethodPost, path: "/compliance/controls/ctl-rules/attestations", ctype: ct, body: body}); w.Code != http.StatusForbidden {
			t.Errorf("an auditor uploaded: %d", w.Code)
		}

		// The checklist: a bad target date keeps everything typed and stores nothing.
		v := url.Values{"value-hospital-1-1": {"yes"}, "checked_on-hospital-1-1": {"2026-05-01"},
			"value-hospital-2-4-server": {"no"}, "checked_on-hospital-2-4-server": {"2026-05-01"},
			"target_on-hospital-2-4-server": {"2027-05-01"}, "note-hospital-2-4-server": {"VPN 機器の更新待ち"}}
		w = s.form(authz.CISO, "", "/compliance/checklist", v)
		if w.Code != http.StatusUnprocessableEntity {
			t.Fatalf("a bad target: %d", w.Code)
		}
		contains(t, w, `id="err-hospital-2-4-server"`, "同じ年度内", `value="VPN 機器の更新待ち"`, `value="2027-05-01"`,
			`name="value-hospital-1-1" value="yes" checked`)
		if a, _ := s.e.svc.Answers(t.Context(), 1, ""); len(a) != 0 {
			t.Fatalf("answers stored from a refused form: %+v", a)
		}
		// Saving one question alone saves only that one.
		v.Set("only", "hospital-1-1")
		if w := s.form(authz.CISO, "", "/compliance/checklist", v); w.Code != http.StatusSeeOther {
			t.Fatalf("save one: %d %s", w.Code, w.Body)
		}
		v.Del("only")
		v.Set("target_on-hospital-2-4-server", "2026-06-05")
		if w := s.form(authz.CISO, "", "/compliance/checklist", v); w.Code != http.StatusSeeOther {
			t.Fatalf("save the sheet: %d %s", w.Code, w.Body)
		}
		page = s.get(authz.Auditor, "/compliance/checklist")
		contains(t, page, "はい 1 件・いいえ 1 件・未回答 0 件", `value="2026-06-05"`)
		// The answer's target within the week is on the to-do list.
		st, _ := s.e.svc.State(t.Context(), 1)
		found := false
		for _, a := range st.Attention {
			found = found || (a.Kind == "answer" && a.Ref == "mhlw-checklist-r6:hospital-2-4-server")
		}
		if !found {
			t.Errorf("the いいえ due within the week is not on the to-do list: %+v", st.Attention)
		}

		// Snapshots: take two, compare.
		for i := 0; i < 2; i++ {
			if w := s.form(authz.CISO, "", "/compliance/snapshots", url.Values{"fiscal_year": {"2026"}}); w.Code != http.StatusSeeOther {
				t.Fatalf("snapshot: %d %s", w.Code, w.Body)
			}
			if i == 0 {
				s.form(authz.CISO, "", "/compliance/controls/ctl-mfa", url.Values{"implementation": {"not_applicable"}})
			}
		}
		contains(t, s.get(authz.Auditor, "/compliance/snapshots"), `id="snapshot-2"`, `id="snapshot-compare"`)
		contains(t, s.get(authz.Auditor, "/compliance/snapshots/1"), "2026 年度のスナップショット")
		cmp := s.get(authz.Auditor, "/compliance/snapshots/compare?from=1&to=2")
		contains(t, cmp, `id="changed-ctl-mfa"`, "対象外")
		if w := s.get(authz.Auditor, "/compliance/snapshots/compare"); w.Code != http.StatusSeeOther ||
			!strings.HasPrefix(w.Header().Get("Location"), "/compliance/snapshots?") {
			t.Errorf("compare with nothing chosen: %d %s, want the list", w.Code, w.Header().Get("Location"))
		}
		if w := s.get(authz.Auditor, "/compliance/snapshots/compare?from=x"); w.Code != http.StatusBadRequest {
			t.Errorf("a bad comparison: %d", w.Code)
		}
		if w := s.form(authz.CISO, "", "/compliance/snapshots", url.Values{"fiscal_year": {"abc"}}); w.Code != http.StatusUnprocessableEntity {
			t.Errorf("a bad fiscal year: %d", w.Code)
		}
		// English, with the check's detail in English.
		r := httptest.NewRequest(http.MethodGet, "/compliance/controls/ctl-mfa", nil)
		r.Header.Set("X-Test-Role", string(authz.Auditor))
		r.Header.Set("X-Test-Lang", "en")
		en := httptest.NewRecorder()
		s.h.ServeHTTP(en, r)
		contains(t, en, "Two-factor authentication", "Second factors enrolled", "All well", "Not applicable")
	})
}

func TestAPI_StateControlsEvidenceAnswersAndSnapshots(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		if w := s.json(authz.CISO, http.MethodPost, apiBase+"/checks/run", nil); w.Code != http.StatusOK {
			t.Fatalf("run: %d %s", w.Code, w.Body)
		}
		w := s.get(authz.Auditor, apiBase+"/state")
		var st State
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &st) != nil || st.Overall.Total != 4 || len(st.Controls) != 3 {
			t.Fatalf("state: %d %s", w.Code, w.Body)
		}
		if w := s.get(authz.Auditor, apiBase+"/state?facility=2"); w.Code != http.StatusNotFound {
			t.Errorf("another facility's state: %d", w.Code)
		}
		if w := s.get(authz.Auditor, apiBase+"/state?facility=x"); w.Code != http.StatusBadRequest ||
			w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("a bad facility: %d %s", w.Code, w.Header().Get("Content-Type"))
		}
		for path, code := range map[string]int{"/trend?days=7": 200, "/trend?days=0": 400, "/catalogs": 200,
			"/catalogs/mhlw-gl-5.1": 200, "/catalogs/nope": 404, "/controls": 200, "/controls/ctl-mfa": 200,
			"/controls/nope": 404, "/attestations": 200, "/attestations?control=nope": 400, "/answers": 200,
			"/answers?framework=mhlw-gl-5.1": 400, "/snapshots": 200, "/snapshots/9": 404, "/compare?from=1": 400,
			"/attestations/9": 404, "/attestations/x/content": 404} {
			if w := s.get(authz.Auditor, apiBase+path); w.Code != code {
				t.Errorf("GET %s: %d, want %d (%s)", path, w.Code, code, w.Body)
			}
		}
		// Control settings, with bad input as problem+json.
		if w := s.json(authz.CISO, http.MethodPut, apiBase+"/controls/ctl-mfa", map[string]string{"owner": "it01",
			"implementation": "implemented", "note": ""}); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"owner":"it01"`) {
			t.Errorf("set: %d %s", w.Code, w.Body)
		}
		w = s.json(authz.CISO, http.MethodPut, apiBase+"/controls/ctl-mfa", map[string]string{"implementation": "done"})
		var p web.Problem
		if w.Code != http.StatusUnprocessableEntity || json.Unmarshal(w.Body.Bytes(), &p) != nil ||
			p.Type != web.ProblemTypePrefix+"validation" || len(p.Errors) != 1 || p.Errors[0].Field != "implementation" {
			t.Errorf("a bad state: %d %s", w.Code, w.Body)
		}
		if w := s.json(authz.CISO, http.MethodPut, apiBase+"/controls/ctl-mfa", map[string]any{"owner": 3}); w.Code != http.StatusBadRequest {
			t.Errorf("a wrong type: %d", w.Code)
		}
		if w := s.json(authz.Auditor, http.MethodPut, apiBase+"/controls/ctl-mfa", map[string]string{}); w.Code != http.StatusForbidden {
			t.Errorf("an auditor set a control: %d", w.Code)
		}
		// Evidence: multipart upload, the uploader refused, another approves.
		ct, body := multipartBody(t, map[string]string{"control_id": "ctl-store", "evidence_id": "plan", "effective_on": "2026-05-01",
			"title": "保存計画"}, "plan.txt", []byte("plan"))
		w = s.do(req{role: authz.CISO, method: http.MethodPost, path: apiBase + "/attestations", ctype: ct, body: body})
		var a Attestation
		if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &a) != nil || a.ExpiresOn != nil || len(a.SHA256) != 64 {
			t.Fatalf("upload: %d %s", w.Code, w.Body)
		}
		ct2, body2 := multipartBody(t, map[string]string{"control_id": "ctl-store", "effective_on": "yesterday"}, "p.txt", []byte("p"))
		if w := s.do(req{role: authz.CISO, method: http.MethodPost, path: apiBase + "/attestations", ctype: ct2, body: body2}); w.Code != http.StatusUnprocessableEntity ||
			!strings.Contains(w.Body.String(), `"field":"effective_on"`) {
			t.Errorf("a bad date: %d %s", w.Code, w.Body)
		}
		if w := s.json(authz.CISO, http.MethodPost, apiBase+"/attestations", map[string]string{}); w.Code != http.StatusUnsupportedMediaType {
			t.Errorf("JSON instead of multipart: %d", w.Code)
		}
		if w := s.json(authz.CISO, http.MethodPost, apiBase+"/attestations/1/approve", nil); w.Code != http.StatusConflict ||
			!strings.Contains(w.Body.String(), "compliance-conflict") {
			t.Errorf("the uploader approved: %d %s", w.Code, w.Body)
		}
		if w := s.json(authz.Admin, http.MethodPost, apiBase+"/attestations/1/reject", map[string]string{}); w.Code != http.StatusUnprocessableEntity {
			t.Errorf("a rejection without a reason: %d", w.Code)
		}
		if w := s.json(authz.Admin, http.MethodPost, apiBase+"/attestations/1/reject", map[string]string{"reason": "版が古い"}); w.Code != http.StatusOK ||
			!strings.Contains(w.Body.String(), `"state":"rejected"`) {
			t.Errorf("reject: %d %s", w.Code, w.Body)
		}
		if w := s.get(authz.Auditor, apiBase+"/attestations/1/content"); w.Code != http.StatusOK || w.Body.String() != "plan" ||
			w.Header().Get("X-Content-SHA256") != a.SHA256 {
			t.Errorf("content: %d", w.Code)
		}
		// Answers: a bad one names its place in the list.
		w = s.json(authz.CISO, http.MethodPut, apiBase+"/answers", map[string]any{"answers": []map[string]string{
			{"framework": "mhlw-checklist-r6", "ref": "hospital-1-1", "value": "yes", "checked_on": "2026-05-01"},
			{"framework": "mhlw-checklist-r6", "ref": "hospital-2-4-server", "value": "no", "checked_on": "2026-05-01"}}})
		if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `"field":"answers[1].target_on"`) {
			t.Errorf("an answer without target: %d %s", w.Code, w.Body)
		}
		w = s.json(authz.CISO, http.MethodPut, apiBase+"/answers", map[string]any{"answers": []map[string]string{
			{"framework": "mhlw-checklist-r6", "ref": "hospital-1-1", "value": "yes", "checked_on": "2026-05-01"}}})
		if w.Code != http.StatusOK {
			t.Errorf("answers: %d %s", w.Code, w.Body)
		}
		if w := s.get(authz.Auditor, apiBase+"/answers?framework=mhlw-checklist-r6"); !strings.Contains(w.Body.String(), `"ref":"hospital-1-1"`) {
			t.Errorf("answers read: %s", w.Body)
		}
		// Snapshots.
		if w := s.json(authz.CISO, http.MethodPost, apiBase+"/snapshots", map[string]any{"fiscal_year": 1999}); w.Code != http.StatusUnprocessableEntity {
			t.Errorf("fiscal year 1999: %d", w.Code)
		}
		for i := 0; i < 2; i++ {
			if w := s.json(authz.CISO, http.MethodPost, apiBase+"/snapshots", map[string]any{"fiscal_year": 2026, "note": "年度末"}); w.Code != http.StatusCreated {
				t.Fatalf("snapshot: %d %s", w.Code, w.Body)
			}
		}
		if w := s.get(authz.Auditor, apiBase+"/snapshots/1"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"state"`) {
			t.Errorf("snapshot: %d", w.Code)
		}
		if w := s.get(authz.Auditor, apiBase+"/compare?from=1&to=2"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"chapters"`) {
			t.Errorf("compare: %d %s", w.Code, w.Body)
		}
		if w := s.json(authz.CSIRT, http.MethodPost, apiBase+"/snapshots", map[string]any{"fiscal_year": 2026}); w.Code != http.StatusForbidden {
			t.Errorf("the CSIRT took a snapshot: %d", w.Code)
		}
	})
}
