package incident

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// roleAuth signs requests in with the role named by the X-Test-Role
// header, in facility 1.
type roleAuth struct{}

func (roleAuth) Authenticate(_ http.ResponseWriter, r *http.Request) (*authz.Principal, web.Stage, error) {
	role := authz.Role(r.Header.Get("X-Test-Role"))
	return &authz.Principal{UserID: 5, Login: string(role) + "01", Facility: 1, Lang: "ja",
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
	cat := i18n.New()
	for _, l := range []fs.FS{web.Locales(), Locales()} {
		if err := cat.Add(l); err != nil {
			t.Fatal(err)
		}
	}
	srv := web.NewServer(web.Options{Catalog: cat, DefaultLang: "ja", Location: time.UTC,
		Log: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	if err := Register(srv, Config{DB: d, Recorder: e.log, Clock: e.clk}); err != nil {
		t.Fatal(err)
	}
	srv.SetAuthenticator(roleAuth{})
	return &site{t: t, e: e, h: srv.Handler()}
}

func (s *site) do(role authz.Role, method, path, ctype string, body []byte) *httptest.ResponseRecorder {
	s.t.Helper()
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	r.Header.Set("X-Test-Role", string(role))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

func (s *site) form(role authz.Role, path string, v url.Values) *httptest.ResponseRecorder {
	return s.do(role, http.MethodPost, path, "application/x-www-form-urlencoded", []byte(v.Encode()))
}

func TestPages_ACSIRTRunsAnIncidentThroughTheForms(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		w := s.form(authz.CSIRT, "/incidents", url.Values{"title": {"標的型メールの開封"}, "kind": {"targeted_mail"},
			"severity": {"high"}, "aware_at": {"2026-03-31T23:30"}, "people": {"3"}, "leak": {"possible"}, "medical_data": {"1"}})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/incidents/1" {
			t.Fatalf("create: %d %s %s", w.Code, w.Header().Get("Location"), w.Body)
		}
		steps := []struct {
			path string
			v    url.Values
		}{
			{"/incidents/1/state", url.Values{"to": {"triage"}}},
			{"/incidents/1/notes", url.Values{"text": {"開封した端末を LAN から切り離した"}}},
			{"/incidents/1/tasks", url.Values{"title": {"メールの送信元を確認"}, "phase": {"triage"}, "owner": {"csirt02"}, "due": {"2026-03-31T23:00"}}},
			{"/incidents/1/observables", url.Values{"kind": {"guess"}, "values": {"203.0.113.7\nphish.example\n"}, "ioc": {"1"}}},
			{"/incidents/1/links", url.Values{"kind": {"alert"}, "target": {"42"}}},
		}
		for _, st := range steps {
			if w := s.form(authz.CSIRT, st.path, st.v); w.Code != http.StatusSeeOther {
				t.Fatalf("%s: %d %s", st.path, w.Code, w.Body)
			}
		}
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "mail.eml")
		fw.Write([]byte("From: attacker@phish.example\r\n\r\nclick"))
		mw.WriteField("description", "受信したメール")
		mw.Close()
		if w := s.do(authz.CSIRT, http.MethodPost, "/incidents/1/evidence", mw.FormDataContentType(), body.Bytes()); w.Code != http.StatusSeeOther {
			t.Fatalf("evidence: %d %s", w.Code, w.Body)
		}
		page := s.do(authz.CSIRT, http.MethodGet, "/incidents/1", "", nil)
		if page.Code != http.StatusOK {
			t.Fatalf("page: %d %s", page.Code, page.Body)
		}
		for _, want := range []string{"INC-2026-0001", "標的型メールの開封", "メールの送信元を確認", "期限切れ", "phish.example",
			"mail.eml", "/alerts/42", "開封した端末を LAN から切り離した", `aria-current="step"`} {
			if !strings.Contains(page.Body.String(), want) {
				t.Errorf("the incident's page lacks %q", want)
			}
		}
		// An observable entered by mistake is deleted, from the page or the
		// API; the auditor cannot; the timeline keeps what it was.
		if w := s.form(authz.CSIRT, "/incidents/1/observables/1/delete", nil); w.Code != http.StatusSeeOther {
			t.Fatalf("delete an observable: %d %s", w.Code, w.Body)
		}
		if w := s.do(authz.Auditor, http.MethodDelete, "/api/v1/incident/incidents/1/observables/2", "", nil); w.Code != http.StatusForbidden {
			t.Errorf("the auditor deletes an observable: %d", w.Code)
		}
		for _, want := range []int{http.StatusNoContent, http.StatusNotFound} {
			if w := s.do(authz.CSIRT, http.MethodDelete, "/api/v1/incident/incidents/1/observables/2", "", nil); w.Code != want {
				t.Errorf("DELETE the observable: %d, want %d", w.Code, want)
			}
		}
		if obs, _ := Observables(t.Context(), d, 1); len(obs) != 0 {
			t.Errorf("observables left: %+v", obs)
		}
		if tl, _ := Timeline(t.Context(), d, 1); !strings.Contains(fmt.Sprint(tl), "observable.delete") {
			t.Errorf("the timeline does not keep the deletion: %+v", tl)
		}
		// A bad form answers 422 with the message, and nothing changes.
		w = s.form(authz.CSIRT, "/incidents/1/state", url.Values{"to": {"new"}})
		if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "理由を入力してください") {
			t.Errorf("back without a comment: %d", w.Code)
		}
		list := s.do(authz.Auditor, http.MethodGet, "/incidents?severity=high", "", nil)
		if list.Code != http.StatusOK || !strings.Contains(list.Body.String(), "INC-2026-0001") {
			t.Errorf("list: %d", list.Code)
		}
		if w := s.do(authz.Auditor, http.MethodGet, "/incidents?severity=urgent", "", nil); w.Code != http.StatusBadRequest {
			t.Errorf("bad filter: %d", w.Code)
		}
		// The auditor reads and downloads (recorded), and changes nothing.
		if w := s.do(authz.Auditor, http.MethodGet, "/incidents/1/evidence/1", "", nil); w.Code != http.StatusOK ||
			w.Header().Get("Content-Type") != "application/octet-stream" || !strings.Contains(w.Header().Get("Content-Disposition"), "attachment") {
			t.Errorf("download: %d %v", w.Code, w.Header())
		}
		if w := s.form(authz.Auditor, "/incidents/1/state", url.Values{"to": {"containment"}}); w.Code != http.StatusForbidden {
			t.Errorf("auditor changes the state: %d", w.Code)
		}
		if chain, _ := CustodyLog(t.Context(), d, 1); len(chain) != 2 || chain[1].Action != CustodyDownloaded || chain[1].Actor != "auditor01" {
			t.Errorf("custody %+v", chain)
		}
	})
}

