package compliance

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

func TestNew_RefusesAnInvalidOrDuplicateCheck(t *testing.T) {
	d := dbtest.SQLite(t, parts...)
	e := newEnv(t, d)
	cs := e.fake.checks()
	if _, err := NewWithLibrary(Config{DB: d, Recorder: e.log, Checks: append(cs, cs[0])}, testLibrary(t)); err == nil ||
		!strings.Contains(err.Error(), "twice") {
		t.Errorf("a check registered twice: %v", err)
	}
	bad := cs[0]
	bad.Items = nil
	if _, err := NewWithLibrary(Config{DB: d, Recorder: e.log, Checks: []check.Check{bad}}, testLibrary(t)); err == nil {
		t.Error("a check covering no item was taken")
	}
}

func TestRunner_RunsWhatIsDueStoresEveryRunAndScoresTheDay(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.fake.set("t.mfa", check.Failed("test.bad", "count", 3).WithLinks(check.Link{LabelID: "test.ok", Href: "/users"}))
		e.fake.fail("t.backup", errors.New("the backup server did not answer"))
		n, err := e.svc.RunDue(ctx, e.clk.Now())
		if err == nil && n != 3 {
			t.Fatalf("RunDue ran %d checks, want 3", n)
		}
		if err != nil {
			t.Fatal(err)
		}
		// Ten minutes later nothing is due; an hour later the hourly check
		// is, and the two daily ones that did not pass are checked again
		// (RecheckAfter).
		e.clk.Advance(10 * time.Minute)
		if n, err := e.svc.RunDue(ctx, e.clk.Now()); err != nil || n != 0 {
			t.Fatalf("ten minutes later RunDue ran %d (%v), want none", n, err)
		}
		e.clk.Advance(50 * time.Minute)
		if n, err := e.svc.RunDue(ctx, e.clk.Now()); err != nil || n != 3 {
			t.Fatalf("an hour later RunDue ran %d (%v), want 3", n, err)
		}
		runs, err := LatestRuns(ctx, d, 1)
		if err != nil {
			t.Fatal(err)
		}
		mfa := runs["t.mfa"]
		if mfa == nil || mfa.Status != check.Fail || mfa.DetailID != "test.bad" || mfa.Data["count"] != float64(3) ||
			len(mfa.Links) != 1 || mfa.Links[0].Href != "/users" {
			t.Errorf("latest run of t.mfa: %+v", mfa)
		}
		if b := runs["t.backup"]; b == nil || b.Error == "" {
			t.Errorf("a check that could not run: %+v", b)
		}
		if l := runs["t.lockout"]; l == nil || !l.RanAt.Equal(start.Add(time.Hour)) {
			t.Errorf("latest run of t.lockout: %+v", l)
		}
		hist, err := RunHistory(ctx, d, 1, "t.lockout", 10)
		if err != nil || len(hist) != 2 {
			t.Fatalf("history of t.lockout: %d runs (%v), want 2", len(hist), err)
		}
		st, err := e.svc.State(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]*ControlState{}
		for _, c := range st.Controls {
			byID[c.Control.ID] = c
		}
		if byID["ctl-mfa"].Readiness != NotReady || byID["ctl-store"].Readiness != NotReady ||
			byID["ctl-rules"].Readiness != NotAssessed {
			t.Errorf("readiness: mfa %s, store %s, rules %s", byID["ctl-mfa"].Readiness, byID["ctl-store"].Readiness,
				byID["ctl-rules"].Readiness)
		}
		var failing []string
		for _, a := range st.Attention {
			if a.Kind == "check" {
				failing = append(failing, a.Ref)
				if !a.Due.IsZero() {
					t.Errorf("failing check %s is due by %s: a failing check has no due date", a.Ref, a.Due)
				}
			}
		}
		if !slices.Equal(failing, []string{"t.backup", "t.mfa"}) {
			t.Errorf("failing checks on the to-do list: %v", failing)
		}
		if st.FacilityName.JA != "中央病院" || st.Checklist != "mhlw-checklist-r6" || len(st.Requirements) != 4 ||
			len(st.Chapters) != 2 || len(st.Revised) != 1 {
			t.Errorf("state: %+v", st)
		}
		trend, err := e.svc.Trend(ctx, 1, 30)
		if err != nil || len(trend) != 1 || trend[0].Total != 4 || trend[0].Counts[NotReady] != 3 {
			t.Errorf("trend: %+v (%v)", trend, err)
		}
		if got := e.actions(t); !slices.Equal(got, []string{"compliance.checks.due", "compliance.checks.due"}) {
			t.Errorf("audit log: %v", got)
		}
		// "Run now" runs every check, as the person asking.
		e.fake.set("t.mfa", check.Passed("test.ok"))
		e.fake.set("t.backup", check.Passed("test.ok"))
		got, err := e.svc.RunChecks(ctx, e.ciso, 1)
		if err != nil || len(got) != 3 {
			t.Fatalf("RunChecks: %d runs (%v)", len(got), err)
		}
		if ev := e.events(t, "compliance.checks.run"); len(ev) != 1 || ev[0].Actor.ID != "ciso01" {
			t.Errorf("run now in the audit log: %+v", ev)
		}
	})
}

