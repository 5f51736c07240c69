package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// rejection is one row Import did not take.
type rejection struct {
	line   int
	reason string
}

// importAll imports data and returns the result and the rejected rows.
func importAll(t *testing.T, sink Sink, data []byte, opt ImportOptions) (ImportResult, []rejection) {
	t.Helper()
	var rejected []rejection
	opt.Reject = func(line int, reason string) { rejected = append(rejected, rejection{line, reason}) }
	res, err := Import(context.Background(), sink, bytes.NewReader(data), opt)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if res.Rows != res.Accepted+res.Rejected || res.Rejected != len(rejected) {
		t.Fatalf("result %+v with %d rejections told", res, len(rejected))
	}
	return res, rejected
}

func shiftJIS(t *testing.T, s string) []byte {
	t.Helper()
	b, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestImport_CSVInShiftJISWithAMapping(t *testing.T) {
	csvText, err := os.ReadFile("testdata/ehr-access.csv")
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadMapping("testdata/ehr-mapping.toml")
	if err != nil {
		t.Fatal(err)
	}
	// A character of the NEC extensions (①) and one outside JIS X 0208 (髙).
	csvText = append(csvText, []byte("2026/04/01,09:19:30,D0777,髙橋 ①郎,01,内科,NAIKA-WS001,10.1.2.1,REF,0001111111,山本 花,カルテ参照,,0\n")...)
	sjis := shiftJIS(t, string(csvText))
	if bytes.Equal(sjis, csvText) {
		t.Fatal("the Shift_JIS file is the UTF-8 file")
	}
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newTestLog(d)
		res, rejected := importAll(t, l, sjis, ImportOptions{Format: FormatCSV, Mapping: m, Facility: 2})
		if res.Encoding != "shift_jis" || res.Accepted != 5 || len(rejected) != 0 || res.First != 0 {
			t.Fatalf("result %+v, rejected %v", res, rejected)
		}
		events := stored(t, l)
		e := events[0]
		if e.Actor.Name != "山田　花子" || e.Action != "view" || e.Facility != 2 || !e.Flags.Has(audit.FlagImported) ||
			e.Format != audit.FormatCSV || e.Source != "ehr-main" || !e.Time.Equal(time.Date(2026, 4, 1, 0, 15, 2, 0, time.UTC)) {
			t.Errorf("first event %+v", e)
		}
		wantOrig := "利用日,利用時刻,利用者ID,利用者氏名,職種コード,所属,端末名,端末IPアドレス,処理区分,患者ID,患者氏名,画面名,文書番号,処理結果\n" +
			"2026/04/01,09:15:02,D0123,山田　花子,01,内科,NAIKA-WS012,10.1.2.34,REF,0001234567,佐藤 太郎,カルテ参照,K-20260401-0001,0\n"
		if string(e.Original) != wantOrig {
			t.Errorf("original\n%s\nwant the header and the row in UTF-8\n%s", e.Original, wantOrig)
		}
		if e := events[1]; e.Actor.Department != "外科, 3階病棟" || !strings.Contains(string(e.Original), `"外科, 3階病棟"`) {
			t.Errorf("a quoted field: %+v %q", e, e.Original)
		}
		if e := events[4]; e.Actor.Name != "髙橋 ①郎" {
			t.Errorf("Windows-31J characters: %q", e.Actor.Name)
		}
	})
}

