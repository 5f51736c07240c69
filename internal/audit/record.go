package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// securityRecord is the original record of one of anzen's own security
// events, as the log keeps it (JSON, fields in this order, detail keys
// sorted).
type securityRecord struct {
	Time       time.Time         `json:"time"`
	Facility   int64             `json:"facility"`
	ActorID    int64             `json:"actor_id"`
	ActorLogin string            `json:"actor_login"`
	Action     string            `json:"action"`
	Target     string            `json:"target"`
	Outcome    string            `json:"outcome"`
	ClientAddr string            `json:"client_addr"`
	Detail     map[string]string `json:"detail"`
}

// Record stores one of anzen's own security events through q, so that it
// is part of the caller's transaction; a nil q writes directly. The event
// waits in the outbox until the next append moves it onto the log (within
// a fraction of a second while anzen serves; Search and Count move it
// first). A zero Time becomes the clock's now. Action and Outcome are
// required and Outcome must be selfaudit.Success or selfaudit.Failure;
// text longer than MaxFieldLen characters is cut, and text that is not
// valid UTF-8 is repaired, so that what an anonymous caller typed can
// always be recorded.
func (l *Log) Record(ctx context.Context, q db.Querier, se selfaudit.Event) error {
	if err := validateSecurity(se); err != nil {
		return err
	}
	if q == nil {
		q = l.db
	}
	if se.Time.IsZero() {
		se.Time = l.clock.Now()
	}
	e, err := securityEvent(se)
	if err != nil {
		return err
	}
	entry := AppendEntry(nil, &e)
	if _, err := q.ExecContext(ctx, `INSERT INTO audit_outbox (at, entry) VALUES (?, ?)`,
		e.Received.UnixMilli(), entry); err != nil {
		return fmt.Errorf("record %s: %w", se.Action, err)
	}
	return nil
}

// securityEvent turns a security event of anzen into a log event: source
// "anzen", the login as the actor's id, the target as the object, the whole
// event as the original record.
func securityEvent(se selfaudit.Event) (Event, error) {
	rec := securityRecord{Time: se.Time.UTC().Truncate(time.Millisecond), Facility: se.Facility, ActorID: se.ActorID,
		ActorLogin: Clean(se.ActorLogin), Action: Clean(se.Action), Target: Clean(se.Target), Outcome: se.Outcome,
		ClientAddr: Clean(se.ClientAddr), Detail: make(map[string]string, len(se.Detail))}
	for k, v := range se.Detail {
		rec.Detail[Clean(k)] = Clean(v)
	}
	orig, err := json.Marshal(rec) // sorted detail keys: one canonical form
	if err != nil {
		return Event{}, fmt.Errorf("record %s: %w", se.Action, err)
	}
	e := Event{Seq: -1, Time: rec.Time, Received: rec.Time, Facility: rec.Facility, Source: SourceAnzen,
		Actor: Actor{ID: rec.ActorLogin, Address: rec.ClientAddr}, Action: rec.Action, Outcome: rec.Outcome,
		Format: FormatAnzen, Original: orig}
	if typ, id, ok := strings.Cut(rec.Target, ":"); ok {
		e.Object = Object{Type: typ, ID: id}
	} else {
		e.Object = Object{ID: rec.Target}
	}
	if err := e.Normalize(); err != nil {
		return Event{}, fmt.Errorf("record %s: %w", se.Action, err)
	}
	return e, nil
}

func validateSecurity(e selfaudit.Event) error {
	switch {
	case strings.TrimSpace(e.Action) == "":
		return fmt.Errorf("%w: action is required", ErrInvalid)
	case e.Outcome == "":
		return fmt.Errorf("%w: outcome is required (action %s)", ErrInvalid, e.Action)
	case e.Outcome != selfaudit.Success && e.Outcome != selfaudit.Failure:
		return fmt.Errorf("%w: outcome %q is neither %q nor %q (action %s)", ErrInvalid,
			e.Outcome, selfaudit.Success, selfaudit.Failure, e.Action)
	case e.Facility < 0:
		return fmt.Errorf("%w: facility %d is negative (action %s)", ErrInvalid, e.Facility, e.Action)
	case e.ActorID < 0:
		return fmt.Errorf("%w: actor id %d is negative (action %s)", ErrInvalid, e.ActorID, e.Action)
	}
	return nil
}

// AdoptLegacy moves the security events of anzen's first version (the
// table audit_security_events, renamed by migration 2) onto the log, in
// their original order, and drops the old table; it returns how many it
// moved. It does nothing when there is no such table.
func (l *Log) AdoptLegacy(ctx context.Context) (int, error) {
	exists := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit_legacy_security_events'`
	if l.db.Dialect() == db.Postgres {
		exists = `SELECT COUNT(*) FROM (SELECT to_regclass('audit_legacy_security_events') AS t) x WHERE t IS NOT NULL`
	}
	var n int
	if err := l.db.QueryRowContext(ctx, exists).Scan(&n); err != nil {
		return 0, fmt.Errorf("look for the old security events: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	moved := 0
	err := l.db.InTx(ctx, func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT at, facility_id, actor_id, actor_login, action, target, outcome,
			client_addr, detail FROM audit_legacy_security_events ORDER BY id`)
		if err != nil {
			return err
		}
		var events []selfaudit.Event
		for rows.Next() {
			var se selfaudit.Event
			var at int64
			var detail string
			if err := rows.Scan(&at, &se.Facility, &se.ActorID, &se.ActorLogin, &se.Action, &se.Target,
				&se.Outcome, &se.ClientAddr, &detail); err != nil {
				rows.Close()
				return err
			}
			se.Time = db.Time(at)
			if detail != "" && detail != "{}" {
				if err := json.Unmarshal([]byte(detail), &se.Detail); err != nil {
					rows.Close()
					return fmt.Errorf("old security event detail: %w", err)
				}
			}
			events = append(events, se)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, se := range events {
			if err := l.Record(ctx, tx, se); err != nil {
				return err
			}
		}
		moved = len(events)
		_, err = tx.ExecContext(ctx, `DROP TABLE audit_legacy_security_events`)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("move the old security events onto the log: %w", err)
	}
	return moved, l.Flush(ctx)
}