func TestRunner_APanickingCheckIsStoredAsNotRun(t *testing.T) {
	d := dbtest.SQLite(t, parts...)
	e := newEnv(t, d)
	svc, err := NewWithLibrary(Config{DB: d, Recorder: e.log, Clock: e.clk, Checks: []check.Check{{ID: "t.mfa", TitleID: "x",
		Items: []string{"mhlw-gl-5.1:6.5-C-15"}, Run: func(context.Context, int64) (check.Result, error) { panic("boom") }}}},
		testLibrary(t))
	if err != nil {
		t.Fatal(err)
	}
	runs, err := svc.RunChecks(context.Background(), e.ciso, 1)
	if err != nil || len(runs) != 1 || !strings.Contains(runs[0].Error, "panicked") {
		t.Fatalf("runs %+v (%v)", runs, err)
	}
}

func TestControls_SettingsAreStoredAndAudited(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		if _, err := e.svc.SetControl(ctx, e.ciso, 1, "ctl-store", ControlSetting{Owner: "it01", Impl: ImplNotApplicable,
			Note: "紙で保存"}); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []struct {
			id   string
			set  ControlSetting
			want string
		}{
			{"ctl-none", ControlSetting{Impl: ImplImplemented}, "control_id"},
			{"ctl-store", ControlSetting{Impl: "done"}, "implementation"},
			{"ctl-store", ControlSetting{Impl: ImplImplemented, Owner: "two words"}, "owner"},
		} {
			if _, err := e.svc.SetControl(ctx, e.ciso, 1, bad.id, bad.set); !isErr(err, bad.want, "") {
				t.Errorf("%+v: %v, want an error on %s", bad.set, err, bad.want)
			}
		}
		st, err := e.svc.State(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range st.Controls {
			if c.Control.ID == "ctl-store" && (c.Readiness != Excluded || c.Owner != "it01" || c.Impl != ImplNotApplicable) {
				t.Errorf("ctl-store: %+v", c)
			}
		}
		// Facility 2 has its own settings.
		if _, err := e.svc.State(ctx, 99); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("the state of a facility the group does not have: %v", err)
		}
		two, err := controlSettings(ctx, d, 2)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := two["ctl-store"]; ok {
			t.Errorf("facility 2 sees facility 1's setting: %+v", two)
		}
		ev := e.events(t, "compliance.control.set")
		if len(ev) != 1 || !strings.Contains(string(ev[0].Original), `"implementation_new":"not_applicable"`) ||
			!strings.Contains(string(ev[0].Original), `"implementation_old":"not_started"`) {
			t.Errorf("audit: %+v", ev)
		}
	})
}

