package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// pageBody checks that w is a page of status without untranslated
// messages and returns its HTML.
func pageBody(t *testing.T, w interface {
	Result() *http.Response
}, status int) string {
	t.Helper()
	resp := w.Result()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	body := b.String()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %.500s", resp.StatusCode, status, body)
	}
	if m := regexp.MustCompile(`\[(audit|nav|web|error)\.[a-z_.]+\]`).FindString(body); m != "" {
		t.Errorf("page shows an untranslated message %s", m)
	}
	return body
}

func wantAll(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

func TestEventsPage_SearchesInEitherLanguageAndIsRecorded(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ts := &testServer{t: t, log: newAccessLog(t, d).log}
		tests := []struct {
			lang, query string
			want        []string
			rows        int
		}{
			{"ja", "", []string{"アクセスログ", "検索条件", "患者ごとのアクセスを見る", "該当 9 件", "閲覧", "緊急時のアクセス（ブレークグラス）",
				"印刷", "山田 太郎", "doctor · 内科", `href="/audit/patients/P001"`, `href="/audit/events/6"`, "時刻のずれ &#43;0:05:00",
				"ehr.chart_open", "不明", `class="badge bad">失敗`, "WS-01", "10.0.0.1", "施設 2", `href="/audit/events.csv"`,
				`<option value="pacs">pacs</option>`, `=HYPERLINK(&#34;http://x&#34;,&#34;y&#34;)`}, 9},
			{"en", "patient=P001", []string{"Access log", "Patient ID", "6 events match", "Emergency access (break-glass)", "Print",
				"Clock skew &#43;0:05:00", "Facility 2"}, 6},
			{"ja", "from=2026-04-01&to=2026-04-01&patient=P001&action=view", []string{"該当 4 件", `value="2026-04-01"`,
				`<option value="view" selected>閲覧</option>`,
				`href="/audit/events.csv?action=view&amp;from=2026-04-01&amp;patient=P001&amp;to=2026-04-01"`}, 4},
			{"ja", "from=2026-04-02", []string{"条件に当てはまる記録はありません"}, 0},
			{"en", "q=%E9%96%B2%E8%A6%A7+%E5%B1%B1%E7%94%B0&limit=2", []string{"3 events match", "Older events", "before=2"}, 2},
			{"ja", "action=ehr.chart_open", []string{`<option value="ehr.chart_open" selected>ehr.chart_open</option>`}, 1},
		}
		for _, tt := range tests {
			t.Run(tt.lang+" "+tt.query, func(t *testing.T) {
				body := pageBody(t, ts.get(cisoAll, "/audit/events?"+tt.query, tt.lang), http.StatusOK)
				wantAll(t, body, tt.want...)
				if n := strings.Count(body, `<tr id="event-`); n != tt.rows {
					t.Errorf("%d rows, want %d", n, tt.rows)
				}
			})
		}
		recs := readRecords(t, ts.log, "page")
		if len(recs) != len(tests) {
			t.Fatalf("%d page searches recorded, want %d", len(recs), len(tests))
		}
		if r := recs[len(recs)-3]; r.Detail["patient"] != "P001" || r.Detail["action"] != "view" ||
			r.Detail["from"] != "2026-03-31T15:00:00Z" || r.Detail["to"] != "2026-04-01T15:00:00Z" {
			t.Errorf("record of the dated search = %+v", r.Detail)
		}
	})
}

func TestEventsPage_ShowsOnlyTheViewersFacilities(t *testing.T) {
	ts := &testServer{t: t, log: newAccessLog(t, dbtest.SQLite(t, parts...)).log}
	body := pageBody(t, ts.get(aud1, "/audit/events?patient=P001", "ja"), http.StatusOK)
	if n := strings.Count(body, `<tr id="event-`); n != 4 {
		t.Errorf("%d rows for the auditor of facility 1, want 4", n)
	}
	if strings.Contains(body, "pacs") || strings.Contains(body, "検査 技師") {
		t.Errorf("facility 1's auditor sees another facility's source or events")
	}
	if r := readRecords(t, ts.log, "page"); len(r) != 1 || r[0].Facility != 1 || r[0].Detail["facilities"] != "1" {
		t.Errorf("record = %+v", r)
	}
}

