package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// fakeAuth signs every request in as p, or as no one when p is nil.
type fakeAuth struct{ p *authz.Principal }

func (a fakeAuth) Authenticate(http.ResponseWriter, *http.Request) (*authz.Principal, web.Stage, error) {
	if a.p == nil {
		return nil, web.StageNone, nil
	}
	return a.p, web.StageFull, nil
}

func catalog(t testing.TB) *i18n.Catalog {
	t.Helper()
	cat := i18n.New()
	for _, fsys := range []fs.FS{web.Locales(), audit.Locales()} {
		if err := cat.Add(fsys); err != nil {
			t.Fatal(err)
		}
	}
	return cat
}

// testServer is the audit part on a web server, over a seeded SQLite
// database, for requests signed in as the principal given to do.
type testServer struct {
	t   *testing.T
	log *audit.Log
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return &testServer{t: t, log: seed(t, dbtest.SQLite(t, parts...))}
}

// do sends a GET for target as p and returns the response.
func (ts *testServer) do(p *authz.Principal, target, lang string) *httptest.ResponseRecorder {
	ts.t.Helper()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		ts.t.Fatal(err)
	}
	srv := web.NewServer(web.Options{Catalog: catalog(ts.t), DefaultLang: "ja", Location: tokyo})
	if err := audit.Register(srv, ts.log); err != nil {
		ts.t.Fatal(err)
	}
	srv.SetAuthenticator(fakeAuth{p})
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if lang != "" {
		r.Header.Set("Accept-Language", lang)
	}
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	return w
}

func user(login string, grants ...authz.Grant) *authz.Principal {
	return &authz.Principal{UserID: 42, Login: login, Name: login, Grants: grants}
}

func grant(r authz.Role, facility int64) authz.Grant { return authz.Grant{Role: r, Facility: facility} }

const apiPath = "/api/v1/audit/security-events"

func decode(t *testing.T, w *httptest.ResponseRecorder) audit.SearchResponse {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["next"]; !ok {
		t.Fatalf("response has no next: %s", w.Body)
	}
	var resp audit.SearchResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Events == nil {
		t.Fatalf("events is null: %s", w.Body)
	}
	return resp
}

