package audit

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// The search index is a reader of the log like any other: it turns events
// into rows of audit_index (by patient, actor, action, source, facility,
// time) and keeps, per source system, when it was last heard from and how
// far its clock was off. The append path writes no index, which keeps it
// fast; the index follows within milliseconds, and every search first
// brings it up to date (Sync).

// IndexReader is the name of the search index's cursor.
const IndexReader = "audit.index"

// indexBatch is the most events the index takes in one transaction.
const indexBatch = 2000

// objectText is the object as one searchable text: "type:id", or the id
// alone when it has no type (the target of anzen's security events).
func objectText(o Object) string {
	if o.Type == "" {
		return o.ID
	}
	return o.Type + ":" + o.ID
}

// index writes the rows of events into the search index and updates the
// source statistics.
func index(ctx context.Context, tx *db.Tx, events []Event) error {
	const cols = 12
	ins := chunkInserter{tx: tx, cols: cols,
		into: "audit_index (seq, facility_id, at, received, source, actor_id, action, outcome, patient_id, object, address, flags)"}
	defer ins.close()
	args := make([]any, 0, cols*min(len(events), insertChunk))
	for i := range events {
		e := &events[i]
		args = append(args, e.Seq, e.Facility, e.Time.UnixMilli(), e.Received.UnixMilli(), e.Source, e.Actor.ID,
			e.Action, e.Outcome, e.Patient.ID, objectText(e.Object), e.Actor.Address, int64(e.Flags))
		if len(args) == cols*insertChunk || i == len(events)-1 {
			if err := ins.exec(ctx, args); err != nil {
				return fmt.Errorf("write the search index: %w", err)
			}
			args = args[:0]
		}
	}
	if err := updateSources(ctx, tx, events); err != nil {
		return err
	}
	return updateSourceHours(ctx, tx, events) // sources.go
}

// sourceStat is what one batch tells of one source.
type sourceStat struct {
	facility      int64
	source        string
	firstReceived int64
	lastReceived  int64
	lastAt        int64
	lastSkew      int64
	events        int64
	skewed        int64
}

func updateSources(ctx context.Context, tx *db.Tx, events []Event) error {
	type key struct {
		f int64
		s string
	}
	stats := map[key]*sourceStat{}
	for i := range events {
		e := &events[i]
		k := key{e.Facility, e.Source}
		st := stats[k]
		if st == nil {
			st = &sourceStat{facility: e.Facility, source: e.Source, firstReceived: e.Received.UnixMilli()}
			stats[k] = st
		}
		st.events++
		if e.Flags.Has(FlagClockSkew) {
			st.skewed++
		}
		if r := e.Received.UnixMilli(); r >= st.lastReceived {
			st.lastReceived, st.lastAt = r, e.Time.UnixMilli()
			if !e.Flags.Has(FlagImported) && !e.Flags.Has(FlagNoSourceTime) {
				st.lastSkew = e.Time.UnixMilli() - r
			}
		}
	}
	keys := make([]key, 0, len(stats))
	for k := range stats {
		keys = append(keys, k)
	}
	// A fixed order keeps two writers from locking rows in opposite orders.
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].f != keys[j].f {
			return keys[i].f < keys[j].f
		}
		return keys[i].s < keys[j].s
	})
	greatest := "max"
	if tx.Dialect() == db.Postgres {
		greatest = "GREATEST"
	}
	q := `INSERT INTO audit_sources (facility_id, source, first_received, last_received, last_at, last_skew_ms, events, skewed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (facility_id, source) DO UPDATE SET
			last_at = CASE WHEN excluded.last_received >= audit_sources.last_received THEN excluded.last_at ELSE audit_sources.last_at END,
			last_skew_ms = CASE WHEN excluded.last_received >= audit_sources.last_received THEN excluded.last_skew_ms ELSE audit_sources.last_skew_ms END,
			last_received = ` + greatest + `(audit_sources.last_received, excluded.last_received),
			events = audit_sources.events + excluded.events,
			skewed = audit_sources.skewed + excluded.skewed`
	for _, k := range keys {
		st := stats[k]
		if _, err := tx.ExecContext(ctx, q, st.facility, st.source, st.firstReceived, st.lastReceived, st.lastAt,
			st.lastSkew, st.events, st.skewed); err != nil {
			return fmt.Errorf("update source %s: %w", st.source, err)
		}
	}
	return nil
}

// IndexLag is how far the search index is behind the log.
type IndexLag struct {
	Size    int64 // events in the log
	Indexed int64 // events in the index (its cursor + 1)
}

// Behind is how many events the index has still to take.
func (g IndexLag) Behind() int64 { return g.Size - g.Indexed }

// Lag reports how far the search index is behind the log.
func (l *Log) Lag(ctx context.Context) (IndexLag, error) {
	size, err := l.Size(ctx)
	if err != nil {
		return IndexLag{}, err
	}
	cur, err := l.Cursor(ctx, nil, IndexReader)
	if err != nil {
		return IndexLag{}, err
	}
	return IndexLag{Size: size, Indexed: cur + 1}, nil
}

// maxSyncWait bounds how long a search waits for the index to catch up;
// after it, the search answers from the index as it is and says how far
// behind it was.
const maxSyncWait = 3 * time.Second

// Sync moves anzen's waiting security events onto the log and brings the
// search index up to the log's present size, for at most maxSyncWait. It
// returns how far behind the index still is (0 when it caught up).
func (l *Log) Sync(ctx context.Context) (int64, error) {
	if err := l.Flush(ctx); err != nil {
		return 0, err
	}
	size, err := l.Size(ctx)
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(maxSyncWait)
	sub := l.Subscribe(IndexReader, indexBatch)
	for {
		cur, err := l.Cursor(ctx, nil, IndexReader)
		if err != nil {
			return 0, err
		}
		if cur+1 >= size || time.Now().After(deadline) {
			return max(size-cur-1, 0), nil
		}
		n, err := l.indexOnce(ctx, sub)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			// Another process holds the same events; give it a moment.
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

// SyncUnlessFarBehind brings the search index up to date as Sync does,
// unless it is more than IndexBehindWarning events behind: then the
// dashboard shows what the index has, and how far behind it is, rather
// than wait for it.
func (l *Log) SyncUnlessFarBehind(ctx context.Context) (IndexLag, error) {
	if err := l.Flush(ctx); err != nil {
		return IndexLag{}, err
	}
	lag, err := l.Lag(ctx)
	if err != nil || lag.Behind() == 0 || lag.Behind() > IndexBehindWarning {
		return lag, err
	}
	behind, err := l.Sync(ctx)
	if err != nil {
		return lag, err
	}
	lag.Indexed = lag.Size - behind
	return lag, nil
}

// indexOnce indexes the next batch; one caller at a time in this process,
// so that concurrent searches do not race each other for the same events.
func (l *Log) indexOnce(ctx context.Context, sub *Subscription) (int, error) {
	l.indexMu.Lock()
	defer l.indexMu.Unlock()
	return sub.Process(ctx, index)
}

// RunIndex keeps the search index up to date until ctx ends: at once after
// every commit of this process, and every second otherwise (to see appends
// of other processes).
func (l *Log) RunIndex(ctx context.Context) {
	sub := l.Subscribe(IndexReader, indexBatch)
	for {
		changed := l.Changed()
		n, err := l.indexOnce(ctx, sub)
		if err != nil && ctx.Err() == nil {
			l.log.Error("update the audit search index", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-time.After(time.Second):
		}
	}
}
