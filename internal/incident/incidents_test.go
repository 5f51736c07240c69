package incident

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

var (
	parts = []db.Migrations{audit.Migrations(), Migrations()}
	start = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	csirt = Actor{UserID: 7, Login: "csirt01", Client: "10.0.0.5", Lang: "ja"}
	fac1  = Scope{Facilities: []int64{1}}
)

// env is an incident store on one database with a frozen clock and the
// audit log as its recorder.
type env struct {
	d   *db.DB
	log *audit.Log
	clk *clock.Frozen
}

func newEnv(t *testing.T, d *db.DB) *env {
	// The incidents here start with no playbook's tasks, so that their
	// timelines hold only what each test does; the playbooks' seeding has
	// its own tests (here and in internal/app).
	saved := playbookTasks
	t.Cleanup(func() { playbookTasks = saved })
	playbookTasks = func(context.Context, db.Querier, int64, Kind) ([]TaskTemplate, error) { return nil, nil }
	clk := clock.NewFrozen(start)
	return &env{d: d, log: audit.New(d, clk), clk: clk}
}

// actions returns the actions the audit log holds, in order.
func (e *env) actions(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	if err := e.log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	events, err := e.log.ReadAfter(ctx, -1, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range events {
		out = append(out, ev.Action)
	}
	return out
}

func (e *env) create(t *testing.T, n NewIncident) Incident {
	t.Helper()
	if n.Facility == 0 {
		n.Facility = 1
	}
	if n.Kind == "" {
		n.Kind = Ransomware
	}
	if n.Title == "" {
		n.Title = "電子カルテ端末に身代金要求画面"
	}
	i, err := Create(context.Background(), e.d, e.log, fac1, csirt, n, e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func TestLifecycle_EveryStateToClosureWithATimelineEntryAndAuditRecordEach(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnv(t, d)
		i := e.create(t, NewIncident{Cyberattack: true, CareImpact: true, Severity: Critical})
		if i.State != New || i.Ref() != "INC-2026-0001" || !i.AwareAt.Equal(start) || i.CreatedBy != "csirt01" {
			t.Fatalf("created %+v (%s)", i, i.Ref())
		}
		for n, st := range States[1:] {
			e.clk.Advance(time.Hour)
			tr := Transition{To: st}
			if st == Closed {
				tr.Resolution = ResolutionResolved
			}
			got, err := ChangeState(ctx, d, e.log, fac1, i.ID, csirt, tr, e.clk.Now())
			if err != nil || got.State != st {
				t.Fatalf("step %d to %s: %+v %v", n, st, got, err)
			}
		}
		i, err := Get(ctx, d, fac1, i.ID)
		if err != nil || i.State != Closed || i.Resolution != ResolutionResolved || !i.Closed.Equal(start.Add(5*time.Hour)) {
			t.Fatalf("closed: %+v %v", i, err)
		}
		e.clk.Advance(time.Minute)
		sev := High
		if _, err := Update(ctx, d, e.log, fac1, i.ID, csirt, Patch{Severity: &sev}, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		tl, err := Timeline(ctx, d, i.ID)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, en := range tl {
			if !en.Auto || en.Actor != "csirt01" {
				t.Errorf("entry %+v: want auto by csirt01", en)
			}
			kinds = append(kinds, en.Action)
		}
		if len(tl) != 7 || count(kinds, "state") != 5 || kinds[0] != "create" || kinds[6] != "severity" {
			t.Fatalf("timeline %v", kinds)
		}
		if tl[6].Detail["old"] != "critical" || tl[6].Detail["new"] != "high" {
			t.Errorf("severity detail %v", tl[6].Detail)
		}
		if last := tl[5]; last.Detail["old"] != "recovery" || last.Detail["new"] != "closed" || last.Detail["resolution"] != "resolved" {
			t.Errorf("closing detail %v", last.Detail)
		}
		acts := e.actions(t)
		if count(acts, ActionCreate) != 1 || count(acts, ActionState) != 5 || count(acts, ActionUpdate) != 1 {
			t.Errorf("audit actions %v", acts)
		}
		// Reopening needs a comment; then it goes back to triage.
		if _, err := ChangeState(ctx, d, e.log, fac1, i.ID, csirt, Transition{To: Triage}, e.clk.Now()); !isField(err, "comment") {
			t.Errorf("reopen without a comment: %v", err)
		}
		got, err := ChangeState(ctx, d, e.log, fac1, i.ID, csirt, Transition{To: Triage, Comment: "二次被害を確認"}, e.clk.Now())
		if err != nil || got.State != Triage || !got.Closed.IsZero() || got.Resolution != "" {
			t.Errorf("reopened %+v %v", got, err)
		}
	})
}

func isField(err error, field string) bool {
	var ie *Error
	return errors.As(err, &ie) && ie.Field == field
}

func TestLifecycle_BadTransitionsAreRefusedAndChangeNothing(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnv(t, d)
		i := e.create(t, NewIncident{})
		if _, err := ChangeState(ctx, d, e.log, fac1, i.ID, csirt, Transition{To: Containment}, e.clk.Now()); err != nil {
			t.Fatal(err) // forward by two steps is allowed
		}
		tests := []struct {
			name  string
			tr    Transition
			field string
		}{
			{"unknown state", Transition{To: "done"}, "to"},
			{"same state", Transition{To: Containment}, "to"},
			{"back without a comment", Transition{To: Triage}, "comment"},
			{"closing without a resolution", Transition{To: Closed}, "resolution"},
			{"closing with an unknown resolution", Transition{To: Closed, Resolution: "fixed"}, "resolution"},
			{"resolution while open", Transition{To: Recovery, Resolution: ResolutionResolved}, "resolution"},
		}
		before := e.actions(t)
		for _, tt := range tests {
			if _, err := ChangeState(ctx, d, e.log, fac1, i.ID, csirt, tt.tr, e.clk.Now()); !isField(err, tt.field) {
				t.Errorf("%s: %v, want a refusal of %s", tt.name, err, tt.field)
			}
		}
		if _, err := ChangeState(ctx, d, e.log, Scope{Facilities: []int64{2}}, i.ID, csirt, Transition{To: Recovery}, e.clk.Now()); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("another facility's incident: %v", err)
		}
		if got, _ := Get(ctx, d, fac1, i.ID); got.State != Containment {
			t.Errorf("state %s after refusals", got.State)
		}
		if after := e.actions(t); len(after) != len(before) {
			t.Errorf("refusals were recorded: %v", after[len(before):])
		}
		// Back with a comment is allowed.
		if got, err := ChangeState(ctx, d, e.log, fac1, i.ID, csirt, Transition{To: Triage, Comment: "影響範囲を再確認"}, e.clk.Now()); err != nil || got.State != Triage {
			t.Errorf("back with a comment: %+v %v", got, err)
		}
	})
}