func TestRoutes_OnlyReadersOfTheLogGetIn(t *testing.T) {
	ts := newTestServer(t)
	routes := []string{apiPath, "/audit/security-events", "/audit/security-events.csv"}
	tests := []struct {
		name string
		p    *authz.Principal
		want int
	}{
		{"admin", user("a", grant(authz.Admin, 1)), http.StatusOK},
		{"ciso", user("c", grant(authz.CISO, authz.AllFacilities)), http.StatusOK},
		{"csirt", user("s", grant(authz.CSIRT, 2)), http.StatusOK},
		{"auditor", user("u", grant(authz.Auditor, 1)), http.StatusOK},
		{"read token", &authz.Principal{UserID: 5, Login: "bot", TokenID: 9, Scopes: []string{"read"}, TokenFacility: 1}, http.StatusOK},
		{"staff", user("n", grant(authz.Staff, 1)), http.StatusForbidden},
		{"vendor", user("v", grant(authz.Vendor, authz.AllFacilities)), http.StatusForbidden},
		{"token without the scope", &authz.Principal{UserID: 5, Login: "bot", TokenID: 9, Scopes: []string{"write"}}, http.StatusForbidden},
		{"no one", nil, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		for _, route := range routes {
			t.Run(tt.name+" "+route, func(t *testing.T) {
				w := ts.do(tt.p, route, "")
				got, want := w.Code, tt.want
				if got == http.StatusSeeOther && tt.want == http.StatusUnauthorized && !strings.HasPrefix(route, "/api/") {
					got = http.StatusUnauthorized // pages send the anonymous to the login page
				}
				if tt.p != nil && tt.p.TokenID != 0 && !strings.HasPrefix(route, "/api/") {
					want = http.StatusForbidden // an API token calls the API, never a page
				}
				if got != want {
					t.Fatalf("status %d, want %d: %s", w.Code, want, w.Body)
				}
			})
		}
	}
}

func TestAPI_ShowsOnlyTheCallersFacilities(t *testing.T) {
	tests := []struct {
		name string
		p    *authz.Principal
		want []int64
	}{
		{"all facilities, with system-wide events", user("ciso", grant(authz.CISO, authz.AllFacilities)), []int64{3, 0, 2, 2, 1, 0, 1}},
		{"one facility", user("aud", grant(authz.Auditor, 1)), []int64{1, 1}},
		{"grants in two facilities", user("csirt", grant(authz.CSIRT, 2), grant(authz.Auditor, 3)), []int64{3, 2, 2}},
		{"a staff grant adds no facility", user("adm", grant(authz.Admin, 2), grant(authz.Staff, 1)), []int64{2, 2}},
		{"token of one facility", &authz.Principal{UserID: 5, Login: "bot", TokenID: 9, Scopes: []string{"read"}, TokenFacility: 3}, []int64{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := decode(t, newTestServer(t).do(tt.p, apiPath, ""))
			var fs []int64
			for _, e := range resp.Events {
				fs = append(fs, e.Facility)
			}
			if !slices.Equal(fs, tt.want) {
				t.Errorf("facilities = %v, want %v", fs, tt.want)
			}
		})
	}
}

func TestAPI_FiltersAndPages(t *testing.T) {
	ts := newTestServer(t)
	ciso := user("ciso", grant(authz.CISO, authz.AllFacilities))
	q := url.Values{"action": {"login."}, "limit": {"2"}, "from": {t0.Format(time.RFC3339)},
		"to": {t0.Add(time.Hour).In(time.FixedZone("", 9*3600)).Format(time.RFC3339)}}
	resp := decode(t, ts.do(ciso, apiPath+"?"+q.Encode(), ""))
	if len(resp.Events) != 2 || resp.Next == nil || *resp.Next != resp.Events[1].ID {
		t.Fatalf("first page: %+v, next %v", resp.Events, resp.Next)
	}
	if e := resp.Events[0]; e.Action != "login.failure" || e.Target != "user:nurse01" || !e.Time.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("first event = %+v", e)
	}
	q.Set("before", strconv.FormatInt(*resp.Next, 10))
	resp = decode(t, ts.do(ciso, apiPath+"?"+q.Encode(), ""))
	if len(resp.Events) != 1 || resp.Next != nil || resp.Events[0].Action != "login.success" {
		t.Fatalf("last page: %+v, next %v", resp.Events, resp.Next)
	}
}

func TestAPI_RefusesBadParameters(t *testing.T) {
	ts := newTestServer(t)
	ciso := user("ciso", grant(authz.CISO, authz.AllFacilities))
	tests := []struct {
		query, param string
	}{
		{"from=yesterday", "from"},
		{"from=2026-04-01", "from"}, // the API takes RFC 3339 times, not dates
		{"to=2026-04-01T09:00:00", "to"},
		{"from=2026-04-02T00:00:00Z&to=2026-04-01T00:00:00Z", "to"},
		{"from=2026-04-01T00:00:00Z&to=2026-04-01T00:00:00Z", "to"},
		{"outcome=ok", "outcome"},
		{"limit=0", "limit"},
		{"limit=501", "limit"},
		{"limit=ten", "limit"},
		{"before=-1", "before"},
		{"before=abc", "before"},
		{"target=" + strings.Repeat("x", audit.MaxFieldLen+1), "target"},
		{"actor=%FF", "actor"},
	}
	for _, tt := range tests {
		t.Run(tt.query[:min(len(tt.query), 40)], func(t *testing.T) {
			w := ts.do(ciso, apiPath+"?"+tt.query, "en")
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			var p web.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.Type != web.ProblemTypePrefix+"invalid-parameter" || p.Status != 400 || !strings.Contains(p.Detail, tt.param) {
				t.Errorf("problem = %+v, want invalid-parameter naming %s", p, tt.param)
			}
		})
	}
	// Refused searches read nothing, so nothing is recorded.
	got, _ := search(t, ts.log, audit.Filter{AllFacilities: true, Action: audit.ActionSearch})
	if len(got) != 0 {
		t.Errorf("refused searches were recorded: %+v", got)
	}
}

