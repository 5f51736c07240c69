package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Suppressions: a reviewer who knows why alerts like one are harmless
// for a while (a planned drill, a vendor's maintenance from a known
// address, a doctor's night shifts this month) says so once, with the
// reason and an end, instead of closing the same false positive again
// and again. While a suppression holds, the engine does not raise the
// alerts it covers and sends nothing for them, but counts them on the
// suppression (hits, the last time and event), so that whoever reviews
// the suppressions sees what it hid. Each instance keeps the suppressions
// that hold in memory and reads them again when their generation number
// changes (suppress_engine.go); creating and ending them is recorded in
// the audit log.

// PermSuppressionsManage lets a caller create and end suppressions in the
// facilities where it is held. Reading them goes with PermAlertsRead.
var PermSuppressionsManage = authz.Define(authz.Spec{
	Name:   "detect.suppressions.manage",
	Kind:   authz.Write,
	Roles:  []authz.Role{authz.Admin, authz.CISO, authz.CSIRT},
	Scopes: []string{"manage"},
})

// Actions of the audit log for suppressions.
const (
	ActionSuppressionCreate = "alert.suppression.create"
	ActionSuppressionEnd    = "alert.suppression.end"
)

// MaxSuppression is the longest a suppression may hold: it is looked at
// again at least this often.
const MaxSuppression = 90 * 24 * time.Hour

// maxReason is the longest reason or end comment, in characters.
const maxReason = 1000

// SuppressFields are the fields a suppression's conditions may name: the
// values alerts are grouped by and the event's who and where.
var SuppressFields = []string{"user", "src_ip", "patient", "source", "terminal", "department"}

// Condition is one field's value an alert must have to be suppressed: a
// value of the alert's group, or of its event for a rule's alert.
type Condition struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// Suppression keeps alerts of a rule (or of every rule) that meet its
// conditions from being raised until it ends.
type Suppression struct {
	ID         int64
	Facility   int64  // 0: every facility
	RuleID     string // "": every rule
	Conditions []Condition
	Reason     string
	Created    time.Time
	CreatedBy  string
	Ends       time.Time
	Ended      time.Time // zero unless ended early
	EndedBy    string
	EndComment string
	Hits       int64
	LastHit    time.Time // zero before the first
	LastSeq    int64     // the last event of the last alert it kept back
}

// Active reports whether s holds at now.
func (s *Suppression) Active(now time.Time) bool {
	return s.Ended.IsZero() && now.Before(s.Ends)
}

