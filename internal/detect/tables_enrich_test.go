package detect

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
)

// enrichTables is facility 1's tables of the enrichment tests.
func enrichTables(t *testing.T) *Snapshot {
	t.Helper()
	files := map[string]string{
		TableStaff: "user_id,family_name,address,department,patient_id,end_date,expiry_date,vendor,vendor_company\n" +
			"n1,山田,東京都港区芝１丁目２番３号,病棟A,P-n1,,,,\n" +
			"r1,佐藤,大阪市北区1-1,医事課,,2026-11-30,,,\n" +
			"x1,鈴木,大阪市北区2-2,医事課,,,2026-12-01,,\n" +
			"v1,,,,,,,1,ＡＣＭＥ　メディカル\n" +
			"v2,,,,,,,yes,\n" +
			"d1,,,内科,,,,,\n",
		TablePatients: "patient_id,family_name,address,department\n" +
			"P-n1,山田,東京都港区芝1-2-3,病棟A\nP-fam,山田,東京都港区芝 1-2-3,内科\nP-other,山田,京都市1-1,外科\n",
		TableFlagged:  "list,patient_id,note\nVIP,P-fam,\n要注意,P-fam,\nVIP,P-fam2,\n",
		TableCareTeam: "patient_id,user_id,department,from,to\nP-fam,n1,,2026-12-01,2026-12-01\nP-other,,病棟Ａ,,\n",
		TableMaintenance: "vendor,start,end,weekdays,start_time,end_time\n" +
			"acme メディカル,,,金,22:00,02:00\nv2,2026-12-03 10:00,2026-12-03 12:00,,,\n",
	}
	tables := map[string]*Table{}
	for kind, text := range files {
		tb, _, err := ParseTable(kind, strings.NewReader(text), "")
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		tables[kind] = tb
	}
	return buildSnapshot(7, map[int64]map[string]*Table{1: tables}, jst)
}

func TestSnapshot_EnrichesEventsWithTheTables(t *testing.T) {
	s := enrichTables(t)
	day := func(d, h, m int) time.Time { return time.Date(2026, 12, d, h, m, 0, 0, jst) }
	for _, c := range []struct {
		facility       int64
		actor, patient string
		at             time.Time
		field          string
		want           any // nil: absent
	}{
		{1, "n1", "P-fam", day(1, 9, 0), "patient.flags", []any{"VIP", "要注意"}},
		{1, "n1", "P-n1", day(1, 9, 0), "patient_flags", nil},
		{2, "n1", "P-fam", day(1, 9, 0), "patient.flags", nil}, // another facility's lists
		{1, "n1", "P-fam", day(1, 9, 0), "patient.department", "内科"},
		{1, "n1", "P-n1", day(1, 9, 0), "actor.own_record", true},
		{1, "n1", "P-fam", day(1, 9, 0), "own_record", false},
		{1, "zz", "P-fam", day(1, 9, 0), "actor.own_record", nil},
		{1, "n1", "P-fam", day(1, 9, 0), "actor.family_of_patient", true},
		{1, "n1", "P-n1", day(1, 9, 0), "actor.family_of_patient", false}, // her own, not a family member's
		{1, "n1", "P-other", day(1, 9, 0), "family_of_patient", false},
		{1, "r1", "P-fam", day(1, 9, 0), "actor.family_of_patient", false},
		{1, "v1", "P-fam", day(1, 9, 0), "actor.family_of_patient", nil}, // no family name in the roster
		{1, "n1", "", day(1, 9, 0), "actor.status", "active"},
		{1, "r1", "", day(30, 23, 59).AddDate(0, -1, 0), "actor.status", "active"},
		{1, "r1", "", day(1, 0, 0), "actor.status", "retired"},
		{1, "x1", "", day(1, 23, 59), "user_status", "active"},
		{1, "x1", "", day(2, 0, 0), "actor.status", "expired"},
		{1, "zz", "", day(2, 0, 0), "actor.status", nil},
		{1, "n1", "", day(1, 9, 0), "actor.vendor", false},
		{1, "v1", "", day(1, 9, 0), "vendor", true},
		{1, "v1", "", day(1, 9, 0), "actor.vendor_company", "acmeメディカル"},
		{1, "n1", "", day(1, 9, 0), "actor.in_maintenance_window", nil},
		{1, "v1", "", day(4, 23, 0), "actor.in_maintenance_window", true}, // Friday night
		{1, "v1", "", day(5, 1, 59), "in_maintenance_window", true},       // past midnight
		{1, "v1", "", day(5, 2, 0), "actor.in_maintenance_window", false},
		{1, "v1", "", day(4, 21, 59), "actor.in_maintenance_window", false},
		{1, "v2", "", day(3, 10, 0), "actor.in_maintenance_window", true},
		{1, "v2", "", day(3, 12, 0), "actor.in_maintenance_window", false},
		{1, "n1", "P-fam", day(1, 9, 0), "care.relation", "assigned"},
		{1, "n1", "P-fam", day(2, 0, 0), "care.relation", "none"}, // the assignment ended with Dec 1
		{1, "n1", "P-other", day(1, 9, 0), "care_relation", "department"},
		{1, "n1", "P-n1", day(1, 9, 0), "care.relation", nil},           // no care team names the patient
		{1, "d1", "P-fam", day(2, 9, 0), "care.relation", "department"}, // the patient's department is his
		{1, "r1", "P-other", day(1, 9, 0), "care.relation", "none"},
		{1, "r1", "", day(1, 9, 0), "care.relation", nil},
		{2, "r1", "P-other", day(1, 9, 0), "care.relation", nil},
	} {
		e := &audit.Event{Facility: c.facility, Time: c.at.UTC(), Actor: audit.Actor{ID: c.actor}, Patient: audit.Patient{ID: c.patient}}
		got, ok := accessEvent{e, s}.Field(c.field)
		if (c.want == nil) == ok || (ok && !equalValue(got, c.want)) {
			t.Errorf("%s of %s/%s at %v: %v %v, want %v", c.field, c.actor, c.patient, c.at, got, ok, c.want)
		}
	}
	if d, ok := s.PatientDepartment(1, "P-other"); !ok || d != "外科" {
		t.Errorf("department %q %v", d, ok)
	}
	if _, ok := s.PatientDepartment(1, "P-none"); ok {
		t.Error("a department for an unknown patient")
	}
	// Without tables every field is absent.
	e := &audit.Event{Facility: 1, Actor: audit.Actor{ID: "n1"}, Patient: audit.Patient{ID: "P-n1"}}
	if _, ok := (accessEvent{e, nil}).Field("actor.own_record"); ok {
		t.Error("own_record without tables")
	}
}

