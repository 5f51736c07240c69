package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

	mu   sync.Mutex
	next *readAhead // the batch after the one being handled, if read
}

// readAhead is the next batch, read on PostgreSQL while the one before
// is handled and its transaction commits, so that the query's round
// trips and the server's work overlap the reader's. It is used only if
// the cursor is where it was read from once that batch is done. SQLite
// does not read ahead: its reads are work of this process, not waits,
// and a read on a second connection made each connection drop its page
// cache after the other's writes (2 µs more CPU an event in
// BenchmarkEngine).
type readAhead struct {
	after  int64
	done   chan struct{} // closed when events and err are set
	events []Event
	err    error
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
// transaction begins. On PostgreSQL, after a full batch, the next is
// read while fn runs, and used if the cursor is then where that read
// began.
func (s *Subscription) Process(ctx context.Context, fn func(ctx context.Context, tx *db.Tx, events []Event) error) (int, error) {
	cur, err := s.log.Cursor(ctx, nil, s.name)
	if err != nil {
		return 0, err
	}
	events, err := s.read(ctx, cur)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	last := events[len(events)-1].Seq
	if len(events) == s.batch && s.log.db.Dialect() == db.Postgres {
		// There may be more: read them while these are handled.
		s.readAhead(ctx, last)
	}
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

// read returns the events after the cursor cur: the batch read ahead if
// it was read from there, else read now.
func (s *Subscription) read(ctx context.Context, cur int64) ([]Event, error) {
	s.mu.Lock()
	ra := s.next
	s.next = nil
	s.mu.Unlock()
	if ra != nil {
		<-ra.done
		if ra.after == cur && ra.err == nil && len(ra.events) > 0 {
			return ra.events, nil
		}
		// Another process moved the cursor, or this one's batch failed
		// and the cursor stayed; or the read failed, or found nothing
		// when it ran (the log may have grown since): read again.
	}
	return s.log.ReadAfter(ctx, cur, s.batch)
}

// drop waits for the batch being read ahead, if any, and forgets it.
func (s *Subscription) drop() {
	s.mu.Lock()
	ra := s.next
	s.next = nil
	s.mu.Unlock()
	if ra != nil {
		<-ra.done
	}
}

// readAhead starts reading the batch after after.
func (s *Subscription) readAhead(ctx context.Context, after int64) {
	ra := &readAhead{after: after, done: make(chan struct{})}
	s.mu.Lock()
	old := s.next
	s.next = ra
	s.mu.Unlock()
	if old != nil {
		<-old.done // only with concurrent calls of Process
	}
	go func() {
		defer close(ra.done)
		ra.events, ra.err = s.log.ReadAfter(ctx, after, s.batch)
	}()
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
	defer s.drop()
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
