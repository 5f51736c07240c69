package audit

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Verification recomputes the log from what is stored and compares it with
// every record of it: each entry with its leaf hash (which binds the
// position), the leaves with the stored tree nodes and the tree head, the
// tree with every signed checkpoint and its signature, and the search index
// with the entries. It stops at the first difference and names the first
// position that is wrong and how.

// Kinds of problem Verify reports.
const (
	ProblemMissing    = "missing"    // an event is gone (deleted)
	ProblemAltered    = "altered"    // an entry does not match its leaf hash
	ProblemMoved      = "moved"      // an entry sits at another position than it was written at
	ProblemInserted   = "inserted"   // an event beyond the tree's size
	ProblemTree       = "tree"       // the leaves do not match a stored tree node or the head
	ProblemCheckpoint = "checkpoint" // the tree does not match a signed checkpoint, or its signature fails
	ProblemIndex      = "index"      // the search index differs from the log
)

// VerifyOptions choose what Verify checks.
type VerifyOptions struct {
	// From is the first position recomputed; the tree before it is taken
	// from the stored nodes (which the checkpoints before it check).
	From int64
	// Progress, when set, is told how many of the positions have been
	// checked, every few tens of thousands (once for the log, then once
	// for the search index).
	Progress func(done, total int64)
	// SkipIndex leaves out the comparison of the search index with the
	// log.
	SkipIndex bool
	// ArchiveDir, when set, is the archive directory whose segment files
	// are checked too (VerifyArchive).
	ArchiveDir string
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	From        int64         `json:"from"`
	Size        int64         `json:"size"`        // the tree size verified
	Checkpoints int           `json:"checkpoints"` // signed checkpoints checked
	Signatures  bool          `json:"signatures"`  // whether signatures were checked (there is a key)
	Archived    int64         `json:"archived"`    // positions before this are archived, not in the database
	OK          bool          `json:"ok"`
	FirstBad    int64         `json:"first_bad"` // -1 when OK
	Kind        string        `json:"kind,omitempty"`
	Problem     string        `json:"problem,omitempty"`
	Started     time.Time     `json:"started"`
	Duration    time.Duration `json:"duration"`
	Index       bool          `json:"index"` // whether the search index was compared
	// IndexDuration is the part of Duration spent on the search index.
	IndexDuration time.Duration `json:"index_duration"`
	// ArchivedCheckpoints are the checkpoints signed inside the archived
	// positions: their signatures are checked here, their roots only
	// against the archive's segment files (ArchiveDir).
	ArchivedCheckpoints int `json:"archived_checkpoints"`
	// ArchiveSegments is how many segment files were checked (ArchiveDir).
	ArchiveSegments int `json:"archive_segments"`
}

// bad reports whether a problem at or before pos has been found, so that
// looking further cannot find an earlier one.
func (r *VerifyResult) bad(pos int64) bool { return !r.OK && r.FirstBad <= pos }

func (r *VerifyResult) fail(pos int64, kind, format string, args ...any) {
	if !r.OK && r.FirstBad >= 0 && r.FirstBad <= pos {
		return // keep the earliest
	}
	r.OK, r.FirstBad, r.Kind, r.Problem = false, pos, kind, fmt.Sprintf(format, args...)
}

