package detect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Reviewing an alert: a CSIRT member takes it, looks into it and closes it
// as a true or a false positive, with a comment at each step. Every change
// is kept in the alert's history and recorded in the audit log.

// The states of an alert.
const (
	StateNew          = "new"
	StateAcknowledged = "acknowledged"  // someone is looking into it
	StateTrue         = "resolved_true" // closed: it was misuse or an attack
	StateFalse        = "resolved_false"
)

// States lists the states in the order the pages offer them.
var States = []string{StateNew, StateAcknowledged, StateTrue, StateFalse}

// ActionReview is the audit log's action for a change of an alert.
const ActionReview = "alert.review"

// maxComment is the longest comment, in characters.
const maxComment = 2000

// Review is one change of an alert: any of a new state, a comment and
// taking the alert.
type Review struct {
	State   string `json:"state,omitempty"`
	Comment string `json:"comment,omitempty"`
	Take    bool   `json:"take,omitempty"` // assign the alert to the reviewer
	// Assign gives the alert to another person People lists (assign.go).
	Assign string `json:"assignee,omitempty"`
	People People `json:"-"`
}

// Reviewer is who changes an alert.
type Reviewer struct {
	UserID int64
	Login  string
	Client string
}

// ReviewError is a review that cannot be applied; Field names what is
// wrong (state, comment, or "" for an empty review) and MsgID its message.
type ReviewError struct {
	Field, MsgID string
}

func (e *ReviewError) Error() string { return "review: " + e.MsgID }

func (rv Review) validate() error {
	if rv.State != "" && !slices.Contains(States, rv.State) {
		return &ReviewError{"state", "detect.error.state"}
	}
	if utf8.RuneCountInString(rv.Comment) > maxComment || !utf8.ValidString(rv.Comment) {
		return &ReviewError{"comment", "detect.error.comment"}
	}
	if rv.Take && rv.Assign != "" {
		return &ReviewError{"assignee", "detect.assign.error.both"}
	}
	if rv.State == "" && rv.Comment == "" && !rv.Take && rv.Assign == "" {
		return &ReviewError{"", "detect.error.empty_review"}
	}
	return nil
}

// Note is one entry of an alert's history.
type Note struct {
	At         time.Time
	ActorLogin string
	From, To   string
	Assignee   string
	Comment    string
}

// ReviewAlert applies rv to the alert id within q's facilities, keeps it
// in the alert's history and records it in the audit log through rec, in
// one transaction. db.ErrNotFound when there is no such alert.
func ReviewAlert(ctx context.Context, d *db.DB, rec selfaudit.Recorder, q AlertQuery, id int64, by Reviewer, rv Review, now time.Time) (Alert, error) {
	if err := rv.validate(); err != nil {
		return Alert{}, err
	}
	var a Alert
	err := d.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if a, err = AlertByID(ctx, tx, q, id); err != nil {
			return err
		}
		from := a.State
		if rv.State != "" {
			a.State = rv.State
		}
		if rv.Take {
			a.Assignee = by.Login
		}
		if rv.Assign != "" {
			if err := rv.assignable(ctx, a.Facility); err != nil {
				return err
			}
			a.Assignee = rv.Assign
		}
		if _, err := tx.ExecContext(ctx, `UPDATE detect_alerts SET state = ?, assignee = ?, updated = ? WHERE id = ?`,
			a.State, a.Assignee, now.UnixMilli(), a.ID); err != nil {
			return fmt.Errorf("update alert %d: %w", a.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO detect_alert_notes (alert_id, at, actor_id, actor_login, state_from, state_to, assignee, comment)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, now.UnixMilli(), by.UserID, by.Login, from, a.State, a.Assignee, rv.Comment); err != nil {
			return fmt.Errorf("keep the history of alert %d: %w", a.ID, err)
		}
		detail := map[string]string{"rule": a.RuleID, "from": from, "to": a.State}
		if rv.Take || rv.Assign != "" {
			detail["assignee"] = a.Assignee
		}
		if rv.Comment != "" {
			detail["comment"] = rv.Comment
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: a.Facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: ActionReview, Target: "alert:" + strconv.FormatInt(a.ID, 10), Outcome: selfaudit.Success,
			ClientAddr: by.Client, Detail: detail})
	})
	if errors.Is(err, db.ErrNotFound) {
		return Alert{}, db.ErrNotFound
	}
	return a, err
}

// Notes returns an alert's history, oldest first.
func Notes(ctx context.Context, d db.Querier, alertID int64) ([]Note, error) {
	rows, err := d.QueryContext(ctx, `SELECT at, actor_login, state_from, state_to, assignee, comment
		FROM detect_alert_notes WHERE alert_id = ? ORDER BY id`, alertID)
	if err != nil {
		return nil, fmt.Errorf("read the history of alert %d: %w", alertID, err)
	}
	defer rows.Close()
	var out []Note
	for rows.Next() {
		var n Note
		var at int64
		if err := rows.Scan(&at, &n.ActorLogin, &n.From, &n.To, &n.Assignee, &n.Comment); err != nil {
			return nil, fmt.Errorf("read the history of alert %d: %w", alertID, err)
		}
		n.At = time.UnixMilli(at).UTC()
		out = append(out, n)
	}
	return out, rows.Err()
}
