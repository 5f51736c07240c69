package audit

import (
	"context"
	"fmt"
)

// verifyIndex compares the search index with the log from opt.From up to
// where the index has got: a row deleted or changed there would hide an
// access from searches, the per-patient view among them.
func (l *Log) verifyIndex(ctx context.Context, res *VerifyResult, size int64, opt VerifyOptions) error {
	cur, err := l.Cursor(ctx, nil, IndexReader)
	if err != nil {
		return err
	}
	end := min(cur+1, size)
	for from := res.From; from < end && !res.bad(from); from += verifyChunk {
		to := min(from+verifyChunk, end)
		idx, err := l.indexRows(ctx, from, to)
		if err != nil {
			return err
		}
		rows, err := l.db.QueryContext(ctx, `SELECT seq, entry FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq`, from, to)
		if err != nil {
			return fmt.Errorf("read the log: %w", err)
		}
		i := 0
		for rows.Next() {
			var seq int64
			var entry []byte
			if err := rows.Scan(&seq, &entry); err != nil {
				rows.Close()
				return fmt.Errorf("read the log: %w", err)
			}
			if res.bad(seq) {
				break
			}
			for i < len(idx) && idx[i].seq < seq {
				res.fail(idx[i].seq, ProblemIndex, "the search index has a row for position %d, which the log does not hold", idx[i].seq)
				i++
			}
			if i == len(idx) || idx[i].seq != seq {
				res.fail(seq, ProblemIndex, "the search index has no row for position %d: searches would not find that event", seq)
				break
			}
			e, err := DecodeEntry(entry)
			if err != nil {
				res.fail(seq, ProblemAltered, "the entry at position %d cannot be read: %v", seq, err)
				break
			}
			e.Seq = seq
			if want := rowOf(&e); want != idx[i] {
				res.fail(seq, ProblemIndex, "the search index row for position %d differs from the log (%s)", seq, want.diff(idx[i]))
			}
			i++
		}
		rows.Close()
		if opt.Progress != nil {
			opt.Progress(to-res.From, end-res.From)
		}
	}
	return nil
}

// indexRow is one row of the search index.
type indexRow struct {
	seq, facility, at, received    int64
	source, actor, action, outcome string
	patient, object, address       string
	flags                          int64
}

func rowOf(e *Event) indexRow {
	return indexRow{e.Seq, e.Facility, e.Time.UnixMilli(), e.Received.UnixMilli(), e.Source, e.Actor.ID, e.Action,
		e.Outcome, e.Patient.ID, objectText(e.Object), e.Actor.Address, int64(e.Flags)}
}

// diff names the first field in which r and o differ.
func (r indexRow) diff(o indexRow) string {
	switch {
	case r.facility != o.facility:
		return "facility"
	case r.at != o.at, r.received != o.received:
		return "time"
	case r.source != o.source:
		return "source"
	case r.actor != o.actor:
		return "actor"
	case r.action != o.action:
		return "action"
	case r.outcome != o.outcome:
		return "outcome"
	case r.patient != o.patient:
		return "patient"
	case r.object != o.object:
		return "object"
	case r.address != o.address:
		return "address"
	}
	return "flags"
}

func (l *Log) indexRows(ctx context.Context, from, to int64) ([]indexRow, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT seq, facility_id, at, received, source, actor_id, action, outcome,
		patient_id, object, address, flags FROM audit_index WHERE seq >= ? AND seq < ? ORDER BY seq`, from, to)
	if err != nil {
		return nil, fmt.Errorf("read the search index: %w", err)
	}
	defer rows.Close()
	out := make([]indexRow, 0, to-from)
	for rows.Next() {
		var r indexRow
		if err := rows.Scan(&r.seq, &r.facility, &r.at, &r.received, &r.source, &r.actor, &r.action, &r.outcome,
			&r.patient, &r.object, &r.address, &r.flags); err != nil {
			return nil, fmt.Errorf("read the search index: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
