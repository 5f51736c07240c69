package detect

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"
)

func TestParseTable_ReadsEveryKindInEitherHeaderLanguage(t *testing.T) {
	for _, c := range []struct {
		kind, text string
		check      func(*Table) bool
	}{
		{TableStaff, "\uFEFFuser_id,name,family_name,address,department,patient_id,end_date,expiry_date,vendor,vendor_company\r\n" +
			"u1,山田 花子,山田,東京都港区1-2-3,内科,P1,2026/03/31,2026-04-30,0,\r\nv1,,,,,,,,,ACME\r\n",
			func(tb *Table) bool {
				return len(tb.Staff) == 2 && tb.Staff[0].EndDate == "2026-03-31" && tb.Staff[0].ExpiryDate == "2026-04-30" &&
					!tb.Staff[0].Vendor && tb.Staff[1].Vendor && tb.Staff[1].VendorCompany == "ACME"
			}},
		{TableStaff, "利用者ID,業者\nv2,はい\n", func(tb *Table) bool { return tb.Staff[0].UserID == "v2" && tb.Staff[0].Vendor }},
		{TablePatients, "患者ID,姓,住所,診療科\nP1,山田,東京都港区1-2-3,外科\n\n", func(tb *Table) bool {
			return len(tb.Patients) == 1 && tb.Patients[0].Department == "外科"
		}},
		{TableFlagged, "list,patient_id,note\nVIP,P1,\n職員患者,P1,看護部\n", func(tb *Table) bool { return len(tb.Flagged) == 2 }},
		{TableCareTeam, "patient_id,user_id,department,from,to\nP1,u1,,2026-12-01 08:00,2026-12-31\nP1,,外科,,\n",
			func(tb *Table) bool {
				return tb.CareTeam[0].From == "2026-12-01T08:00:00" && tb.CareTeam[0].To == "2026-12-31" && tb.CareTeam[1].Department == "外科"
			}},
		{TableMaintenance, "vendor,start,end,weekdays,start_time,end_time\nv1,2026-12-01T01:00:00+09:00,2026-12-01 05:00,,,\nACME,,,月・水,22:00,02:00\n",
			func(tb *Table) bool {
				return tb.Windows[0].Start == "2026-12-01T01:00:00+09:00" && tb.Windows[1].Weekdays == "mon,wed"
			}},
	} {
		tb, enc, err := ParseTable(c.kind, strings.NewReader(c.text), "")
		if err != nil || enc != "utf-8" || !c.check(tb) {
			t.Errorf("%s %q: %+v, %s, %v", c.kind, c.text, tb, enc, err)
		}
	}
}

func TestParseTable_NamesTheLineAndColumnOfABadFile(t *testing.T) {
	for _, c := range []struct {
		kind, text string
		line       int
		column     string
		msg        string
	}{
		{TableStaff, "", 1, "", "no_header"},
		{TableStaff, "name\nx\n", 1, "user_id", "missing_column"},
		{TableStaff, "user_id,shoe_size\n", 1, "#2", "unknown_column"},
		{TableStaff, "user_id,利用者ID\n", 1, "user_id", "duplicate_column"},
		{TableStaff, "user_id,end_date\nu1,2026-03-31\nu2,31/03/2026\n", 3, "end_date", "date"},
		{TableStaff, "user_id,vendor\nu1,perhaps\n", 2, "vendor", "bool"},
		{TableStaff, "user_id\nu1\nu1\n", 3, "user_id", "duplicate"},
		{TableStaff, "user_id,name\nu1\n", 2, "", "field_count"},
		{TableStaff, "user_id,name\n,x\n", 2, "user_id", "required"},
		{TableStaff, "user_id\n\"u1\n", 2, "", "csv"},
		{TableStaff, "user_id,name\nu1," + strings.Repeat("あ", maxTableValue+1) + "\n", 2, "name", "too_long"},
		{TableCareTeam, "patient_id,user_id,department\nP1,u1,外科\n", 2, "user_id", "user_or_department"},
		{TableCareTeam, "patient_id,user_id,from\nP1,u1,yesterday\n", 2, "from", "time"},
		{TableMaintenance, "vendor,start\nv1,2026-12-01\n", 2, "end", "window"},
		{TableMaintenance, "vendor,weekdays,start_time,end_time\nv1,funday,09:00,10:00\n", 2, "weekdays", "weekdays"},
		{TableMaintenance, "vendor,weekdays,start_time,end_time\nv1,mon,9:60,10:00\n", 2, "start_time", "clock"},
		{TableStaff, "user_id,name\nu1,\xff\xfe\n", 2, "name", "encoding"},
	} {
		_, _, err := ParseTable(c.kind, strings.NewReader(c.text), "utf-8")
		var te *TableError
		if !errors.As(err, &te) || te.Line != c.line || te.Column != c.column || te.MsgID != "detect.tables.error."+c.msg {
			t.Errorf("%s %q: %#v (%v), want line %d column %q %s", c.kind, c.text, te, err, c.line, c.column, c.msg)
		}
	}
	if _, _, err := ParseTable("shoes", strings.NewReader("x\n"), ""); !errors.Is(err, ErrTableKind) {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestParseTable_ReadsShiftJIS(t *testing.T) {
	text := "利用者ID,氏名,姓,住所\nu1,山田　花子,山田,東京都港区１丁目２番３号\n"
	sjis, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	tb, enc, err := ParseTable(TableStaff, bytes.NewReader(sjis), "")
	if err != nil || enc != "shift_jis" || tb.Staff[0].Name != "山田　花子" || tb.Staff[0].Address != "東京都港区１丁目２番３号" {
		t.Fatalf("%+v %s %v", tb, enc, err)
	}
	if normAddress(tb.Staff[0].Address) != normAddress("東京都港区 1-2-3") {
		t.Errorf("%q and %q differ", normAddress(tb.Staff[0].Address), normAddress("東京都港区 1-2-3"))
	}
}

// FuzzParseTable: no file makes the parser fail other than with an
// error, and what it reads, written back as CSV, reads the same.
func FuzzParseTable(f *testing.F) {
	for _, seed := range []string{
		"user_id,name,family_name,address,department,patient_id,end_date,expiry_date,vendor,vendor_company\nu1,a,b,c,d,P1,2026-01-02,,yes,\n",
		"患者ID,姓,住所,診療科\nP1,山田,東京都,外科\n",
		"list,patient_id,note\nVIP,P1,\"a,b\"\n",
		"patient_id,user_id,department,from,to\nP1,u1,,2026-12-01 08:00,2026-12-31T09:00:00+09:00\n",
		"vendor,weekdays,start_time,end_time\nv,月火,22:00,24:00\n",
		"\uFEFFuser_id\n\"u\"\"1\"\n",
	} {
		for _, kind := range TableKinds {
			f.Add(kind, []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, kind string, data []byte) {
		tb, _, err := ParseTable(kind, bytes.NewReader(data), "")
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := tb.WriteCSV(&out); err != nil {
			t.Fatal(err)
		}
		again, _, err := ParseTable(kind, bytes.NewReader(out.Bytes()), "utf-8")
		if err != nil {
			t.Fatalf("the written table does not read: %v\n%s", err, out.Bytes())
		}
		if !reflect.DeepEqual(again, tb) {
			t.Fatalf("read back %+v, want %+v", again, tb)
		}
	})
}
