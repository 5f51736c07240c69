package audit

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Limits of the group commit.
const (
	// maxBatch is the most events one transaction appends.
	maxBatch = 8192
	// maxOutboxDrain is the most outbox events one transaction moves.
	maxOutboxDrain = 4096
	// insertChunk is how many rows one INSERT statement carries.
	insertChunk = 256
)

// appendRequest is one caller's events waiting for the group commit.
type appendRequest struct {
	entries  [][]byte
	received []int64
	first    int64
	err      error
	done     chan struct{}
}

// Prepare checks and normalises e for the log (see Event.Normalize), gives
// it a received time if it has none, and sets FlagClockSkew when its
// source's clock was further from anzen's than the tolerance. Append does
// this to every event; callers that report per event (one line of a
// request, one syslog message) call it first.
func (l *Log) Prepare(e *Event) error {
	if e.Received.IsZero() {
		e.Received = l.clock.Now()
	}
	if e.Time.IsZero() && e.Flags.Has(FlagNoSourceTime) {
		e.Time = e.Received
	}
	if err := e.Normalize(); err != nil {
		return err
	}
	if !e.Flags.Has(FlagImported) && l.tolerance > 0 {
		if s := e.Skew(); s > l.tolerance || s < -l.tolerance {
			e.Flags |= FlagClockSkew
		}
	}
	return nil
}

// Append adds events to the log and returns the sequence number of the
// first; the others follow it in order. It returns only after the
// transaction holding them is committed, so an event is never acknowledged
// and then lost. Concurrent calls share transactions (group commit). An
// invalid event (ErrInvalid, with its index) rejects the whole call before
// anything is written.
func (l *Log) Append(ctx context.Context, events []Event) (first int64, err error) {
	if len(events) == 0 {
		return -1, nil
	}
	req := &appendRequest{entries: make([][]byte, len(events)), received: make([]int64, len(events)),
		done: make(chan struct{})}
	for i := range events {
		e := &events[i]
		if err := l.Prepare(e); err != nil {
			return -1, fmt.Errorf("event %d: %w", i, err)
		}
		req.entries[i] = AppendEntry(make([]byte, 0, 160+len(e.Original)), e)
		req.received[i] = e.Received.UnixMilli()
	}
	if err := l.submit(ctx, req); err != nil {
		return -1, err
	}
	for i := range events {
		events[i].Seq = req.first + int64(i)
	}
	return req.first, nil
}

// submit queues req and waits for its commit, leading the group commit
// when no one else does.
func (l *Log) submit(ctx context.Context, req *appendRequest) error {
	l.qmu.Lock()
	l.queue = append(l.queue, req)
	if !l.leading {
		l.leading = true
		l.qmu.Unlock()
		l.lead(req)
	} else {
		l.qmu.Unlock()
	}
	select {
	case <-req.done:
		return req.err
	case <-ctx.Done():
		// The events may still be committed; the caller was not told so.
		return ctx.Err()
	}
}

// lead commits queued requests until own is done; if more are queued by
// then, a goroutine goes on leading until the queue is empty, so that a
// caller never waits for others' events.
func (l *Log) lead(own *appendRequest) {
	for {
		l.qmu.Lock()
		batch, n := l.queue, 0
		for i, r := range batch {
			n += len(r.entries)
			if n > maxBatch && i > 0 {
				batch = batch[:i]
				break
			}
		}
		l.queue = l.queue[len(batch):]
		l.qmu.Unlock()

		l.commit(batch)

		l.qmu.Lock()
		if len(l.queue) == 0 {
			l.leading = false
			l.qmu.Unlock()
			return
		}
		l.qmu.Unlock()
		if own != nil && isDone(own) {
			go l.lead(nil)
			return
		}
	}
}

func isDone(r *appendRequest) bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// commit appends the batch (and what waits in the outbox) in one
// transaction and answers every request in it.
func (l *Log) commit(batch []*appendRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var entries [][]byte
	var received []int64
	for _, r := range batch {
		entries = append(entries, r.entries...)
		received = append(received, r.received...)
	}
	first, size, err := l.appendEntries(ctx, entries, received)
	n := first
	for _, r := range batch {
		r.first, r.err = n, err
		n += int64(len(r.entries))
		close(r.done)
	}
	if err == nil {
		l.committed(size)
	}
}

