package incident_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// orgParts are the schemas the organisation's tests need.
var orgParts = []db.Migrations{audit.Migrations(), incident.Migrations()}

var (
	orgBy  = incident.Actor{UserID: 2, Login: "ciso01", Client: "10.0.0.5"}
	orgOne = incident.Scope{Facilities: []int64{1}}
)

// orgActions returns the actions of the audit log that start with prefix.
func orgActions(t *testing.T, l *audit.Log, prefix string) []string {
	t.Helper()
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	events, err := l.ReadAfter(context.Background(), -1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if strings.HasPrefix(e.Action, prefix) {
			out = append(out, e.Action)
		}
	}
	return out
}

func orgField(t *testing.T, err error) string {
	t.Helper()
	oe, ok := incident.IsOrgError(err)
	if !ok {
		t.Fatalf("err = %v, want an OrgError", err)
	}
	return oe.Field
}

func TestOrg_ChangesAreCheckedScopedAndRecorded(t *testing.T) {
	dbtest.Each(t, orgParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := audittest.Start
		l := audit.New(d, clock.NewFrozen(now))

		ciso := incident.OfficerInput{Facility: 1, Person: incident.Person{Name: "山田 太郎", Title: "副院長", PhoneMobile: "090-1111-2222"}}
		if _, err := incident.SetOfficer(ctx, d, l, orgOne, orgBy, incident.CISO, ciso, now); err != nil {
			t.Fatal(err)
		}
		ciso.PhoneMobile = "090-3333-4444"
		if _, err := incident.SetOfficer(ctx, d, l, orgOne, orgBy, incident.CISO, ciso, now); err != nil {
			t.Fatal(err)
		}
		// Another facility's officer, and a bad phone, are refused.
		other := ciso
		other.Facility = 2
		if _, err := incident.SetOfficer(ctx, d, l, orgOne, orgBy, incident.CISO, other, now); orgField(t, err) != "facility" {
			t.Fatalf("other facility: %v", err)
		}
		bad := ciso
		bad.PhoneOffice = "call me'; DROP TABLE x"
		if _, err := incident.SetOfficer(ctx, d, l, orgOne, orgBy, incident.SecurityManager, bad, now); orgField(t, err) != "phone_office" {
			t.Fatalf("bad phone: %v", err)
		}
		officers, err := incident.Officers(ctx, d, 1)
		if err != nil || len(officers) != 1 || officers[0].PhoneMobile != "090-3333-4444" {
			t.Fatalf("officers %+v %v", officers, err)
		}

		poc, err := incident.CreateMember(ctx, d, l, orgOne, orgBy, incident.MemberInput{Facility: 1, Roles: []string{"poc", "it", "poc"},
			Person: incident.Person{Name: "佐藤 花子", Department: "情報システム課", PhoneOffice: "内線 1234"}}, now)
		if err != nil || len(poc.Roles) != 2 {
			t.Fatalf("%+v %v", poc, err)
		}
		if _, err := incident.CreateMember(ctx, d, l, orgOne, orgBy, incident.MemberInput{Facility: 1, Roles: []string{"boss"},
			Person: incident.Person{Name: "x"}}, now); orgField(t, err) != "roles" {
			t.Fatalf("unknown role: %v", err)
		}
		cmd, err := incident.CreateMember(ctx, d, l, orgOne, orgBy, incident.MemberInput{Facility: 1, Roles: []string{"commander"},
			Deputy: poc.ID, Person: incident.Person{Name: "鈴木 一郎", PhoneMobile: "080-5555-6666", Mail: "suzuki@example.jp"}}, now)
		if err != nil {
			t.Fatal(err)
		}
		// Itself as its own deputy is refused; a member of another scope is not found.
		if _, err := incident.UpdateMember(ctx, d, l, orgOne, orgBy, cmd.ID, incident.MemberInput{Roles: []string{"commander"}, Deputy: cmd.ID,
			Person: incident.Person{Name: "鈴木 一郎"}}, now); orgField(t, err) != "deputy" {
			t.Fatalf("own deputy: %v", err)
		}
		if _, err := incident.MemberByID(ctx, d, incident.Scope{Facilities: []int64{2}}, cmd.ID); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("out of scope: %v", err)
		}
		if err := incident.DeleteMember(ctx, d, l, orgOne, orgBy, poc.ID, now); err != nil {
			t.Fatal(err)
		}
		if m, err := incident.MemberByID(ctx, d, orgOne, cmd.ID); err != nil || m.Deputy != 0 {
			t.Fatalf("deputy of a deleted member: %+v %v", m, err)
		}

		// A contact needs a phone; the standard authorities come without one, once.
		if _, err := incident.CreateContact(ctx, d, l, orgOne, orgBy, incident.ContactInput{Facility: 1, Kind: "vendor",
			Organisation: "サンプル医療システム"}, now); orgField(t, err) != "phone" {
			t.Fatalf("no phone: %v", err)
		}
		if _, err := incident.CreateContact(ctx, d, l, orgOne, orgBy, incident.ContactInput{Facility: 1, Kind: "vendor",
			Organisation: "サンプル医療システム", System: "電子カルテ", Phone: "0120-000-111"}, now); err != nil {
			t.Fatal(err)
		}
		added, err := incident.AddStandardAuthorities(ctx, d, l, orgOne, orgBy, 1, now)
		if err != nil || len(added) != len(incident.StandardAuthorities) {
			t.Fatalf("standard: %d %v", len(added), err)
		}
		if again, err := incident.AddStandardAuthorities(ctx, d, l, orgOne, orgBy, 1, now); err != nil || len(again) != 0 {
			t.Fatalf("standard again: %d %v", len(again), err)
		}
		// A standard contact may be edited without a phone; then given one.
		ppc := added[4]
		if ppc.Kind != incident.ContactPPC || !ppc.NoPhone() {
			t.Fatalf("%+v", ppc)
		}
		if _, err := incident.UpdateContact(ctx, d, l, orgOne, orgBy, ppc.ID, incident.ContactInput{Kind: "ppc", Organisation: ppc.Organisation,
			Phone: "03-6457-9680"}, now); err != nil {
			t.Fatal(err)
		}
		o, err := incident.LoadOrg(ctx, d, incident.Facility{ID: 1}, now)
		if err != nil || len(o.Contacts) != 1+len(incident.StandardAuthorities) || o.MissingPhones() != len(incident.StandardAuthorities)-1 {
			t.Fatalf("contacts %d missing %d %v", len(o.Contacts), o.MissingPhones(), err)
		}
		if o.Contacts[0].Kind != incident.ContactVendor {
			t.Fatalf("vendors first: %+v", o.Contacts[0])
		}
		got := strings.Join(orgActions(t, l, "incident."), " ")
		for _, want := range []string{incident.ActionOfficerSet, incident.ActionMemberCreate, incident.ActionMemberDelete,
			incident.ActionContactCreate, incident.ActionContactUpdate, incident.ActionContactStandard} {
			if !strings.Contains(got, want) {
				t.Errorf("audit log lacks %s: %s", want, got)
			}
		}
	})
}