func TestCreate_RefusesBadFacts(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		now := e.clk.Now()
		tests := []struct {
			name  string
			n     NewIncident
			field string
		}{
			{"no title", NewIncident{Facility: 1, Kind: Other}, "title"},
			{"unknown kind", NewIncident{Facility: 1, Kind: "fire", Title: "x"}, "kind"},
			{"unknown severity", NewIncident{Facility: 1, Kind: Other, Title: "x", Severity: "urgent"}, "severity"},
			{"aware in the future", NewIncident{Facility: 1, Kind: Other, Title: "x", AwareAt: now.Add(time.Hour)}, "aware_at"},
			{"occurred after aware", NewIncident{Facility: 1, Kind: Other, Title: "x", AwareAt: now.Add(-time.Hour), OccurredAt: now}, "occurred_at"},
			{"negative people", NewIncident{Facility: 1, Kind: Other, Title: "x", People: -1}, "people"},
			{"facility out of scope", NewIncident{Facility: 2, Kind: Other, Title: "x"}, "facility"},
			{"commander with a space", NewIncident{Facility: 1, Kind: Other, Title: "x", Commander: "a b"}, "commander"},
		}
		for _, tt := range tests {
			if _, err := Create(context.Background(), d, e.log, fac1, csirt, tt.n, now); !isField(err, tt.field) {
				t.Errorf("%s: %v, want a refusal of %s", tt.name, err, tt.field)
			}
		}
		if list, _ := List(context.Background(), d, ListQuery{Scope: Scope{All: true}}); len(list) != 0 {
			t.Errorf("%d incidents stored", len(list))
		}
	})
}