// committed wakes readers and, when enough events have arrived since the
// last checkpoint, the checkpoint job.
func (l *Log) committed(size int64) {
	l.notify()
	if l.signer == nil || l.cpEvents <= 0 {
		return
	}
	l.cpMu.Lock()
	due := size-max(l.lastSigned, 0) >= l.cpEvents
	l.cpMu.Unlock()
	if due {
		select {
		case l.checkpointDue <- struct{}{}:
		default:
		}
	}
}

// Flush moves anzen's own events waiting in the outbox onto the log. The
// background job calls it often; searches of the log call it first, so
// that an event recorded before a search is found by it.
func (l *Log) Flush(ctx context.Context) error {
	for {
		var waiting bool
		if err := l.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM audit_outbox)`).Scan(&waiting); err != nil {
			return fmt.Errorf("read the audit outbox: %w", err)
		}
		if !waiting {
			return nil
		}
		if err := l.submit(ctx, &appendRequest{done: make(chan struct{})}); err != nil {
			return err
		}
	}
}

// appendEntries is one append transaction: it locks the tree head, brings
// this process's view of the tree up to date if another writer appended
// meanwhile, moves the outbox onto the log, then appends entries. It
// returns the sequence number of the first of entries and the new size.
func (l *Log) appendEntries(ctx context.Context, entries [][]byte, received []int64) (first, size int64, err error) {
	var rng *compact.Range
	err = l.db.InTx(ctx, func(tx *db.Tx) error {
		h, err := lockHead(ctx, tx)
		if err != nil {
			return err
		}
		if l.rng != nil && int64(l.rng.End()) == h.size {
			rng = cloneRange(l.rng)
		} else {
			if rng, err = loadRange(ctx, tx, uint64(h.size)); err != nil {
				return fmt.Errorf("read the tree: %w", err)
			}
			// Appending to a tree that does not match its head would bury
			// the damage under new events.
			if !bytes.Equal(rootOf(rng), h.root) {
				return fmt.Errorf("the stored tree does not match its head at size %d: run anzen audit verify", h.size)
			}
		}
		outbox, lastID, err := readOutbox(ctx, tx)
		if err != nil {
			return err
		}
		all, rec := entries, received
		if len(outbox) > 0 {
			all = append(outbox.entries(), entries...)
			rec = append(outbox.received(), received...)
		}
		first = h.size + int64(len(outbox))
		if len(all) == 0 {
			size = h.size
			return nil
		}
		if err := writeLeaves(ctx, tx, rng, h.size, all, rec); err != nil {
			return err
		}
		size = int64(rng.End())
		if _, err := tx.ExecContext(ctx, `UPDATE audit_head SET size = ?, root = ?, updated = ? WHERE id = 1`,
			size, rootOf(rng), l.clock.Now().UnixMilli()); err != nil {
			return fmt.Errorf("update the tree head: %w", err)
		}
		if len(outbox) > 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM audit_outbox WHERE id <= ?`, lastID); err != nil {
				return fmt.Errorf("empty the audit outbox: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		l.rng = nil // read the tree again next time
		return -1, -1, fmt.Errorf("append to the audit log: %w", err)
	}
	l.rng = rng
	return first, size, nil
}

// head is the tree head row.
type head struct {
	size   int64
	root   []byte
	origin string
}

// lockHead reads the tree head, locking it until the transaction ends (on
// SQLite the transaction already holds the database's write lock).
func lockHead(ctx context.Context, tx *db.Tx) (head, error) {
	q := `SELECT size, root, origin FROM audit_head WHERE id = 1`
	if tx.Dialect() == db.Postgres {
		q += " FOR UPDATE"
	}
	var h head
	if err := tx.QueryRowContext(ctx, q).Scan(&h.size, &h.root, &h.origin); err != nil {
		return h, fmt.Errorf("read the tree head: %w", err)
	}
	return h, nil
}

// readHead reads the tree head without locking it.
func readHead(ctx context.Context, q db.Querier) (head, error) {
	var h head
	if err := q.QueryRowContext(ctx, `SELECT size, root, origin FROM audit_head WHERE id = 1`).Scan(&h.size, &h.root, &h.origin); err != nil {
		return h, fmt.Errorf("read the tree head: %w", err)
	}
	return h, nil
}

type outboxRows []struct {
	entry    []byte
	received int64
}

