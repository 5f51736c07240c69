package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Drills and exercises (guideline 6.10 C-2: train the staff, including
// for the systems being down): when, what kind, the scenario (which may
// name an incident kind), who took part in what role, how long it took
// and what was found. The lessons learned become follow-up tasks, rows of
// incident_tasks with the drill's id and no incident (source "lesson"),
// each with an owner and a due date; the drill's page lists them and an
// owner marks them done.

// DrillKinds are the kinds of exercise: tabletop (机上訓練), functional
// (機能訓練, one function such as the paper fallback or a restore) and
// full-scale (実動訓練).
var DrillKinds = []string{"tabletop", "functional", "full_scale"}

// Actions of the audit log for drills.
const (
	ActionDrillCreate = "incident.drill.create"
	ActionLessonAdd   = "incident.drill.lesson.add"
	ActionLessonDone  = "incident.drill.lesson.done"
)

const (
	maxParticipants = 200
	maxLessons      = 100
	maxDrillsRead   = 500
	// SourceLesson is the source of a drill's follow-up task.
	SourceLesson = "lesson"
)

// Participant is one person who took part in a drill.
type Participant struct {
	Name string `json:"name"`
	Role string `json:"role,omitempty"`
}

// Lesson is a follow-up task of a drill.
type Lesson struct {
	ID          int64
	DrillID     int64
	Title       string
	Description string
	Owner       string // login
	Due         time.Time
	State       string // open, done
	DoneAt      time.Time
	DoneBy      string
}

// Overdue reports whether the lesson is open past its due time at now.
func (l *Lesson) Overdue(now time.Time) bool {
	return l.State == "open" && !l.Due.IsZero() && now.After(l.Due)
}

// Drill is one drill or exercise.
type Drill struct {
	ID           int64
	Facility     int64
	HeldAt       time.Time
	Kind         string
	Title        string
	Scenario     string
	ScenarioKind Kind // "" when the scenario names no incident kind
	Participants []Participant
	Minutes      int64
	Findings     string
	Created      time.Time
	CreatedBy    string
	Lessons      []Lesson
}

func (l *Lesson) check() error {
	l.Title, l.Description, l.Owner = strings.TrimSpace(l.Title), strings.TrimSpace(l.Description), strings.TrimSpace(l.Owner)
	switch {
	case l.Title == "" || !prepCheckText(l.Title, prepMaxTitle):
		return prepErr("lessons", "incident.prep.error.title", "Max", prepMaxTitle)
	case !prepCheckText(l.Description, prepMaxText):
		return prepErr("lessons", "incident.prep.error.text", "Max", prepMaxText)
	case l.Owner == "" || !prepCheckText(l.Owner, prepMaxName) || strings.ContainsAny(l.Owner, " \t\n"):
		return prepErr("lessons", "incident.prep.error.owner")
	}
	return nil
}

func (d *Drill) check(now time.Time) error {
	d.Title, d.Scenario, d.Findings = strings.TrimSpace(d.Title), strings.TrimSpace(d.Scenario), strings.TrimSpace(d.Findings)
	switch {
	case d.HeldAt.IsZero() || d.HeldAt.After(now.Add(366*24*time.Hour)):
		return prepErr("held_at", "incident.prep.error.date")
	case !slices.Contains(DrillKinds, d.Kind):
		return prepErr("kind", "incident.prep.error.drill_kind")
	case d.Title == "" || !prepCheckText(d.Title, prepMaxTitle):
		return prepErr("title", "incident.prep.error.title", "Max", prepMaxTitle)
	case !prepCheckText(d.Scenario, prepMaxText):
		return prepErr("scenario", "incident.prep.error.text", "Max", prepMaxText)
	case !prepCheckText(d.Findings, prepMaxText):
		return prepErr("findings", "incident.prep.error.text", "Max", prepMaxText)
	case d.Minutes < 0 || d.Minutes > 7*24*60:
		return prepErr("minutes", "incident.prep.error.minutes")
	case len(d.Participants) > maxParticipants:
		return prepErr("participants", "incident.prep.error.participants", "Max", maxParticipants)
	case len(d.Lessons) > maxLessons:
		return prepErr("lessons", "incident.prep.error.lessons", "Max", maxLessons)
	}
	if d.ScenarioKind != "" {
		if _, err := ParseKind(string(d.ScenarioKind)); err != nil {
			return prepErr("scenario_kind", "incident.prep.error.scenario_kind")
		}
	}
	for i := range d.Participants {
		p := &d.Participants[i]
		p.Name, p.Role = strings.TrimSpace(p.Name), strings.TrimSpace(p.Role)
		if p.Name == "" || !prepCheckText(p.Name, prepMaxName) || !prepCheckText(p.Role, prepMaxName) {
			return prepErr("participants", "incident.prep.error.participant", "Max", prepMaxName)
		}
	}
	for i := range d.Lessons {
		if err := d.Lessons[i].check(); err != nil {
			return err
		}
	}
	return nil
}

// CreateDrill writes the drill d in facility with its lessons as
// follow-up tasks, recorded in the audit log, in one transaction.
func CreateDrill(ctx context.Context, q *db.DB, rec selfaudit.Recorder, by Actor, facility int64, d Drill, now time.Time) (Drill, error) {
	if err := d.check(now); err != nil {
		return d, err
	}
	if d.Participants == nil {
		d.Participants = []Participant{}
	}
	d.Facility, d.Created, d.CreatedBy = facility, now, by.Login
	err := q.InTx(ctx, func(tx *db.Tx) error {
		parts, _ := json.Marshal(d.Participants)
		if err := tx.QueryRowContext(ctx, `INSERT INTO incident_drills (facility, held_at, kind, title, scenario, scenario_kind,
			participants, minutes, findings, created, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			facility, d.HeldAt.UnixMilli(), d.Kind, d.Title, d.Scenario, string(d.ScenarioKind), string(parts), d.Minutes,
			d.Findings, now.UnixMilli(), by.Login).Scan(&d.ID); err != nil {
			return fmt.Errorf("write a drill: %w", err)
		}
		for i := range d.Lessons {
			if err := insertLesson(ctx, tx, facility, d.ID, &d.Lessons[i], i, now); err != nil {
				return err
			}
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: ActionDrillCreate, Target: "drill:" + strconv.FormatInt(d.ID, 10), Outcome: selfaudit.Success, ClientAddr: by.Client,
			Detail: map[string]string{"kind": d.Kind, "held_at": d.HeldAt.Format(time.RFC3339),
				"participants": strconv.Itoa(len(d.Participants)), "lessons": strconv.Itoa(len(d.Lessons))}})
	})
	return d, err
}

func insertLesson(ctx context.Context, tx *db.Tx, facility, drill int64, l *Lesson, position int, now time.Time) error {
	l.DrillID, l.State = drill, "open"
	if err := tx.QueryRowContext(ctx, `INSERT INTO incident_tasks (facility, incident_id, drill_id, phase, title, description, owner, due,
		state, source, position, created) VALUES (?, NULL, ?, '', ?, ?, ?, ?, 'open', ?, ?, ?) RETURNING id`,
		facility, drill, l.Title, l.Description, l.Owner, db.Millis(l.Due), SourceLesson, position, now.UnixMilli()).Scan(&l.ID); err != nil {
		return fmt.Errorf("write a lesson of drill %d: %w", drill, err)
	}
	return nil
}

// AddLesson adds a follow-up task to the drill id of facility, recorded
// in the audit log; db.ErrNotFound when facility has no such drill.
func AddLesson(ctx context.Context, q *db.DB, rec selfaudit.Recorder, by Actor, facility, id int64, l Lesson, now time.Time) (Lesson, error) {
	if err := l.check(); err != nil {
		return l, err
	}
	err := q.InTx(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM incident_drills WHERE id = ? AND facility = ?`, id, facility).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return db.ErrNotFound
		}
		var pos int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM incident_tasks WHERE drill_id = ?`, id).Scan(&pos); err != nil {
			return err
		}
		if pos >= maxLessons {
			return prepErr("lessons", "incident.prep.error.lessons", "Max", maxLessons)
		}
		if err := insertLesson(ctx, tx, facility, id, &l, pos, now); err != nil {
			return err
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: ActionLessonAdd, Target: "task:" + strconv.FormatInt(l.ID, 10), Outcome: selfaudit.Success, ClientAddr: by.Client,
			Detail: map[string]string{"drill": strconv.FormatInt(id, 10), "owner": l.Owner}})
	})
	return l, err
}

// CompleteLesson marks the follow-up task of the drill id done, recorded
// in the audit log; db.ErrNotFound when facility's drill has no such
// task, a PrepError when it is done already.
func CompleteLesson(ctx context.Context, q *db.DB, rec selfaudit.Recorder, by Actor, facility, id, task int64, now time.Time) error {
	return q.InTx(ctx, func(tx *db.Tx) error {
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM incident_tasks WHERE id = ? AND drill_id = ? AND facility = ? AND incident_id IS NULL`,
			task, id, facility).Scan(&state)
		if err != nil {
			return db.NotFound(err)
		}
		if state != "open" {
			return prepErr("", "incident.prep.error.lesson_done")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incident_tasks SET state = 'done', done_at = ?, done_by = ? WHERE id = ?`,
			now.UnixMilli(), by.Login, task); err != nil {
			return fmt.Errorf("complete task %d: %w", task, err)
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: ActionLessonDone, Target: "task:" + strconv.FormatInt(task, 10), Outcome: selfaudit.Success, ClientAddr: by.Client,
			Detail: map[string]string{"drill": strconv.FormatInt(id, 10)}})
	})
}

const drillColumns = `id, facility, held_at, kind, title, scenario, scenario_kind, participants, minutes, findings, created, created_by`

func scanDrill(row interface{ Scan(...any) error }) (Drill, error) {
	var d Drill
	var held, created int64
	var parts, sk string
	if err := row.Scan(&d.ID, &d.Facility, &held, &d.Kind, &d.Title, &d.Scenario, &sk, &parts, &d.Minutes, &d.Findings,
		&created, &d.CreatedBy); err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(parts), &d.Participants); err != nil {
		return d, fmt.Errorf("drill %d: participants: %w", d.ID, err)
	}
	d.ScenarioKind, d.HeldAt, d.Created = Kind(sk), db.Time(held), db.Time(created)
	return d, nil
}

// Drills returns the drills of the facilities given, newest first,
// without their lessons.
func Drills(ctx context.Context, q db.Querier, all bool, facilities []int64) ([]Drill, error) {
	where, args := prepFacilityScope(all, facilities)
	rows, err := q.QueryContext(ctx, `SELECT `+drillColumns+` FROM incident_drills WHERE `+where+` ORDER BY held_at DESC, id DESC LIMIT ?`,
		append(args, maxDrillsRead)...)
	if err != nil {
		return nil, fmt.Errorf("read drills: %w", err)
	}
	defer rows.Close()
	var out []Drill
	for rows.Next() {
		d, err := scanDrill(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DrillByID returns the drill id of the facilities given with its
// lessons; db.ErrNotFound when there is none.
func DrillByID(ctx context.Context, q db.Querier, all bool, facilities []int64, id int64) (Drill, error) {
	where, args := prepFacilityScope(all, facilities)
	d, err := scanDrill(q.QueryRowContext(ctx, `SELECT `+drillColumns+` FROM incident_drills WHERE id = ? AND `+where,
		append([]any{id}, args...)...))
	if err != nil {
		return d, db.NotFound(err)
	}
	rows, err := q.QueryContext(ctx, `SELECT id, title, description, owner, due, state, done_at, done_by FROM incident_tasks
		WHERE drill_id = ? AND incident_id IS NULL ORDER BY position, id`, id)
	if err != nil {
		return d, fmt.Errorf("read the lessons of drill %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		l := Lesson{DrillID: id}
		var due, done int64
		if err := rows.Scan(&l.ID, &l.Title, &l.Description, &l.Owner, &due, &l.State, &done, &l.DoneBy); err != nil {
			return d, err
		}
		l.Due, l.DoneAt = db.Time(due), db.Time(done)
		d.Lessons = append(d.Lessons, l)
	}
	return d, rows.Err()
}
