package compliance

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// permHomeTest stands for identity's dashboard permission: everyone holds it.
var permHomeTest = authz.Define(authz.Spec{Name: "compliancetest.dashboard", Kind: authz.Read,
	Roles: []authz.Role{authz.Admin, authz.CISO, authz.CSIRT, authz.Auditor, authz.Staff, authz.Vendor}})

// homeLibraryFS is a small library: a guideline with two chapters and
// three revised items, and a checklist whose hospital sheet has four
// questions (one of them in a sub-group) and a pharmacy sheet.
var homeLibraryFS = fstest.MapFS{
	"lib/gl.yaml": {Data: []byte(`
id: mhlw-gl-5.1
kind: guideline
edition: "5.1"
name: {ja: ガイドライン 第5.1版, en: Guideline 5.1}
published: "2021-01"
items:
  - {ref: "6", number: "6", kind: chapter, title: {ja: 情報システムの基本的な安全管理, en: Basic safety management}, children: [
      {ref: "6.5", number: "6.5", kind: section, title: {ja: 技術的安全対策, en: Technical safeguards}, children: [
        {ref: 6.5-C-15, number: C-15, kind: C, revised: true, title: {ja: 二要素認証, en: Two-factor authentication}, summary: {ja: 二要素, en: two factors}},
        {ref: 6.5-C-7, number: C-7, kind: C, title: {ja: アクセスログ, en: Access logs}, summary: {ja: 記録, en: records}}]},
      {ref: "6.11", number: "6.11", kind: section, title: {ja: 外部と個人情報を含む医療情報を交換する場合, en: Exchanging with outside}, children: [
        {ref: 6.11-B-1-4, number: B-1 ④, kind: B, assess: true, revised: true, title: {ja: 署名鍵の保管, en: Keeping signing keys}, summary: {ja: 鍵, en: keys}}]}]}
  - {ref: "7", number: "7", kind: chapter, title: {ja: 電子保存の要求事項, en: Electronic storage}, children: [
      {ref: 7.1-C-1, number: C-1, kind: C, revised: true, title: {ja: 真正性の確保, en: Authenticity}, summary: {ja: 真正性, en: authenticity}}]}
`)},
	"lib/cl.yaml": {Data: []byte(`
id: mhlw-checklist-r6
kind: checklist
edition: R6
name: {ja: 令和6年度 チェックリスト, en: FY2024 checklist}
published: "2024-05-13"
items:
  - {ref: pharmacy, number: "薬局", kind: sheet, title: {ja: 薬局確認用, en: For pharmacies}, children: [
      {ref: pharmacy-1-1, number: "1-1", kind: question, title: {ja: 責任者, en: Officer}, summary: {ja: 責任者, en: officer}}]}
  - {ref: hospital, number: "医療機関", kind: sheet, title: {ja: 医療機関確認用, en: For hospitals}, children: [
      {ref: hospital-1, number: "1", kind: group, title: {ja: 体制構築, en: Organisation}, children: [
        {ref: hospital-1-1, number: "1-1", kind: question, title: {ja: 責任者の設置, en: Officer named}, summary: {ja: 責任者, en: officer}}]},
      {ref: hospital-2, number: "2", kind: group, title: {ja: 医療情報システムの管理・運用, en: Systems}, children: [
        {ref: hospital-2-1, number: "2-1", kind: question, title: {ja: 台帳, en: Register}, summary: {ja: 台帳, en: register}},
        {ref: hospital-2-4-server, number: "2-4", kind: question, target: server, title: {ja: 権限, en: Rights}, summary: {ja: 権限, en: rights}},
        {ref: hospital-2-4-terminal, number: "2-4", kind: question, target: terminal, title: {ja: 権限, en: Rights}, summary: {ja: 権限, en: rights}}]}]}
`)},
}

func homeLibrary(tb testing.TB) *Library {
	tb.Helper()
	lib, err := Load(homeLibraryFS, "lib")
	if err != nil {
		tb.Fatal(err)
	}
	return lib
}

// fakeHome is a homeSource whose answers the test sets.
type fakeHome struct {
	lib      *Library
	state    *State
	stateErr error
	trend    []DayScore
	trendErr error
	asked    []int64 // facilities State was asked for
	days     int
}

func (f *fakeHome) State(_ context.Context, facility int64) (*State, error) {
	f.asked = append(f.asked, facility)
	if f.stateErr != nil {
		return nil, f.stateErr
	}
	return f.state, nil
}