func TestEventsPage_ExplainsABadFilter(t *testing.T) {
	ts := &testServer{t: t, log: newAccessLog(t, dbtest.SQLite(t, parts...)).log}
	body := pageBody(t, ts.get(cisoAll, "/audit/events?outcome=maybe", "ja"), http.StatusBadRequest)
	wantAll(t, body, "「結果」の入力内容が正しくありません")
	body = pageBody(t, ts.get(cisoAll, "/audit/events?to=2026-02-30", "en"), http.StatusBadRequest)
	wantAll(t, body, `&#34;To&#34;`)
	if r := readRecords(t, ts.log, "page"); len(r) != 0 {
		t.Errorf("refused searches were recorded: %+v", r)
	}
}

func TestEventPage_ShowsTheEventItsFlagsAndItsProof(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newAccessLog(t, d)
		ts := &testServer{t: t, log: f.log}
		script := accessEvents()[0]
		script.Original = []byte(`<script>alert("x")</script>`)
		if _, err := f.log.Append(ctx, []audit.Event{script}); err != nil { // seq 9
			t.Fatal(err)
		}
		body := pageBody(t, ts.get(cisoAll, "/audit/events/6", "ja"), http.StatusOK)
		wantAll(t, body, "アクセスログ 第 6 番", "緊急時のアクセス（ブレークグラス）", "2026-04-01 09:06:00", "2026-04-01 09:01:00",
			"時刻のずれ", "許容範囲（2 分）", `href="/audit/patients/P001"`, `href="/audit/events?actor=d001"`,
			"受信した記録（原本）", `&#34;patient&#34;:&#34;P001&#34;`, "まだ署名済みチェックポイントがありません", "2026-04-01 09:11:00")
		if strings.Contains(body, "proof.json") {
			t.Errorf("a proof link before any checkpoint")
		}
		body = pageBody(t, ts.get(cisoAll, "/audit/events/9", "en"), http.StatusOK)
		wantAll(t, body, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`, "No notes.")
		if strings.Contains(body, `<script>alert`) {
			t.Errorf("the original is not escaped")
		}
		body = pageBody(t, ts.get(cisoAll, "/audit/events/7", "en"), http.StatusOK)
		wantAll(t, body, "shown in Base64", "//54AA==")

		if _, err := f.log.SignCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		keys, _ := f.signer.VerifierKeys(ctx, mustOrigin(t, f.log))
		body = pageBody(t, ts.get(cisoAll, "/audit/events/6", "en"), http.StatusOK)
		wantAll(t, body, `href="/audit/events/6/proof.json"`, "covered by a signed checkpoint", "10 events",
			strings.ReplaceAll(keys[0], "+", "&#43;"))

		w := ts.get(cisoAll, "/audit/events/6/proof.json", "")
		okStatus(t, w.Code, w.Body.String())
		if cd := w.Header().Get("Content-Disposition"); cd != `attachment; filename="anzen-audit-proof-6.json"` {
			t.Errorf("Content-Disposition %q", cd)
		}
		var p audit.Proof
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if ev, err := audit.CheckProof(&p, keys...); err != nil || ev.Seq != 6 {
			t.Errorf("downloaded proof: %+v, %v", ev, err)
		}

		if _, err := f.log.Append(ctx, manyEvents(1)); err != nil { // seq 10, after the checkpoint
			t.Fatal(err)
		}
		body = pageBody(t, ts.get(cisoAll, "/audit/events/10", "ja"), http.StatusOK)
		wantAll(t, body, "まだ署名済みチェックポイントに含まれていません（最新のチェックポイントは 10 件まで）")
		pageBody(t, ts.get(cisoAll, "/audit/events/10/proof.json", "ja"), http.StatusConflict)
		pageBody(t, ts.get(aud1, "/audit/events/4", "ja"), http.StatusNotFound)
		pageBody(t, ts.get(aud1, "/audit/events/4/proof.json", "ja"), http.StatusNotFound)
		pageBody(t, ts.get(aud1, "/audit/events/abc", "en"), http.StatusNotFound)

		if r := readRecords(t, f.log, "event"); len(r) != 5 || r[0].Detail["seq"] != "10" || r[0].Target != "audit:event/10" {
			t.Errorf("event views recorded: %+v", r)
		}
		if r := readRecords(t, f.log, "proof"); len(r) != 1 || r[0].Detail["seq"] != "6" || r[0].Facility != 1 {
			t.Errorf("proof downloads recorded: %+v", r)
		}
	})
}

func TestPatientPages_WhoSawThePatientsRecord(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ts := &testServer{t: t, log: newAccessLog(t, d).log}
		body := pageBody(t, ts.get(cisoAll, "/audit/patients", "ja"), http.StatusOK)
		wantAll(t, body, "患者ごとのアクセス", `name="id"`)
		w := ts.get(cisoAll, "/audit/patients?id=A%2FB+1&from=2026-04-01", "ja")
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/audit/patients/A%2FB%201?from=2026-04-01" {
			t.Errorf("jump: %d to %q", w.Code, w.Header().Get("Location"))
		}
		pageBody(t, ts.get(cisoAll, "/audit/patients?id=a%00b", "ja"), http.StatusBadRequest)

		body = pageBody(t, ts.get(cisoAll, "/audit/patients/P001", "ja"), http.StatusOK)
		wantAll(t, body, "患者 P001 の記録へのアクセス", `id="summary-accesses">6<`, `id="summary-people">5<`,
			`id="summary-first">2026-04-01 09:00:00<`, `id="summary-last">2026-04-01 09:08:00<`, "患者 一郎",
			"診療科・部署ごと", "<td>内科</td><td class=\"num\">2</td><td class=\"num\">1</td>", "職種ごと",
			"<td>閲覧</td><td class=\"num\">4</td><td class=\"num\">4</td>",
			`href="/audit/patients/P001/events.csv"`)
		if n := strings.Count(body, `<tr id="event-`); n != 6 {
			t.Errorf("%d rows, want 6", n)
		}
		body = pageBody(t, ts.get(aud1, "/audit/patients/P001?from=2026-04-01T09:01:00%2B09:00&limit=2", "en"), http.StatusOK)
		wantAll(t, body, "Accesses to the record of patient P001", `id="summary-accesses">3<`, `id="summary-people">3<`,
			"Older events")
		if strings.Contains(body, "pacs") || strings.Contains(body, "lab001") {
			t.Errorf("facility 1's auditor sees other facilities' accesses")
		}
		body = pageBody(t, ts.get(cisoAll, "/audit/patients/P004", "en"), http.StatusOK)
		wantAll(t, body, "(not given)", "ehr.chart_open")
		body = pageBody(t, ts.get(cisoAll, "/audit/patients/P404", "en"), http.StatusOK)
		wantAll(t, body, "No accesses match.")
		pageBody(t, ts.get(cisoAll, "/audit/patients/P001?from=soon", "en"), http.StatusBadRequest)

		recs := readRecords(t, ts.log, "patient")
		if len(recs) != 4 || recs[3].Detail["patient"] != "P001" || recs[2].Detail["patient"] != "P001" ||
			recs[2].Facility != 1 || recs[0].Detail["patient"] != "P404" {
			t.Errorf("patient views recorded: %+v", recs)
		}

		// An id with a slash and a space, as the jump sends it.
		if _, err := ts.log.Append(context.Background(), []audit.Event{{Time: t0, Facility: 1, Source: "ehr-main",
			Action: "view", Patient: audit.Patient{ID: "A/B 1"}, Actor: audit.Actor{ID: "d001"}}}); err != nil {
			t.Fatal(err)
		}
		body = pageBody(t, ts.get(cisoAll, "/audit/patients/A%2FB%201", "ja"), http.StatusOK)
		wantAll(t, body, "患者 A/B 1 の記録へのアクセス", `id="summary-accesses">1<`)
	})
}

