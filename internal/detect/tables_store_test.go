package detect_test

import (
	"bytes"
	"context"
	"errors"
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

var jst = time.FixedZone("JST", 9*3600)

// loads returns the loads of reference tables recorded in the audit log.
func loads(t *testing.T, l *audit.Log) []audit.Event {
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
		if e.Action == detect.ActionTablesLoad {
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
		// A file bad on its third line changes nothing, and is not recorded.
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
		// The export reads as what was loaded.
		var out bytes.Buffer
		if err := stored.WriteCSV(&out); err != nil {
			t.Fatal(err)
		}
		again, _, err := detect.ParseTable(detect.TableStaff, &out, "")
		if err != nil || len(again.Staff) != 2 || again.Staff[1].EndDate != "2026-11-30" || again.Staff[0].PatientID != "P7" {
			t.Errorf("export read back: %+v %v", again, err)
		}
		if _, err := detect.StoredTable(ctx, d, 1, detect.TableCareTeam); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("a table never loaded: %v", err)
		}
		// Two loads recorded, with kind and rows, and none of the content.
		rec := loads(t, l)
		if len(rec) != 2 {
			t.Fatalf("%d loads recorded", len(rec))
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