func (f *fakeHome) Trend(_ context.Context, _ int64, days int) ([]DayScore, error) {
	f.days = days
	return f.trend, f.trendErr
}

func (f *fakeHome) Library() *Library { return f.lib }

func (f *fakeHome) Facilities(context.Context) ([]Facility, error) {
	return []Facility{{ID: 1, Code: "H1", Name: Text{JA: "中央病院", EN: "Central Hospital"}},
		{ID: 2, Code: "C2", Name: Text{JA: "東診療所", EN: "East Clinic"}}}, nil
}

var tokyo = time.FixedZone("JST", 9*3600)

// homeAt is the moment the test's state was computed: 10 April 2026, 10:00 in Tokyo.
var homeAt = time.Date(2026, 4, 10, 1, 0, 0, 0, time.UTC)

func counts(ready, attention, notReady, notAssessed, excluded int) map[string]int {
	return map[string]int{Ready: ready, Attention: attention, NotReady: notReady, NotAssessed: notAssessed, Excluded: excluded}
}

// homeState is facility 1's state: chapter 6 at 50 %, chapter 7 at 25 %,
// three revised items, four things to do, three checklist answers.
func homeState(lib *Library) *State {
	gl := lib.Framework("mhlw-gl-5.1")
	req := func(ref, readiness string) *RequirementState {
		return &RequirementState{Framework: gl.ID, Item: gl.Item(ref), Readiness: readiness}
	}
	due := func(days int) time.Time { return homeAt.AddDate(0, 0, days) }
	return &State{Facility: 1, FacilityName: Text{JA: "中央病院", EN: "Central Hospital"}, At: homeAt, Framework: gl.ID,
		Chapters: []Coverage{
			{Ref: "6", Title: gl.Item("6").Title, Counts: counts(5, 2, 2, 1, 2), Total: 12, Percent: 50},
			{Ref: "7", Counts: counts(1, 0, 3, 0, 0), Total: 4, Percent: 25}, // the title comes from the catalog
		},
		Overall: Coverage{Ref: "", Counts: counts(6, 2, 5, 1, 2), Total: 16, Percent: 42},
		Revised: []*RequirementState{req("6.5-C-15", Ready), req("6.11-B-1-4", NotReady), req("7.1-C-1", Attention)},
		Attention: []AttentionItem{
			{Kind: "evidence", Level: Attention, Ref: "ctl-bcp", Title: Text{JA: "BCP の承認書", EN: "BCP approval"}, Due: due(5), Link: "/compliance/controls/ctl-bcp"},
			{Kind: "check", Level: NotReady, Ref: "identity.mfa_enrolment", Title: Text{JA: "二要素認証の登録", EN: "Two-factor enrolment"}, Link: "/compliance/controls/ctl-mfa"},
			{Kind: "answer", Level: NotReady, Ref: "hospital-2-1", Title: Text{JA: "台帳の整備", EN: "Asset register"}, Due: due(-2), Link: "/compliance/checklist#q-hospital-2-1"},
			{Kind: "approval", Level: Attention, Ref: "ctl-log", Title: Text{JA: "ログ点検記録", EN: "Log review record"}, Due: due(1), Link: "/compliance/controls/ctl-log"},
		},
		Checklist: "mhlw-checklist-r6",
		Answers: []Answer{
			{Facility: 1, Framework: "mhlw-checklist-r6", Ref: "hospital-1-1", Value: AnswerYes},
			{Facility: 1, Framework: "mhlw-checklist-r6", Ref: "hospital-2-1", Value: AnswerNo},
			{Facility: 1, Framework: "mhlw-checklist-r6", Ref: "hospital-2-4-server", Value: AnswerYes},
			{Facility: 1, Framework: "mhlw-checklist-r6", Ref: "pharmacy-1-1", Value: AnswerYes},          // another sheet
			{Facility: 1, Framework: "mhlw-checklist-r7", Ref: "hospital-2-4-terminal", Value: AnswerYes}, // another year
		},
	}
}

// homeTrend is a score on 1 April (20 % of 10 items ready) and on 9 April
// (6 of 14 assessed ready = 42.9 %).
func homeTrend() []DayScore {
	return []DayScore{
		{Day: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), Counts: counts(2, 1, 7, 0, 0), Total: 10},
		{Day: time.Date(2026, 4, 9, 0, 0, 0, 0, time.UTC), Counts: counts(6, 2, 5, 1, 2), Total: 16},
	}
}