func equalValue(a, b any) bool {
	la, ok1 := a.([]any)
	lb, ok2 := b.([]any)
	if ok1 && ok2 {
		if len(la) != len(lb) {
			return false
		}
		for i := range la {
			if la[i] != lb[i] {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestNormalise_ComparesNamesAndAddressesAsWritten(t *testing.T) {
	for _, c := range [][2]string{
		{"東京都港区芝１丁目２番３号", "東京都港区芝1-2-3"},
		{"東京都港区芝 1‐2‐3", "東京都港区芝1-2-3"},
		{"東京都　港区芝1－2－3", "東京都港区芝1-2-3"},
		{"東京都港区芝1番地2", "東京都港区芝1-2"},
	} {
		if normAddress(c[0]) != normAddress(c[1]) {
			t.Errorf("%q %q: %q %q", c[0], c[1], normAddress(c[0]), normAddress(c[1]))
		}
	}
	if normName("ﾔﾏﾀﾞ　ﾀﾛｳ") != normName("ヤマダタロウ") || normName("ＡＢＣ") != "abc" {
		t.Error("width or case")
	}
	if normAddress("東京都港区芝1-2-3") == normAddress("東京都港区芝1-2-4") {
		t.Error("different numbers equal")
	}
}

// BenchmarkEnrichment is the cost of an event's enriched fields with
// loaded tables (a roster of 3,000, 50,000 patients, care teams), and of
// a field with no tables.
func BenchmarkEnrichment(b *testing.B) {
	var staff, patients, care strings.Builder
	staff.WriteString("user_id,family_name,address,department,end_date\n")
	for i := range 3000 {
		staff.WriteString("u" + itoa(i) + ",姓" + itoa(i%500) + ",住所" + itoa(i) + ",dept" + itoa(i%30) + ",\n")
	}
	patients.WriteString("patient_id,family_name,address,department\n")
	care.WriteString("patient_id,department\n")
	for i := range 50000 {
		patients.WriteString("P" + itoa(i) + ",姓" + itoa(i%500) + ",住所" + itoa(i) + ",dept" + itoa(i%30) + "\n")
		care.WriteString("P" + itoa(i) + ",dept" + itoa((i+1)%30) + "\n")
	}
	tables := map[string]*Table{}
	for kind, text := range map[string]string{TableStaff: staff.String(), TablePatients: patients.String(), TableCareTeam: care.String(),
		TableFlagged: "list,patient_id\nVIP,P1\n"} {
		tb, _, err := ParseTable(kind, strings.NewReader(text), "")
		if err != nil {
			b.Fatal(err)
		}
		tables[kind] = tb
	}
	s := buildSnapshot(1, map[int64]map[string]*Table{1: tables}, jst)
	fields := []string{"patient.flags", "actor.own_record", "actor.family_of_patient", "actor.status", "actor.in_maintenance_window", "care.relation"}
	at := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	events := make([]audit.Event, 4096)
	for i := range events {
		events[i] = audit.Event{Facility: 1, Time: at, Actor: audit.Actor{ID: "u" + itoa(i*7%3000)}, Patient: audit.Patient{ID: "P" + itoa(i*13%50000)}}
	}
	b.Run("loaded", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			e := &events[i%len(events)]
			for _, f := range fields {
				accessEvent{e, s}.Field(f)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
	})
	b.Run("none", func(b *testing.B) {
		e := audit.Event{Facility: 1, Time: at, Actor: audit.Actor{ID: "u1"}, Patient: audit.Patient{ID: "P1"}}
		for b.Loop() {
			for _, f := range fields {
				accessEvent{&e, nil}.Field(f)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