// NewSuppression is what a person asks to suppress.
type NewSuppression struct {
	Facility   int64       `json:"facility"`
	RuleID     string      `json:"rule_id,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
	Reason     string      `json:"reason"`
	Ends       time.Time   `json:"ends"`
}

// SuppressionError is a suppression that cannot be made or ended; Field
// names what is wrong and MsgID its message.
type SuppressionError struct {
	Field, MsgID string
}

func (e *SuppressionError) Error() string { return "suppression: " + e.MsgID }

// validate checks ns at now.
func (ns *NewSuppression) validate(now time.Time) error {
	ns.RuleID = strings.TrimSpace(ns.RuleID)
	ns.Reason = strings.TrimSpace(ns.Reason)
	if len(ns.RuleID) > 200 || !utf8.ValidString(ns.RuleID) {
		return &SuppressionError{"rule_id", "detect.suppress.error.rule"}
	}
	seen := map[string]bool{}
	for i, c := range ns.Conditions {
		c.Value = strings.TrimSpace(c.Value)
		ns.Conditions[i] = c
		if !slices.Contains(SuppressFields, c.Field) || seen[c.Field] {
			return &SuppressionError{"conditions", "detect.suppress.error.field"}
		}
		if c.Value == "" || len(c.Value) > 200 || !utf8.ValidString(c.Value) {
			return &SuppressionError{"conditions", "detect.suppress.error.value"}
		}
		seen[c.Field] = true
	}
	if ns.RuleID == "" && len(ns.Conditions) == 0 {
		// Every alert of every rule: that is switching detection off.
		return &SuppressionError{"conditions", "detect.suppress.error.everything"}
	}
	if ns.Reason == "" || utf8.RuneCountInString(ns.Reason) > maxReason || !utf8.ValidString(ns.Reason) {
		return &SuppressionError{"reason", "detect.suppress.error.reason"}
	}
	if !ns.Ends.After(now) || ns.Ends.Sub(now) > MaxSuppression {
		return &SuppressionError{"ends", "detect.suppress.error.ends"}
	}
	if ns.Facility < 0 {
		return &SuppressionError{"facility", "detect.suppress.error.facility"}
	}
	return nil
}

// matches reports whether s covers the alert a at now; field reads a
// field of the alert's group or event.
func (s *Suppression) matches(a *Alert, field func(string) (string, bool), now time.Time) bool {
	if !s.Active(now) || (s.Facility != 0 && s.Facility != a.Facility) || (s.RuleID != "" && s.RuleID != a.RuleID) {
		return false
	}
	for _, c := range s.Conditions {
		if v, ok := field(c.Field); !ok || v != c.Value {
			return false
		}
	}
	return true
}

// CreateSuppression writes ns, made by by, records it in the audit log
// and tells the engines to read the suppressions again, in one
// transaction. A suppression of every facility (0) needs the right to
// manage them in every facility: q says where by may.
func CreateSuppression(ctx context.Context, d *db.DB, rec selfaudit.Recorder, q AlertQuery, by Reviewer, ns NewSuppression, now time.Time) (Suppression, error) {
	if err := ns.validate(now); err != nil {
		return Suppression{}, err
	}
	if !q.AllFacilities && (ns.Facility == 0 || !slices.Contains(q.Facilities, ns.Facility)) {
		return Suppression{}, &SuppressionError{"facility", "detect.suppress.error.facility"}
	}
	if ns.Conditions == nil {
		ns.Conditions = []Condition{}
	}
	conds, _ := json.Marshal(ns.Conditions)
	s := Suppression{Facility: ns.Facility, RuleID: ns.RuleID, Conditions: ns.Conditions, Reason: ns.Reason,
		Created: now, CreatedBy: by.Login, Ends: ns.Ends.UTC()}
	err := d.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO detect_suppressions (facility, rule_id, conditions, reason, created, created_by, ends)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, s.Facility, s.RuleID, string(conds), s.Reason, now.UnixMilli(),
			s.CreatedBy, s.Ends.UnixMilli()).Scan(&s.ID); err != nil {
			return fmt.Errorf("write a suppression: %w", err)
		}
		if err := bumpSuppressions(ctx, tx); err != nil {
			return err
		}
		detail := map[string]string{"rule": s.RuleID, "conditions": string(conds), "reason": s.Reason,
			"ends": s.Ends.Format(time.RFC3339)}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: s.Facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: ActionSuppressionCreate, Target: "suppression:" + strconv.FormatInt(s.ID, 10), Outcome: selfaudit.Success,
			ClientAddr: by.Client, Detail: detail})
	})
	return s, err
}

// EndSuppression ends the suppression id within q's facilities before its
// time, with an optional comment. db.ErrNotFound when there is no such
// suppression; a SuppressionError when it has ended already.
func EndSuppression(ctx context.Context, d *db.DB, rec selfaudit.Recorder, q AlertQuery, id int64, by Reviewer, comment string, now time.Time) (Suppression, error) {
	comment = strings.TrimSpace(comment)
	if utf8.RuneCountInString(comment) > maxReason || !utf8.ValidString(comment) {
		return Suppression{}, &SuppressionError{"comment", "detect.suppress.error.comment"}
	}
	var s Suppression
	err := d.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if s, err = SuppressionByID(ctx, tx, q, id); err != nil {
			return err
		}
		if !s.Active(now) {
			return &SuppressionError{"", "detect.suppress.error.ended"}
		}
		res, err := tx.ExecContext(ctx, `UPDATE detect_suppressions SET ended = ?, ended_by = ?, end_comment = ? WHERE id = ? AND ended = 0`,
			now.UnixMilli(), by.Login, comment, s.ID)
		if err != nil {
			return fmt.Errorf("end suppression %d: %w", s.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return &SuppressionError{"", "detect.suppress.error.ended"}
		}
		s.Ended, s.EndedBy, s.EndComment = now, by.Login, comment
		if err := bumpSuppressions(ctx, tx); err != nil {
			return err
		}
		detail := map[string]string{"rule": s.RuleID, "hits": strconv.FormatInt(s.Hits, 10)}
		if comment != "" {
			detail["comment"] = comment
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: s.Facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: ActionSuppressionEnd, Target: "suppression:" + strconv.FormatInt(s.ID, 10), Outcome: selfaudit.Success,
			ClientAddr: by.Client, Detail: detail})
	})
	if errors.Is(err, db.ErrNotFound) {
		return Suppression{}, db.ErrNotFound
	}
	return s, err
}

// bumpSuppressions tells every instance's engine that the suppressions
// changed.
func bumpSuppressions(ctx context.Context, tx *db.Tx) error {
	if _, err := tx.ExecContext(ctx, `UPDATE detect_generations SET gen = gen + 1 WHERE name = 'suppressions'`); err != nil {
		return fmt.Errorf("mark the suppressions changed: %w", err)
	}
	return nil
}

const suppressionColumns = `id, facility, rule_id, conditions, reason, created, created_by, ends, ended, ended_by, end_comment,
	hits, last_hit, last_seq`

func scanSuppression(row scanner) (Suppression, error) {
	var s Suppression
	var conds string
	var created, ends, ended, lastHit int64
	if err := row.Scan(&s.ID, &s.Facility, &s.RuleID, &conds, &s.Reason, &created, &s.CreatedBy, &ends, &ended, &s.EndedBy,
		&s.EndComment, &s.Hits, &lastHit, &s.LastSeq); err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(conds), &s.Conditions); err != nil {
		return s, fmt.Errorf("suppression %d: conditions: %w", s.ID, err)
	}
	s.Created, s.Ends = time.UnixMilli(created).UTC(), time.UnixMilli(ends).UTC()
	if ended > 0 {
		s.Ended = time.UnixMilli(ended).UTC()
	}
	if lastHit > 0 {
		s.LastHit = time.UnixMilli(lastHit).UTC()
	}
	return s, nil
}

// SuppressionByID returns one suppression within q's facilities,
// db.ErrNotFound when there is none.
func SuppressionByID(ctx context.Context, d db.Querier, q AlertQuery, id int64) (Suppression, error) {
	where, args, none := q.scope()
	if none {
		return Suppression{}, db.ErrNotFound
	}
	s, err := scanSuppression(d.QueryRowContext(ctx, `SELECT `+suppressionColumns+` FROM detect_suppressions WHERE id = ? AND `+where,
		append([]any{id}, args...)...))
	return s, db.NotFound(err)
}

// Suppressions returns the suppressions within q's facilities, newest
// first: those that hold at now (active true) or those that ended.
func Suppressions(ctx context.Context, d db.Querier, q AlertQuery, active bool, now time.Time) ([]Suppression, error) {
	where, args, none := q.scope()
	if none {
		return nil, nil
	}
	if active {
		where += " AND ended = 0 AND ends > ?"
	} else {
		where += " AND (ended <> 0 OR ends <= ?)"
	}
	args = append(args, now.UnixMilli(), max(q.Limit, 1))
	rows, err := d.QueryContext(ctx, `SELECT `+suppressionColumns+` FROM detect_suppressions WHERE `+where+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("read suppressions: %w", err)
	}
	defer rows.Close()
	var out []Suppression
	for rows.Next() {
		s, err := scanSuppression(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