func TestCreate_SeedsThePlaybooksTasksInTheCreatorsLanguage(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d) // restores playbookTasks at the end
		playbookTasks = func(ctx context.Context, q db.Querier, facility int64, kind Kind) ([]TaskTemplate, error) {
			if kind != Ransomware {
				return nil, nil
			}
			return []TaskTemplate{
				{Phase: Containment, TitleJA: "ネットワークを分離する", TitleEN: "Isolate the network", DueAfter: time.Hour},
				{Phase: Triage, TitleJA: "被害範囲を確認する", TitleEN: "Establish the scope"},
			}, nil
		}
		ctx := context.Background()
		i := e.create(t, NewIncident{AwareAt: start.Add(-2 * time.Hour)})
		tasks, err := Tasks(ctx, d, i.ID)
		if err != nil || len(tasks) != 2 {
			t.Fatalf("%+v %v", tasks, err)
		}
		// By phase: triage first.
		if tasks[0].Title != "被害範囲を確認する" || tasks[1].Title != "ネットワークを分離する" || tasks[1].Source != "playbook:ransomware" {
			t.Errorf("tasks %+v", tasks)
		}
		if !tasks[1].Due.Equal(start.Add(-time.Hour)) || !tasks[1].Overdue(start) || !tasks[0].Due.IsZero() {
			t.Errorf("due %v (overdue %v), %v", tasks[1].Due, tasks[1].Overdue(start), tasks[0].Due)
		}
		en := csirt
		en.Lang = "en"
		j, err := Create(ctx, d, e.log, fac1, en, NewIncident{Facility: 1, Kind: Ransomware, Title: "x"}, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if tasks, _ := Tasks(ctx, d, j.ID); len(tasks) != 2 || tasks[0].Title != "Establish the scope" {
			t.Errorf("English tasks %+v", tasks)
		}
		k := e.create(t, NewIncident{Kind: LostDevice})
		if tasks, _ := Tasks(ctx, d, k.ID); len(tasks) != 0 {
			t.Errorf("a kind without a playbook has tasks %+v", tasks)
		}
		c, err := CountOpen(ctx, d, fac1, e.clk.Now())
		if err != nil || c.OverdueTasks != 1 || c.OpenBySeverity[Medium] != 3 {
			t.Errorf("counts %+v %v", c, err)
		}
	})
}

func TestTasks_AssignDoneReopenCancelEachOnTheTimeline(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnv(t, d)
		i := e.create(t, NewIncident{})
		tk, err := AddTask(ctx, d, e.log, fac1, i.ID, csirt, NewTask{Title: "バックアップを確認する", Phase: Recovery}, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		owner, due := "it01", start.Add(2*time.Hour)
		if tk, err = UpdateTask(ctx, d, e.log, fac1, i.ID, tk.ID, csirt, TaskPatch{Owner: &owner, Due: &due}, e.clk.Now()); err != nil || tk.Owner != "it01" {
			t.Fatalf("%+v %v", tk, err)
		}
		for _, st := range []string{TaskDone, TaskOpen, TaskCancelled} {
			if tk, err = UpdateTask(ctx, d, e.log, fac1, i.ID, tk.ID, csirt, TaskPatch{State: &st}, e.clk.Now()); err != nil || tk.State != st {
				t.Fatalf("%s: %+v %v", st, tk, err)
			}
		}
		bad := "finished"
		if _, err := UpdateTask(ctx, d, e.log, fac1, i.ID, tk.ID, csirt, TaskPatch{State: &bad}, e.clk.Now()); !isField(err, "state") {
			t.Errorf("bad state: %v", err)
		}
		if _, err := AddTask(ctx, d, e.log, fac1, i.ID, csirt, NewTask{Title: "x", Phase: Closed}, e.clk.Now()); !isField(err, "phase") {
			t.Errorf("closed phase: %v", err)
		}
		acts := e.actions(t)
		for _, a := range []string{"incident.task.add", "incident.task.update", "incident.task.done", "incident.task.reopen", "incident.task.cancel"} {
			if count(acts, a) != 1 {
				t.Errorf("%s recorded %d times: %v", a, count(acts, a), acts)
			}
		}
		tl, _ := Timeline(ctx, d, i.ID)
		if len(tl) != 6 || tl[5].Action != "task.cancel" {
			t.Errorf("timeline %+v", tl)
		}
	})
}

func TestNotes_TellOfThePastNotTheFuture(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnv(t, d)
		i := e.create(t, NewIncident{})
		past := start.Add(-50 * time.Minute)
		n, err := AddNote(ctx, d, e.log, fac1, i.ID, csirt, Note{Text: "病棟から電話で報告", At: past}, e.clk.Now())
		if err != nil || !n.At.Equal(past) {
			t.Fatalf("%+v %v", n, err)
		}
		if _, err := AddNote(ctx, d, e.log, fac1, i.ID, csirt, Note{Text: "x", At: start.Add(time.Hour)}, e.clk.Now()); !isField(err, "at") {
			t.Errorf("future note: %v", err)
		}
		tl, _ := Timeline(ctx, d, i.ID)
		if len(tl) != 2 || tl[0].Action != "note" || tl[0].Auto {
			t.Errorf("timeline %+v: the note of the past comes first", tl)
		}
		if count(e.actions(t), ActionNote) != 1 {
			t.Error("note not recorded")
		}
	})
}