// Verify checks the log as it is at the moment it starts. It returns an
// error only when it could not check (the database did not answer); what
// it found is in the result.
func (l *Log) Verify(ctx context.Context, opt VerifyOptions) (*VerifyResult, error) {
	res := &VerifyResult{From: opt.From, OK: true, FirstBad: -1, Started: l.clock.Now()}
	began := time.Now()
	defer func() { res.Duration = time.Since(began) }()

	h, maxSeq, err := l.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	res.Size = h.size
	if maxSeq >= h.size {
		res.fail(h.size, ProblemInserted, "the log holds an event at position %d, beyond the tree's %d events", maxSeq, h.size)
	}
	archived, firstLive, err := l.archivedEnd(ctx)
	if err != nil {
		return nil, err
	}
	res.Archived = archived
	if firstLive > archived && archived < h.size {
		res.fail(archived, ProblemMissing, "events from position %d to %d are neither in the database nor in an archive segment",
			archived, min(firstLive, h.size)-1)
	}
	res.From = min(max(opt.From, archived, 0), h.size)

	var verifiers []note.Verifier
	if l.signer != nil {
		if verifiers, err = l.verifiers(ctx); err != nil {
			return nil, fmt.Errorf("checkpoint keys: %w", err)
		}
		res.Signatures = true
	}
	cps, err := l.Checkpoints(ctx, 0)
	if err != nil {
		return nil, err
	}
	for _, cp := range cps {
		if cp.Size > h.size {
			res.fail(h.size, ProblemCheckpoint, "a checkpoint was signed at %d events, but the tree has only %d: events were removed from the end", cp.Size, h.size)
		}
	}

	// The checkpoints before From: from the stored tree.
	next := 0
	for ; next < len(cps) && cps[next].Size <= res.From; next++ {
		rng, err := loadRange(ctx, l.db, uint64(cps[next].Size))
		if errors.Is(err, ErrArchived) && cps[next].Size < archived {
			l.checkArchivedSignature(res, cps[next], verifiers)
			continue
		}
		if err != nil {
			res.fail(0, ProblemTree, "the stored tree cannot be read at %d events: %v", cps[next].Size, err)
			break
		}
		l.checkCheckpoint(res, cps[next], rootOf(rng), verifiers, 0)
	}

	if err := l.checkSegmentRecords(ctx, res, verifiers); err != nil {
		return nil, err
	}
	if opt.ArchiveDir != "" {
		if err := l.verifyArchiveInto(ctx, res, opt.ArchiveDir); err != nil {
			return nil, err
		}
	}

	rng, err := loadRange(ctx, l.db, uint64(res.From))
	if err != nil {
		res.fail(res.From, ProblemTree, "the stored tree cannot be read at %d events: %v", res.From, err)
		return res, nil
	}
	w := &walk{l: l, res: res, rng: rng, next: res.From, cps: cps[next:], verifiers: verifiers,
		nodes: map[uint]*nodeStream{}, opt: opt, head: h}
	if err := w.run(ctx); err != nil {
		return nil, err
	}
	if res.OK && !bytes.Equal(rootOf(w.rng), h.root) {
		res.fail(max(h.size-1, 0), ProblemTree, "the tree of %d events does not match its stored head", h.size)
	}
	if !opt.SkipIndex && !res.bad(res.From) {
		began := time.Now()
		res.Index = true
		if err := l.verifyIndex(ctx, res, h.size, opt); err != nil {
			return nil, err
		}
		res.IndexDuration = time.Since(began)
	}
	return res, nil
}

// snapshot reads the tree head and the highest stored position together.
func (l *Log) snapshot(ctx context.Context) (h head, maxSeq int64, err error) {
	err = l.db.InTx(ctx, func(tx *db.Tx) error {
		if h, err = readHead(ctx, tx); err != nil {
			return err
		}
		var m sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(seq) FROM audit_log`).Scan(&m); err != nil {
			return fmt.Errorf("read the log: %w", err)
		}
		maxSeq = -1
		if m.Valid {
			maxSeq = m.Int64
		}
		return nil
	})
	return h, maxSeq, err
}

// archivedEnd returns the end of the run of archived segments from
// position 0, and the first position still in the database (the tree size
// when none is).
func (l *Log) archivedEnd(ctx context.Context) (end, firstLive int64, err error) {
	rows, err := l.db.QueryContext(ctx, `SELECT first_seq, end_seq FROM audit_segments ORDER BY first_seq`)
	if err != nil {
		return 0, 0, fmt.Errorf("read archive segments: %w", err)
	}
	for rows.Next() {
		var a, b int64
		if err := rows.Scan(&a, &b); err != nil {
			rows.Close()
			return 0, 0, err
		}
		if a == end {
			end = b
		}
	}
	rows.Close()
	var m sql.NullInt64
	if err := l.db.QueryRowContext(ctx, `SELECT MIN(seq) FROM audit_log`).Scan(&m); err != nil {
		return 0, 0, fmt.Errorf("read the log: %w", err)
	}
	if m.Valid {
		firstLive = m.Int64
	} else {
		h, err := readHead(ctx, l.db)
		if err != nil {
			return 0, 0, err
		}
		firstLive = h.size
	}
	return end, firstLive, nil
}

func (l *Log) checkCheckpoint(res *VerifyResult, cp *Checkpoint, root []byte, verifiers []note.Verifier, from int64) {
	res.Checkpoints++
	if !bytes.Equal(root, cp.Root) {
		res.fail(from, ProblemCheckpoint, "the events before position %d do not match the checkpoint signed at %s for %d events: some event from %d on was changed",
			cp.Size, cp.SignedAt.Format(time.RFC3339), cp.Size, from)
		return
	}
	if len(verifiers) > 0 {
		if err := checkpointMatches(cp, verifiers); err != nil {
			res.fail(from, ProblemCheckpoint, "the checkpoint at %d events: %v", cp.Size, err)
		}
	}
}
