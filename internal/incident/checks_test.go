package incident_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
)

const day = 24 * time.Hour

// checkEnv is a database, an audit log to record changes in, and a
// frozen clock, for the checks' tests.
type checkEnv struct {
	t   *testing.T
	d   *db.DB
	l   *audit.Log
	clk *clock.Frozen
	cat *i18n.Catalog
}

func newCheckEnv(t *testing.T, d *db.DB) *checkEnv {
	clk := clock.NewFrozen(aware)
	return &checkEnv{t: t, d: d, l: audit.New(d, clk), clk: clk, cat: catalog(t)}
}

// run runs check id for facility f and asserts its status and detail, and
// that its messages exist and render in both languages.
func (e *checkEnv) run(id string, f int64, want check.Status, detail string) check.Result {
	e.t.Helper()
	for _, c := range incident.Checks(incident.Config{DB: e.d, Clock: e.clk, ReminderBefore: day}) {
		if c.ID != id {
			continue
		}
		r, err := c.Run(context.Background(), f)
		if err != nil {
			e.t.Fatalf("%s: %v", id, err)
		}
		if r.Status != want || r.DetailID != detail {
			e.t.Fatalf("%s = %s %s %v, want %s %s", id, r.Status, r.DetailID, r.Data, want, detail)
		}
		for _, lang := range i18n.Languages {
			if !e.cat.Has(lang, r.DetailID) {
				e.t.Errorf("%s: detail %s missing in %s", id, r.DetailID, lang)
			}
			if s := e.cat.T(lang, r.DetailID, r.Data); strings.Contains(s, "<no value>") || strings.HasPrefix(s, "[") {
				e.t.Errorf("%s: detail in %s renders as %q", id, lang, s)
			}
			for _, l := range r.Links {
				if !e.cat.Has(lang, l.LabelID) {
					e.t.Errorf("%s: link %s missing in %s", id, l.LabelID, lang)
				}
			}
		}
		return r
	}
	e.t.Fatalf("no check %s", id)
	return check.Result{}
}

