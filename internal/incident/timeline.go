package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// The timeline of an incident: anzen's entries, one for every change
// (written by the functions that change), and the handlers' own notes,
// each with the time it happened, which may be before it was written
// ("the ward called at 08:10").

// Entry is one line of an incident's timeline.
type Entry struct {
	ID     int64
	At     time.Time
	Actor  string
	Auto   bool
	Action string // a field's name, state, create, task.add, ... or note
	Text   string
	Detail map[string]any
}

// Timeline returns the timeline of incident id (already read within a
// scope), oldest first.
func Timeline(ctx context.Context, q db.Querier, id int64) ([]Entry, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, at, actor, auto, action, text, detail FROM incident_timeline
		WHERE incident_id = ? ORDER BY at, id`, id)
	if err != nil {
		return nil, fmt.Errorf("read the timeline of incident %d: %w", id, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var (
			e      Entry
			at     int64
			auto   int
			detail string
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &auto, &e.Action, &e.Text, &detail); err != nil {
			return nil, fmt.Errorf("read the timeline of incident %d: %w", id, err)
		}
		e.At, e.Auto = db.Time(at), auto != 0
		_ = json.Unmarshal([]byte(detail), &e.Detail)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Note is a handler's entry in the timeline.
type Note struct {
	Text string    `json:"text"`
	At   time.Time `json:"at,omitzero"` // when it happened; now when zero
}

// AddNote writes a handler's note in the timeline of incident id in
// scope. A note may tell of the past, not of the future.
func AddNote(ctx context.Context, d *db.DB, rec selfaudit.Recorder, scope Scope, id int64, by Actor, n Note, now time.Time) (Entry, error) {
	if err := text(&n.Text, "text", maxText, true); err != nil {
		return Entry{}, err
	}
	if n.At.IsZero() {
		n.At = now
	}
	if n.At.After(now.Add(futureSlip)) || n.At.Year() < 2000 {
		return Entry{}, invalid("at", "incident.error.note_at")
	}
	e := Entry{At: n.At.UTC().Truncate(time.Millisecond), Actor: by.Login, Action: "note", Text: n.Text}
	err := d.InTx(ctx, func(tx *db.Tx) error {
		i, err := Get(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO incident_timeline (incident_id, at, actor, auto, action, text, detail)
			VALUES (?, ?, ?, 0, 'note', ?, '{}') RETURNING id`, id, e.At.UnixMilli(), by.Login, n.Text).Scan(&e.ID); err != nil {
			return fmt.Errorf("write a note: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incident_incidents SET updated = ? WHERE id = ?`, now.UnixMilli(), id); err != nil {
			return err
		}
		return record(ctx, tx, rec, i, by, ActionNote, map[string]string{"ref": i.Ref(), "entry": fmt.Sprint(e.ID),
			"at": e.At.Format(time.RFC3339)}, now)
	})
	return e, err
}