func TestAttestations_UploadApproveDownloadAndTheUploaderCannotApprove(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		content := []byte("運用管理規程 第1版")
		a, err := e.svc.Attest(ctx, e.ciso, 1, NewAttestation{ControlID: "ctl-rules", EvidenceID: "rules",
			FileName: `C:\docs\rules.pdf`, EffectiveOn: day("2026-04-01")}, content)
		if err != nil {
			t.Fatal(err)
		}
		if a.SHA256 != "7a2e7f0ad1b0a8d7e6a3b4a4fbb7d5cc1e45d6d68c7a0f1e9e0a1db2b4e1b1a0" && len(a.SHA256) != 64 {
			t.Errorf("sha256 %q", a.SHA256)
		}
		if a.FileName != "rules.pdf" || a.Title != "承認済みの規程" || a.ExpiresOn == nil || !a.ExpiresOn.Equal(day("2027-04-01")) ||
			a.State != AttestPending || a.UploadedBy != "ciso01" {
			t.Errorf("attestation %+v", a)
		}
		// The uploader may not approve it.
		if _, err := e.svc.Decide(ctx, e.ciso, 1, a.ID, true, ""); !isErr(err, "decided_by", "compliance.error.own_attestation") {
			t.Fatalf("the uploader approved their own: %v", err)
		}
		// Nor may anyone of another facility see it.
		if _, err := e.svc.Decide(ctx, e.admin, 2, a.ID, true, ""); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("another facility's decision: %v", err)
		}
		if _, err := e.svc.Decide(ctx, e.admin, 1, a.ID, false, " "); !isErr(err, "reason", "") {
			t.Fatalf("a rejection without reason: %v", err)
		}
		got, err := e.svc.Decide(ctx, e.admin, 1, a.ID, true, "")
		if err != nil || got.State != AttestApproved || got.DecidedBy != "admin01" || got.DecidedAt == nil {
			t.Fatalf("approve: %+v %v", got, err)
		}
		if _, err := e.svc.Decide(ctx, e.admin, 1, a.ID, false, "late"); !isErr(err, "state", "compliance.error.decided") {
			t.Fatalf("a second decision: %v", err)
		}
		at, b, err := e.svc.DownloadAttestation(ctx, e.admin, 1, a.ID)
		if err != nil || string(b) != string(content) || at.SHA256 != a.SHA256 {
			t.Fatalf("download: %v", err)
		}
		st, _ := e.svc.State(ctx, 1)
		for _, c := range st.Controls {
			if c.Control.ID == "ctl-rules" && c.Readiness != Ready {
				t.Errorf("ctl-rules with its approved rules: %s %v", c.Readiness, c.Reasons)
			}
		}
		list, err := e.svc.Attestations(ctx, 1, "ctl-rules")
		if err != nil || len(list) != 1 {
			t.Errorf("list: %v %v", list, err)
		}
		if got := e.actions(t); !slices.Equal(got, []string{"compliance.attestation.upload", "compliance.attestation.approve",
			"compliance.attestation.download"}) {
			t.Errorf("audit log: %v", got)
		}
		bad := []struct {
			n     NewAttestation
			body  string
			field string
		}{
			{NewAttestation{ControlID: "ctl-x", FileName: "a", EffectiveOn: day("2026-04-01")}, "x", "control_id"},
			{NewAttestation{ControlID: "ctl-rules", EvidenceID: "nope", FileName: "a", EffectiveOn: day("2026-04-01")}, "x", "evidence_id"},
			{NewAttestation{ControlID: "ctl-rules", FileName: "a", EffectiveOn: day("2026-04-01")}, "", "file"},
			{NewAttestation{ControlID: "ctl-rules", FileName: "", EffectiveOn: day("2026-04-01")}, "x", "file"},
			{NewAttestation{ControlID: "ctl-rules", FileName: "a"}, "x", "effective_on"},
			{NewAttestation{ControlID: "ctl-rules", FileName: "a", EffectiveOn: day("2026-06-02")}, "x", "effective_on"},
			{NewAttestation{ControlID: "ctl-rules", FileName: "a", EffectiveOn: day("2026-04-01"), ExpiresOn: dayp("2026-04-01")}, "x", "expires_on"},
			{NewAttestation{ControlID: "ctl-rules", FileName: "a", Title: strings.Repeat("長", 201), EffectiveOn: day("2026-04-01")}, "x", "title"},
		}
		for _, b := range bad {
			if _, err := e.svc.Attest(ctx, e.ciso, 1, b.n, []byte(b.body)); !isErr(err, b.field, "") {
				t.Errorf("%+v: %v, want an error on %s", b.n, err, b.field)
			}
		}
	})
}