func TestAPI_RecordsEverySearch(t *testing.T) {
	ts := newTestServer(t)
	aud := user("auditor01", grant(authz.Auditor, 2))
	from := t0.Add(-24 * time.Hour)
	q := url.Values{"from": {from.Format(time.RFC3339)}, "actor": {"admin"}, "target": {"doctor"}}
	decode(t, ts.do(aud, apiPath+"?"+q.Encode(), ""))
	decode(t, ts.do(aud, apiPath, ""))

	got, _ := search(t, ts.log, audit.Filter{AllFacilities: true, Action: audit.ActionSearch})
	if len(got) != 2 {
		t.Fatalf("%d searches recorded, want 2: %+v", len(got), got)
	}
	e := got[1]
	want := map[string]string{"via": "api", "from": from.Format(time.RFC3339Nano), "actor": "admin",
		"target": "doctor", "facilities": "2"}
	for k, v := range want {
		if e.Detail[k] != v {
			t.Errorf("detail[%s] = %q, want %q (detail %v)", k, e.Detail[k], v, e.Detail)
		}
	}
	if e.ActorID != 42 || e.ActorLogin != "auditor01" || e.Outcome != selfaudit.Success ||
		e.Facility != 2 || e.ClientAddr != "192.0.2.1" || e.Target == "" {
		t.Errorf("search record = %+v", e)
	}
	// The auditor of facility 2 sees that she searched; the facility of a
	// one-facility search is that facility.
	resp := decode(t, ts.do(aud, apiPath+"?action=audit.search", ""))
	if len(resp.Events) != 2 {
		t.Errorf("auditor sees %d of her searches, want 2", len(resp.Events))
	}
}

func TestPage_ShowsEventsInEitherLanguage(t *testing.T) {
	ts := newTestServer(t)
	ciso := user("ciso", grant(authz.CISO, authz.AllFacilities))
	tests := []struct {
		lang string
		want []string
	}{
		{"ja", []string{"アクセスログ", "操作者", "接続元", "ログイン失敗", "設定の変更", "全体", `class="badge bad"`, "失敗",
			"2026-04-01 09:02", "login_x", "203.0.113.9", "検索"}},
		{"en", []string{"Access log", "Actor", "Client", "Sign-in failed", "Setting changed", "System-wide", "Failure",
			"2026-04-01 09:02", "login_x"}},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			w := ts.do(ciso, "/audit/security-events", tt.lang)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			body := w.Body.String()
			for _, s := range tt.want {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			if i := strings.Index(body, "[audit."); i >= 0 {
				t.Errorf("page shows an untranslated message: %s", body[i:min(len(body), i+60)])
			}
			if i := strings.Index(body, "[nav."); i >= 0 {
				t.Errorf("page shows an untranslated message: %s", body[i:min(len(body), i+60)])
			}
			if !strings.Contains(body, `href="/audit/security-events.csv"`) {
				t.Errorf("page has no CSV link")
			}
		})
	}
}

func TestPage_FiltersByDateInTokyoAndPages(t *testing.T) {
	ts := newTestServer(t)
	ciso := user("ciso", grant(authz.CISO, authz.AllFacilities))
	// t0 is 2026-04-01 09:00 in Tokyo; a date filter of that day finds all.
	w := ts.do(ciso, "/audit/security-events?from=2026-04-01&to=2026-04-01&limit=3&action=login.", "ja")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	body := w.Body.String()
	if n := strings.Count(body, "<tr>") - 1; n != 3 {
		t.Errorf("%d rows, want 3", n)
	}
	for _, s := range []string{`<option value="login." selected>`, `value="2026-04-01"`,
		`href="/audit/security-events.csv?action=login.&amp;from=2026-04-01&amp;to=2026-04-01"`} {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %s", s)
		}
	}
	w = ts.do(ciso, "/audit/security-events?from=2026-04-02&limit=3", "ja")
	if body := w.Body.String(); !strings.Contains(body, "条件に当てはまる記録はありません") {
		t.Errorf("a later day shows events")
	}
	w = ts.do(ciso, "/audit/security-events?limit=3", "ja")
	if body := w.Body.String(); !strings.Contains(body, "before=") || !strings.Contains(body, "さらに古い記録") {
		t.Errorf("first page of 3 has no link to older events")
	}
}

func TestPage_ExplainsABadFilter(t *testing.T) {
	ts := newTestServer(t)
	ciso := user("ciso", grant(authz.CISO, authz.AllFacilities))
	w := ts.do(ciso, "/audit/security-events?from=2026-13-45", "ja")
	if w.Code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", w.Code)
	}
	if body := w.Body.String(); !strings.Contains(body, "「開始日」の入力内容が正しくありません") {
		t.Errorf("page does not name the bad field: %s", body)
	}
}