func TestOnCall_TheRosterSaysWhoIsOnCallAndFallsBackWhenNobodyIs(t *testing.T) {
	dbtest.Each(t, orgParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := audittest.Start
		l := audit.New(d, clock.NewFrozen(now))
		two := incident.Scope{Facilities: []int64{1, 2}}
		member := func(f int64, name, mail string) incident.Member {
			m, err := incident.CreateMember(ctx, d, l, two, orgBy, incident.MemberInput{Facility: f, Roles: []string{"handler"},
				Person: incident.Person{Name: name, Mail: mail, PhoneMobile: "090-0000-0000"}}, now)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		a, b, c := member(1, "A", "a@example.jp"), member(1, "B", "b@example.jp"), member(2, "C", "c@example.jp")
		shift := func(m incident.Member, from, to time.Duration, tier string) incident.Shift {
			s, err := incident.CreateShift(ctx, d, l, two, orgBy, incident.ShiftInput{Facility: m.Facility, MemberID: m.ID,
				Starts: now.Add(from), Ends: now.Add(to), Tier: tier}, now)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		shift(b, 0, 24*time.Hour, "secondary")
		shift(a, 0, 12*time.Hour, "primary")
		gone := shift(c, 6*time.Hour, 12*time.Hour, "primary")
		// A shift of another facility's member, or ending before it starts, is refused.
		if _, err := incident.CreateShift(ctx, d, l, two, orgBy, incident.ShiftInput{Facility: 1, MemberID: c.ID, Starts: now,
			Ends: now.Add(time.Hour)}, now); orgField(t, err) != "member_id" {
			t.Fatalf("other facility's member: %v", err)
		}
		if _, err := incident.CreateShift(ctx, d, l, two, orgBy, incident.ShiftInput{Facility: 1, MemberID: a.ID, Starts: now,
			Ends: now}, now); orgField(t, err) != "ends" {
			t.Fatalf("empty shift: %v", err)
		}
		at, err := incident.OnCallAt(ctx, d, 1, now.Add(time.Hour))
		if err != nil || len(at) != 2 || at[0].Member.Name != "A" || at[1].Tier != incident.Secondary {
			t.Fatalf("on call at 1h: %+v %v", at, err)
		}
		oc := incident.OnCall{DB: d, Fallback: []string{"desk@example.jp"}}
		for _, tt := range []struct {
			facility int64
			at       time.Duration
			want     string
		}{
			{1, time.Hour, "a@example.jp b@example.jp"},
			{1, 7 * time.Hour, "a@example.jp b@example.jp"},
			{2, 7 * time.Hour, "c@example.jp"},
			{0, 7 * time.Hour, "a@example.jp c@example.jp b@example.jp"}, // an alert of no known facility
			{2, time.Hour, "a@example.jp b@example.jp"},                  // no one of its own: the group's
			{1, 13 * time.Hour, "b@example.jp"},
			{1, 25 * time.Hour, "desk@example.jp"},
			{1, -time.Minute, "desk@example.jp"},
		} {
			got, err := oc.OnCallMail(ctx, tt.facility, now.Add(tt.at))
			if err != nil || strings.Join(got, " ") != tt.want {
				t.Errorf("on call for facility %d at %v: %v %v, want %s", tt.facility, tt.at, got, err, tt.want)
			}
		}
		if err := incident.DeleteShift(ctx, d, l, two, orgBy, gone.ID, now); err != nil {
			t.Fatal(err)
		}
		if got, _ := oc.OnCallMail(ctx, 2, now.Add(7*time.Hour)); strings.Join(got, " ") != "a@example.jp b@example.jp" {
			t.Errorf("after the deletion: %v", got)
		}
		if err := incident.DeleteShift(ctx, d, l, orgOne, orgBy, gone.ID, now); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("deleted twice: %v", err)
		}
		// With no one on call and no fallback, the whole CSIRT hears of it.
		if got, err := (incident.OnCall{DB: d}).OnCallMail(ctx, 1, now.Add(25*time.Hour)); err != nil ||
			strings.Join(got, " ") != "a@example.jp b@example.jp c@example.jp" {
			t.Errorf("no one on call, no fallback: %v %v", got, err)
		}
	})
}

