package incident

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// An incident's tasks: what must be done, in which phase of the
// response, by whom and by when. A playbook seeds them when the incident
// is opened (incidents_write.go); handlers add their own, take them, and
// mark them done, cancelled, or open again. A task past its due time and
// still open is overdue.

// The states of a task.
const (
	TaskOpen      = "open"
	TaskDone      = "done"
	TaskCancelled = "cancelled"
)

// TaskStates lists them.
var TaskStates = []string{TaskOpen, TaskDone, TaskCancelled}

// Task is one task of an incident.
type Task struct {
	ID          int64
	Facility    int64
	Incident    int64
	Phase       State // "" for none
	Title       string
	Description string
	Owner       string
	Due         time.Time
	State       string
	DoneAt      time.Time
	DoneBy      string
	Source      string // manual, playbook:<kind>, lesson
	Created     time.Time
}

// Overdue reports whether the task is open past its due time at now.
func (t *Task) Overdue(now time.Time) bool {
	return t.State == TaskOpen && !t.Due.IsZero() && now.After(t.Due)
}

const taskColumns = `id, facility, incident_id, phase, title, description, owner, due, state, done_at, done_by, source, created`

func scanTask(row scanner) (Task, error) {
	var (
		t                    Task
		phase                string
		due, doneAt, created int64
		incident             *int64
	)
	if err := row.Scan(&t.ID, &t.Facility, &incident, &phase, &t.Title, &t.Description, &t.Owner, &due, &t.State, &doneAt,
		&t.DoneBy, &t.Source, &created); err != nil {
		return t, err
	}
	if incident != nil {
		t.Incident = *incident
	}
	t.Phase, t.Due, t.DoneAt, t.Created = State(phase), db.Time(due), db.Time(doneAt), db.Time(created)
	return t, nil
}

// Tasks returns the tasks of incident id, in the order of their phase and
// position.
func Tasks(ctx context.Context, q db.Querier, id int64) ([]Task, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+taskColumns+` FROM incident_tasks WHERE incident_id = ? ORDER BY position, id`, id)
	if err != nil {
		return nil, fmt.Errorf("read the tasks of incident %d: %w", id, err)
	}
	defer rows.Close()
	var out []Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("read the tasks of incident %d: %w", id, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Task) int { return phaseOrder(a.Phase) - phaseOrder(b.Phase) })
	return out, nil
}

// phaseOrder sorts tasks of no phase last.
func phaseOrder(s State) int {
	if i := stateIndex(s); i >= 0 {
		return i
	}
	return len(States)
}

