package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Reading the log in order. Another part (detection, say) reads the events
// after its own cursor, stored in the log's database, and advances the
// cursor in the same transaction as the results of its work, so that after
// a crash it resumes where it stopped: no event is skipped, none is handled
// twice.
//
//	sub := log.Subscribe("detect", 1000)
//	n, err := sub.Process(ctx, func(ctx context.Context, tx *db.Tx, events []audit.Event) error {
//		return saveAlerts(ctx, tx, evaluate(events)) // written with the cursor's move, or not at all
//	})

// Feed is the log as the parts that read it in order see it; internal/app
// gives them *Log through it (or through a smaller interface of their own).
type Feed interface {
	// Subscribe returns the named reader's way through the log.
	Subscribe(name string, batch int) *Subscription
	// ReadAfter reads events after a position, in order.
	ReadAfter(ctx context.Context, after int64, limit int) ([]Event, error)
	// Cursor returns where the named reader has got to.
	Cursor(ctx context.Context, q db.Querier, name string) (int64, error)
	// Changed is closed at the next append of this process.
	Changed() <-chan struct{}
}

var _ Feed = (*Log)(nil)

// Size returns how many events the log holds (the tree size): the next
// sequence number.
func (l *Log) Size(ctx context.Context) (int64, error) {
	h, err := readHead(ctx, l.db)
	return h.size, err
}

// ReadAfter returns up to limit events with a sequence number above after,
// in order (after = -1 reads from the start). Events archived by retention
// are skipped.
func (l *Log) ReadAfter(ctx context.Context, after int64, limit int) ([]Event, error) {
	return readAfter(ctx, l.db, after, limit)
}

func readAfter(ctx context.Context, q db.Querier, after int64, limit int) ([]Event, error) {
	out, err := queryEntries(ctx, q, min(limit, 4096), `SELECT seq, entry FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	return out, nil
}

// Cursor returns the last sequence number the reader name has processed,
// or -1 when it has processed none.
func (l *Log) Cursor(ctx context.Context, q db.Querier, name string) (int64, error) {
	if q == nil {
		q = l.db
	}
	var seq int64
	err := q.QueryRowContext(ctx, `SELECT seq FROM audit_cursors WHERE name = ?`, name).Scan(&seq)
	if errors.Is(db.NotFound(err), db.ErrNotFound) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cursor %s: %w", name, err)
	}
	return seq, nil
}

// errCursorMoved is returned inside Process when another process handled
// the same events first.
var errCursorMoved = errors.New("the cursor was moved by another process")

// Subscription is one reader's way through the log.
type Subscription struct {
	log   *Log
	name  string
	batch int
}

// Subscribe returns the reader name's subscription, handing it at most
// batch events at a time.
func (l *Log) Subscribe(name string, batch int) *Subscription {
	return &Subscription{log: l, name: name, batch: max(batch, 1)}
}

// Process hands the next events after the reader's cursor to fn, inside a
// transaction in which it then moves the cursor past them: either fn's
// writes and the move are both kept, or neither. It returns how many
// events were processed: 0 when there were none, or when another process
// handled them first (the cursor is checked under a lock, so each event is
// handled once). fn should only write; the events are read before the
// transaction begins.
func (s *Subscription) Process(ctx context.Context, fn func(ctx context.Context, tx *db.Tx, events []Event) error) (int, error) {
	cur, err := s.log.Cursor(ctx, nil, s.name)
	if err != nil {
		return 0, err
	}
	events, err := s.log.ReadAfter(ctx, cur, s.batch)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	last := events[len(events)-1].Seq
	err = s.log.db.InTx(ctx, func(tx *db.Tx) error {
		locked, err := lockCursor(ctx, tx, s.name, s.log.clock.Now())
		if err != nil {
			return err
		}
		if locked != cur {
			return errCursorMoved
		}
		if err := fn(ctx, tx, events); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE audit_cursors SET seq = ?, updated = ? WHERE name = ?`,
			last, s.log.clock.Now().UnixMilli(), s.name)
		return err
	})
	if errors.Is(err, errCursorMoved) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: process events %d-%d: %w", s.name, events[0].Seq, last, err)
	}
	return len(events), nil
}

// lockCursor returns the reader's cursor, creating it at -1, locked until
// the transaction ends.
func lockCursor(ctx context.Context, tx *db.Tx, name string, now time.Time) (int64, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_cursors (name, seq, updated) VALUES (?, -1, ?)
		ON CONFLICT (name) DO NOTHING`, name, now.UnixMilli()); err != nil {
		return 0, fmt.Errorf("create cursor %s: %w", name, err)
	}
	q := `SELECT seq FROM audit_cursors WHERE name = ?`
	if tx.Dialect() == db.Postgres {
		q += " FOR UPDATE"
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, q, name).Scan(&seq); err != nil {
		return 0, fmt.Errorf("lock cursor %s: %w", name, err)
	}
	return seq, nil
}

// Run processes events with fn until ctx ends: at once after every commit
// of this process, and every poll otherwise (to see appends of other
// processes). An error of fn is logged and retried after poll.
func (s *Subscription) Run(ctx context.Context, poll time.Duration, fn func(ctx context.Context, tx *db.Tx, events []Event) error) {
	for {
		changed := s.log.Changed()
		n, err := s.Process(ctx, fn)
		if err != nil && ctx.Err() == nil {
			s.log.log.Error("read the audit log", "reader", s.name, "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-time.After(poll):
		}
	}
}