func TestPages_StaffReportButCannotRead(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		if w := s.do(authz.Staff, http.MethodGet, "/incident/raise", "", nil); w.Code != http.StatusOK {
			t.Fatalf("form: %d", w.Code)
		}
		w := s.form(authz.Staff, "/incident/raise", url.Values{"kind": {"lost_device"}, "where": {"3 階東病棟"},
			"what": {"ノート PC が見当たりません"}, "phone": {"内線 1234"}, "noticed_at": {"2026-03-31T22:00"}})
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "INC-2026-0001") {
			t.Fatalf("raise: %d %s", w.Code, w.Body)
		}
		if w := s.form(authz.Staff, "/incident/raise", url.Values{"kind": {"lost_device"}}); w.Code != http.StatusUnprocessableEntity {
			t.Errorf("empty report: %d", w.Code)
		}
		api := s.do(authz.Staff, http.MethodPost, "/api/v1/incident/raise", "application/json",
			[]byte(`{"kind":"targeted_mail","what":"不審なメールを開いてしまいました"}`))
		if api.Code != http.StatusCreated || !strings.Contains(api.Body.String(), `"ref":"INC-2026-0002"`) {
			t.Errorf("API raise: %d %s", api.Code, api.Body)
		}
		for _, p := range []string{"/incidents", "/incidents/1", "/api/v1/incident/incidents/1"} {
			if w := s.do(authz.Staff, http.MethodGet, p, "", nil); w.Code != http.StatusForbidden {
				t.Errorf("staff reads %s: %d", p, w.Code)
			}
		}
		i, err := Get(t.Context(), d, fac1, 1)
		if err != nil || i.CreatedBy != "staff01" || i.State != New || i.Title != "職員からの報告：端末・媒体の紛失・盗難" {
			t.Errorf("%+v %v", i, err)
		}
	})
}

