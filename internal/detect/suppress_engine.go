package detect

import (
	"context"
	"fmt"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// How the engine applies suppressions (suppress.go) when it writes
// alerts: it keeps the suppressions that hold in memory, and for each
// batch of alerts reads one number, their generation, which every change
// raises in the transaction that makes it; when the number moved (another
// instance, or a person on this one, changed them), it reads them again.
// A suppressed alert is not written and not notified; the suppression's
// hits, last hit and last event are raised in the same transaction.

// suppressions is what the engine remembers of the suppressions.
type suppressions struct {
	gen  int64 // the generation read; 0 before the first read
	list []Suppression
}

// withoutSuppressed returns the alerts no suppression covers, counting
// the others on their suppressions, in tx. It reads the generation once
// for the alerts of a batch, and the suppressions only when it moved.
func (en *Engine) withoutSuppressed(ctx context.Context, tx *db.Tx, alerts []Alert, now time.Time) ([]Alert, error) {
	if len(alerts) == 0 {
		return alerts, nil
	}
	s := &en.suppress
	var gen int64
	if err := tx.QueryRowContext(ctx, `SELECT gen FROM detect_generations WHERE name = 'suppressions'`).Scan(&gen); err != nil {
		return nil, fmt.Errorf("read the suppressions' generation: %w", err)
	}
	if gen != s.gen {
		list, err := Suppressions(ctx, tx, AlertQuery{AllFacilities: true, Limit: maxActiveSuppressions}, true, now)
		if err != nil {
			return nil, err
		}
		s.gen, s.list = gen, list
	}
	if len(s.list) == 0 {
		return alerts, nil
	}
	kept := alerts[:0]
	for i := range alerts {
		held, err := en.suppressed(ctx, tx, &alerts[i], now)
		if err != nil {
			return nil, err
		}
		if !held {
			kept = append(kept, alerts[i])
		}
	}
	return kept, nil
}

// suppressed reports whether a suppression in memory covers the alert a,
// and if so counts the alert on it, in tx.
func (en *Engine) suppressed(ctx context.Context, tx *db.Tx, a *Alert, now time.Time) (bool, error) {
	field := func(name string) (string, bool) {
		for _, g := range a.Group {
			if g.Field == name {
				return g.Value, true
			}
		}
		if a.event == nil {
			return "", false
		}
		v, ok := accessEvent{e: a.event}.Field(name)
		str, isStr := v.(string)
		return str, ok && isStr
	}
	for i := range en.suppress.list {
		sp := &en.suppress.list[i]
		if !sp.matches(a, field, now) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE detect_suppressions SET hits = hits + 1, last_hit = ?,
			last_seq = CASE WHEN last_seq > ? THEN last_seq ELSE ? END WHERE id = ?`,
			now.UnixMilli(), a.LastSeq, a.LastSeq, sp.ID); err != nil {
			return false, fmt.Errorf("count an alert on suppression %d: %w", sp.ID, err)
		}
		return true, nil
	}
	return false, nil
}

// maxActiveSuppressions bounds the suppressions that hold at once, and
// that the engine reads.
const maxActiveSuppressions = 1000