func TestImport_CSVInUTF8WithBOMAndTheDefaultMapping(t *testing.T) {
	file := "\uFEFF日時,利用者ID,利用者名,操作,患者ID,結果,端末\r\n" +
		"2026-04-01 09:15:02,D0123,山田 花子,参照,0001234567,成功,WS-012\r\n" +
		"2026-04-01 09:16:00,D0123,山田 花子,更新,0001234567,失敗,WS-012\r\n" +
		"2026-04-01 09:17:00,D0123,山田 花子,,0001234567,成功,WS-012\r\n" + // no action
		"2026-04-01 09:18:00,D0123\r\n" + // short
		"2026-04-01 09:19:00,D0123,山田 花子,印刷,0001234567,成功,WS-012,,\r\n" + // empty extra fields
		"yesterday,D0123,山田 花子,参照,0001234567,成功,WS-012\r\n" +
		"2026-04-01 09:20:00,D0123,\"山田 \"花子\",参照,0001234567,成功,WS-012\r\n" // a bare quote, read lazily
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newTestLog(d)
		res, rejected := importAll(t, l, []byte(file), ImportOptions{Format: FormatCSV, Source: "ehr-main"})
		if res.Encoding != "utf-8" || res.Accepted != 4 || res.Rows != 7 {
			t.Fatalf("result %+v, rejected %v", res, rejected)
		}
		want := []rejection{{4, "action is required"}, {5, "the row has 2 fields, the header 7"},
			{7, `time "yesterday" fits none of the layouts`}}
		if len(rejected) != len(want) {
			t.Fatalf("rejected %v", rejected)
		}
		for i, w := range want {
			if rejected[i].line != w.line || !strings.Contains(rejected[i].reason, w.reason) {
				t.Errorf("rejection %d: %v, want line %d with %q", i, rejected[i], w.line, w.reason)
			}
		}
		events := stored(t, l)
		if e := events[0]; e.Source != "ehr-main" || e.Actor.ID != "D0123" || e.Action != "view" || e.Outcome != "success" ||
			e.Actor.Terminal != "WS-012" || !e.Time.Equal(time.Date(2026, 4, 1, 0, 15, 2, 0, time.UTC)) {
			t.Errorf("first %+v", e)
		}
		if e := events[1]; e.Action != "update" || e.Outcome != "failure" {
			t.Errorf("second %+v", e)
		}
		if e := events[3]; e.Actor.Name != `山田 "花子` {
			t.Errorf("lazy quotes: %q", e.Actor.Name)
		}
	})
}

func TestImport_NDJSONWithBadLines(t *testing.T) {
	good := func(i int) string {
		return fmt.Sprintf(`{"time":"2026-04-01T09:%02d:00+09:00","source":"ehr-main","actor":{"id":"u%d"},"action":"view",`+
			`"patient":{"id":"P%07d"},"ward":"3東"}`, i, i, i)
	}
	lines := []string{
		"\uFEFF" + good(1),
		good(2),
		`{"time":"2026-04-01T09:03:00+09:00","source":"ehr-main","action":"view"`, // cut
		``,
		`{"source":"ehr-main","action":"view"}`, // no time
		`{"time":"2026-04-01T09:05:00+09:00","source":"ehr-main","action":"見た"}`, // action
		`{"time":"2026-04-01T09:06:00+09:00","source":"ehr-main","action":"view","facility":9}`,
		`{"time":"2026-04-01T09:07:00+09:00","source":"ehr-main","action":"view","facility":3}`,
		"{\"time\":\"2026-04-01T09:08:00+09:00\",\"source\":\"ehr\xff\",\"action\":\"view\"}",
		`{"time":"2026-04-01T09:09:00+09:00","source":"ehr-main","action":"view","x":"` + strings.Repeat("x", audit.MaxOriginal) + `"}`,
		"  ",
		good(10) + "\r",
		good(11),
	}
	file := strings.Join(lines, "\n") // no newline at the end
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newTestLog(d)
		res, rejected := importAll(t, l, []byte(file), ImportOptions{Format: FormatNDJSON, Facility: 1,
			KnownFacility: func(id int64) bool { return id == 1 || id == 3 }})
		if res.Accepted != 5 || res.Rows != 11 {
			t.Fatalf("result %+v, rejected %v", res, rejected)
		}
		want := []rejection{{3, "invalid JSON"}, {5, "time is required"}, {6, `action "見た"`}, {7, "facility 9 does not exist"},
			{9, "not valid UTF-8"}, {10, "longer than 65536 bytes"}}
		if len(rejected) != len(want) {
			t.Fatalf("rejected %v", rejected)
		}
		for i, w := range want {
			if rejected[i].line != w.line || !strings.Contains(rejected[i].reason, w.reason) {
				t.Errorf("rejection %d: %v, want line %d with %q", i, rejected[i], w.line, w.reason)
			}
		}
		events := stored(t, l)
		if e := events[0]; string(e.Original) != good(1) || e.Actor.ID != "u1" || e.Facility != 1 || !e.Flags.Has(audit.FlagImported) {
			t.Errorf("first %+v %q", e, e.Original)
		}
		if e := events[2]; e.Facility != 3 {
			t.Errorf("a line naming facility 3: %+v", e)
		}
		if e := events[3]; string(e.Original) != good(10) {
			t.Errorf("CR LF: %q", e.Original)
		}
	})
}