func TestAPI_IncidentWithDutiesAndProblems(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		w := s.do(authz.CISO, http.MethodPost, "/api/v1/incident/incidents", "application/json",
			[]byte(`{"kind":"ransomware","title":"暗号化されたファイルサーバ","cyberattack":true,"care_impact":true,"leak":"possible","medical_data":true}`))
		if w.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", w.Code, w.Body)
		}
		var got IncidentJSON
		json.Unmarshal(w.Body.Bytes(), &got)
		if got.Ref != "INC-2026-0001" || got.Facility != 1 || len(got.Duties) != 5 || got.Duties[0].To != ToVendor ||
			!got.Duties[0].Due.Equal(start.Add(VendorWithin)) {
			t.Errorf("%+v", got)
		}
		tests := []struct {
			method, path, body string
			status             int
			kind               string
		}{
			{"PATCH", "/api/v1/incident/incidents/1", `{"severity":"urgent"}`, 422, "validation"},
			{"PATCH", "/api/v1/incident/incidents/1", `{"people":"many"}`, 400, "invalid-field-type"},
			{"POST", "/api/v1/incident/incidents/1/state", `{"to":"new"}`, 409, "incident-conflict"},
			{"POST", "/api/v1/incident/incidents/1/state", `{"to":"closed"}`, 422, "validation"},
			{"POST", "/api/v1/incident/incidents/999/state", `{"to":"triage"}`, 404, "not-found"},
			{"POST", "/api/v1/incident/incidents/1/observables", `{"observables":[{"kind":"md5","value":"xyz"}]}`, 422, "validation"},
			{"POST", "/api/v1/incident/incidents/1/links", `{"kind":"alert","target":-1}`, 422, "validation"},
		}
		for _, tt := range tests {
			w := s.do(authz.CISO, tt.method, tt.path, "application/json", []byte(tt.body))
			var p web.Problem
			json.Unmarshal(w.Body.Bytes(), &p)
			if w.Code != tt.status || p.Type != web.ProblemTypePrefix+tt.kind {
				t.Errorf("%s %s %s: %d %s, want %d %s", tt.method, tt.path, tt.body, w.Code, p.Type, tt.status, tt.kind)
			}
		}
		ev := s.do(authz.CISO, http.MethodPost, "/api/v1/incident/incidents/1/evidence?name=note.txt", "application/octet-stream", []byte("ransom"))
		if ev.Code != http.StatusCreated {
			t.Fatalf("evidence: %d %s", ev.Code, ev.Body)
		}
		if w := s.do(authz.Auditor, http.MethodGet, "/api/v1/incident/incidents/1/evidence/1/content", "", nil); w.Body.String() != "ransom" {
			t.Errorf("content: %d %q", w.Code, w.Body)
		}
		if w := s.do(authz.CSIRT, http.MethodPost, "/api/v1/incident/incidents/1/evidence/1/verify", "", nil); !strings.Contains(w.Body.String(), `"ok":true`) {
			t.Errorf("verify: %d %s", w.Code, w.Body)
		}
		tl := s.do(authz.Auditor, http.MethodGet, "/api/v1/incident/incidents/1/timeline", "", nil)
		if !strings.Contains(tl.Body.String(), `"action":"evidence.verify"`) {
			t.Errorf("timeline: %s", tl.Body)
		}
		if w := s.do(authz.Auditor, http.MethodPatch, "/api/v1/incident/incidents/1", "application/json", []byte(`{"severity":"low"}`)); w.Code != http.StatusForbidden {
			t.Errorf("auditor patches: %d", w.Code)
		}
	})
}

// TestPages_AnotherRoomFillsTheDutiesSlot shows how the reporting room
// plugs its section into the incident's page: a partial defining
// "incident-duties", given what its hook put in .Data.Extra as .Board.
func TestPages_AnotherRoomFillsTheDutiesSlot(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		mine, err := fs.ReadFile(templatesFS, "templates/incident.html")
		if err != nil {
			t.Fatal(err)
		}
		pages := fstest.MapFS{"incident.html": {Data: mine},
			"_duties.html": {Data: []byte(`{{define "incident-duties"}}<section id="duties">{{.Board}}</section>{{end}}`)}}
		e := newEnv(t, d)
		cat := i18n.New()
		cat.Add(web.Locales())
		cat.Add(Locales())
		srv := web.NewServer(web.Options{Catalog: cat, DefaultLang: "ja", Location: time.UTC})
		if err := srv.AddPages("incident", pages); err != nil {
			t.Fatal(err)
		}
		h := &handlers{srv: srv, cfg: Config{DB: d, Recorder: e.log, Clock: e.clk}}
		h.onDetail("duties", func(r *http.Request, i Incident) (any, error) { return fmt.Sprintf("%d duties", len(Duties(i))), nil })
		srv.Handle(http.MethodGet, "/incidents/{id}", web.Perm(PermRead), h.incidentPage)
		srv.SetAuthenticator(roleAuth{})
		e.create(t, NewIncident{Crime: true})
		r := httptest.NewRequest(http.MethodGet, "/incidents/1", nil)
		r.Header.Set("X-Test-Role", string(authz.CSIRT))
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `<section id="duties">1 duties</section>`) {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	})
}