func TestReminders_EachRenewalReminderGoesOnce(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		a, err := e.svc.Attest(ctx, e.ciso, 1, NewAttestation{ControlID: "ctl-rules", EvidenceID: "rules", FileName: "r.pdf",
			EffectiveOn: day("2025-06-20")}, []byte("rules")) // expires 2026-06-20
		if err != nil {
			t.Fatal(err)
		}
		if n, err := e.svc.SendReminders(ctx, e.clk.Now()); err != nil || n != 0 {
			t.Fatalf("a pending attestation was reminded of: %d %v", n, err)
		}
		if _, err := e.svc.Decide(ctx, e.admin, 1, a.ID, true, ""); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if n, err := e.svc.SendReminders(ctx, e.clk.Now()); err != nil || n != 1-i {
				t.Fatalf("run %d: %d reminders (%v), want %d", i, n, err, 1-i)
			}
		}
		msg := e.mail.msgs[0]
		if !strings.Contains(msg.Subject, "運用管理規程") || !strings.Contains(msg.Text, "2026-06-20") ||
			!strings.Contains(msg.Text, "https://anzen.example/compliance/controls/ctl-rules") || msg.To[0] != "ciso@hospital.example" {
			t.Errorf("mail %+v", msg)
		}
		// On its expiry date: the second reminder, once; a refused mail
		// gives its claim back.
		e.clk.Set(time.Date(2026, 6, 20, 0, 0, 0, 0, time.UTC))
		e.mail.fail = errors.New("421 busy")
		if n, err := e.svc.SendReminders(ctx, e.clk.Now()); err == nil || n != 0 {
			t.Fatalf("a refused mail: %d %v", n, err)
		}
		e.mail.fail = nil
		for i := 0; i < 2; i++ {
			if n, err := e.svc.SendReminders(ctx, e.clk.Now()); err != nil || n != 1-i {
				t.Fatalf("expiry run %d: %d reminders (%v)", i, n, err)
			}
		}
		if len(e.mail.msgs) != 2 || !strings.Contains(e.mail.msgs[1].Subject, "期限切れ") {
			t.Errorf("mail: %+v", e.mail.msgs)
		}
		// A renewal approved stops the reminders of the old one.
		b, _ := e.svc.Attest(ctx, e.ciso, 1, NewAttestation{ControlID: "ctl-rules", EvidenceID: "rules", FileName: "r2.pdf",
			EffectiveOn: day("2026-06-19")}, []byte("rules v2"))
		if _, err := e.svc.Decide(ctx, e.admin, 1, b.ID, true, ""); err != nil {
			t.Fatal(err)
		}
		e.clk.Set(time.Date(2027, 5, 25, 0, 0, 0, 0, time.UTC))
		if n, _ := e.svc.SendReminders(ctx, e.clk.Now()); n != 1 || !strings.Contains(e.mail.msgs[2].Text, "2027-06-19") {
			t.Errorf("after renewal: %d reminders, %+v", n, e.mail.msgs)
		}
		// A control the facility marks not applicable is not reminded of.
		if _, err := e.svc.SetControl(ctx, e.ciso, 1, "ctl-rules", ControlSetting{Impl: ImplNotApplicable}); err != nil {
			t.Fatal(err)
		}
		e.clk.Set(time.Date(2027, 6, 19, 0, 0, 0, 0, time.UTC))
		if n, err := e.svc.SendReminders(ctx, e.clk.Now()); err != nil || n != 0 {
			t.Errorf("a control not applicable was reminded of: %d %v", n, err)
		}
	})
}