// OpenTasks returns the open tasks of open incidents in scope, those due
// first; owner "" for everyone's.
func OpenTasks(ctx context.Context, q db.Querier, s Scope, owner string) ([]Task, error) {
	cond, args, none := s.where("t.facility")
	if none {
		return nil, nil
	}
	if owner != "" {
		cond += " AND t.owner = ?"
		args = append(args, owner)
	}
	rows, err := q.QueryContext(ctx, `SELECT t.id, t.facility, t.incident_id, t.phase, t.title, t.description, t.owner, t.due,
		t.state, t.done_at, t.done_by, t.source, t.created FROM incident_tasks t JOIN incident_incidents i ON i.id = t.incident_id
		WHERE t.state = 'open' AND i.state <> 'closed' AND `+cond+` ORDER BY CASE WHEN t.due = 0 THEN 1 ELSE 0 END, t.due, t.id LIMIT 500`, args...)
	if err != nil {
		return nil, fmt.Errorf("read open tasks: %w", err)
	}
	defer rows.Close()
	var out []Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// NewTask is a task a handler adds.
type NewTask struct {
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	Phase       State     `json:"phase,omitempty"`
	Owner       string    `json:"owner,omitempty"`
	Due         time.Time `json:"due,omitzero"`
}

func checkPhase(p *State) error {
	if *p == "" {
		return nil
	}
	v, err := ParseState(string(*p))
	if err != nil || v == Closed {
		return invalid("phase", "incident.error.phase")
	}
	*p = v
	return nil
}

func checkDue(t time.Time) error {
	if !t.IsZero() && (t.Year() < 2000 || t.Year() > 2200) {
		return invalid("due", "incident.error.due")
	}
	return nil
}

// AddTask adds a task to the incident id in scope.
func AddTask(ctx context.Context, d *db.DB, rec selfaudit.Recorder, scope Scope, id int64, by Actor, n NewTask, now time.Time) (Task, error) {
	if err := text(&n.Title, "title", maxTitle, true); err != nil {
		return Task{}, err
	}
	if err := text(&n.Description, "description", maxText, false); err != nil {
		return Task{}, err
	}
	if err := checkPhase(&n.Phase); err != nil {
		return Task{}, err
	}
	if err := checkLogin(&n.Owner, "owner"); err != nil {
		return Task{}, err
	}
	if err := checkDue(n.Due); err != nil {
		return Task{}, err
	}
	var t Task
	err := d.InTx(ctx, func(tx *db.Tx) error {
		i, err := Get(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		var taskID int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO incident_tasks (facility, incident_id, phase, title, description, owner,
			due, source, position, created) VALUES (?, ?, ?, ?, ?, ?, ?, 'manual',
			(SELECT COALESCE(MAX(position), 0) + 1 FROM incident_tasks WHERE incident_id = ?), ?) RETURNING id`,
			i.Facility, id, string(n.Phase), n.Title, n.Description, n.Owner, db.Millis(n.Due), id, now.UnixMilli()).Scan(&taskID); err != nil {
			return fmt.Errorf("write a task: %w", err)
		}
		if t, err = taskByID(ctx, tx, id, taskID); err != nil {
			return err
		}
		if err := autoEntry(ctx, tx, id, by, "task.add", t.Title, map[string]any{"task": t.ID, "owner": t.Owner,
			"due": rfc(t.Due), "phase": t.Phase}, now); err != nil {
			return err
		}
		return record(ctx, tx, rec, i, by, "incident.task.add", map[string]string{"ref": i.Ref(), "task": strconv.FormatInt(t.ID, 10)}, now)
	})
	return t, err
}

func taskByID(ctx context.Context, q db.Querier, incident, id int64) (Task, error) {
	t, err := scanTask(q.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM incident_tasks WHERE id = ? AND incident_id = ?`, id, incident))
	return t, db.NotFound(err)
}

// TaskPatch changes a task: nil fields stay as they are. A zero Due
// clears the due time.
type TaskPatch struct {
	Title *string    `json:"title,omitempty"`
	Owner *string    `json:"owner,omitempty"`
	Due   *time.Time `json:"due,omitempty"`
	Phase *State     `json:"phase,omitempty"`
	State *string    `json:"state,omitempty"`
}

// UpdateTask changes the task of the incident id in scope. Its timeline
// entry and audit action say what: task.done, task.cancel, task.reopen,
// or task.update.
func UpdateTask(ctx context.Context, d *db.DB, rec selfaudit.Recorder, scope Scope, id, taskID int64, by Actor, p TaskPatch, now time.Time) (Task, error) {
	var out Task
	err := d.InTx(ctx, func(tx *db.Tx) error {
		i, err := Get(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		t, err := taskByID(ctx, tx, id, taskID)
		if err != nil {
			return err
		}
		out = t
		changed := map[string]any{}
		if p.Title != nil {
			if err := text(p.Title, "title", maxTitle, true); err != nil {
				return err
			}
			out.Title = *p.Title
		}
		if p.Owner != nil {
			if err := checkLogin(p.Owner, "owner"); err != nil {
				return err
			}
			out.Owner = *p.Owner
		}
		if p.Due != nil {
			if err := checkDue(*p.Due); err != nil {
				return err
			}
			out.Due = p.Due.UTC().Truncate(time.Millisecond)
		}
		if p.Phase != nil {
			if err := checkPhase(p.Phase); err != nil {
				return err
			}
			out.Phase = *p.Phase
		}
		verb := "update"
		if p.State != nil && *p.State != t.State {
			switch *p.State {
			case TaskDone:
				verb, out.DoneAt, out.DoneBy = "done", now, by.Login
			case TaskCancelled:
				verb, out.DoneAt, out.DoneBy = "cancel", now, by.Login
			case TaskOpen:
				verb, out.DoneAt, out.DoneBy = "reopen", time.Time{}, ""
			default:
				return invalid("state", "incident.error.task_state")
			}
			out.State = *p.State
			changed["state"] = map[string]any{"old": t.State, "new": out.State}
		} else if p.State != nil && !slices.Contains(TaskStates, *p.State) {
			return invalid("state", "incident.error.task_state")
		}
		for f, pair := range map[string][2]any{"title": {t.Title, out.Title}, "owner": {t.Owner, out.Owner},
			"due": {rfc(t.Due), rfc(out.Due)}, "phase": {string(t.Phase), string(out.Phase)}} {
			if pair[0] != pair[1] {
				changed[f] = map[string]any{"old": pair[0], "new": pair[1]}
			}
		}
		if len(changed) == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incident_tasks SET title = ?, owner = ?, due = ?, phase = ?, state = ?,
			done_at = ?, done_by = ? WHERE id = ?`, out.Title, out.Owner, db.Millis(out.Due), string(out.Phase), out.State,
			db.Millis(out.DoneAt), out.DoneBy, out.ID); err != nil {
			return fmt.Errorf("update task %d: %w", out.ID, err)
		}
		changed["task"] = out.ID
		if err := autoEntry(ctx, tx, id, by, "task."+verb, out.Title, changed, now); err != nil {
			return err
		}
		return record(ctx, tx, rec, i, by, "incident.task."+verb, map[string]string{"ref": i.Ref(),
			"task": strconv.FormatInt(out.ID, 10)}, now)
	})
	return out, err
}