func TestRosterMail_TheFacilitysCSIRTAndTheLoginsAsked(t *testing.T) {
	dbtest.Each(t, orgParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := audittest.Start
		l := audit.New(d, clock.NewFrozen(now))
		two := incident.Scope{Facilities: []int64{1, 2}}
		rm := incident.RosterMail{DB: d, Fallback: []string{"desk@example.jp"}}
		if got, err := rm.IncidentMail(ctx, 1, nil); err != nil || strings.Join(got, " ") != "desk@example.jp" {
			t.Errorf("empty roster: %v %v", got, err)
		}
		for _, m := range []incident.MemberInput{
			{Facility: 1, Login: "csirt01", Roles: []string{"commander"}, Person: incident.Person{Name: "A", Mail: "a@example.jp", PhoneMobile: "090"}},
			{Facility: 1, Roles: []string{"handler"}, Person: incident.Person{Name: "B", PhoneMobile: "090"}},
			{Facility: 2, Login: "csirt02", Roles: []string{"handler"}, Person: incident.Person{Name: "C", Mail: "c@example.jp", PhoneMobile: "090"}},
			{Facility: 2, Login: "csirt03", Roles: []string{"handler"}, Person: incident.Person{Name: "D", Mail: "a@example.jp", PhoneMobile: "090"}},
		} {
			if _, err := incident.CreateMember(ctx, d, l, two, orgBy, m, now); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range []struct {
			facility int64
			logins   []string
			want     string
		}{
			{1, nil, "a@example.jp"},
			{1, []string{"csirt02", "nobody"}, "a@example.jp c@example.jp"},
			{2, nil, "c@example.jp a@example.jp"},
			{3, nil, "desk@example.jp"},
		} {
			if got, err := rm.IncidentMail(ctx, tt.facility, tt.logins); err != nil || strings.Join(got, " ") != tt.want {
				t.Errorf("facility %d, logins %v: %v %v, want %s", tt.facility, tt.logins, got, err, tt.want)
			}
		}
	})
}

