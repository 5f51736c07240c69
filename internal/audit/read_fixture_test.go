package audit_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// The access log the reading tests search: nine events of three systems
// in two facilities and none, one minute apart from t0 (09:00 in Tokyo),
// each received 40 ms after it happened except a skewed one. The clock
// stands at t0 + 10 minutes.
//
//	seq facility source   actor  action            patient outcome  notes
//	0   1        ehr-main d001   view              P001    success  山田 太郎, doctor, 内科
//	1   1        ehr-main n001   view              P001    success  nurse, 看護部
//	2   1        ehr-main d001   update            P002    success
//	3   1        ehr-main d002   print             P001    failure  doctor, 外科
//	4   2        pacs     r001   view              P001    success  radiologist, 放射線科
//	5   2        pacs     =r002  view              P003    success  formula-like actor and original
//	6   1        ehr-main d001   emergency_access  P001    success  clock 5 minutes ahead
//	7   1        ehr-main x001   ehr.chart_open    P004    unknown  original not UTF-8
//	8   0        lab      lab001 view              P001    success
func accessEvents() []audit.Event {
	ev := func(i int, fac int64, src, actor, name, prof, dept, action, patient, outcome string) audit.Event {
		at := t0.Add(time.Duration(i) * time.Minute)
		return audit.Event{Time: at, Received: at.Add(40 * time.Millisecond), Facility: fac, Source: src,
			Actor: audit.Actor{ID: actor, Name: name, Profession: prof, Department: dept,
				Terminal: "WS-0" + string(rune('1'+i)), Address: "10.0.0." + string(rune('1'+i))},
			Action: action, Patient: audit.Patient{ID: patient}, Object: audit.Object{Type: "record", ID: "R" + patient},
			Outcome: outcome, Purpose: "treatment", Session: "s-" + actor, Format: audit.FormatJSON,
			Original: []byte(`{"user":"` + actor + `","patient":"` + patient + `","note":"閲覧 ` + name + `"}`)}
	}
	events := []audit.Event{
		ev(0, 1, "ehr-main", "d001", "山田 太郎", "doctor", "内科", "view", "P001", "success"),
		ev(1, 1, "ehr-main", "n001", "佐藤 花子", "nurse", "看護部", "view", "P001", "success"),
		ev(2, 1, "ehr-main", "d001", "山田 太郎", "doctor", "内科", "update", "P002", "success"),
		ev(3, 1, "ehr-main", "d002", "鈴木 一郎", "doctor", "外科", "print", "P001", "failure"),
		ev(4, 2, "pacs", "r001", "高橋 誠", "radiologist", "放射線科", "view", "P001", "success"),
		ev(5, 2, "pacs", "=r002", `=HYPERLINK("http://x","y")`, "radiologist", "放射線科", "view", "P003", "success"),
		ev(6, 1, "ehr-main", "d001", "山田 太郎", "doctor", "内科", "emergency_access", "P001", "success"),
		ev(7, 1, "ehr-main", "x001", "", "", "", "ehr.chart_open", "P004", "unknown"),
		ev(8, 0, "lab", "lab001", "検査 技師", "clinical_laboratory_technologist", "臨床検査部", "view", "P001", "success"),
	}
	events[0].Patient.Name = "患者 一郎"
	events[5].Original = []byte(`=cmd|' /C calc'!A0`)
	events[6].Received = events[6].Time.Add(-5 * time.Minute) // the EHR's clock is 5 minutes ahead
	events[7].Original = []byte{0xff, 0xfe, 'x', 0x00}
	return events
}

// accessLog is a log holding accessEvents, with a checkpoint key, on d.
type accessLogFixture struct {
	log    *audit.Log
	clock  *clock.Frozen
	signer *audittest.Signer
}

func newAccessLog(t *testing.T, d *db.DB) *accessLogFixture {
	t.Helper()
	clk := clock.NewFrozen(t0.Add(10 * time.Minute))
	signer := audittest.NewSigner()
	l := audit.New(d, clk, audit.WithCheckpoints(signer, 1000), audit.WithSourceSilence(time.Hour),
		audit.WithCheckpointInterval(time.Minute))
	if _, err := l.Append(context.Background(), accessEvents()); err != nil {
		t.Fatal(err)
	}
	return &accessLogFixture{log: l, clock: clk, signer: signer}
}

// syncAll brings the search index up to the log, however long it takes:
// a search waits for it at most a few seconds, which a test that appends
// thousands of events under the race detector on a busy machine may pass.
func syncAll(t *testing.T, l *audit.Log) {
	t.Helper()
	for {
		behind, err := l.Sync(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if behind == 0 {
			return
		}
	}
}

// seqs returns the sequence numbers of events.
func seqs(events []audit.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

// searchEvents runs q or fails the test.
func searchEvents(t *testing.T, l *audit.Log, q audit.EventQuery) audit.EventPage {
	t.Helper()
	p, err := l.SearchEvents(context.Background(), q)
	if err != nil {
		t.Fatalf("search %+v: %v", q, err)
	}
	return p
}

// readRecords returns the records of reading the log (audit.search) with
// the given via, newest first.
func readRecords(t *testing.T, l *audit.Log, via string) []audit.Entry {
	t.Helper()
	got, _ := search(t, l, audit.Filter{AllFacilities: true, Action: audit.ActionSearch, Limit: audit.MaxLimit})
	var out []audit.Entry
	for _, e := range got {
		if e.Detail["via"] == via {
			out = append(out, e)
		}
	}
	return out
}

// ciso reads every facility; aud1 only facility 1.
var (
	cisoAll = user("ciso", grant(authz.CISO, authz.AllFacilities))
	aud1    = user("aud1", grant(authz.Auditor, 1))
)

// okBody fails the test unless w answered 200.
func okStatus(t *testing.T, code int, body string) {
	t.Helper()
	if code != http.StatusOK {
		t.Fatalf("status %d, want 200: %.400s", code, body)
	}
}

// recordSecurity adds one of anzen's own events, so that searches of
// every source see one.
func recordSecurity(t *testing.T, l *audit.Log) {
	t.Helper()
	record(t, l, selfaudit.Event{Facility: 1, ActorLogin: "nurse01", Action: "login.success", Target: "user:nurse01",
		Outcome: selfaudit.Success, ClientAddr: "10.9.0.1"})
}
