package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// The record of verifications: every run of Verify that anzen serve makes
// daily, and every `anzen audit verify`, is kept with what it found, so
// that the dashboard shows when the log was last proven whole and the
// compliance centre can show it as evidence of the guideline's protection
// of access logs against alteration. Each is also an event on the log
// itself (ActionVerify).

// ActionVerify is the log's record of a verification.
const ActionVerify = "audit.verify"

// Verification is one recorded run of Verify.
type Verification struct {
	ID       int64         `json:"id"`
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
	Via      string        `json:"via"` // "job" (anzen serve), "cli"
	Result   *VerifyResult `json:"result"`
}

// VerificationOrigin says who ran a verification, for its record.
type VerificationOrigin struct {
	Via    string // "job", "cli"
	Actor  string // the person, or "" for "system"
	Client string
}

// RecordVerification keeps res and puts an ActionVerify event on the log,
// in one transaction. A verification that found a problem is recorded
// with the outcome failure and the position and kind of the problem.
func (l *Log) RecordVerification(ctx context.Context, res *VerifyResult, o VerificationOrigin) (*Verification, error) {
	if o.Via == "" {
		o.Via = "job"
	}
	if o.Actor == "" {
		o.Actor = "system"
	}
	body, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	v := &Verification{Started: res.Started, Finished: res.Started.Add(res.Duration), Via: o.Via, Result: res}
	ok, outcome := 0, selfaudit.Failure
	if res.OK {
		ok, outcome = 1, selfaudit.Success
	}
	detail := map[string]string{"from": strconv.FormatInt(res.From, 10), "size": strconv.FormatInt(res.Size, 10),
		"checkpoints": strconv.Itoa(res.Checkpoints), "via": o.Via, "duration": res.Duration.Round(time.Millisecond).String()}
	if !res.OK {
		detail["first_bad"] = strconv.FormatInt(res.FirstBad, 10)
		detail["kind"] = res.Kind
		detail["problem"] = res.Problem
	}
	err = l.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO audit_verifications
			(started, finished, from_seq, size, checkpoints, ok, first_bad, problem, via, kind, result)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			v.Started.UnixMilli(), v.Finished.UnixMilli(), res.From, res.Size, res.Checkpoints, ok, res.FirstBad,
			res.Problem, o.Via, res.Kind, string(body)).Scan(&v.ID); err != nil {
			return fmt.Errorf("record the verification: %w", err)
		}
		return l.Record(ctx, tx, selfaudit.Event{ActorLogin: o.Actor, ClientAddr: o.Client, Action: ActionVerify,
			Target: "audit-verification:" + strconv.FormatInt(v.ID, 10), Outcome: outcome, Detail: detail})
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Verifications returns the newest recorded verifications, newest first,
// at most limit of them.
func (l *Log) Verifications(ctx context.Context, limit int) ([]Verification, error) {
	return l.verifications(ctx, `ORDER BY id DESC LIMIT ?`, limit)
}

func (l *Log) verifications(ctx context.Context, tail string, args ...any) ([]Verification, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT id, started, finished, via, from_seq, size, checkpoints, ok,
		first_bad, kind, problem, result FROM audit_verifications `+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("read verifications: %w", err)
	}
	defer rows.Close()
	var out []Verification
	for rows.Next() {
		var (
			v                 Verification
			started, finished int64
			ok                int
			body              string
			r                 VerifyResult
		)
		if err := rows.Scan(&v.ID, &started, &finished, &v.Via, &r.From, &r.Size, &r.Checkpoints, &ok,
			&r.FirstBad, &r.Kind, &r.Problem, &body); err != nil {
			return nil, fmt.Errorf("read verifications: %w", err)
		}
		if body != "" {
			// The whole result; the columns above stand when it cannot
			// be read (a row from before it was kept).
			_ = json.Unmarshal([]byte(body), &r)
		}
		r.OK = ok == 1
		v.Started, v.Finished = time.UnixMilli(started).UTC(), time.UnixMilli(finished).UTC()
		r.Started = v.Started
		v.Result = &r
		out = append(out, v)
	}
	return out, rows.Err()
}

// LatestVerification returns the newest recorded verification, or
// db.ErrNotFound when the log has never been verified.
func (l *Log) LatestVerification(ctx context.Context) (*Verification, error) {
	vs, err := l.Verifications(ctx, 1)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("no verification: %w", db.ErrNotFound)
	}
	return &vs[0], nil
}

// LastGoodVerification returns the newest verification that found the log
// whole, or db.ErrNotFound.
func (l *Log) LastGoodVerification(ctx context.Context) (*Verification, error) {
	vs, err := l.verifications(ctx, `WHERE ok = 1 ORDER BY id DESC LIMIT 1`)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("no verification found the log whole: %w", db.ErrNotFound)
	}
	return &vs[0], nil
}