func TestEmergencyRules_EachChangeIsANewVersionAndTheOldOnesStay(t *testing.T) {
	dbtest.Each(t, orgParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := audittest.Start
		l := audit.New(d, clock.NewFrozen(now))
		in := incident.RulesInput{Facility: 1, Criteria: []string{"電子カルテが1時間以上使えない", " ", "ランサムウェアの感染が疑われる"},
			Declarer: "病院長", Deputy: "副院長", Reconcile: "紙カルテの記載を復旧後3日以内に入力し、二人で照合する"}
		if _, err := incident.SetEmergencyRules(ctx, d, l, orgOne, orgBy, incident.RulesInput{Facility: 1, Declarer: "病院長"}, now); orgField(t, err) != "criteria" {
			t.Fatalf("no criteria: %v", err)
		}
		r1, err := incident.SetEmergencyRules(ctx, d, l, orgOne, orgBy, in, now)
		if err != nil || r1.Version != 1 || len(r1.Criteria) != 2 {
			t.Fatalf("%+v %v", r1, err)
		}
		in.Declarer = "CISO"
		if _, err := incident.SetEmergencyRules(ctx, d, l, orgOne, incident.Actor{Login: "admin"}, in, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		versions, err := incident.RulesVersions(ctx, d, 1)
		if err != nil || len(versions) != 2 || versions[0].Version != 2 || versions[0].Declarer != "CISO" || versions[0].CreatedBy != "admin" ||
			versions[1].Declarer != "病院長" || versions[1].Reconcile == "" {
			t.Fatalf("%+v %v", versions, err)
		}
		if got := orgActions(t, l, incident.ActionRulesSet); len(got) != 2 {
			t.Fatalf("recorded %v", got)
		}
	})
}

// logUses finds account uses with the audit log's search, as
// internal/app does.
type logUses struct{ l *audit.Log }

func (u logUses) AccountUses(ctx context.Context, q incident.AccountUseQuery) ([]incident.AccountUse, error) {
	page, err := u.l.SearchEvents(ctx, audit.EventQuery{From: q.Since, Actor: q.Account, Source: q.Source, Facilities: []int64{q.Facility}, Limit: q.Limit})
	var out []incident.AccountUse
	for _, e := range page.Events {
		out = append(out, incident.AccountUse{Seq: e.Seq, Time: e.Time, Source: e.Source, Action: e.Action})
	}
	return out, err
}