func TestCSV_HasBOMHeaderAndSafeCells(t *testing.T) {
	ts := newTestServer(t)
	record(t, ts.log, selfaudit.Event{Time: t0.Add(time.Hour), Facility: 1, ActorLogin: `=HYPERLINK("http://x","y")`,
		Action: "login.failure", Target: "user:=1+1", Outcome: selfaudit.Failure, ClientAddr: "10.9.9.9",
		Detail: map[string]string{"reason": "bad password"}})
	ciso := user("ciso", grant(authz.CISO, authz.AllFacilities))

	w := ts.do(ciso, "/audit/security-events.csv", "ja")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := w.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=") {
		t.Errorf("Content-Disposition %q", cd)
	}
	b := w.Body.Bytes()
	if !bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}) {
		t.Fatalf("no UTF-8 byte-order mark: % x", b[:min(len(b), 8)])
	}
	recs, err := csv.NewReader(bytes.NewReader(b[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := []string{"番号", "日時", "施設", "操作者番号", "操作者", "操作", "操作コード", "対象", "結果", "接続元", "詳細"}
	if !slices.Equal(recs[0], wantHeader) {
		t.Errorf("header = %q, want %q", recs[0], wantHeader)
	}
	if len(recs) != 1+8 {
		t.Fatalf("%d rows, want a header and 8 events", len(recs))
	}
	row := recs[1]
	want := []string{row[0], "2026-04-01T10:00:00.000+09:00", "1", "0", `'=HYPERLINK("http://x","y")`,
		"ログイン失敗", "login.failure", "user:=1+1", "失敗", "10.9.9.9", `{"reason":"bad password"}`}
	if !slices.Equal(row, want) {
		t.Errorf("row = %q, want %q", row, want)
	}
	if !bytes.Contains(b, []byte("\r\n")) {
		t.Errorf("lines do not end in CRLF")
	}

	// The same filters as the page, the facility scope included.
	w = ts.do(user("aud", grant(authz.Auditor, 1)), "/audit/security-events.csv?outcome=failure", "en")
	recs, err = csv.NewReader(bytes.NewReader(w.Body.Bytes()[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if recs[0][1] != "Time" || len(recs) != 1+2 || recs[1][4] != `'=HYPERLINK("http://x","y")` || recs[2][4] != "nurse01" {
		t.Errorf("filtered export = %q", recs)
	}

	w = ts.do(ciso, "/audit/security-events.csv?outcome=maybe", "ja")
	if w.Code != http.StatusBadRequest {
		t.Errorf("bad filter: status %d, want 400", w.Code)
	}
	got, _ := search(t, ts.log, audit.Filter{AllFacilities: true, Action: audit.ActionSearch})
	if len(got) != 2 || got[0].Detail["via"] != "csv" {
		t.Errorf("exports recorded = %+v, want 2 via csv", got)
	}
}

func TestCSV_ExportsMoreThanOnePage(t *testing.T) {
	d := dbtest.SQLite(t, parts...)
	l := audit.New(d, clock.NewFrozen(t0))
	n := audit.MaxLimit*2 + 7
	err := d.InTx(context.Background(), func(tx *db.Tx) error {
		for i := range n {
			err := l.Record(context.Background(), tx, selfaudit.Event{Action: "logout", Outcome: selfaudit.Success,
				Target: "user:" + strconv.Itoa(i)})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, log: l}
	w := ts.do(user("ciso", grant(authz.CISO, authz.AllFacilities)), "/audit/security-events.csv", "ja")
	recs, err := csv.NewReader(bytes.NewReader(w.Body.Bytes()[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+n {
		t.Fatalf("%d rows, want a header and %d events", len(recs), n)
	}
	if recs[1][7] != "user:"+strconv.Itoa(n-1) || recs[n][7] != "user:0" {
		t.Errorf("first %q, last %q: not newest first", recs[1][7], recs[n][7])
	}
}

func TestCatalog_NoMessageMissingInEitherLanguage(t *testing.T) {
	cat := catalog(t)
	if m := cat.Missing(); len(m) != 0 {
		t.Errorf("missing messages: %q", m)
	}
	for _, a := range audit.Actions {
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, "audit.action."+a) {
				t.Errorf("%s: no label for action %s", lang, a)
			}
		}
	}
	if !cat.Has("ja", "nav.security_events") {
		t.Errorf("no navigation label")
	}
}