// csvOf checks that w is a CSV download with a byte-order mark and returns
// its records.
func csvOf(t *testing.T, w interface{ Result() *http.Response }) [][]string {
	t.Helper()
	resp := w.Result()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b.String())
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="access-log`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	raw := b.Bytes()
	if !bytes.HasPrefix(raw, []byte{0xEF, 0xBB, 0xBF}) {
		t.Fatalf("no byte-order mark: % x", raw[:min(len(raw), 8)])
	}
	if !bytes.Contains(raw, []byte("\r\n")) {
		t.Errorf("lines do not end in CRLF")
	}
	r := csv.NewReader(bytes.NewReader(raw[3:]))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestEventsCSV_HeaderInTheLanguageSafeCellsAndACutNote(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ts := &testServer{t: t, log: newAccessLog(t, d).log}
		recs := csvOf(t, ts.get(cisoAll, "/audit/events.csv?source=pacs", "ja"))
		wantHeader := []string{"番号", "日時", "受信日時", "施設", "送信元システム", "操作者ID", "操作者名", "職種", "診療科・部署",
			"端末", "接続元アドレス", "操作", "操作コード", "患者ID", "患者氏名", "対象の種類", "対象のID", "結果", "利用目的",
			"セッション", "注記", "時刻のずれ（秒）"}
		if !slices.Equal(recs[0], wantHeader) {
			t.Errorf("header = %q\nwant %q", recs[0], wantHeader)
		}
		if len(recs) != 3 {
			t.Fatalf("%d rows, want a header and 2 events", len(recs))
		}
		want := []string{"5", "2026-04-01T09:05:00.000+09:00", "2026-04-01T09:05:00.040+09:00", "2", "pacs", "'=r002",
			`'=HYPERLINK("http://x","y")`, "radiologist", "放射線科", "WS-06", "10.0.0.6", "閲覧", "view", "P003", "",
			"record", "RP003", "成功", "treatment", "s-=r002", "", "-0.040"}
		if !slices.Equal(recs[1], want) {
			t.Errorf("row = %q\nwant %q", recs[1], want)
		}

		recs = csvOf(t, ts.get(aud1, "/audit/events.csv?actor=d001", "en"))
		if recs[0][0] != "No." || recs[0][20] != "Notes" || len(recs) != 4 || recs[1][12] != "emergency_access" ||
			recs[1][20] != "clock_skew" || recs[1][21] != "300.000" || recs[1][11] != "Emergency access (break-glass)" {
			t.Errorf("English export = %q", recs)
		}

		restore := audit.SetEventExportMax(4)
		w := ts.get(cisoAll, "/audit/events.csv?source=ehr-main", "ja")
		recs = csvOf(t, w)
		if len(recs) != 1+4+1 || !strings.Contains(recs[5][0], "最大 4 件") || recs[4][0] != "2" {
			t.Errorf("cut export = %q", recs)
		}
		if tr := w.Result().Trailer.Get("X-Anzen-Truncated"); tr != "true" {
			t.Errorf("X-Anzen-Truncated = %q", tr)
		}
		w = ts.get(cisoAll, "/audit/events.csv?source=pacs", "ja")
		if recs := csvOf(t, w); len(recs) != 3 || w.Result().Trailer.Get("X-Anzen-Truncated") != "false" {
			t.Errorf("export within the maximum: %q", recs)
		}
		// Exactly the maximum: nothing is cut.
		if recs := csvOf(t, ts.get(cisoAll, "/audit/events.csv?patient=P001&source=ehr-main", "ja")); len(recs) != 5 {
			t.Errorf("export of exactly the maximum = %q", recs)
		}
		restore()

		if w := ts.get(cisoAll, "/audit/events.csv?limit=-1", "ja"); w.Code != http.StatusBadRequest {
			t.Errorf("bad filter: status %d", w.Code)
		}
		recs = csvOf(t, ts.get(cisoAll, "/audit/patients/P001/events.csv?from=2026-04-01", "en"))
		if len(recs) != 7 || recs[1][13] != "P001" || recs[6][0] != "0" {
			t.Errorf("patient export = %q", recs)
		}
		csvRecs := readRecords(t, ts.log, "csv")
		if len(csvRecs) != 5 || csvRecs[4].Detail["source"] != "pacs" || csvRecs[3].Detail["facilities"] != "1" {
			t.Errorf("exports recorded: %+v", csvRecs)
		}
		if p := readRecords(t, ts.log, "patient-csv"); len(p) != 1 || p[0].Detail["patient"] != "P001" ||
			p[0].Detail["from"] != "2026-03-31T15:00:00Z" {
			t.Errorf("patient exports recorded: %+v", p)
		}
	})
}

