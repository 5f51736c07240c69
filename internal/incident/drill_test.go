package incident_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

func TestDrills_LessonsBecomeTasksThatOwnersMarkDone(t *testing.T) {
	dbtest.Each(t, prepParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := audittest.Start
		l := audit.New(d, clock.NewFrozen(now))
		dr, err := incident.CreateDrill(ctx, d, l, prepActor, 1, incident.Drill{HeldAt: now.Add(-24 * time.Hour), Kind: "tabletop",
			Title: "ランサムウェア机上訓練", Scenario: "夜間に電子カルテの画面に脅迫文が表示された", ScenarioKind: incident.Ransomware,
			Participants: []incident.Participant{{Name: "山田 太郎", Role: "対応責任者"}, {Name: "佐藤 花子", Role: "情報システム担当"}},
			Minutes:      90, Findings: "保守事業者の夜間連絡先が古かった",
			Lessons: []incident.Lesson{{Title: "保守事業者の夜間連絡先を更新する", Owner: "it01", Due: now.Add(14 * 24 * time.Hour)},
				{Title: "紙の処方箋の様式を各病棟に配置する", Owner: "pharm01"}}}, now)
		if err != nil || dr.ID == 0 || dr.Lessons[0].ID == 0 {
			t.Fatal(dr, err)
		}
		if _, err := incident.AddLesson(ctx, d, l, prepActor, 1, dr.ID, incident.Lesson{Title: "訓練を年 2 回にする", Owner: "ciso01"}, now); err != nil {
			t.Fatal(err)
		}
		// The tasks are rows of incident_tasks: no incident, the drill's id, source lesson.
		var n int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM incident_tasks WHERE drill_id = ? AND incident_id IS NULL AND source = 'lesson'
			AND state = 'open' AND facility = 1`, dr.ID).Scan(&n); err != nil || n != 3 {
			t.Fatalf("%d lesson tasks, %v", n, err)
		}
		got, err := incident.DrillByID(ctx, d, false, []int64{1}, dr.ID)
		if err != nil || len(got.Lessons) != 3 || got.Lessons[0].Owner != "it01" || got.Lessons[2].Title != "訓練を年 2 回にする" ||
			len(got.Participants) != 2 || got.ScenarioKind != incident.Ransomware {
			t.Fatalf("%+v %v", got, err)
		}
		if got.Lessons[0].Overdue(now) || !got.Lessons[0].Overdue(now.Add(15*24*time.Hour)) || got.Lessons[1].Overdue(now.Add(1000*time.Hour)) {
			t.Error("overdue is wrong")
		}
		if _, err := incident.DrillByID(ctx, d, false, []int64{2}, dr.ID); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("facility 2 reads facility 1's drill: %v", err)
		}
		task := got.Lessons[0].ID
		if err := incident.CompleteLesson(ctx, d, l, incident.Actor{Login: "it01"}, 2, dr.ID, task, now); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("completing from facility 2: %v", err)
		}
		if err := incident.CompleteLesson(ctx, d, l, incident.Actor{Login: "it01"}, 1, dr.ID, task, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		var pe *incident.PrepError
		if err := incident.CompleteLesson(ctx, d, l, incident.Actor{Login: "it01"}, 1, dr.ID, task, now); !errors.As(err, &pe) {
			t.Errorf("completing twice: %v", err)
		}
		got, _ = incident.DrillByID(ctx, d, true, nil, dr.ID)
		if got.Lessons[0].State != "done" || got.Lessons[0].DoneBy != "it01" || got.Lessons[1].State != "open" {
			t.Errorf("after done: %+v", got.Lessons)
		}
		// Refused drills write nothing.
		for _, bad := range []incident.Drill{
			{HeldAt: now, Kind: "party", Title: "x"},
			{HeldAt: now, Kind: "tabletop", Title: ""},
			{HeldAt: now, Kind: "tabletop", Title: "x", ScenarioKind: "zombie"},
			{HeldAt: now, Kind: "tabletop", Title: "x", Lessons: []incident.Lesson{{Title: "no owner"}}},
		} {
			if _, err := incident.CreateDrill(ctx, d, l, prepActor, 1, bad, now); !errors.As(err, &pe) {
				t.Errorf("%+v: %v", bad, err)
			}
		}
		if list, err := incident.Drills(ctx, d, false, []int64{1}); err != nil || len(list) != 1 {
			t.Errorf("drills: %d %v", len(list), err)
		}
		if len(prepRecorded(t, l, incident.ActionDrillCreate)) != 1 || len(prepRecorded(t, l, incident.ActionLessonAdd)) != 1 ||
			len(prepRecorded(t, l, incident.ActionLessonDone)) != 1 {
			t.Error("drill events are missing")
		}
	})
}
