package audit

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"runtime"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// The walk over the log reads and hashes chunks of entries on every core
// (each reader on its own connection) while one goroutine folds the leaf
// hashes into the tree in order, comparing stored nodes and checkpoints as
// they complete. Reading is what costs; the tree is about one hash a leaf.

// verifyChunk is how many positions one reader takes at a time.
const verifyChunk = 16384

// walk is one pass over the stored entries.
type walk struct {
	l         *Log
	res       *VerifyResult
	head      head
	rng       *compact.Range
	next      int64 // the position expected next
	cps       []*Checkpoint
	lastCP    int64 // the size of the last checkpoint matched
	verifiers []note.Verifier
	nodes     map[uint]*nodeStream
	opt       VerifyOptions
	nodeErr   error
}

// chunkResult is what a reader found in positions [from, to).
type chunkResult struct {
	from, to int64
	leaves   []byte // 32 bytes a position, in order
	// A problem at bad (-1 for none); the leaves before it are good.
	bad           int64
	kind, problem string
	err           error
}

func (w *walk) run(ctx context.Context) error {
	w.lastCP = w.res.From
	from, end := w.next, w.head.size
	if from >= end {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(runtime.GOMAXPROCS(0), 1)
	chunks := int((end - from + verifyChunk - 1) / verifyChunk)
	results := make([]chan chunkResult, chunks)
	for i := range results {
		results[i] = make(chan chunkResult, 1)
	}
	// At most 2×workers chunks are read ahead of the tree.
	tickets := make(chan struct{}, 2*workers)
	jobs := make(chan int)
	go func() {
		defer close(jobs)
		for i := range chunks {
			select {
			case tickets <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range workers {
		go func() {
			for i := range jobs {
				a := from + int64(i)*verifyChunk
				results[i] <- w.l.readChunk(ctx, a, min(a+verifyChunk, end))
			}
		}()
	}
	for i := range chunks {
		var r chunkResult
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-tickets
		if r.err != nil {
			return r.err
		}
		w.fold(ctx, r)
		if w.nodeErr != nil {
			return w.nodeErr
		}
		if w.res.bad(w.next) {
			return nil
		}
		if w.opt.Progress != nil {
			w.opt.Progress(w.next-w.res.From, end-w.res.From)
		}
	}
	return nil
}

// fold appends a chunk's good leaves to the tree, checking stored nodes
// and checkpoints, then records its problem, if any.
func (w *walk) fold(ctx context.Context, r chunkResult) {
	visit := func(id compact.NodeID, h []byte) { w.visit(ctx, id, h) }
	good := r.to
	if r.bad >= 0 {
		good = r.bad
	}
	for seq := r.from; seq < good && !w.res.bad(w.next); seq++ {
		off := (seq - r.from) * 32
		if err := w.rng.Append(r.leaves[off:off+32:off+32], visit); err != nil {
			w.nodeErr = err
			return
		}
		w.next++
		for len(w.cps) > 0 && w.cps[0].Size == w.next && !w.res.bad(w.lastCP) {
			w.l.checkCheckpoint(w.res, w.cps[0], rootOf(w.rng), w.verifiers, w.lastCP)
			w.lastCP = w.next
			w.cps = w.cps[1:]
		}
	}
	if r.bad >= 0 {
		w.res.fail(r.bad, r.kind, "%s", r.problem)
	}
}

// readChunk reads and checks the positions [from, to): each present, each
// entry hashing to its leaf at its position.
func (l *Log) readChunk(ctx context.Context, from, to int64) chunkResult {
	if r, ok := l.readChunkFast(ctx, from, to); ok {
		return r
	}
	return l.readChunkExact(ctx, from, to)
}

// readChunkFast reads positions [from, to) as one column a row, the leaf
// hash followed by the entry, in position order, taking the position of
// each row from its order: a third of the calls into the database of
// reading the position, the leaf and the entry apart. It reports false
// when anything does not hold (a row missing, moved or altered, or an
// error), for readChunkExact to say precisely what.
func (l *Log) readChunkFast(ctx context.Context, from, to int64) (chunkResult, bool) {
	r := chunkResult{from: from, to: to, bad: -1, leaves: make([]byte, 0, 32*(to-from))}
	rows, err := l.db.QueryContext(ctx, `SELECT leaf || entry FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq`, from, to)
	if err != nil {
		return r, false
	}
	defer rows.Close()
	next := from
	var row sql.RawBytes
	var sum [32]byte
	lh := newLeafHasher()
	for rows.Next() {
		if err := rows.Scan(&row); err != nil || len(row) < 32 || next >= to {
			return r, false
		}
		lh.sum(&sum, next, row[32:])
		if !bytes.Equal(sum[:], row[:32]) {
			return r, false
		}
		r.leaves = append(r.leaves, sum[:]...)
		next++
	}
	return r, rows.Err() == nil && next == to
}

// readChunkExact reads positions [from, to) with their positions and
// names the first that is missing, moved or altered.
func (l *Log) readChunkExact(ctx context.Context, from, to int64) chunkResult {
	r := chunkResult{from: from, to: to, bad: -1, leaves: make([]byte, 0, 32*(to-from))}
	rows, err := l.db.QueryContext(ctx, `SELECT seq, leaf, entry FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq`, from, to)
	if err != nil {
		r.err = fmt.Errorf("read the log: %w", err)
		return r
	}
	defer rows.Close()
	next := from
	var seq int64
	var leaf, entry sql.RawBytes
	var sum [32]byte
	lh := newLeafHasher()
	for rows.Next() {
		if err := rows.Scan(&seq, &leaf, &entry); err != nil {
			r.err = fmt.Errorf("read the log: %w", err)
			return r
		}
		if seq != next {
			r.bad, r.kind, r.problem = next, ProblemMissing, fmt.Sprintf("the event at position %d is missing", next)
			return r
		}
		lh.sum(&sum, seq, entry)
		if !bytes.Equal(sum[:], leaf) {
			r.bad, r.kind, r.problem = leafMismatch(seq, leaf, entry)
			return r
		}
		r.leaves = append(r.leaves, sum[:]...)
		next++
	}
	if err := rows.Err(); err != nil {
		r.err = fmt.Errorf("read the log: %w", err)
		return r
	}
	if next < to {
		r.bad, r.kind, r.problem = next, ProblemMissing, fmt.Sprintf("the event at position %d is missing", next)
	}
	return r
}

// leafMismatch describes an entry that does not hash to its leaf: moved
// from another position when the stored leaf is its hash there, else
// altered.
func leafMismatch(seq int64, leaf, entry []byte) (int64, string, string) {
	for d := int64(1); d <= 64; d++ {
		for _, q := range []int64{seq - d, seq + d} {
			if q >= 0 && bytes.Equal(LeafHash(q, entry), leaf) {
				first := min(seq, q)
				return first, ProblemMoved, fmt.Sprintf(
					"position %d holds the event written at position %d: events were reordered, inserted or deleted from position %d on",
					seq, q, first)
			}
		}
	}
	return seq, ProblemAltered, fmt.Sprintf("the event at position %d was changed: it does not match its leaf hash", seq)
}

// visit compares a new node of the recomputed tree with the stored one.
func (w *walk) visit(ctx context.Context, id compact.NodeID, h []byte) {
	begin, end := id.Coverage()
	if !stored(id.Level) || w.res.bad(int64(begin)) || w.nodeErr != nil {
		return
	}
	ns := w.nodes[id.Level]
	if ns == nil {
		ns = &nodeStream{level: id.Level}
		w.nodes[id.Level] = ns
	}
	got, ok, err := ns.get(ctx, w.l.db, id.Index)
	if err != nil {
		w.nodeErr = err
		return
	}
	switch {
	case !ok:
		w.res.fail(int64(begin), ProblemTree, "the stored tree node over positions %d to %d is missing", begin, end-1)
	case !bytes.Equal(got, h):
		w.res.fail(int64(begin), ProblemTree,
			"positions %d to %d do not match the stored tree node over them: one of those events was changed together with its leaf hash, or the node was", begin, end-1)
	}
}

// nodeStream reads the stored nodes of one level in order, a chunk at a
// time.
type nodeStream struct {
	level uint
	idx   []int64
	hash  [][]byte
	pos   int
}

func (n *nodeStream) get(ctx context.Context, q db.Querier, idx uint64) ([]byte, bool, error) {
	for {
		for n.pos < len(n.idx) && uint64(n.idx[n.pos]) < idx {
			n.pos++
		}
		if n.pos < len(n.idx) {
			if uint64(n.idx[n.pos]) == idx {
				return n.hash[n.pos], true, nil
			}
			return nil, false, nil
		}
		if err := n.fill(ctx, q, idx); err != nil {
			return nil, false, err
		}
		if len(n.idx) == 0 {
			return nil, false, nil
		}
	}
}

func (n *nodeStream) fill(ctx context.Context, q db.Querier, from uint64) error {
	rows, err := q.QueryContext(ctx, `SELECT idx, hash FROM audit_tree WHERE level = ? AND idx >= ? ORDER BY idx LIMIT 4096`,
		int(n.level), int64(from))
	if err != nil {
		return fmt.Errorf("read tree nodes: %w", err)
	}
	defer rows.Close()
	n.idx, n.hash, n.pos = n.idx[:0], n.hash[:0], 0
	for rows.Next() {
		var i int64
		var h []byte
		if err := rows.Scan(&i, &h); err != nil {
			return err
		}
		n.idx, n.hash = append(n.idx, i), append(n.hash, h)
	}
	return rows.Err()
}
