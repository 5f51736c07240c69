package compliance

import (
	"context"
	"fmt"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// The checklist's answers: for each question of the MHLW cybersecurity
// checklist, as the form asks it, はい or いいえ, the date it was checked,
// and for いいえ the date by which it will be done — on or after the date
// checked and within the same fiscal year (April to March), as the form
// asks. The latest answer per question is stored; the audit log keeps the
// history (old → new). A sheet is saved all or nothing.

// AnswerInput is an answer as a person gives it.
type AnswerInput struct {
	Framework string     `json:"framework"`
	Ref       string     `json:"ref"`
	Value     string     `json:"value"`
	CheckedOn time.Time  `json:"checked_on"`
	TargetOn  *time.Time `json:"target_on,omitempty"`
	Note      string     `json:"note,omitempty"`
}

// ValidateAnswer checks an answer against the library on today and
// normalises its dates; it names the field that is wrong.
func ValidateAnswer(lib *Library, in *AnswerInput, today time.Time) error {
	fw := lib.Framework(in.Framework)
	if fw == nil || fw.Kind != KindChecklist {
		return invalid("framework", "compliance.error.checklist")
	}
	it := fw.Item(in.Ref)
	if it == nil || it.Kind != ItemQuestion {
		return invalid("ref", "compliance.error.question")
	}
	if in.Value != AnswerYes && in.Value != AnswerNo {
		return invalid("value", "compliance.error.answer_value")
	}
	if in.CheckedOn.IsZero() {
		return invalid("checked_on", "compliance.error.checked_on_required")
	}
	in.CheckedOn = asDate(in.CheckedOn)
	if in.CheckedOn.After(today) || in.CheckedOn.Year() < 2000 {
		return invalid("checked_on", "compliance.error.checked_on")
	}
	if in.Value == AnswerYes {
		in.TargetOn = nil // a target date is for いいえ only
	} else {
		if in.TargetOn == nil || in.TargetOn.IsZero() {
			return invalid("target_on", "compliance.error.target_on_required")
		}
		t := asDate(*in.TargetOn)
		in.TargetOn = &t
		if t.Before(in.CheckedOn) {
			return invalid("target_on", "compliance.error.target_before_checked")
		}
		if FiscalYear(t) != FiscalYear(in.CheckedOn) {
			return invalid("target_on", "compliance.error.target_fiscal_year")
		}
	}
	return text(&in.Note, "note", maxNote, false)
}

const answerColumns = `facility, framework, ref, value, checked_on, target_on, note, answered_by, answered_at`

func scanAnswer(row scanner) (Answer, error) {
	var (
		a                    Answer
		checked, target, upd int64
	)
	err := row.Scan(&a.Facility, &a.Framework, &a.Ref, &a.Value, &checked, &target, &a.Note, &a.AnsweredBy, &upd)
	a.CheckedOn, a.AnsweredAt = db.Time(checked), db.Time(upd)
	if target != 0 {
		t := db.Time(target)
		a.TargetOn = &t
	}
	return a, err
}

// Answers returns the facility's answers to a checklist (every checklist
// when framework is ""), in the order of the form.
func (s *Service) Answers(ctx context.Context, facility int64, framework string) ([]Answer, error) {
	return answers(ctx, s.cfg.DB, s.lib, facility, framework)
}

func answers(ctx context.Context, q db.Querier, lib *Library, facility int64, framework string) ([]Answer, error) {
	cond, args := "facility = ?", []any{facility}
	if framework != "" {
		cond += " AND framework = ?"
		args = append(args, framework)
	}
	rows, err := q.QueryContext(ctx, `SELECT `+answerColumns+` FROM compliance_answers WHERE `+cond, args...)
	if err != nil {
		return nil, fmt.Errorf("read the answers: %w", err)
	}
	defer rows.Close()
	byKey := map[string]Answer{}
	for rows.Next() {
		a, err := scanAnswer(rows)
		if err != nil {
			return nil, fmt.Errorf("read the answers: %w", err)
		}
		byKey[a.Framework+":"+a.Ref] = a
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := []Answer{}
	for _, fw := range lib.Frameworks {
		if fw.Kind != KindChecklist || (framework != "" && fw.ID != framework) {
			continue
		}
		fw.Walk(func(it *Item, _ int) bool {
			if a, ok := byKey[fw.ID+":"+it.Ref]; ok {
				out = append(out, a)
			}
			return true
		})
	}
	return out, nil
}

// AnswerError is an answer refused, with the question it was for.
type AnswerError struct {
	Index int    // in the list given
	Ref   string // the question
	Err   *Error
}

func (e *AnswerError) Error() string { return e.Ref + ": " + e.Err.Error() }
func (e *AnswerError) Unwrap() error { return e.Err }

// SetAnswers checks every answer and stores them all, or none when one is
// wrong (an *AnswerError names it). Each change is recorded in the audit
// log with the old and the new answer.
func (s *Service) SetAnswers(ctx context.Context, a Actor, facility int64, in []AnswerInput) ([]Answer, error) {
	now := s.cfg.Clock.Now()
	today := s.Today(now)
	if len(in) == 0 {
		return nil, invalid("answers", "compliance.error.no_answers")
	}
	seen := map[string]bool{}
	for i := range in {
		if err := ValidateAnswer(s.lib, &in[i], today); err != nil {
			return nil, &AnswerError{Index: i, Ref: in[i].Ref, Err: err.(*Error)}
		}
		k := in[i].Framework + ":" + in[i].Ref
		if seen[k] {
			return nil, &AnswerError{Index: i, Ref: in[i].Ref, Err: &Error{Field: "ref", MsgID: "compliance.error.question_twice"}}
		}
		seen[k] = true
	}
	at := now.UTC().Truncate(time.Millisecond)
	out := make([]Answer, 0, len(in))
	err := s.cfg.DB.InTx(ctx, func(tx *db.Tx) error {
		for _, x := range in {
			old, err := scanAnswer(tx.QueryRowContext(ctx, `SELECT `+answerColumns+` FROM compliance_answers
				WHERE facility = ? AND framework = ? AND ref = ?`, facility, x.Framework, x.Ref))
			if err = db.NotFound(err); err != nil && err != db.ErrNotFound {
				return fmt.Errorf("read the answer to %s: %w", x.Ref, err)
			}
			had := err == nil
			var target int64
			if x.TargetOn != nil {
				target = db.Millis(*x.TargetOn)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO compliance_answers (`+answerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (facility, framework, ref) DO UPDATE SET value = excluded.value, checked_on = excluded.checked_on,
				target_on = excluded.target_on, note = excluded.note, answered_by = excluded.answered_by,
				answered_at = excluded.answered_at`, facility, x.Framework, x.Ref, x.Value, db.Millis(x.CheckedOn), target,
				x.Note, a.Login, db.Millis(at)); err != nil {
				return fmt.Errorf("store the answer to %s: %w", x.Ref, err)
			}
			n := Answer{Facility: facility, Framework: x.Framework, Ref: x.Ref, Value: x.Value, CheckedOn: x.CheckedOn,
				TargetOn: x.TargetOn, Note: x.Note, AnsweredBy: a.Login, AnsweredAt: at}
			out = append(out, n)
			d := map[string]string{"framework": x.Framework, "ref": x.Ref, "new": answerText(n)}
			if had {
				if answerText(old) == answerText(n) && old.Note == n.Note {
					continue // unchanged: nothing to record
				}
				d["old"] = answerText(old)
			}
			if err := s.record(ctx, tx, a, facility, "compliance.answer.set", "checklist:"+x.Framework+":"+x.Ref, d, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// answerText writes an answer in one line for the audit log.
func answerText(a Answer) string {
	s := a.Value + " " + a.CheckedOn.Format(time.DateOnly)
	if a.TargetOn != nil {
		s += " → " + a.TargetOn.Format(time.DateOnly)
	}
	return s
}