// homeAuth signs requests in with the role and language of the X-Test-Role
// and X-Test-Lang headers, in facility 1.
type homeAuth struct{}

func (homeAuth) Authenticate(_ http.ResponseWriter, r *http.Request) (*authz.Principal, web.Stage, error) {
	role := authz.Role(r.Header.Get("X-Test-Role"))
	grant := authz.Grant{Role: role, Facility: 1}
	if r.Header.Get("X-Test-All") != "" { // a group's CISO, say
		grant.Facility = authz.AllFacilities
	}
	return &authz.Principal{UserID: 5, Login: string(role) + "01", Name: string(role), Facility: 1, Lang: r.Header.Get("X-Test-Lang"),
		Grants: []authz.Grant{grant}}, web.StageFull, nil
}

func newHomeSite(tb testing.TB, src homeSource) (http.Handler, *bytes.Buffer) {
	tb.Helper()
	cat := i18n.New()
	for _, l := range []fs.FS{web.Locales(), Locales()} {
		if err := cat.Add(l); err != nil {
			tb.Fatal(err)
		}
	}
	logs := &bytes.Buffer{}
	srv := web.NewServer(web.Options{Catalog: cat, DefaultLang: "ja", Location: tokyo,
		Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err := registerHome(srv, src, permHomeTest); err != nil {
		tb.Fatal(err)
	}
	srv.AddCard(web.Card{ID: "alerts", TitleID: "nav.dashboard", Access: web.Perm(permHomeTest), Order: 1,
		Stats: func(*http.Request) ([]web.Stat, error) {
			return []web.Stat{{Label: "open alerts", Value: "7", Level: "warn", Link: "/alerts"}}, nil
		}})
	srv.SetAuthenticator(homeAuth{})
	return srv.Handler(), logs
}

func getHome(tb testing.TB, h http.Handler, role authz.Role, lang, path string) *httptest.ResponseRecorder {
	tb.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("X-Test-Role", string(role))
	r.Header.Set("X-Test-Lang", lang)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// section returns the HTML of the element with the given id up to the
// next section of the page.
func section(tb testing.TB, body, id string) string {
	tb.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		tb.Fatalf("the page has no #%s", id)
	}
	rest := body[i:]
	if j := strings.Index(rest[1:], "<section"); j >= 0 {
		rest = rest[:j+1]
	}
	return rest
}

func TestHome_AReaderSeesThePanelsWithTheirFiguresInJapaneseAndEnglish(t *testing.T) {
	lib := homeLibrary(t)
	src := &fakeHome{lib: lib, state: homeState(lib), trend: homeTrend()}
	h, _ := newHomeSite(t, src)
	tests := []struct {
		lang string
		want map[string][]string // section id → texts it must hold, in this order
	}{
		{"ja", map[string][]string{
			"compliance-heading": {"中央病院 の対応状況（2026-04-10 10:00:00 時点）"},
			"overall":            {"42%", "評価対象 14 項目のうち 6 項目が対応済み", "対象外 2 件"},
			"checklist":          {"令和6年度 チェックリスト — 医療機関確認用", "3 / 4", "回答済み 75%", "はい</span> 2", "いいえ</span> 1", "未回答</span> 1", `href="/compliance/checklist#sheet-hospital"`},
			"attention":          {"台帳の整備", "期限超過（2026-04-08）", "二要素認証の登録", "ログ点検記録", "期限 2026-04-11", "BCP の承認書", "期限 2026-04-15"},
			"chapters": {`href="/compliance/catalog?chapter=6"`, "第6章 情報システムの基本的な安全管理", "対応率 50%（5/10）",
				`href="/compliance/catalog?chapter=7"`, "第7章 電子保存の要求事項", "対応率 25%（1/4）"},
			"revised": {`href="/compliance/catalog?chapter=6#item-6.5-C-15"`, "C-15", "二要素認証", "対応済み",
				"B-1 ④", "署名鍵の保管", "未対応", `href="/compliance/catalog?chapter=7#item-7.1-C-1"`, "真正性の確保", "要注意"},
			"trend":       {"過去90日間の推移", "対応済みの割合は 2026-04-01 の 20% から 2026-04-09 の 42.9% になりました。"},
			"card-alerts": {"7</span>", "open alerts"},
		}},
		{"en", map[string][]string{
			"compliance-heading": {"Where Central Hospital stands (as of 2026-04-10 10:00:00)"},
			"overall":            {"42%", "6 of 14 items assessed are ready", "2 not applicable"},
			"checklist":          {"FY2024 checklist — For hospitals", "3 / 4", "75% answered", "Yes</span> 2", "No</span> 1", "Unanswered</span> 1"},
			"attention":          {"Asset register", "overdue (was due 2026-04-08)", "Two-factor enrolment", "Log review record", "due 2026-04-11", "BCP approval", "due 2026-04-15"},
			"chapters":           {"Chapter 6 Basic safety management", "50% ready (5/10)", "Chapter 7 Electronic storage", "25% ready (1/4)"},
			"revised":            {"C-15", "Two-factor authentication", "Ready", "B-1 ④", "Keeping signing keys", "Not ready", "C-1", "Authenticity", "Needs attention"},
			"trend":              {"The last 90 days", "The share of items ready went from 20% on 2026-04-01 to 42.9% on 2026-04-09."},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.lang, func(t *testing.T) {
			w := getHome(t, h, authz.Auditor, tc.lang, "/")
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			body := w.Body.String()
			for id, wants := range tc.want {
				sec := section(t, body, id)
				at := 0
				for _, want := range wants {
					k := strings.Index(sec[at:], want)
					if k < 0 {
						t.Errorf("#%s lacks %q after position %d:\n%s", id, want, at, sec)
						break
					}
					at += k + len(want)
				}
			}
			for _, bad := range []string{" style=", "<style", "[compliance.", "[dashboard."} {
				if strings.Contains(body, bad) {
					t.Errorf("the page holds %q: an inline style the CSP refuses, or an untranslated message", bad)
				}
			}
		})
	}
	if src.days != trendDays {
		t.Errorf("the trend was asked for %d days, want %d", src.days, trendDays)
	}
	if len(src.asked) != 2 || src.asked[0] != 1 {
		t.Errorf("State was asked for %v", src.asked)
	}
}

func TestHome_AReaderOfSeveralFacilitiesPicksOne(t *testing.T) {
	lib := homeLibrary(t)
	h, _ := newHomeSite(t, &fakeHome{lib: lib, state: homeState(lib), trend: homeTrend()})
	one := getHome(t, h, authz.CISO, "ja", "/").Body.String()
	if strings.Contains(one, `id="home-facility"`) {
		t.Error("a reader of one facility is offered a choice")
	}
	r := httptest.NewRequest(http.MethodGet, "/?facility=2", nil)
	r.Header.Set("X-Test-Role", string(authz.CISO))
	r.Header.Set("X-Test-All", "1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	picker := section(t, w.Body.String(), "home-facility")
	for _, want := range []string{`<option value="1">中央病院</option>`, `<option value="2" selected>東診療所</option>`} {
		if !strings.Contains(picker, want) {
			t.Errorf("the picker lacks %s:\n%s", want, picker)
		}
	}
}

func TestHome_ReadinessIsSaidInWordsAndIconsNotColourAlone(t *testing.T) {
	lib := homeLibrary(t)
	h, _ := newHomeSite(t, &fakeHome{lib: lib, state: homeState(lib)})
	body := getHome(t, h, authz.CISO, "ja", "/").Body.String()
	for _, want := range []string{
		`<span class="chip chip-ready"><span class="chip-icon" aria-hidden="true">✓</span> 対応済み</span>`,
		`<span class="chip chip-attention"><span class="chip-icon" aria-hidden="true">!</span> 要注意</span>`,
		`<span class="chip chip-not_ready"><span class="chip-icon" aria-hidden="true">✕</span> 未対応</span>`,
		`<span class="chip chip-not_assessed"><span class="chip-icon" aria-hidden="true">–</span> 未評価</span>`,
		`<link rel="stylesheet" href="/static/compliance-home/home.css">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	css := getHome(t, h, authz.CISO, "ja", "/static/compliance-home/home.css")
	if css.Code != http.StatusOK || !strings.Contains(css.Body.String(), ".chip-not_ready") {
		t.Errorf("home.css: %d", css.Code)
	}
}

func TestHome_ACallerWithoutComplianceReadSeesOnlyTheCards(t *testing.T) {
	lib := homeLibrary(t)
	src := &fakeHome{lib: lib, state: homeState(lib), trend: homeTrend()}
	h, _ := newHomeSite(t, src)
	for _, role := range []authz.Role{authz.Staff, authz.Vendor} {
		w := getHome(t, h, role, "ja", "/")
		body := w.Body.String()
		if w.Code != http.StatusOK || !strings.Contains(body, `id="card-alerts"`) {
			t.Fatalf("%s: status %d, the cards are missing:\n%s", role, w.Code, body)
		}
		for _, leak := range []string{"compliance-heading", "中央病院", "42%", "二要素認証", "<svg"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s sees %q", role, leak)
			}
		}
	}
	// A reader asking for a facility it may not read sees the cards too,
	// and nothing of that facility.
	w := getHome(t, h, authz.Auditor, "ja", "/?facility=2")
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "compliance-heading") || !strings.Contains(w.Body.String(), `id="card-alerts"`) {
		t.Errorf("facility 2: %d\n%s", w.Code, w.Body)
	}
	if len(src.asked) != 0 {
		t.Errorf("the state was read for %v", src.asked)
	}
}

func TestHome_AFacilityParameterThatIsNoNumberIsRefusedWithAMessage(t *testing.T) {
	lib := homeLibrary(t)
	src := &fakeHome{lib: lib, state: homeState(lib)}
	h, _ := newHomeSite(t, src)
	for _, q := range []string{"abc", "-1", "0"} {
		w := getHome(t, h, authz.CISO, "ja", "/?facility="+q)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "施設の指定が正しくありません") ||
			!strings.Contains(w.Body.String(), `id="card-alerts"`) {
			t.Errorf("facility=%s: %d\n%s", q, w.Code, w.Body)
		}
	}
	// The facility named explicitly stays in the links.
	w := getHome(t, h, authz.CISO, "en", "/?facility=1")
	if !strings.Contains(w.Body.String(), `href="/compliance/catalog?chapter=6&amp;facility=1"`) {
		t.Errorf("the chapter link loses the facility:\n%s", section(t, w.Body.String(), "chapters"))
	}
}

func TestHome_AStateThatCannotBeReadIsSaidAndTheCardsStillShow(t *testing.T) {
	lib := homeLibrary(t)
	h, logs := newHomeSite(t, &fakeHome{lib: lib, stateErr: errors.New("database is locked")})
	w := getHome(t, h, authz.CISO, "ja", "/")
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, "ガイドライン対応状況を読み込めませんでした") || !strings.Contains(body, `id="card-alerts"`) {
		t.Fatalf("%d\n%s", w.Code, body)
	}
	if !strings.Contains(logs.String(), "database is locked") {
		t.Error("the error is not logged")
	}
	h, _ = newHomeSite(t, &fakeHome{lib: lib, state: homeState(lib), trendErr: errors.New("no table")})
	body = getHome(t, h, authz.CISO, "en", "/").Body.String()
	if !strings.Contains(section(t, body, "trend"), "The trend could not be read.") || !strings.Contains(body, "42%") {
		t.Errorf("a failing trend:\n%s", body)
	}
}

// svgNode is an element of the SVG with its children.
type svgNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []svgNode  `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n svgNode) count(name string) int {
	c := 0
	for _, k := range n.Nodes {
		if k.XMLName.Local == name {
			c++
		}
		c += k.count(name)
	}
	return c
}

var svgRE = regexp.MustCompile(`(?s)<svg .*?</svg>`)

func TestHome_EverySVGIsWellFormedAndNamedWithTitleAndDesc(t *testing.T) {
	lib := homeLibrary(t)
	h, _ := newHomeSite(t, &fakeHome{lib: lib, state: homeState(lib), trend: homeTrend()})
	body := getHome(t, h, authz.CISO, "ja", "/").Body.String()
	svgs := svgRE.FindAllString(body, -1)
	if len(svgs) != 5 { // overall, checklist, two chapters, trend
		t.Fatalf("%d SVGs on the page, want 5", len(svgs))
	}
	for _, s := range svgs {
		var root svgNode
		d := xml.NewDecoder(strings.NewReader(s))
		d.Strict = true
		if err := d.Decode(&root); err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, s)
		}
		if root.Nodes[0].XMLName.Local != "title" || root.Nodes[0].Text == "" || root.Nodes[1].XMLName.Local != "desc" || root.Nodes[1].Text == "" {
			t.Errorf("an SVG without its title and desc:\n%s", s)
		}
		if !strings.Contains(s, `class="chart chart-line"`) {
			continue
		}
		if got := root.Nodes[0].Text; got != "過去90日間の対応状況の推移（評価対象項目に占める割合）" {
			t.Errorf("the trend's title is %q", got)
		}
		// Two days of scores, three lines: six points, the rest are gaps.
		if n := root.count("circle"); n != 6 {
			t.Errorf("the trend has %d points, want 6", n)
		}
		if !strings.Contains(s, "<title>4/9 — 対応済み: 42.9%</title>") || !strings.Contains(s, "<title>4/1 — 未対応: 70%</title>") {
			t.Errorf("the trend's points:\n%s", s)
		}
	}
}

func TestHome_WithoutHistoryTheTrendSaysSo(t *testing.T) {
	lib := homeLibrary(t)
	old := []DayScore{{Day: homeAt.AddDate(0, 0, -120), Counts: counts(1, 0, 0, 0, 0), Total: 1}} // outside the 90 days
	for name, trend := range map[string][]DayScore{"none": nil, "too old": old} {
		t.Run(name, func(t *testing.T) {
			h, _ := newHomeSite(t, &fakeHome{lib: lib, state: homeState(lib), trend: trend})
			for lang, want := range map[string]string{"ja": "まだ推移の記録がありません。", "en": "No history yet."} {
				sec := section(t, getHome(t, h, authz.CISO, lang, "/").Body.String(), "trend")
				if !strings.Contains(sec, `id="trend-empty"`) || !strings.Contains(sec, want) || strings.Contains(sec, "<svg") {
					t.Errorf("%s: %s", lang, sec)
				}
			}
		})
	}
}

func TestHome_NothingToDoAndNoChecklistAreShownPlainly(t *testing.T) {
	gl := homeLibraryFS["lib/gl.yaml"]
	lib, err := Load(fstest.MapFS{"lib/gl.yaml": gl}, "lib")
	if err != nil {
		t.Fatal(err)
	}
	st := &State{Facility: 1, At: homeAt, Overall: Coverage{Counts: counts(0, 0, 0, 4, 0), Total: 4}}
	h, _ := newHomeSite(t, &fakeHome{lib: lib, state: st})
	body := getHome(t, h, authz.CISO, "ja", "/").Body.String()
	for _, want := range []string{"今週対応が必要なことはありません。", "ガイドラインの章がありません。", "改定項目はありません。"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, `id="checklist"`) {
		t.Error("a checklist panel without a checklist")
	}
}

func TestHome_TheAttentionListIsCappedAndCountsTheRest(t *testing.T) {
	lib := homeLibrary(t)
	st := homeState(lib)
	st.Attention = nil
	for i := range homeAttentionMax + 3 {
		st.Attention = append(st.Attention, AttentionItem{Kind: "mystery", Level: Attention, Ref: fmt.Sprint("r", i),
			Due: homeAt.AddDate(0, 0, i%5), Link: "/x"})
	}
	h, _ := newHomeSite(t, &fakeHome{lib: lib, state: st})
	sec := section(t, getHome(t, h, authz.CISO, "ja", "/").Body.String(), "attention")
	if n := strings.Count(sec, "<li class=\"attention-"); n != homeAttentionMax {
		t.Errorf("%d items listed, want %d", n, homeAttentionMax)
	}
	if !strings.Contains(sec, "ほか 3 件") || !strings.Contains(sec, "その他") {
		t.Errorf("the rest is not counted, or an unknown kind is not named:\n%s", sec)
	}
}

func TestHome_IsTheRootRouteWithTheDashboardPermissionAndEveryMessageInBothLanguages(t *testing.T) {
	cat := i18n.New()
	for _, l := range []fs.FS{web.Locales(), Locales()} {
		if err := cat.Add(l); err != nil {
			t.Fatal(err)
		}
	}
	srv := web.NewServer(web.Options{Catalog: cat, Log: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	if err := registerHome(srv, &fakeHome{}, permHomeTest); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rt := range srv.Routes() {
		if rt.Method == http.MethodGet && rt.Pattern == "/{$}" {
			found = true
			if p, ok := rt.Access.Permission(); !ok || p != permHomeTest {
				t.Errorf("GET / requires %s", rt.Access)
			}
		}
	}
	if !found {
		t.Fatal("GET /{$} is not registered")
	}
	if m := cat.Missing(); len(m) > 0 {
		t.Errorf("messages missing in one language: %v", m)
	}
	n := 0
	for _, id := range cat.IDs() {
		if strings.HasPrefix(id, "compliance.home.") {
			n++
			if cat.T("ja", id, nil) == cat.T("en", id, nil) {
				t.Errorf("%s is the same in ja and en", id)
			}
		}
	}
	if n < 40 {
		t.Errorf("only %d home messages", n)
	}
}
