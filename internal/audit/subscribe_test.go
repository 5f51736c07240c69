package audit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// A reader's results table, as a part such as detection would keep.
const readerTable = `CREATE TABLE test_seen (seq BIGINT PRIMARY KEY, patient TEXT NOT NULL)`

func seen(t *testing.T, d *db.DB) map[int64]int {
	t.Helper()
	rows, err := d.QueryContext(context.Background(), `SELECT seq FROM test_seen`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out[s]++
	}
	return out
}

func keepSeen(ctx context.Context, tx *db.Tx, events []audit.Event) error {
	for _, e := range events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO test_seen (seq, patient) VALUES (?, ?)`, e.Seq, e.Patient.ID); err != nil {
			return err
		}
	}
	return nil
}

func TestSubscription_ResumesAfterAFailureWithNothingLostOrRepeated(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.ExecContext(ctx, readerTable); err != nil {
			t.Fatal(err)
		}
		l := newLog(d, audittest.NewSigner())
		appendAll(t, l, audittest.Events(0, 250))
		sub := l.Subscribe("detect", 100)

		if n, err := sub.Process(ctx, keepSeen); err != nil || n != 100 {
			t.Fatalf("first batch: %d, %v", n, err)
		}
		// The reader fails half-way through the next batch (a crash, a bug):
		// its writes and the cursor's move are both undone.
		boom := errors.New("boom")
		if _, err := sub.Process(ctx, func(ctx context.Context, tx *db.Tx, events []audit.Event) error {
			if err := keepSeen(ctx, tx, events[:50]); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("failing batch = %v, want boom", err)
		}
		if cur, _ := l.Cursor(ctx, nil, "detect"); cur != 99 {
			t.Fatalf("cursor after a failed batch = %d, want 99", cur)
		}
		// A new process resumes from the stored cursor.
		again := newLog(d, audittest.NewSigner()).Subscribe("detect", 100)
		for {
			n, err := again.Process(ctx, keepSeen)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		got := seen(t, d)
		if len(got) != 250 {
			t.Fatalf("the reader saw %d events, want 250", len(got))
		}
		for s, n := range got {
			if n != 1 || s < 0 || s >= 250 {
				t.Fatalf("event %d seen %d times", s, n)
			}
		}
	})
}

func TestSubscription_TwoProcessesHandleEachEventOnce(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.ExecContext(ctx, readerTable); err != nil {
			t.Fatal(err)
		}
		s := audittest.NewSigner()
		a, b := newLog(d, s), newLog(d, s)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var wg sync.WaitGroup
		for _, l := range []*audit.Log{a, b} {
			wg.Go(func() { l.Subscribe("detect", 37).Run(ctx, 10*time.Millisecond, keepSeen) })
		}
		for i := range 20 {
			w := a
			if i%2 == 1 {
				w = b
			}
			appendAll(t, w, audittest.Events(i*25, 25))
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			if cur, _ := a.Cursor(context.Background(), nil, "detect"); cur == 499 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the readers did not reach the end of the log")
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		got := seen(t, d)
		for seq := range int64(500) {
			if got[seq] != 1 {
				t.Fatalf("event %d handled %d times (%d distinct events handled)", seq, got[seq], len(got))
			}
		}
	})
}

func TestSync_FindsWhatWasRecordedBeforeTheSearch(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := newLog(d, audittest.NewSigner())
		appendAll(t, l, audittest.Events(0, 30))
		for i := range 3 {
			record(t, l, selfaudit.Event{Action: "user.create", Target: fmt.Sprintf("user:n%d", i), Outcome: selfaudit.Success})
		}
		if behind, err := l.Sync(ctx); err != nil || behind != 0 {
			t.Fatalf("sync: %d behind, %v", behind, err)
		}
		lag, err := l.Lag(ctx)
		if err != nil || lag.Size != 33 || lag.Behind() != 0 {
			t.Fatalf("lag = %+v, %v", lag, err)
		}
		got, _ := search(t, l, all)
		if len(got) != 3 || got[0].ID != 32 {
			t.Fatalf("security events after the access events: %+v", got)
		}
	})
}

// On PostgreSQL a subscription reads the next batch while it handles
// one; that batch is used only if the cursor is then where it was read
// from: not after a failed batch, nor after another process moved the
// cursor. (SQLite reads each batch when it is handled, to the same
// effect.)
func TestSubscription_ReadsAheadOnlyFromWhereTheCursorIs(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.ExecContext(ctx, readerTable); err != nil {
			t.Fatal(err)
		}
		l := newLog(d, audittest.NewSigner())
		appendAll(t, l, audittest.Events(0, 200))
		sub := l.Subscribe("detect", 50)
		process := func(s *audit.Subscription, want int64, fn func(context.Context, *db.Tx, []audit.Event) error) {
			t.Helper()
			first := int64(-1)
			_, err := s.Process(ctx, func(ctx context.Context, tx *db.Tx, events []audit.Event) error {
				first = events[0].Seq
				return fn(ctx, tx, events)
			})
			if first != want {
				t.Fatalf("batch from %d, want %d (%v)", first, want, err)
			}
		}
		// Each full batch reads the next ahead (on PostgreSQL).
		process(sub, 0, keepSeen)
		boom := errors.New("boom")
		process(sub, 50, func(context.Context, *db.Tx, []audit.Event) error { return boom })
		// Not 100: the cursor stayed.
		process(sub, 50, keepSeen)
		// Another process handles 100-149 meanwhile.
		process(newLog(d, audittest.NewSigner()).Subscribe("detect", 50), 100, keepSeen)
		// Not 100 again.
		process(sub, 150, keepSeen)
		// Events appended after a read ahead are read next.
		appendAll(t, l, audittest.Events(200, 30))
		for {
			n, err := sub.Process(ctx, keepSeen)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		got := seen(t, d)
		for seq := range int64(230) {
			if got[seq] != 1 {
				t.Fatalf("event %d handled %d times (%d distinct events handled)", seq, got[seq], len(got))
			}
		}
	})
}