func TestChecks_IncidentDeclaredOnceWithMessagesInBothLanguages(t *testing.T) {
	cat := catalog(t)
	seen := map[string]bool{}
	for _, c := range incident.Checks(incident.Config{}) {
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
		if seen[c.ID] {
			t.Errorf("check %s declared twice", c.ID)
		}
		seen[c.ID] = true
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, c.TitleID) {
				t.Errorf("%s: title missing in %s", c.ID, lang)
			}
		}
		// Per-facility records are not applicable to no facility.
		if c.ID != incident.CheckReportsOnTime {
			if r, err := c.Run(context.Background(), 0); err != nil || r.Status != check.NotApplicable {
				t.Errorf("%s for facility 0 = %+v, %v", c.ID, r, err)
			}
		}
	}
	if len(seen) != 7 {
		t.Errorf("checks = %v", seen)
	}
	src, err := os.ReadFile("checks.go")
	if err != nil {
		t.Fatal(err)
	}
	ids := regexp.MustCompile(`"(incident\.check\.[a-z_.]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(ids) < 35 {
		t.Fatalf("found only %d message ids in checks.go", len(ids))
	}
	for _, m := range ids {
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, m[1]) {
				t.Errorf("message %s missing in %s", m[1], lang)
			}
		}
	}
}

func TestCheckOrganisation_OfficersAndCSIRT(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx, e := context.Background(), newCheckEnv(t, d)
		sc, now := incident.Scope{Facilities: []int64{1}}, e.clk.Now()
		r := e.run(incident.CheckOrganisation, 1, check.Fail, "incident.check.organisation.officers")
		if r.Data["no_ciso"] != true || r.Data["no_manager"] != true {
			t.Errorf("data = %v", r.Data)
		}
		if _, err := incident.SetOfficer(ctx, d, e.l, sc, csirt, incident.CISO, incident.OfficerInput{Facility: 1,
			Person: incident.Person{Name: "山田 太郎", Title: "副院長"}}, now); err != nil {
			t.Fatal(err)
		}
		r = e.run(incident.CheckOrganisation, 1, check.Fail, "incident.check.organisation.officers")
		if r.Data["no_ciso"] != false || r.Data["no_manager"] != true {
			t.Errorf("data = %v", r.Data)
		}
		if _, err := incident.SetOfficer(ctx, d, e.l, sc, csirt, incident.SecurityManager, incident.OfficerInput{Facility: 1,
			Person: incident.Person{Name: "佐藤 花子", Title: "医療情報部長"}}, now); err != nil {
			t.Fatal(err)
		}
		e.run(incident.CheckOrganisation, 1, check.Fail, "incident.check.organisation.no_csirt")
		if _, err := incident.CreateMember(ctx, d, e.l, sc, csirt, incident.MemberInput{Facility: 1, Roles: []string{"handler"},
			Person: incident.Person{Name: "鈴木 一郎", PhoneOffice: "内線 1234"}}, now); err != nil {
			t.Fatal(err)
		}
		e.run(incident.CheckOrganisation, 1, check.Warning, "incident.check.organisation.no_commander")
		if _, err := incident.CreateMember(ctx, d, e.l, sc, csirt, incident.MemberInput{Facility: 1, Roles: []string{"commander"},
			Person: incident.Person{Name: "高橋 誠", PhoneMobile: "090-1111-2222"}}, now); err != nil {
			t.Fatal(err)
		}
		r = e.run(incident.CheckOrganisation, 1, check.Pass, "incident.check.organisation.ok")
		if r.Data["ciso"] != "山田 太郎" || r.Data["manager"] != "佐藤 花子" || r.Data["members"] != 2 {
			t.Errorf("data = %v", r.Data)
		}
		// Another facility's organisation is its own.
		e.run(incident.CheckOrganisation, 2, check.Fail, "incident.check.organisation.officers")
	})
}

func TestCheckContactDiagram_VendorAuthoritiesPhonesAndAge(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx, e := context.Background(), newCheckEnv(t, d)
		sc := incident.Scope{Facilities: []int64{1}}
		r := e.run(incident.CheckContactDiagram, 1, check.Fail, "incident.check.contact_diagram.missing")
		if r.Data["missing"] != 3 {
			t.Errorf("data = %v", r.Data)
		}
		if _, err := incident.CreateContact(ctx, d, e.l, sc, csirt, incident.ContactInput{Facility: 1, Kind: "vendor",
			Organisation: "電子カルテ保守（株）", System: "電子カルテ", Phone: "03-1234-5678"}, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		r = e.run(incident.CheckContactDiagram, 1, check.Fail, "incident.check.contact_diagram.missing")
		if r.Data["no_vendor"] != false || r.Data["no_mhlw"] != true || r.Data["no_police"] != true {
			t.Errorf("data = %v", r.Data)
		}
		// The standard authorities come without phone numbers.
		added, err := incident.AddStandardAuthorities(ctx, d, e.l, sc, csirt, 1, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		r = e.run(incident.CheckContactDiagram, 1, check.Fail, "incident.check.contact_diagram.no_phone")
		if r.Data["no_phone"] != len(added) {
			t.Errorf("data = %v", r.Data)
		}
		for _, c := range added {
			if _, err := incident.UpdateContact(ctx, d, e.l, sc, csirt, c.ID, incident.ContactInput{Kind: string(c.Kind),
				Organisation: c.Organisation, Phone: "03-0000-0000"}, e.clk.Now()); err != nil {
				t.Fatal(err)
			}
		}
		r = e.run(incident.CheckContactDiagram, 1, check.Pass, "incident.check.contact_diagram.ok")
		if r.Data["contacts"] != len(added)+1 || r.Data["date"] != "2026-10-31" {
			t.Errorf("data = %v", r.Data)
		}
		e.clk.Advance(340 * day)
		e.run(incident.CheckContactDiagram, 1, check.Warning, "incident.check.contact_diagram.review_soon")
		e.clk.Advance(30 * day)
		r = e.run(incident.CheckContactDiagram, 1, check.Fail, "incident.check.contact_diagram.stale")
		if r.Data["days"] != 370 {
			t.Errorf("data = %v", r.Data)
		}
	})
}

func TestCheckBCP_WrittenWholeReviewedAndApproved(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx, e := context.Background(), newCheckEnv(t, d)
		e.run(incident.CheckBCP, 1, check.Fail, "incident.check.bcp.none")
		if _, err := incident.SaveBCP(ctx, d, e.l, csirt, 1, map[string]string{"purpose": "電子カルテ停止時の診療継続"}, "", e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		r := e.run(incident.CheckBCP, 1, check.Fail, "incident.check.bcp.incomplete")
		if r.Data["missing"] != len(incident.BCPSections)-1 {
			t.Errorf("data = %v", r.Data)
		}
		all := map[string]string{}
		for _, k := range incident.BCPSections {
			all[k] = "記入済み：" + k
		}
		b, err := incident.SaveBCP(ctx, d, e.l, csirt, 1, all, "全項目を記入", e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.run(incident.CheckBCP, 1, check.Warning, "incident.check.bcp.unapproved")
		if err := incident.ApproveBCP(ctx, d, e.l, csirt, 1, b.Version, "院長", e.clk.Now(), e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		r = e.run(incident.CheckBCP, 1, check.Pass, "incident.check.bcp.ok")
		if r.Data["version"] != int64(2) || r.Data["approver"] != "院長" {
			t.Errorf("data = %v", r.Data)
		}
		e.clk.Advance(340 * day)
		e.run(incident.CheckBCP, 1, check.Warning, "incident.check.bcp.review_soon")
		e.clk.Advance(30 * day)
		e.run(incident.CheckBCP, 1, check.Fail, "incident.check.bcp.stale")
	})
}

func TestCheckDrills_OnceAYear(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx, e := context.Background(), newCheckEnv(t, d)
		e.run(incident.CheckDrills, 1, check.Fail, "incident.check.drills.none")
		for _, dr := range []incident.Drill{
			{HeldAt: aware.Add(-400 * day), Kind: "tabletop", Title: "ランサムウェア机上訓練"},
			{HeldAt: aware.Add(-20 * day), Kind: "functional", Title: "紙運用への切替訓練"},
		} {
			if _, err := incident.CreateDrill(ctx, d, e.l, csirt, 1, dr, e.clk.Now()); err != nil {
				t.Fatal(err)
			}
		}
		r := e.run(incident.CheckDrills, 1, check.Pass, "incident.check.drills.ok")
		if r.Data["title"] != "紙運用への切替訓練" || r.Data["days"] != 20 || r.Data["drills"] != 2 {
			t.Errorf("data = %v", r.Data)
		}
		e.run(incident.CheckDrills, 2, check.Fail, "incident.check.drills.none")
		e.clk.Advance(320 * day)
		e.run(incident.CheckDrills, 1, check.Warning, "incident.check.drills.due_soon")
		e.clk.Advance(30 * day)
		e.run(incident.CheckDrills, 1, check.Fail, "incident.check.drills.stale")
	})
}

func TestCheckBackups_OfflineCopyAndRestoreTest(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx, e := context.Background(), newCheckEnv(t, d)
		e.run(incident.CheckBackups, 1, check.Fail, "incident.check.backups.none")
		attest := func(b incident.Backup) {
			t.Helper()
			if _, err := incident.AttestBackup(ctx, d, e.l, csirt, 1, b, e.clk.Now()); err != nil {
				t.Fatal(err)
			}
		}
		now := e.clk.Now()
		attest(incident.Backup{System: "電子カルテ", Generation: 1, TakenAt: now.Add(-2 * day), Method: "tape", Offline: true,
			RestoreTestedAt: now.Add(-100 * day), RestoreResult: "ok"})
		attest(incident.Backup{System: "PACS", Generation: 1, TakenAt: now.Add(-day), Method: "disk"})
		r := e.run(incident.CheckBackups, 1, check.Fail, "incident.check.backups.bad")
		if r.Data["names"] != "PACS" || r.Data["systems"] != 2 {
			t.Errorf("data = %v", r.Data)
		}
		attest(incident.Backup{System: "PACS", Generation: 2, TakenAt: now.Add(-day), Method: "cloud", Immutable: true,
			RestoreTestedAt: now.Add(-day), RestoreResult: "ok"})
		e.run(incident.CheckBackups, 1, check.Pass, "incident.check.backups.ok")
		// Ten days on, both offline copies are older than a week.
		e.clk.Advance(10 * day)
		r = e.run(incident.CheckBackups, 1, check.Warning, "incident.check.backups.old")
		if r.Data["count"] != 2 || r.Data["names"] != "PACS, 電子カルテ" {
			t.Errorf("data = %v", r.Data)
		}
	})
}

// usesOf finds the uses given for every account.
type usesOf []incident.AccountUse

func (u usesOf) AccountUses(context.Context, incident.AccountUseQuery) ([]incident.AccountUse, error) {
	return u, nil
}

func TestCheckEmergencyAccounts_RegisteredAndChangedAfterUse(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx, e := context.Background(), newCheckEnv(t, d)
		sc := incident.Scope{Facilities: []int64{1}}
		e.run(incident.CheckEmergency, 1, check.Fail, "incident.check.emergency_accounts.none")
		a, err := incident.CreateAccount(ctx, d, e.l, sc, csirt, incident.AccountInput{Facility: 1, System: "電子カルテ", Account: "emergency01",
			Location: "事務長室の金庫", Custodian: "事務長"}, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		r := e.run(incident.CheckEmergency, 1, check.Pass, "incident.check.emergency_accounts.ok")
		if r.Data["accounts"] != 1 {
			t.Errorf("data = %v", r.Data)
		}
		e.clk.Advance(time.Hour)
		if _, err := incident.CheckEmergencyAccounts(ctx, d, e.l, usesOf{{Seq: 9, Time: e.clk.Now(), Action: "login"}}, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		r = e.run(incident.CheckEmergency, 1, check.Warning, "incident.check.emergency_accounts.used")
		if r.Data["names"] != "電子カルテ / emergency01" {
			t.Errorf("data = %v", r.Data)
		}
		e.clk.Advance(4 * day)
		e.run(incident.CheckEmergency, 1, check.Fail, "incident.check.emergency_accounts.overdue")
		if _, err := incident.RecordChange(ctx, d, e.l, sc, csirt, a.ID, e.clk.Now(), e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		e.run(incident.CheckEmergency, 1, check.Pass, "incident.check.emergency_accounts.ok")
	})
}

func TestCheckReportsOnTime_NoDutyOverdue(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx, e := context.Background(), newCheckEnv(t, d)
		e.run(incident.CheckReportsOnTime, 1, check.Pass, "incident.check.reports_on_time.ok")
		// A leak of one patient's record: PPC preliminary (3 days), final
		// (30 days), the people affected (5 days).
		inc := insertIncident(t, d, incident.Incident{Facility: 1, Kind: incident.DataLeak, Severity: incident.Medium,
			State: incident.Triage, Title: "紹介状の誤送付", Commander: "csirt01", Leak: incident.LeakConfirmed, MedicalData: true, People: 1})
		r := e.run(incident.CheckReportsOnTime, 1, check.Pass, "incident.check.reports_on_time.ok")
		if r.Data["open"] != 3 {
			t.Errorf("data = %v", r.Data)
		}
		e.clk.Set(aware.Add(2*day + time.Minute))
		r = e.run(incident.CheckReportsOnTime, 1, check.Warning, "incident.check.reports_on_time.due_soon")
		if r.Data["names"] != inc.Ref()+" → ppc-preliminary" {
			t.Errorf("data = %v", r.Data)
		}
		e.clk.Set(aware.Add(3*day + time.Minute))
		r = e.run(incident.CheckReportsOnTime, 1, check.Fail, "incident.check.reports_on_time.overdue")
		if r.Data["count"] != 1 {
			t.Errorf("data = %v", r.Data)
		}
		e.run(incident.CheckReportsOnTime, 0, check.Fail, "incident.check.reports_on_time.overdue")
		e.run(incident.CheckReportsOnTime, 2, check.Pass, "incident.check.reports_on_time.ok")
		if _, err := incident.RecordSubmission(ctx, d, e.l, incident.Scope{All: true}, inc.ID, csirt,
			incident.NewSubmission{To: incident.ToPPCPreliminary, At: e.clk.Now(), Channel: "web", Reference: "PPC-1"}, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		e.run(incident.CheckReportsOnTime, 1, check.Pass, "incident.check.reports_on_time.ok")
	})
}