func TestSnapshots_RecordedInTheAuditLogAndCompared(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		if _, err := e.svc.RunChecks(ctx, e.ciso, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SetAnswers(ctx, e.ciso, 1, []AnswerInput{{Framework: "mhlw-checklist-r6", Ref: "hospital-1-1",
			Value: AnswerNo, CheckedOn: day("2026-05-01"), TargetOn: dayp("2026-09-30")}}); err != nil {
			t.Fatal(err)
		}
		a, err := e.svc.TakeSnapshot(ctx, e.admin, 1, 2026, "期首")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.TakeSnapshot(ctx, e.admin, 1, 2027, ""); !isErr(err, "fiscal_year", "") {
			t.Errorf("a fiscal year to come: %v", err)
		}
		e.fake.set("t.mfa", check.Failed("test.bad", "count", 2))
		e.clk.Advance(24 * time.Hour)
		if _, err := e.svc.RunChecks(ctx, e.ciso, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SetAnswers(ctx, e.ciso, 1, []AnswerInput{{Framework: "mhlw-checklist-r6", Ref: "hospital-1-1",
			Value: AnswerYes, CheckedOn: day("2026-06-02")}}); err != nil {
			t.Fatal(err)
		}
		b, err := e.svc.TakeSnapshot(ctx, e.admin, 1, 2026, "")
		if err != nil {
			t.Fatal(err)
		}
		ev := e.events(t, "compliance.snapshot.take")
		if len(ev) != 2 || !strings.Contains(string(ev[0].Original), a.SHA256) || ev[0].Actor.ID != "admin01" {
			t.Fatalf("audit: %+v", ev)
		}
		list, err := e.svc.Snapshots(ctx, 1)
		if err != nil || len(list) != 2 || list[0].ID != b.ID || list[0].State != nil {
			t.Fatalf("list %+v %v", list, err)
		}
		got, err := e.svc.Snapshot(ctx, 1, a.ID)
		if err != nil || got.State == nil || got.State.Overall.Total != 4 || got.Note != "期首" {
			t.Fatalf("show %+v %v", got, err)
		}
		if _, err := e.svc.Snapshot(ctx, 2, a.ID); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("another facility's snapshot: %v", err)
		}
		// The management report compares with the newest snapshot.
		prev, err := e.svc.PreviousState(ctx, 1)
		if err != nil || prev == nil || !prev.At.Equal(b.State.At) {
			t.Errorf("previous state: %+v %v, want the state of snapshot %d", prev, err, b.ID)
		}
		if prev, err := e.svc.PreviousState(ctx, 2); err != nil || prev != nil {
			t.Errorf("previous state of a facility without snapshots: %+v %v", prev, err)
		}
		cmp, err := e.svc.CompareSnapshots(ctx, 1, a.ID, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(cmp.Controls) != 1 || cmp.Controls[0].Ref != "ctl-mfa" || cmp.Controls[0].From != Ready || cmp.Controls[0].To != NotReady {
			t.Errorf("controls changed: %+v", cmp.Controls)
		}
		if len(cmp.Answers) != 1 || !strings.HasPrefix(cmp.Answers[0].From, "no ") || !strings.HasPrefix(cmp.Answers[0].To, "yes ") ||
			cmp.Answers[0].Title.JA != "責任者の設置" {
			t.Errorf("answers changed: %+v", cmp.Answers)
		}
		if len(cmp.Chapters) != 2 || cmp.From.ID != a.ID || cmp.To.ID != b.ID {
			t.Errorf("comparison: %+v", cmp)
		}
		// A stored state altered afterwards is refused.
		if _, err := d.ExecContext(ctx, `UPDATE compliance_snapshots SET note = 'x', state = REPLACE(state, 'ready', 'eady') WHERE id = ?`, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Snapshot(ctx, 1, a.ID); err == nil {
			t.Error("an altered snapshot was read")
		}
	})
}

func TestRunner_PrunesRunsPastTheRetentionButKeepsEachLatest(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		for range 2 {
			if _, err := e.svc.RunDue(ctx, e.clk.Now()); err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(time.Hour) // the hourly check runs twice
		}
		old, err := RunHistory(ctx, d, 1, "t.lockout", 100)
		if err != nil || len(old) != 2 {
			t.Fatalf("history before: %d %v", len(old), err)
		}
		// Past the retention every check runs again; the old runs go,
		// each check's new latest stays.
		e.clk.Advance(RunRetention + time.Hour)
		if _, err := e.svc.RunDue(ctx, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"t.lockout", "t.mfa", "t.backup"} {
			hist, err := RunHistory(ctx, d, 1, id, 100)
			if err != nil || len(hist) != 1 || !hist[0].RanAt.Equal(e.clk.Now()) {
				t.Errorf("%s after pruning: %d runs %v", id, len(hist), err)
			}
		}
		ev := e.events(t, "compliance.runs.prune")
		if len(ev) != 1 || ev[0].Actor.ID != "system" {
			t.Errorf("audit: %+v", ev)
		}
	})
}