func TestSourcesCard_WarnsOfSilenceAndClockSkew(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newAccessLog(t, d)
		ts := &testServer{t: t, log: f.log}
		// A radiology system whose clock runs 3 minutes late, heard from last.
		at := t0.Add(9 * time.Minute)
		if _, err := f.log.Append(ctx, []audit.Event{{Time: at.Add(-3 * time.Minute), Received: at, Facility: 1,
			Source: "ris", Action: "view", Actor: audit.Actor{ID: "r9"}}}); err != nil {
			t.Fatal(err)
		}
		card := func(t *testing.T, lang string) string {
			body := pageBody(t, ts.get(cisoAll, "/", lang), http.StatusOK)
			i := strings.Index(body, `id="card-audit-sources"`)
			if i < 0 {
				t.Fatalf("no sources card: %s", body)
			}
			card := body[i:]
			return card[:strings.Index(card, "</section>")]
		}
		stat := func(t *testing.T, c, value, level, label string) {
			t.Helper()
			class := "stat"
			if level != "" {
				class += " badge " + level
			}
			re := regexp.MustCompile(`<span class="` + class + `">` + regexp.QuoteMeta(value) +
				`</span></a>\s*<span class="stat-label">` + regexp.QuoteMeta(label))
			if !re.MatchString(c) {
				t.Errorf("card has no %s stat %q %q:\n%s", level, value, label, c)
			}
		}
		// 09:10: the radiology clock is 3 minutes off; nothing is silent.
		c := card(t, "ja")
		stat(t, c, "4", "", "")
		stat(t, c, "0", "ok", "途絶している送信元")
		stat(t, c, "1", "warn", "時刻のずれがある送信元")
		stat(t, c, "1 分前", "warn", "ris（施設 1）の時刻が -0:03:00 ずれています")
		stat(t, c, "2 分前", "ok", "ehr-main（施設 1）の最後の受信（直近 24 時間 6 件、時刻のずれ &#43;0:00:00）")
		stat(t, c, "1 分前", "ok", "lab（全体）の最後の受信（直近 24 時間 1 件")
		if !strings.Contains(c, "直近 24 時間の受信件数") || !strings.Contains(c, ">10<") {
			t.Errorf("card does not count 10 events in 24 hours:\n%s", c)
		}
		// Two hours later every system is silent (audit.source_silence is
		// an hour), and the events fall out of the 24 hours a day later.
		f.clock.Advance(2 * time.Hour)
		c = card(t, "en")
		stat(t, c, "4", "warn", "Silent sources")
		stat(t, c, "2 h ago", "warn", "ehr-main (facility 1) is silent")
		stat(t, c, "2 h ago", "warn", "ris (facility 1) is silent (last event received), clock off by -0:03:00")
		f.clock.Advance(23 * time.Hour)
		if c = card(t, "en"); !strings.Contains(c, "0 in 24 hours") || !strings.Contains(c, "25 h ago") {
			t.Errorf("a day later:\n%s", c)
		}
		// A facility's auditor sees only its sources.
		body := pageBody(t, ts.get(aud1, "/", "ja"), http.StatusOK)
		if strings.Contains(body, "pacs（") || strings.Contains(body, "lab（") || !strings.Contains(body, "ris（施設 1）") {
			t.Errorf("facility 1's auditor sees other facilities' sources")
		}
	})
}