func TestImport_NDJSONWithAMappingAndASource(t *testing.T) {
	m, err := ParseMapping("m.toml", []byte("[fields]\ntime = \"ts\"\nactor.id = \"who.id\"\naction = \"what\"\n"+
		"time_layouts = []\n"))
	if err == nil {
		t.Fatal("a top-level key after a table was taken as a field")
	}
	m, err = ParseMapping("m.toml", []byte("time_layouts = [\"unixms\"]\n[fields]\ntime = \"ts\"\nactor.id = \"who.id\"\naction = \"what\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := newTestLog(dbtest.SQLite(t, parts...))
	file := `{"ts": 1775002502000, "who": {"id": "D1"}, "what": "view", "source": "other"}` + "\n" + `{"ts": "x", "what": "view"}` + "\n"
	res, rejected := importAll(t, l, []byte(file), ImportOptions{Format: FormatNDJSON, Mapping: m, Source: "pacs"})
	if res.Accepted != 1 || len(rejected) != 1 || rejected[0].line != 2 {
		t.Fatalf("%+v %v", res, rejected)
	}
	if e := stored(t, l)[0]; e.Source != "pacs" || e.Actor.ID != "D1" || e.Time.UnixMilli() != 1775002502000 {
		t.Errorf("event %+v", e)
	}
}

func TestImport_BatchesKeepTheOrder(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newTestLog(d)
		var b strings.Builder
		b.WriteString("time,user,action\n")
		for i := range 10 {
			fmt.Fprintf(&b, "2026-04-01T09:00:%02d+09:00,u%d,view\n", i, i)
		}
		res, _ := importAll(t, l, []byte(b.String()), ImportOptions{Format: FormatCSV, Source: "ehr", Batch: 3})
		if res.Accepted != 10 || res.First != 0 {
			t.Fatalf("%+v", res)
		}
		for i, e := range stored(t, l) {
			if e.Actor.ID != fmt.Sprintf("u%d", i) || e.Seq != int64(i) {
				t.Errorf("event %d: %+v", i, e)
			}
		}
	})
}

