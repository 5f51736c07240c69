package incident_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
)

var parts = []db.Migrations{audit.Migrations(), incident.Migrations()}

// aware is when the hospital of the tests became aware of its incidents:
// 15:30 in Tokyo on 31 October 2026.
var aware = time.Date(2026, 10, 31, 6, 30, 0, 0, time.UTC)

// ransomware is an incident that owes every report.
var ransomware = incident.Incident{Facility: 1, Kind: incident.Ransomware, Severity: incident.Critical,
	State: incident.Containment, Title: "電子カルテのランサムウェア感染", Summary: "電子カルテのサーバーが暗号化され、脅迫文が表示された。",
	Commander: "csirt01", AffectedSystems: "電子カルテ、PACS", AffectedData: "患者の氏名、病名、検査結果",
	People: 85000, MedicalData: true, Leak: incident.LeakPossible, Malicious: true, Crime: true, Cyberattack: true,
	CareImpact: true}

// insertIncident writes inc (aware at aware unless it says) as the
// incidents' room would, and returns it as read back.
func insertIncident(t *testing.T, d *db.DB, inc incident.Incident) incident.Incident {
	t.Helper()
	if inc.AwareAt.IsZero() {
		inc.AwareAt = aware
	}
	if inc.Created.IsZero() {
		inc.Created = inc.AwareAt.Add(10 * time.Minute)
	}
	if inc.Leak == "" {
		inc.Leak = incident.LeakNone
	}
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	var id int64
	err := d.QueryRowContext(context.Background(), `INSERT INTO incident_incidents (facility, kind, severity, state, title,
		summary, aware_at, occurred_at, created, created_by, updated, commander, affected_systems, affected_data, people,
		medical_data, leak, malicious, crime, cyberattack, care_impact, encrypted)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'csirt01', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		inc.Facility, string(inc.Kind), string(inc.Severity), string(inc.State), inc.Title, inc.Summary,
		db.Millis(inc.AwareAt), db.Millis(inc.OccurredAt), db.Millis(inc.Created), db.Millis(inc.Created), inc.Commander,
		inc.AffectedSystems, inc.AffectedData, inc.People, b(inc.MedicalData), string(inc.Leak), b(inc.Malicious),
		b(inc.Crime), b(inc.Cyberattack), b(inc.CareImpact), b(inc.Encrypted)).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := incident.Get(context.Background(), d, incident.Scope{All: true}, id)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// recorded returns anzen's own security events of action, oldest first.
func recorded(t *testing.T, l *audit.Log, action string) []audit.Entry {
	t.Helper()
	entries, _, err := l.Search(context.Background(), audit.Filter{Action: action, AllFacilities: true})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(entries)
	return entries
}

// catalog is the part's messages.
func catalog(t testing.TB) *i18n.Catalog {
	t.Helper()
	c := i18n.New()
	if err := c.Add(incident.Locales()); err != nil {
		t.Fatal(err)
	}
	return c
}

var csirt = incident.Actor{UserID: 7, Login: "csirt01", Client: "10.0.0.7"}

func statusOf(t *testing.T, b incident.Board, to incident.Recipient) string {
	t.Helper()
	c, ok := b.Clock(to)
	if !ok {
		t.Fatalf("no duty to %s on the board", to)
	}
	return c.Status
}

func TestClocks_PendingDueSoonOverdueThenSubmittedLateOrOnTime(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFrozen(aware)
		l := audit.New(d, clk)
		inc := insertIncident(t, d, ransomware)
		soon := 6 * time.Hour
		board := func() incident.Board {
			t.Helper()
			b, err := incident.DutyBoard(ctx, d, inc, clk.Now(), soon)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		// At awareness every clock runs.
		b := board()
		if len(b.Clocks) != 6 || b.Ref != inc.Ref() {
			t.Fatalf("clocks %+v", b.Clocks)
		}
		for _, c := range b.Clocks {
			if c.Status != incident.DutyPending && !(c.To == incident.ToVendor && c.Status == incident.DutyDueSoon) {
				t.Errorf("at awareness %s is %s", c.To, c.Status)
			}
		}
		// 19 hours on: MHLW (24 h) and the police are due soon; the vendor
		// (1 h) is overdue.
		clk.Set(aware.Add(19 * time.Hour))
		b = board()
		for to, want := range map[incident.Recipient]string{incident.ToVendor: incident.DutyOverdue,
			incident.ToMHLW: incident.DutyDueSoon, incident.ToPolice: incident.DutyDueSoon,
			incident.ToPPCPreliminary: incident.DutyPending} {
			if got := statusOf(t, b, to); got != want {
				t.Errorf("after 19 h %s is %s, want %s", to, got, want)
			}
		}
		if c, _ := b.Clock(incident.ToMHLW); c.Span() != (incident.Span{Hours: 5}) {
			t.Errorf("MHLW left %+v, want 5 h", c.Span())
		}
		if b.Overdue() != 1 {
			t.Errorf("overdue %d, want 1", b.Overdue())
		}
		// MHLW is reported at 20 h (on time), the vendor at 2 h after
		// awareness is recorded late, and the PPC's preliminary report is
		// judged not required with a reason.
		clk.Set(aware.Add(20 * time.Hour))
		for _, ns := range []incident.NewSubmission{
			{To: incident.ToMHLW, At: clk.Now(), Channel: "mail", Reference: "医政-2026-118"},
			{To: incident.ToVendor, At: aware.Add(2 * time.Hour), Channel: "phone"},
			{To: incident.ToPPCPreliminary, Status: incident.NotRequired, At: clk.Now(), Note: "暗号化されていたことを確認"},
		} {
			if _, err := incident.RecordSubmission(ctx, d, l, incident.Scope{All: true}, inc.ID, csirt, ns, clk.Now()); err != nil {
				t.Fatalf("%s: %v", ns.To, err)
			}
		}
		// A second MHLW submission (an update) keeps the first's time.
		clk.Set(aware.Add(30 * time.Hour))
		if _, err := incident.RecordSubmission(ctx, d, l, incident.Scope{All: true}, inc.ID, csirt,
			incident.NewSubmission{To: incident.ToMHLW, At: clk.Now(), Channel: "web"}, clk.Now()); err != nil {
			t.Fatal(err)
		}
		b = board()
		for to, want := range map[incident.Recipient]string{incident.ToVendor: incident.DutyLate,
			incident.ToMHLW: incident.DutyOnTime, incident.ToPolice: incident.DutyOverdue,
			incident.ToPPCPreliminary: incident.DutyNotRequired, incident.ToPPCFinal: incident.DutyPending} {
			if got := statusOf(t, b, to); got != want {
				t.Errorf("after the submissions %s is %s, want %s", to, got, want)
			}
		}
		if c, _ := b.Clock(incident.ToMHLW); !c.SubmittedAt.Equal(aware.Add(20*time.Hour)) || len(c.Submissions) != 2 {
			t.Errorf("MHLW submitted at %s with %d submissions", c.SubmittedAt, len(c.Submissions))
		}
		// The dashboard's figure: the police report only.
		over, err := incident.OverdueDuties(ctx, d, incident.Scope{Facilities: []int64{1}}, clk.Now())
		if err != nil || len(over) != 1 || over[0].Clock.To != incident.ToPolice || over[0].Incident.ID != inc.ID {
			t.Fatalf("overdue %+v %v", over, err)
		}
		if over, _ := incident.OverdueDuties(ctx, d, incident.Scope{Facilities: []int64{2}}, clk.Now()); len(over) != 0 {
			t.Errorf("another facility sees %+v", over)
		}
		// Each submission is in the audit log, without the note's text.
		events := recorded(t, l, incident.ActionReportSubmit)
		if len(events) != 4 {
			t.Fatalf("%d submit events, want 4", len(events))
		}
		for _, e := range events {
			if e.ActorLogin != "csirt01" || e.Facility != 1 || e.Target == "" {
				t.Errorf("event %+v", e)
			}
			for _, v := range e.Detail {
				if strings.Contains(v, "暗号化") {
					t.Errorf("the audit log holds the note: %v", e.Detail)
				}
			}
		}
	})
}

func TestClocks_AReportAsNeededIsNeverOverdue(t *testing.T) {
	b := incident.BoardOf(incident.Incident{ID: 1, Kind: incident.SystemFailure, CareImpact: true, AwareAt: aware,
		Created: aware}, nil, aware.Add(48*time.Hour), time.Hour)
	if len(b.Clocks) != 1 || b.Clocks[0].Status != incident.DutyOptional || b.Overdue() != 0 {
		t.Fatalf("%+v", b.Clocks)
	}
}

func TestSubmissions_RefuseBadInputAndOtherFacilities(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := aware.Add(time.Hour)
		l := audit.New(d, clock.NewFrozen(now))
		inc := insertIncident(t, d, ransomware)
		good := incident.NewSubmission{To: incident.ToMHLW, At: now, Channel: "web"}
		cases := []struct {
			field string
			edit  func(*incident.NewSubmission)
		}{
			{"recipient", func(n *incident.NewSubmission) { n.To = "prefecture" }},
			{"status", func(n *incident.NewSubmission) { n.Status = "maybe" }},
			{"at", func(n *incident.NewSubmission) { n.At = now.Add(time.Hour) }},
			{"at", func(n *incident.NewSubmission) { n.At = time.Time{} }},
			{"channel", func(n *incident.NewSubmission) { n.Channel = "pigeon" }},
			{"channel", func(n *incident.NewSubmission) { n.Status, n.Note = incident.NotRequired, "理由" }},
			{"note", func(n *incident.NewSubmission) { n.Status, n.Channel = incident.NotRequired, "" }},
			{"reference", func(n *incident.NewSubmission) { n.Reference = strings.Repeat("番", 201) }},
			{"note", func(n *incident.NewSubmission) { n.Note = "\xff" }},
		}
		for _, c := range cases {
			ns := good
			c.edit(&ns)
			_, err := incident.RecordSubmission(ctx, d, l, incident.Scope{All: true}, inc.ID, csirt, ns, now)
			if re, ok := incident.AsReportError(err); !ok || re.Field != c.field {
				t.Errorf("%+v: %v, want an error of %s", ns, err, c.field)
			}
		}
		if _, err := incident.RecordSubmission(ctx, d, l, incident.Scope{Facilities: []int64{2}}, inc.ID, csirt, good, now); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("another facility's caller: %v", err)
		}
		if subs, err := incident.Submissions(ctx, d, inc.ID); err != nil || len(subs) != 0 {
			t.Errorf("stored %+v %v", subs, err)
		}
		if n := len(recorded(t, l, incident.ActionReportSubmit)); n != 0 {
			t.Errorf("%d refused submissions audited", n)
		}
	})
}

func TestDrafts_PrefillFromTheIncidentUntilTheCSIRTSavesAField(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := aware.Add(2 * time.Hour)
		l := audit.New(d, clock.NewFrozen(now))
		cat := catalog(t)
		inc := insertIncident(t, d, ransomware)
		in := incident.ReportInput{T: cat, Lang: "ja", Now: now}
		field := func(r incident.Report, k string) incident.ReportField {
			t.Helper()
			for _, f := range r.Fields {
				if f.Key == k {
					return f
				}
			}
			t.Fatalf("no field %s in %+v", k, r.Fields)
			return incident.ReportField{}
		}
		r, err := incident.BuildReport(ctx, d, inc, incident.ToPPCPreliminary, in)
		if err != nil {
			t.Fatal(err)
		}
		if f := field(r, "data_items"); f.Drafted || !strings.Contains(f.Value, "患者の氏名、病名、検査結果") ||
			!strings.Contains(f.Value, "要配慮個人情報") {
			t.Errorf("data_items %+v", f)
		}
		if f := field(r, "people"); !strings.Contains(f.Value, "85000") {
			t.Errorf("people %+v", f)
		}
		if r.Facility != "施設番号 1" || !r.Owed {
			t.Errorf("facility %q owed %v", r.Facility, r.Owed)
		}
		// The CSIRT writes the cause and clears publication.
		if _, err := incident.SaveDraft(ctx, d, l, incident.Scope{Facilities: []int64{1}}, inc.ID, incident.ToPPCPreliminary,
			csirt, map[string]string{"cause": "VPN 装置の脆弱性を突かれた侵入", "publication": ""}, now); err != nil {
			t.Fatal(err)
		}
		r, _ = incident.BuildReport(ctx, d, inc, incident.ToPPCPreliminary, in)
		if f := field(r, "cause"); !f.Drafted || f.Value != "VPN 装置の脆弱性を突かれた侵入" {
			t.Errorf("cause %+v", f)
		}
		if f := field(r, "publication"); !f.Drafted || f.Value != "" {
			t.Errorf("publication %+v", f)
		}
		if f := field(r, "data_items"); f.Drafted {
			t.Errorf("data_items became drafted: %+v", f)
		}
		// Refused: an unknown field, a recipient without a report, another facility.
		for _, c := range []struct {
			to     incident.Recipient
			fields map[string]string
			scope  incident.Scope
		}{
			{incident.ToPPCPreliminary, map[string]string{"systems": "x"}, incident.Scope{All: true}},
			{incident.ToVendor, map[string]string{"overview": "x"}, incident.Scope{All: true}},
			{incident.ToPolice, map[string]string{"overview": strings.Repeat("x", 10001)}, incident.Scope{All: true}},
		} {
			if _, err := incident.SaveDraft(ctx, d, l, c.scope, inc.ID, c.to, csirt, c.fields, now); err == nil {
				t.Errorf("%s %v saved", c.to, c.fields)
			}
		}
		if _, err := incident.SaveDraft(ctx, d, l, incident.Scope{Facilities: []int64{2}}, inc.ID, incident.ToMHLW, csirt,
			map[string]string{"overview": "x"}, now); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("another facility: %v", err)
		}
		events := recorded(t, l, incident.ActionReportDraft)
		if len(events) != 1 || events[0].Detail["fields"] != "cause,publication" || events[0].Detail["recipient"] != "ppc-preliminary" {
			t.Fatalf("draft events %+v", events)
		}
		for _, v := range events[0].Detail {
			if strings.Contains(v, "VPN") {
				t.Errorf("the audit log holds the field's text: %v", events[0].Detail)
			}
		}
	})
}