func TestSourcesPage_ListsEverySourceWithAChart(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		f := newAccessLog(t, d)
		ts := &testServer{t: t, log: f.log}
		body := pageBody(t, ts.get(cisoAll, "/audit/sources", "ja"), http.StatusOK)
		wantAll(t, body, "送信元システム", "1 時間以上", "2 分を超えて", `<svg`, `id="sources-chart-title"`,
			"直近 24 時間に 3 システムから合計 9 件を受信しました", `<a href="/audit/events?source=ehr-main">ehr-main</a>`,
			`<span class="badge ok">正常</span>`, "&#43;0:00:00")
		if n := strings.Count(body, `<tr id="source-`); n != 3 {
			t.Errorf("%d sources listed, want 3", n)
		}
		f.clock.Advance(90 * time.Minute)
		body = pageBody(t, ts.get(aud1, "/audit/sources", "en"), http.StatusOK)
		wantAll(t, body, "Silent", "6 events from 1 systems in the last 24 hours.")
		if n := strings.Count(body, `<tr id="source-`); n != 1 {
			t.Errorf("%d sources for facility 1's auditor, want 1", n)
		}
		if strings.Contains(body, `id="index-behind"`) {
			t.Errorf("an index that is up to date is said to be behind")
		}
		// An index far behind the log is not waited for but reported.
		if _, err := f.log.Append(context.Background(), manyEvents(audit.IndexBehindWarning+100)); err != nil {
			t.Fatal(err)
		}
		body = pageBody(t, ts.get(cisoAll, "/audit/sources", "ja"), http.StatusOK)
		wantAll(t, body, `id="index-behind"`, "検索用の索引がログより 5,100 件遅れています")
	})
}