func (o outboxRows) entries() [][]byte {
	out := make([][]byte, len(o))
	for i := range o {
		out[i] = o[i].entry
	}
	return out
}

func (o outboxRows) received() []int64 {
	out := make([]int64, len(o))
	for i := range o {
		out[i] = o[i].received
	}
	return out
}

// readOutbox reads the oldest events waiting in the outbox and the id of
// the last one read.
func readOutbox(ctx context.Context, tx *db.Tx) (outboxRows, int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, at, entry FROM audit_outbox ORDER BY id LIMIT ?`, maxOutboxDrain)
	if err != nil {
		return nil, 0, fmt.Errorf("read the audit outbox: %w", err)
	}
	defer rows.Close()
	var out outboxRows
	var last int64
	for rows.Next() {
		var r struct {
			entry    []byte
			received int64
		}
		if err := rows.Scan(&last, &r.received, &r.entry); err != nil {
			return nil, 0, fmt.Errorf("read the audit outbox: %w", err)
		}
		out = append(out, r)
	}
	return out, last, rows.Err()
}

// writeLeaves appends entries at positions size, size+1, ... to rng and
// writes their rows and the new stored tree nodes.
func writeLeaves(ctx context.Context, tx *db.Tx, rng *compact.Range, size int64, entries [][]byte, received []int64) error {
	var nodes []any
	visit := func(id compact.NodeID, h []byte) {
		if stored(id.Level) {
			nodes = append(nodes, int(id.Level), int64(id.Index), h)
		}
	}
	ins := chunkInserter{tx: tx, into: "audit_log (seq, received, leaf, entry)", cols: 4}
	defer ins.close()
	args := make([]any, 0, 4*min(len(entries), insertChunk))
	for i, e := range entries {
		seq := size + int64(i)
		leaf := LeafHash(seq, e)
		if err := rng.Append(leaf, visit); err != nil {
			return fmt.Errorf("append leaf %d: %w", seq, err)
		}
		args = append(args, seq, received[i], leaf, e)
		if len(args) == 4*insertChunk || i == len(entries)-1 {
			if err := ins.exec(ctx, args); err != nil {
				return fmt.Errorf("write log entries: %w", err)
			}
			args = args[:0]
		}
	}
	for len(nodes) > 0 {
		n := min(len(nodes), 3*insertChunk)
		if _, err := tx.ExecContext(ctx, valuesInsert("audit_tree (level, idx, hash)", 3, n/3), nodes[:n]...); err != nil {
			return fmt.Errorf("write tree nodes: %w", err)
		}
		nodes = nodes[n:]
	}
	return nil
}

// chunkInserter runs multi-row INSERTs in a transaction, preparing the
// statement of a full chunk once: parsing a statement of a thousand
// placeholders costs more than running it.
type chunkInserter struct {
	tx   *db.Tx
	into string
	cols int
	full *sql.Stmt
}

func (c *chunkInserter) exec(ctx context.Context, args []any) error {
	rows := len(args) / c.cols
	if rows != insertChunk {
		_, err := c.tx.ExecContext(ctx, valuesInsert(c.into, c.cols, rows), args...)
		return err
	}
	if c.full == nil {
		st, err := c.tx.PrepareContext(ctx, valuesInsert(c.into, c.cols, rows))
		if err != nil {
			return err
		}
		c.full = st
	}
	_, err := c.full.ExecContext(ctx, args...)
	return err
}

func (c *chunkInserter) close() {
	if c.full != nil {
		c.full.Close()
	}
}

var insertMu sync.Mutex

// insertCache keeps the INSERT statements of valuesInsert, which are the
// same for every full chunk.
var insertCache = map[string]string{}

// valuesInsert returns "INSERT INTO into VALUES (?, ...), ..." for rows
// rows of cols columns.
func valuesInsert(into string, cols, rows int) string {
	key := into + "/" + strconv.Itoa(rows)
	if rows == insertChunk {
		insertMu.Lock()
		q, ok := insertCache[key]
		insertMu.Unlock()
		if ok {
			return q
		}
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	var b strings.Builder
	b.WriteString("INSERT INTO " + into + " VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	q := b.String()
	if rows == insertChunk {
		insertMu.Lock()
		insertCache[key] = q
		insertMu.Unlock()
	}
	return q
}
