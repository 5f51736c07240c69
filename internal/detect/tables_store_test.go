package detect_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// loads returns the loads of reference tables recorded in the audit log.
func loads(t *testing.T, l *audit.Log) []audit.Event {
	t.Helper()
	return recorded(t, l, detect.ActionTablesLoad)
}

// recorded returns the events of an action in the audit log.
func recorded(t *testing.T, l *audit.Log, action string) []audit.Event {
	t.Helper()
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	events, err := l.ReadAfter(context.Background(), -1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, e := range events {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func TestTables_ALoadReplacesTheTableAndABadFileChangesNothing(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := audittest.Start
		l := audit.New(d, clock.NewFrozen(now))
		tables := detect.NewTables(d, jst)
		by := detect.Loader{UserID: 3, Login: "ciso01", Client: "10.0.0.9"}
		good := "user_id,family_name,address,department,patient_id,end_date\nn1,山田,港区1-2-3,病棟A,P7,\nr1,佐藤,北区1-1,医事課,,2026-11-30\n"
		info, err := tables.Load(ctx, l, 1, detect.TableStaff, strings.NewReader(good), "", by, now)
		if err != nil || info.Rows != 2 || info.LoadedBy != "ciso01" {
			t.Fatalf("%+v %v", info, err)
		}
		// Shift_JIS, for another facility.
		sjis, _ := japanese.ShiftJIS.NewEncoder().Bytes([]byte("list,patient_id,note\nVIP,P7,著名人\n"))
		if _, err := tables.Load(ctx, l, 2, detect.TableFlagged, bytes.NewReader(sjis), "", by, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := tables.Refresh(ctx, now); err != nil {
			t.Fatal(err)
		}
		gen := tables.Snapshot().Generation()
		// A file bad on its third line changes nothing.
		bad := "user_id,end_date\nx1,2026-01-01\nx2,someday\n"
		_, err = tables.Load(ctx, l, 1, detect.TableStaff, strings.NewReader(bad), "", by, now.Add(2*time.Minute))
		var te *detect.TableError
		if !errors.As(err, &te) || te.Line != 3 || te.Column != "end_date" {
			t.Fatalf("bad file: %v", err)
		}
		stored, err := detect.StoredTable(ctx, d, 1, detect.TableStaff)
		if err != nil || len(stored.Staff) != 2 || stored.Staff[0].UserID != "n1" {
			t.Fatalf("after the bad file: %+v %v", stored, err)
		}
		if err := tables.Refresh(ctx, now.Add(time.Hour)); err != nil || tables.Snapshot().Generation() != gen {
			t.Errorf("generation %d, was %d (%v)", tables.Snapshot().Generation(), gen, err)
		}
		// The list names the tables of the facilities asked for.
		infos, err := detect.TableInfos(ctx, d, false, []int64{1})
		if err != nil || len(infos) != 1 || infos[0].Kind != detect.TableStaff || infos[0].Rows != 2 || !infos[0].Loaded.Equal(now) {
			t.Errorf("infos %+v %v", infos, err)
		}
		if all, _ := detect.TableInfos(ctx, d, true, nil); len(all) != 2 {
			t.Errorf("all facilities: %+v", all)
		}
		// The export reads as what was loaded, and who took it is kept.
		exported, err := detect.ExportTable(ctx, d, l, 1, detect.TableStaff, detect.Loader{Login: "ciso01"}, now)
		if err != nil || exported.Len() != 2 {
			t.Fatalf("export: %v", err)
		}
		exports := recorded(t, l, detect.ActionTablesExport)
		if len(exports) != 1 || exports[0].Actor.ID != "ciso01" || !strings.Contains(string(exports[0].Original), `"rows":"2"`) {
			t.Errorf("export records %+v", exports)
		}
		var out bytes.Buffer
		if err := exported.WriteCSV(&out); err != nil {
			t.Fatal(err)
		}
		again, _, err := detect.ParseTable(detect.TableStaff, &out, "")
		if err != nil || len(again.Staff) != 2 || again.Staff[1].EndDate != "2026-11-30" || again.Staff[0].PatientID != "P7" {
			t.Errorf("export read back: %+v %v", again, err)
		}
		if _, err := detect.StoredTable(ctx, d, 1, detect.TableCareTeam); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("a table never loaded: %v", err)
		}
		// Two loads recorded, with kind and rows, and the refused one with
		// its line and column; none of the content.
		rec := loads(t, l)
		if len(rec) != 3 {
			t.Fatalf("%d loads recorded", len(rec))
		}
		if r := rec[2]; r.Outcome != audit.OutcomeFailure || !strings.Contains(string(r.Original), `"line":"3"`) ||
			!strings.Contains(string(r.Original), `"column":"end_date"`) || strings.Contains(string(r.Original), "someday") {
			t.Errorf("the refused load recorded as %+v %s", r, r.Original)
		}
		orig := string(rec[0].Original)
		if rec[0].Actor.ID != "ciso01" || rec[0].Facility != 1 || !strings.Contains(orig, `"rows":"2"`) ||
			!strings.Contains(orig, `"kind":"staff"`) || strings.Contains(orig, "山田") {
			t.Errorf("recorded %+v %s", rec[0], orig)
		}
		if !strings.Contains(string(rec[1].Original), `"encoding":"shift_jis"`) || strings.Contains(string(rec[1].Original), "著名人") {
			t.Errorf("recorded %s", rec[1].Original)
		}
	})
}

// TestEngine_PicksUpATableLoadedByAnotherInstance: a running engine
// enriches with the tables as they were, and with a list loaded through
// another instance once it looks at the generation again.
func TestEngine_PicksUpATableLoadedByAnotherInstance(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFrozen(audittest.Start)
		l := audit.New(d, clk)
		files, err := detect.LoadRuleFiles([]string{"builtin:medical"})
		if err != nil {
			t.Fatal(err)
		}
		en, err := detect.NewEngine(d, l, files, clk, discard, detect.WithTables(detect.NewTables(d, jst)))
		if err != nil {
			t.Fatal(err)
		}
		view := func(user, patient string) audit.Event {
			at := clk.Now()
			return audit.Event{Seq: -1, Time: at, Received: at, Facility: 1, Source: "ehr-main", Action: "view",
				Actor: audit.Actor{ID: user, Profession: "doctor"}, Patient: audit.Patient{ID: patient}, Outcome: audit.OutcomeSuccess}
		}
		if _, err := l.Append(ctx, []audit.Event{view("d1", "P-vip")}); err != nil {
			t.Fatal(err)
		}
		drain(t, en)
		if got := alertKeys(t, d); len(got) != 0 {
			t.Fatalf("alerts before the list: %v", got)
		}
		other := detect.NewTables(d, jst)
		if _, err := other.Load(ctx, l, 1, detect.TableFlagged, strings.NewReader("list,patient_id\nVIP,P-vip\n"), "",
			detect.Loader{Login: "admin"}, clk.Now()); err != nil {
			t.Fatal(err)
		}
		clk.Advance(detect.TablesCheckEvery)
		if _, err := l.Append(ctx, []audit.Event{view("d2", "P-vip"), view("d3", "P-plain")}); err != nil {
			t.Fatal(err)
		}
		drain(t, en)
		alerts, err := detect.Alerts(ctx, d, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(alerts) != 1 || !strings.HasSuffix(alerts[0].RuleID, "0b01") || alerts[0].Group[0].Value != "d2" {
			t.Fatalf("alerts %+v", alerts)
		}
	})
}

