package app_test

import (
	"context"
	"io"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/compliance"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/incident"
)

// TestLoadDemo_FillsAnEmptyDatabaseOnce checks the fictional hospital of
// `serve --demo`: staff across professions, vendors, keys with use, and a
// week of sign-ins; a second call adds nothing.
func TestLoadDemo_FillsAnEmptyDatabaseOnce(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			ctx := context.Background()
			if err := e.App.LoadDemo(ctx, io.Discard); err != nil {
				t.Fatal(err)
			}
			users, total, err := e.App.Identity.ListUsers(ctx, identity.UserFilter{AllFacilities: true, Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			professions := map[identity.Profession]bool{}
			for _, u := range users {
				professions[u.Profession] = true
			}
			if total < 50 || len(professions) < 8 {
				t.Fatalf("demo: %d users over %d professions", total, len(professions))
			}
			ks, err := e.App.Keys.List(ctx)
			if err != nil || len(ks) < 5 {
				t.Fatalf("demo keys: %d, %v", len(ks), err)
			}
			uses, err := e.App.Audit.Count(ctx, audit.Filter{Action: "key.use", AllFacilities: true})
			if err != nil || uses == 0 {
				t.Fatalf("demo key uses recorded: %d, %v", uses, err)
			}
			logins, err := e.App.Audit.Count(ctx, audit.Filter{Action: "login.", AllFacilities: true})
			if err != nil || logins < 200 {
				t.Fatalf("demo sign-in history: %d, %v", logins, err)
			}
			size, err := e.App.Audit.Size(ctx)
			if err != nil || size < 10000 {
				t.Fatalf("demo access log: %d events, %v", size, err)
			}
			events, err := e.App.Audit.ReadAfter(ctx, -1, int(size))
			if err != nil {
				t.Fatal(err)
			}
			sources, skewed := map[string]int{}, 0
			for _, ev := range events {
				sources[ev.Source]++
				if ev.Flags.Has(audit.FlagClockSkew) {
					skewed++
				}
			}
			for _, s := range []string{"ehr-main", "pacs", "lab-system", "ward-terminal-gw", "dispensing", "clinic-ehr"} {
				if sources[s] == 0 {
					t.Errorf("demo: no events from %s (%v)", s, sources)
				}
			}
			if skewed != sources["ward-terminal-gw"] {
				t.Errorf("demo: %d events flagged for clock skew, want the %d of the slow gateway", skewed, sources["ward-terminal-gw"])
			}
			// The reference tables are loaded, and the engine raises each of
			// the rules that need them (run on one database: the engine's
			// tests cover both).
			if infos, err := detect.TableInfos(ctx, e.App.DB, true, nil); err != nil || len(infos) != len(detect.TableKinds) {
				t.Errorf("demo tables: %+v %v", infos, err)
			}
			if d == "sqlite" {
				demoAlertsOfEveryTableRule(t, e)
			}
			demoIncidentWork(t, e)
			demoComplianceRecord(t, e)
			if err := e.App.LoadDemo(ctx, io.Discard); err != nil {
				t.Fatal(err)
			}
			if after, _ := e.App.Audit.Size(ctx); after != size {
				t.Fatalf("a second LoadDemo changed the access log: %d -> %d", size, after)
			}
			if _, again, _ := e.App.Identity.ListUsers(ctx, identity.UserFilter{AllFacilities: true}); again != total {
				t.Fatalf("a second LoadDemo changed the users: %d -> %d", total, again)
			}
		})
	}
}

// demoAlertsOfEveryTableRule runs the engine over the demo's log and
// wants an alert of each rule that needs the reference tables.
func demoAlertsOfEveryTableRule(t *testing.T, e *apptest.Env) {
	t.Helper()
	ctx := context.Background()
	for {
		n, err := e.App.Detect.Process(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	alerts, err := detect.Alerts(ctx, e.App.DB, 5000)
	if err != nil {
		t.Fatal(err)
	}
	byRule := map[string]int{}
	for _, a := range alerts {
		byRule[a.RuleID[len(a.RuleID)-4:]]++
	}
	for _, r := range []string{"0b01", "0b02", "0b03", "0b04", "0b05", "0b06"} {
		if byRule[r] == 0 {
			t.Errorf("demo: no alert of rule %s (%v)", r, byRule)
		}
	}
}

// demoIncidentWork wants the demo's CSIRT, its on-call week and its two
// incidents: one under way that owes the PPC its reports, one closed that
// owes nothing because the stick was encrypted.
func demoIncidentWork(t *testing.T, e *apptest.Env) {
	t.Helper()
	ctx := context.Background()
	members, err := incident.Members(ctx, e.App.DB, e.Facility)
	if err != nil || len(members) != 5 {
		t.Errorf("demo CSIRT: %d members, %v", len(members), err)
	}
	if mail, err := (incident.OnCall{DB: e.App.DB}).OnCallMail(ctx, e.Facility, e.App.Clock.Now()); err != nil || len(mail) != 1 {
		t.Errorf("demo on-call now: %v %v", mail, err)
	}
	list, err := incident.List(ctx, e.App.DB, incident.ListQuery{Scope: incident.Scope{All: true}})
	if err != nil || len(list) != 2 {
		t.Fatalf("demo incidents: %d, %v", len(list), err)
	}
	owes := map[incident.State]int{}
	for _, i := range list {
		owes[i.State] = len(incident.Duties(i))
	}
	if owes[incident.Containment] != 3 || owes[incident.Closed] != 0 {
		t.Errorf("demo incidents' duties by state: %v, want 3 (PPC preliminary, final, the people) and 0", owes)
	}
}

// demoComplianceRecord wants the demo's compliance record: every check
// run, the hospital sheet answered with two いいえ that have their target
// dates, evidence in each state (approved, near expiry, awaiting
// approval), a snapshot, and a home page with figures that come from them.
func demoComplianceRecord(t *testing.T, e *apptest.Env) {
	t.Helper()
	ctx := context.Background()
	svc := e.App.Compliance
	st, err := svc.State(ctx, e.Facility)
	if err != nil {
		t.Fatal(err)
	}
	var no, yes int
	for _, a := range st.Answers {
		switch {
		case a.Value == compliance.AnswerNo && a.TargetOn != nil:
			no++
		case a.Value == compliance.AnswerYes:
			yes++
		}
	}
	if no != 2 || yes < 15 {
		t.Errorf("demo checklist: %d はい, %d いいえ with a target date", yes, no)
	}
	states := map[string]int{}
	runs := 0
	for _, cs := range st.Controls {
		runs += len(cs.Checks)
		for _, at := range cs.Attestations {
			states[at.State]++
		}
	}
	if runs < len(svc.Checks()) || states[compliance.AttestApproved] != 4 || states[compliance.AttestPending] != 1 {
		t.Errorf("demo evidence: %d check runs, attestations %v", runs, states)
	}
	approvals := 0
	for _, a := range st.Attention {
		if a.Kind == "approval" && a.Due.IsZero() {
			approvals++
		}
	}
	if approvals != 1 {
		t.Errorf("demo: %d evidence awaiting approval on the to-do list (with no due date), want 1", approvals)
	}
	if st.Overall.Counts[compliance.Ready] == 0 || len(st.Attention) == 0 {
		t.Errorf("demo: nothing ready or nothing to do: %+v, %d to do", st.Overall, len(st.Attention))
	}
	if snaps, err := svc.Snapshots(ctx, e.Facility); err != nil || len(snaps) != 1 {
		t.Errorf("demo snapshots: %d, %v", len(snaps), err)
	}
}
