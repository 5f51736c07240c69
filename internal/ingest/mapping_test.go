package ingest

import (
	"encoding/csv"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
)

var tokyo, _ = time.LoadLocation("Asia/Tokyo")

// mapOf maps a record with m and fails the test on an error.
func mapOf(t *testing.T, m *Mapping, rec *Record) audit.Event {
	t.Helper()
	var e audit.Event
	if err := m.Map(rec, &e); err != nil {
		t.Fatalf("map: %v", err)
	}
	return e
}

func kvRecord(text string) *Record {
	var r Record
	r.AddKeyValues(text)
	return &r
}

func TestDefaultMapping_ReadsTheWireFormInJSON(t *testing.T) {
	var r Record
	err := r.AddJSON([]byte(`{"time": "2026-04-01T09:15:00+09:00", "source": "ehr-main",
		"actor": {"id": "u0123", "name": "山田 花子", "profession": "nurse", "department": "内科",
		          "terminal": "WS-012", "address": "10.1.2.3"},
		"action": "view", "patient": {"id": "P0001234", "name": "佐藤 太郎"},
		"object": {"type": "record", "id": "R42"}, "outcome": "success", "purpose": "treatment",
		"session": "s-99", "extra": {"ward": 3, "tags": ["a", "b"], "none": null}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := mapOf(t, DefaultMapping(), &r)
	want := audit.Event{Time: time.Date(2026, 4, 1, 0, 15, 0, 0, time.UTC), Source: "ehr-main",
		Actor: audit.Actor{ID: "u0123", Name: "山田 花子", Profession: "nurse", Department: "内科",
			Terminal: "WS-012", Address: "10.1.2.3"}, Action: "view",
		Patient: audit.Patient{ID: "P0001234", Name: "佐藤 太郎"}, Object: audit.Object{Type: "record", ID: "R42"},
		Outcome: "success", Purpose: "treatment", Session: "s-99"}
	if !got.Time.Equal(want.Time) {
		t.Errorf("time = %v, want %v", got.Time, want.Time)
	}
	got.Time = want.Time
	if got.Actor != want.Actor || got.Patient != want.Patient || got.Object != want.Object ||
		got.Source != want.Source || got.Action != want.Action || got.Outcome != want.Outcome ||
		got.Purpose != want.Purpose || got.Session != want.Session {
		t.Errorf("mapped\n%+v\nwant\n%+v", got, want)
	}
	if v, _ := r.Get("extra.ward"); v != "3" {
		t.Errorf("extra.ward = %q, want 3 (numbers as written)", v)
	}
	if v, _ := r.Get("extra.tags"); v != `["a","b"]` {
		t.Errorf("extra.tags = %q, want the array's JSON", v)
	}
	if _, ok := r.Get("extra.none"); ok {
		t.Error("a null value is in the record")
	}
}

func TestDefaultMapping_ReadsCommonKeyValueNamesAndTranslates(t *testing.T) {
	rec := kvRecord(`EHR access: user=D0123 username="山田　花子" dept=内科 terminal='WS 012' ip=10.1.2.34 ` +
		`operation=参照 patient_id=0001234567 result=OK time="2026/04/01 09:15:02", sid=abc;`)
	e := mapOf(t, DefaultMapping(), rec)
	if e.Actor.ID != "D0123" || e.Actor.Name != "山田　花子" || e.Actor.Department != "内科" ||
		e.Actor.Terminal != "WS 012" || e.Actor.Address != "10.1.2.34" || e.Patient.ID != "0001234567" ||
		e.Session != "abc" {
		t.Errorf("mapped %+v", e)
	}
	if e.Action != "view" || e.Outcome != "success" {
		t.Errorf("action %q outcome %q, want view success (translated)", e.Action, e.Outcome)
	}
	if want := time.Date(2026, 4, 1, 9, 15, 2, 0, tokyo); !e.Time.Equal(want) {
		t.Errorf("time = %v, want %v (local time in Tokyo)", e.Time, want)
	}
	if e := mapOf(t, DefaultMapping(), kvRecord("action=view result=200")); e.Outcome != audit.OutcomeUnknown {
		t.Errorf("an unknown outcome became %q, want unknown", e.Outcome)
	}
}

func TestRecord_KeyValues(t *testing.T) {
	for _, tc := range []struct {
		text string
		want [][2]string
	}{
		{`a=1 b=2`, [][2]string{{"a", "1"}, {"b", "2"}}},
		{`name="山田 花子" x=y`, [][2]string{{"name", "山田 花子"}, {"x", "y"}}},
		{`name='O\'Brien' q="say \"hi\"\\"`, [][2]string{{"name", "O'Brien"}, {"q", `say "hi"\`}}},
		{`利用者ID=u1 患者名=佐藤　太郎`, [][2]string{{"利用者ID", "u1"}, {"患者名", "佐藤　太郎"}}},
		{`word "quoted word=no" k=v`, [][2]string{{"k", "v"}}},
		{`k= =v k2=""`, [][2]string{{"k", ""}, {"k2", ""}}},
		{`a=1, b=2; c=3`, [][2]string{{"a", "1"}, {"b", "2"}, {"c", "3"}}},
		{`open="never closed k=v`, nil},
		{"tab\tk=v\r\nk2=v2", [][2]string{{"k", "v"}, {"k2", "v2"}}},
		{`url=http://x/?a=b`, [][2]string{{"url", "http://x/?a=b"}}},
		{`<Event EventActionCode="R" EventDateTime="2026-04-01T09:15:00+09:00"/>`,
			[][2]string{{"EventActionCode", "R"}, {"EventDateTime", "2026-04-01T09:15:00+09:00"}}},
	} {
		r := kvRecord(tc.text)
		var got [][2]string
		for i := range r.Len() {
			k, v := r.Pair(i)
			got = append(got, [2]string{k, v})
		}
		if len(got) != len(tc.want) {
			t.Errorf("%q: pairs %q, want %q", tc.text, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q: pairs %q, want %q", tc.text, got, tc.want)
				break
			}
		}
	}
}

func TestRecord_GetIgnoresCaseAndTakesTheFirst(t *testing.T) {
	for _, n := range []int{3, 40} { // below and above indexFrom
		var r Record
		for i := range n {
			r.Add("k"+strings.Repeat("x", i), "v")
		}
		r.Add("UserID", "first")
		r.Add("userid", "second")
		if v, ok := r.Get("USERID"); !ok || v != "first" {
			t.Errorf("%d pairs: Get = %q %v, want first", n, v, ok)
		}
		if _, ok := r.Get("missing"); ok {
			t.Errorf("%d pairs: found a missing key", n)
		}
		r.Reset()
		r.Add("a", "1")
		if v, ok := r.Get("A"); !ok || v != "1" {
			t.Errorf("%d pairs: after Reset Get = %q %v", n, v, ok)
		}
	}
}

func TestMappingFile_MapsAJapaneseEHRExport(t *testing.T) {
	m, err := LoadMapping("testdata/ehr-mapping.toml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/ehr-access.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	h := NewHeader(rows[0])
	var events []audit.Event
	for _, row := range rows[1:] {
		var r Record
		h.Row(&r, row)
		events = append(events, mapOf(t, m, &r))
	}
	e := events[0]
	if want := time.Date(2026, 4, 1, 9, 15, 2, 0, tokyo); !e.Time.Equal(want) {
		t.Errorf("time %v, want %v", e.Time, want)
	}
	if e.Source != "ehr-main" || e.Purpose != "treatment" || e.Action != "view" || e.Outcome != "success" ||
		e.Actor.Profession != "doctor" || e.Actor.Name != "山田　花子" || e.Patient.ID != "0001234567" ||
		e.Object.Type != "カルテ参照" || e.Object.ID != "K-20260401-0001" {
		t.Errorf("row 2 mapped to %+v", e)
	}
	if e := events[1]; e.Action != "update" || e.Actor.Department != "外科, 3階病棟" || e.Actor.Profession != "nurse" {
		t.Errorf("row 3 mapped to %+v", e)
	}
	if e := events[2]; e.Action != "login_failed" || e.Outcome != "failure" || e.Actor.ID != "" || e.Object.Type != "ログイン" {
		t.Errorf("row 4 mapped to %+v", e)
	}
	for i, e := range events {
		e.Format = audit.FormatCSV
		if err := e.Normalize(); err != nil {
			t.Errorf("row %d: %v", i+2, err)
		}
	}
}

func TestMappingFile_FallbacksDefaultsJoinAndOtherValues(t *testing.T) {
	m, err := ParseMapping("m.toml", []byte(`
time_layouts = ["unixms", "unix"]
[fields]
time = ["ms", "sec"]
action = { keys = ["op", "action"], default = "view" }
outcome = "rc"
object.id = { join = ["a", "b"], sep = "/" }
[values.outcome]
"0" = "success"
"*" = "failure"
`))
	if err != nil {
		t.Fatal(err)
	}
	e := mapOf(t, m, kvRecord("sec=1743465600.25 action=update op= rc=0 a=x b=y"))
	if want := time.Date(2025, 4, 1, 0, 0, 0, 250e6, time.UTC); !e.Time.Equal(want) {
		t.Errorf("time %v, want %v", e.Time, want)
	}
	if e.Action != "update" || e.Outcome != "success" || e.Object.ID != "x/y" {
		t.Errorf("mapped %+v: an empty op must fall back to action", e)
	}
	e = mapOf(t, m, kvRecord("ms=1743465600250 rc=E42 a=x"))
	if e.Action != "view" || e.Outcome != "failure" || e.Object.ID != "" || e.Time.UnixMilli() != 1743465600250 {
		t.Errorf("mapped %+v: want the default action, * outcome and no object (b missing)", e)
	}
	var none audit.Event
	if err := m.Map(kvRecord("ms=yesterday"), &none); !errors.Is(err, ErrMapping) ||
		!strings.Contains(err.Error(), `"yesterday"`) {
		t.Errorf("a bad time: %v", err)
	}
}

func TestMapping_TimeLayoutsAndZone(t *testing.T) {
	m, err := ParseMapping("m.toml", []byte(`time_zone = "UTC"
time_layouts = ["rfc3339", "2006/01/02 15:04"]
[fields]
time = "t"`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2026-04-01T09:15:00+09:00", time.Date(2026, 4, 1, 0, 15, 0, 0, time.UTC)},
		{"2026-04-01 09:15:00.5Z", time.Date(2026, 4, 1, 9, 15, 0, 5e8, time.UTC)},
		{"2026/04/01 09:15", time.Date(2026, 4, 1, 9, 15, 0, 0, time.UTC)},
	} {
		var e audit.Event
		if err := m.Map(kvRecord(`t="`+tc.in+`"`), &e); err != nil || !e.Time.Equal(tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.in, e.Time, err, tc.want)
		}
	}
	if m.Zone() != time.UTC {
		t.Errorf("zone %v", m.Zone())
	}
}

func TestParseMapping_ErrorsNameTheLineAndKey(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"not TOML", "\n\nkey = = 1\n", []string{"m.toml:3: not valid TOML"}},
		{"unknown top key", "\nconstant = 1\n", []string{"m.toml:2: constant: unknown key"}},
		{"unknown field", "[fields]\nactor.idd = \"x\"\n", []string{"m.toml:2: fields.actor.idd: unknown field"}},
		{"number key", "[fields]\n\naction = 3\n", []string{"m.toml:3: fields.action: expected a key in quotes"}},
		{"twice", "[fields]\nsource = \"s\"\n[constants]\nsource = \"x\"\n",
			[]string{"m.toml:4: constants.source: source is given twice (also at line 2)"}},
		{"bad layout", "time_layouts = [\"yyyy/mm/dd\"]\n", []string{"m.toml:1: time_layouts:", "reference time"}},
		{"bad zone", "time_zone = \"Tokio\"\n", []string{"m.toml:1: time_zone: unknown time zone"}},
		{"bad action", "[fields]\naction = \"op\"\n[values.action]\nREF = \"View It\"\n",
			[]string{"m.toml:4: values.action.REF: action \"view it\""}},
		{"bad outcome", "[constants]\noutcome = \"ok\"\n", []string{"m.toml:2: constants.outcome: outcome \"ok\""}},
		{"values without field", "[values.outcome]\n\"0\" = \"success\"\n",
			[]string{"m.toml:1: values.outcome: outcome has no key"}},
		{"join of one", "[fields]\ntime = { join = [\"d\"] }\n", []string{"m.toml:2: fields.time.join: join needs two keys"}},
		{"table typo", "[fields]\nsession = { kye = \"s\" }\n",
			[]string{"m.toml:2: fields.session.kye: unknown key", "m.toml:2: fields.session: give key, keys or join"}},
		{"constant time", "[constants]\ntime = \"2026\"\n", []string{"m.toml:2: constants.time: time cannot be a constant"}},
		{"empty key", "[fields]\npurpose = [\"\"]\n", []string{"m.toml:2: fields.purpose: a key is empty"}},
		{"two errors", "[fields]\naction = 1\n\n\npurpose = true\n",
			[]string{"m.toml:2: fields.action", "\nm.toml:5: fields.purpose"}},
	} {
		_, err := ParseMapping("m.toml", []byte(tc.file))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error\n%v\nwant it to contain %q", tc.name, err, w)
			}
		}
	}
}

func TestMapping_SetSourceOverridesTheRecord(t *testing.T) {
	m := DefaultMapping().SetSource("pacs")
	if e := mapOf(t, m, kvRecord("source=ehr action=view")); e.Source != "pacs" || e.Action != "view" {
		t.Errorf("mapped %+v", e)
	}
	if e := mapOf(t, DefaultMapping(), kvRecord("source=ehr")); e.Source != "ehr" {
		t.Errorf("SetSource changed the default mapping: %+v", e)
	}
}

func TestDefaultMappingFile_IsTheDefault(t *testing.T) {
	m, err := ParseMapping("copy.toml", DefaultMappingFile())
	if err != nil {
		t.Fatal(err)
	}
	rec := kvRecord("ユーザID=u1 操作=印刷 結果=成功 日時=2026-04-01T09:00:00Z")
	if a, b := mapOf(t, m, rec), mapOf(t, DefaultMapping(), rec); a.Action != "print" || !reflect.DeepEqual(a, b) {
		t.Errorf("a copy of the default maps to %+v, the default to %+v", a, b)
	}
}