func TestImport_FilesThatCannotBeRead(t *testing.T) {
	l := newTestLog(dbtest.SQLite(t, parts...))
	for _, tc := range []struct {
		name, format, encoding string
		data                   []byte
		want                   string
	}{
		{"empty CSV", FormatCSV, "", nil, "needs a header row"},
		{"one column", FormatCSV, "", []byte("time;user;action\n1;2;3\n"), "give --delimiter"},
		{"neither UTF-8 nor Shift_JIS", FormatCSV, "", []byte("time,user\n\x80\x80\xff\xfe\xfd\n"), "neither UTF-8 nor Shift_JIS"},
		{"unknown encoding", FormatNDJSON, "latin1", []byte("{}"), `unknown character encoding "latin1"`},
		{"unknown format", "xml", "", []byte("<x/>"), `unknown format "xml"`},
	} {
		_, err := Import(context.Background(), l, bytes.NewReader(tc.data), ImportOptions{Format: tc.format, Encoding: tc.encoding})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if n := len(stored(t, l)); n != 0 {
		t.Errorf("%d events stored", n)
	}
}

func TestImport_EncodingGivenOrDetected(t *testing.T) {
	sjis := shiftJIS(t, "日時,利用者ID,操作\n2026-04-01 09:00:00,D1,参照\n")
	utf := []byte("日時,利用者ID,操作\n2026-04-01 09:00:00,D1,参照\n")
	euc, err := japanese.EUCJP.NewEncoder().Bytes(utf)
	if err != nil {
		t.Fatal(err)
	}
	l := newTestLog(dbtest.SQLite(t, parts...))
	for _, tc := range []struct {
		name, encoding string
		data           []byte
		accepted       int
		want           string
	}{
		{"utf-8 detected", "", utf, 1, "utf-8"},
		{"shift_jis detected", "auto", sjis, 1, "shift_jis"},
		{"shift_jis given as cp932", "cp932", sjis, 1, "shift_jis"},
		{"euc-jp given", "euc-jp", euc, 1, "euc-jp"},
		{"shift_jis read as utf-8", "utf-8", sjis, 0, "utf-8"},
	} {
		var rejected []string
		res, err := Import(context.Background(), l, bytes.NewReader(tc.data), ImportOptions{Format: FormatCSV, Source: "ehr",
			Encoding: tc.encoding, Reject: func(_ int, r string) { rejected = append(rejected, r) }})
		if tc.accepted == 0 && err != nil {
			continue // the header itself is not UTF-8
		}
		if err != nil || res.Accepted != tc.accepted || res.Encoding != tc.want {
			t.Errorf("%s: %+v %v %v", tc.name, res, err, rejected)
		}
	}
	// A Shift_JIS character cut at the end of the detection window.
	big := bytes.Repeat([]byte("a"), detectWindow-1)
	big = append(big, shiftJIS(t, "参照")...)
	if enc, ok := detect(big[:detectWindow], true); !ok || enc.name != "shift_jis" {
		t.Errorf("a cut Shift_JIS character: %v %v", enc.name, ok)
	}
	bigUTF := append(bytes.Repeat([]byte("a"), detectWindow-1), "参照"...)
	if enc, ok := detect(bigUTF[:detectWindow], true); !ok || enc.name != "utf-8" {
		t.Errorf("a cut UTF-8 character: %v %v", enc.name, ok)
	}
}

// memSink prepares events like the log and keeps what is appended.
type memSink struct {
	l      *audit.Log
	events []audit.Event
}

func (m *memSink) Prepare(e *audit.Event) error { return m.l.Prepare(e) }
func (m *memSink) Append(_ context.Context, events []audit.Event) (int64, error) {
	first := int64(len(m.events))
	for i := range events {
		if err := m.l.Prepare(&events[i]); err != nil {
			return -1, fmt.Errorf("event %d: %w", i, err)
		}
	}
	m.events = append(m.events, events...)
	return first, nil
}

// FuzzImport imports any file as CSV and as NDJSON, with and without a
// mapping: a file is refused as a whole or row by row, never with a
// panic, and every row is either appended or rejected.
func FuzzImport(f *testing.F) {
	for _, s := range []string{
		"\uFEFF日時,利用者ID,操作\n2026-04-01 09:00:00,D1,参照\n",
		"time,user,action\n\"2026-04-01T09:00:00Z\",\"u\"\"1\",view\n,,\nx",
		`{"time":"2026-04-01T09:00:00Z","source":"s","action":"view","facility":2}` + "\n{}\n\n[1]\n",
		"a,b\n\"open\n", "\x82\xa0,\x82\xa2\n\x82\xa4,\x82\xa6\n",
	} {
		f.Add([]byte(s))
	}
	ehr, err := LoadMapping("testdata/ehr-mapping.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []string{FormatCSV, FormatNDJSON} {
			for _, m := range []*Mapping{nil, ehr} {
				sink := &memSink{l: audit.New(nil, clock.NewFrozen(parseNow))}
				rejected := 0
				res, err := Import(context.Background(), sink, bytes.NewReader(data), ImportOptions{Format: format,
					Mapping: m, Source: "fuzz", Batch: 2, Reject: func(int, string) { rejected++ }})
				if err != nil {
					if errors.Is(err, ErrEncoding) || format == FormatCSV {
						continue
					}
					t.Fatalf("%s: %v", format, err)
				}
				if res.Rows != res.Accepted+res.Rejected || res.Rejected != rejected || len(sink.events) != res.Accepted {
					t.Fatalf("%s: %+v, %d rejections told, %d appended", format, res, rejected, len(sink.events))
				}
			}
		}
	})
}