func TestEmergencyAccounts_AUseInTheAuditLogFlagsTheAccountUntilItsChangeIsRecorded(t *testing.T) {
	dbtest.Each(t, orgParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFrozen(audittest.Start.Add(time.Hour))
		l := audit.New(d, clk)
		uses := logUses{l}
		acc, err := incident.CreateAccount(ctx, d, l, orgOne, orgBy, incident.AccountInput{Facility: 1, System: "電子カルテ", Source: "ehr-main",
			Account: "emergency01", Location: "事務長室の金庫", Custodian: "事務長"}, clk.Now())
		if err != nil || acc.State != incident.AccountSealed {
			t.Fatalf("%+v %v", acc, err)
		}
		if _, err := incident.CreateAccount(ctx, d, l, orgOne, orgBy, incident.AccountInput{Facility: 1, System: "電子カルテ",
			Account: "emergency01", Location: "x", Custodian: "y"}, clk.Now()); orgField(t, err) != "account" {
			t.Fatalf("twice: %v", err)
		}
		appendUse := func(actor string, at time.Time) {
			e := audittest.Event(1)
			e.Actor.ID, e.Time, e.Received = actor, at, at
			if _, err := l.Append(ctx, []audit.Event{e}); err != nil {
				t.Fatal(err)
			}
		}
		check := func(want int) incident.EmergencyAccount {
			t.Helper()
			n, err := incident.CheckEmergencyAccounts(ctx, d, l, uses, clk.Now())
			if err != nil || n != want {
				t.Fatalf("flagged %d %v, want %d", n, err, want)
			}
			a, err := incident.AccountByID(ctx, d, orgOne, acc.ID)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		// Others' events, and the account's before it was sealed, do not count.
		appendUse("u0001", clk.Now().Add(time.Minute))
		appendUse("emergency01", clk.Now().Add(-time.Minute))
		if a := check(0); a.State != incident.AccountSealed {
			t.Fatalf("%+v", a)
		}
		clk.Advance(10 * time.Minute)
		used := clk.Now()
		appendUse("emergency01", used)
		a := check(1)
		if a.State != incident.AccountUsed || !a.FirstUse.Equal(used) || a.Uses != 1 || a.Overdue(clk.Now()) {
			t.Fatalf("after the use: %+v", a)
		}
		// It stays used, more uses are counted, and it becomes overdue.
		clk.Advance(time.Hour)
		appendUse("emergency01", clk.Now())
		if a = check(0); a.State != incident.AccountUsed || a.Uses != 2 {
			t.Fatalf("second use: %+v", a)
		}
		clk.Advance(incident.ChangeGrace)
		if a = check(0); !a.Overdue(clk.Now()) {
			t.Fatalf("not overdue: %+v", a)
		}
		// A change dated before the last use does not clear it; one after does.
		if _, err := incident.RecordChange(ctx, d, l, orgOne, orgBy, acc.ID, used, clk.Now()); orgField(t, err) != "changed_at" {
			t.Fatalf("change before the last use: %v", err)
		}
		changed := clk.Now().Add(-time.Hour)
		if a, err = incident.RecordChange(ctx, d, l, orgOne, orgBy, acc.ID, changed, clk.Now()); err != nil || a.State != incident.AccountSealed {
			t.Fatalf("%+v %v", a, err)
		}
		if a = check(0); a.State != incident.AccountSealed || !a.ChangedAt.Equal(changed) || a.Uses != 0 {
			t.Fatalf("after the change: %+v", a)
		}
		// A use after the change flags it again.
		clk.Advance(time.Minute)
		appendUse("emergency01", clk.Now())
		if a = check(1); a.State != incident.AccountUsed {
			t.Fatalf("used again: %+v", a)
		}
		got := strings.Join(orgActions(t, l, "incident.emergency_account."), " ")
		if strings.Count(got, incident.ActionAccountUsed) != 2 || !strings.Contains(got, incident.ActionAccountChanged) {
			t.Fatalf("audit log: %s", got)
		}
	})
}