// TestEngine_EachTableRuleRaisesOnItsPlantedAccessOnly runs the medical
// pack with all five tables loaded over ordinary work (users and patients
// the tables know, and others) and one planted access per rule: each
// rule raises exactly on its own.
func TestEngine_EachTableRuleRaisesOnItsPlantedAccessOnly(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		start := time.Date(2026, 12, 1, 9, 0, 0, 0, jst) // a Tuesday morning
		clk := clock.NewFrozen(start)
		l := audit.New(d, clk)
		tables := detect.NewTables(d, jst)
		by := detect.Loader{Login: "ciso01"}
		for kind, text := range map[string]string{
			detect.TableStaff: "user_id,family_name,address,department,patient_id,end_date,expiry_date,vendor,vendor_company\n" +
				"n1,山田,港区芝1-2-3,病棟A,P-own,,,,\nn2,田中,港区芝9-9,病棟A,,,,,\nd1,佐藤,北区1-1,外科,,,,,\n" +
				"r1,鈴木,北区2-2,病棟A,,2026-11-30,,,\nv1,,,,,,,1,ACME\n",
			detect.TablePatients: "patient_id,family_name,address,department\nP-own,山田,港区芝1-2-3,病棟A\n" +
				"P-wife,佐藤,北区１－１,病棟A\nP-1,高橋,南区1,病棟A\nP-2,伊藤,南区2,病棟A\n",
			detect.TableFlagged:     "list,patient_id,note\nVIP,P-vip,\n",
			detect.TableCareTeam:    "patient_id,user_id,department\nP-own,,病棟A\nP-wife,,病棟A\nP-1,,病棟A\nP-2,,病棟A\nP-2,d1,\nP-vip,,病棟A\n",
			detect.TableMaintenance: "vendor,weekdays,start_time,end_time\nACME,火,09:00,12:00\n",
		} {
			if _, err := tables.Load(ctx, l, 1, kind, strings.NewReader(text), "", by, start); err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
		}
		files, err := detect.LoadRuleFiles([]string{"builtin:medical"})
		if err != nil {
			t.Fatal(err)
		}
		en, err := detect.NewEngine(d, l, files, clk, discard, detect.WithTables(tables))
		if err != nil {
			t.Fatal(err)
		}
		var events []audit.Event
		add := func(minute int, user, action, patient string) {
			at := start.Add(time.Duration(minute) * time.Minute)
			events = append(events, audit.Event{Seq: -1, Time: at, Received: at, Facility: 1, Source: "ehr-main", Action: action,
				Actor: audit.Actor{ID: user, Profession: "nurse"}, Patient: audit.Patient{ID: patient}, Outcome: audit.OutcomeSuccess})
		}
		// Ordinary work: known nurses on their ward's patients, a doctor on
		// his assigned patient, a vendor inside its window, users and
		// patients the tables do not know.
		for i := range 40 {
			add(i, []string{"n1", "n2"}[i%2], "view", []string{"P-1", "P-2"}[i%2])
			add(i, "x9", "view", "P-other")
		}
		add(50, "d1", "view", "P-2")
		add(51, "v1", "login", "")
		add(52, "n2", "view", "P-9") // a patient no table names
		// One planted access per rule.
		add(60, "n2", "view", "P-vip")  // 0b01
		add(61, "n1", "view", "P-own")  // 0b02
		add(62, "d1", "view", "P-wife") // 0b03 (and 0b05: his department does not care for her)
		add(63, "r1", "login", "")      // 0b04
		add(64, "d1", "view", "P-1")    // 0b05
		add(400, "v1", "login", "")     // 0b06: 15:40, after the window
		if _, err := l.Append(ctx, events); err != nil {
			t.Fatal(err)
		}
		drain(t, en)
		alerts, err := detect.Alerts(ctx, d, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range alerts {
			got = append(got, fmt.Sprintf("%s:%s:%d", a.RuleID[len(a.RuleID)-4:], a.Group[0].Value, a.Total))
		}
		slices.Sort(got)
		want := []string{"0b01:n2:1", "0b02:n1:1", "0b03:d1:1", "0b04:r1:1", "0b05:d1:2", "0b06:v1:1"}
		if !slices.Equal(got, want) {
			t.Errorf("alerts %v, want %v", got, want)
		}
	})
}
