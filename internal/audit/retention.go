package audit

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Retention: events stay in the database for the configured number of
// years (anzen policy, 5 by default), then leave it in whole segments
// (segment.go). A segment is archived only when every one of its events
// was received before the retention limit, every reader of the log has
// read past it, and a signed checkpoint covers it. Archiving writes the
// segment's files, reads them back and checks them against the stored
// tree and that checkpoint, and only then, in one transaction, records
// the segment, deletes its rows from audit_log and audit_index (never the
// tree's nodes) and records the archiving in the log itself. A crash at
// any point leaves either the rows or a recorded segment, never neither:
// the next run finds the files already written, checks them and goes on.

// ActionArchive is the action recorded when a segment leaves the
// database.
const ActionArchive = "audit.archive"

// archiveCrash, set by tests, stops archiving after the files are written
// and checked, before the rows are deleted, as a crash there would.
var archiveCrash func() error

// keepSettings are the log's retention and witness settings.
type keepSettings struct {
	retentionYears int
	archiveDir     string
	segmentLevel   uint // 0: segmentLevel's; tests set smaller ones
	witness        *WitnessConfig
}

// WithRetention keeps events in the database for years years (0: for
// ever) and archives older ones to segment files in dir.
func WithRetention(years int, dir string) Option {
	return func(l *Log) { l.keep.retentionYears, l.keep.archiveDir = years, dir }
}

// segmentSize is how many positions one segment of this log holds.
func (l *Log) segmentSize() int64 {
	if l.keep.segmentLevel == 0 {
		if level := testSegmentLevel.Load(); level != 0 {
			return int64(1) << level
		}
		return SegmentSize
	}
	return int64(1) << l.keep.segmentLevel
}

// testSegmentLevel is set only by UseSmallSegmentsInTests (0: none).
var testSegmentLevel atomic.Uint32

// UseSmallSegmentsInTests makes the logs that have no segment level of
// their own (the one app.Open makes) archive segments of the subtrees of
// level (a stored one: 4, 8, 12) instead of 16 until t ends, so that a
// test of the archiving commands fills a segment with a few hundred events
// instead of 65,536. The real size has its own test in this package
// (TestArchive_RealSegmentSizeKeepsProofsAndVerification). It is not a
// setting: it panics outside a test binary (testing.Testing). t must not
// run in parallel with tests that archive.
func UseSmallSegmentsInTests(t testing.TB, level uint) {
	t.Helper()
	if !testing.Testing() {
		panic("audit: UseSmallSegmentsInTests called outside a test binary")
	}
	if !stored(level) || level >= 16 {
		t.Fatalf("audit: segment level %d is not a stored level below 16", level)
	}
	testSegmentLevel.Store(uint32(level))
	t.Cleanup(func() { testSegmentLevel.Store(0) })
}

// ArchiveDir returns the directory segments are archived to.
func (l *Log) ArchiveDir() string { return l.keep.archiveDir }

// ErrNoRetention is returned by Archive when the log has no retention
// period or no archive directory.
var ErrNoRetention = errors.New("the audit log has no retention period or no archive directory")

// ArchiveOptions choose how Archive runs.
type ArchiveOptions struct {
	// DryRun lists the segments that would be archived and changes
	// nothing.
	DryRun bool
	// Progress, when set, is told how many positions of the segments to
	// archive are done, after each segment.
	Progress func(done, total int64)
	// Via names who asked ("job", "cli"), for the record of the archiving.
	Via string
	// Actor and Client name the person who asked, for the record; empty:
	// "system".
	Actor, Client string
}

// ArchivedSegment is one segment archived (or, in a dry run, that would
// be).
type ArchivedSegment struct {
	Manifest
	// File is the base name of the segment's files in the archive
	// directory (File+".gz", File+".manifest").
	File string `json:"file"`
	// Newest is when the newest of its events was received.
	Newest time.Time `json:"newest"`
	// Resumed says the files were already there, from a run that stopped
	// before deleting the rows.
	Resumed bool `json:"resumed,omitempty"`
}

// ArchiveResult is what Archive did.
type ArchiveResult struct {
	Dir      string            `json:"dir"`
	Cutoff   time.Time         `json:"cutoff"` // events received before this are past retention
	Segments []ArchivedSegment `json:"segments"`
	Events   int64             `json:"events"`
	// SegmentSize is how many events one segment holds.
	SegmentSize int64 `json:"segment_size"`
	// Waiting says why the next segment was not archived, when it was not
	// for want of events old enough (a reader behind, no checkpoint).
	Waiting string `json:"waiting,omitempty"`
	DryRun  bool   `json:"dry_run"`
}

// Archive moves the segments whose events are all past retention out of
// the database into signed segment files, oldest first.
func (l *Log) Archive(ctx context.Context, opt ArchiveOptions) (*ArchiveResult, error) {
	if l.keep.retentionYears <= 0 || l.keep.archiveDir == "" {
		return nil, ErrNoRetention
	}
	res := &ArchiveResult{Dir: l.keep.archiveDir, DryRun: opt.DryRun, SegmentSize: l.segmentSize(),
		Cutoff: l.clock.Now().AddDate(-l.keep.retentionYears, 0, 0).Truncate(time.Millisecond)}
	due, err := l.dueSegments(ctx, res)
	if err != nil || len(due) == 0 || opt.DryRun {
		res.Segments = due
		res.Events = int64(len(due)) * l.segmentSize()
		return res, err
	}
	if err := os.MkdirAll(l.keep.archiveDir, 0o700); err != nil {
		return res, fmt.Errorf("archive directory: %w", err)
	}
	verifiers, err := l.verifiers(ctx)
	if err != nil {
		return res, fmt.Errorf("checkpoint keys: %w", err)
	}
	cp, err := l.LatestCheckpoint(ctx)
	if err != nil {
		return res, err
	}
	if err := checkpointMatches(cp, verifiers); err != nil {
		return res, fmt.Errorf("the latest checkpoint: %w (run anzen audit verify)", err)
	}
	size := l.segmentSize()
	total := int64(len(due)) * size
	for i, s := range due {
		done, err := l.archiveSegment(ctx, s, cp, verifiers, opt)
		if err != nil && l.segmentRecorded(ctx, s.First) {
			done, err = nil, nil // another process archived it meanwhile
		}
		if err != nil {
			return res, fmt.Errorf("archive positions %d to %d: %w", s.First, s.End-1, err)
		}
		if done != nil {
			res.Segments = append(res.Segments, *done)
			res.Events += size
			l.log.Info("archived audit log segment", "first", done.First, "end", done.End, "file", done.File,
				"resumed", done.Resumed)
		}
		if opt.Progress != nil {
			opt.Progress(int64(i+1)*size, total)
		}
	}
	return res, nil
}

// dueSegments lists the segments past retention that may be archived now,
// from the end of those already archived.
func (l *Log) dueSegments(ctx context.Context, res *ArchiveResult) ([]ArchivedSegment, error) {
	start, _, err := l.archivedEnd(ctx)
	if err != nil {
		return nil, err
	}
	h, err := readHead(ctx, l.db)
	if err != nil {
		return nil, err
	}
	signed := int64(0)
	if cp, err := l.LatestCheckpoint(ctx); err == nil {
		signed = cp.Size
	} else if !errors.Is(err, db.ErrNotFound) {
		return nil, err
	}
	var out []ArchivedSegment
	size := l.segmentSize()
	for first := start; first+size <= h.size; first += size {
		end := first + size
		var newest sql.NullInt64
		var n int64
		if err := l.db.QueryRowContext(ctx, `SELECT MAX(received), COUNT(*) FROM audit_log WHERE seq >= ? AND seq < ?`,
			first, end).Scan(&newest, &n); err != nil {
			return nil, fmt.Errorf("read the log: %w", err)
		}
		if n != size && l.segmentRecorded(ctx, first) {
			break // archived by another process meanwhile
		}
		if n != size {
			return nil, fmt.Errorf("positions %d to %d hold %d events, not %d: run anzen audit verify", first, end-1, n, size)
		}
		if newest.Int64 >= res.Cutoff.UnixMilli() {
			break
		}
		if end > signed {
			res.Waiting = fmt.Sprintf("no signed checkpoint covers positions %d to %d yet", first, end-1)
			break
		}
		var reader string
		var at int64
		err := l.db.QueryRowContext(ctx, `SELECT name, seq FROM audit_cursors WHERE seq < ? ORDER BY seq LIMIT 1`, end-1).Scan(&reader, &at)
		if err == nil {
			res.Waiting = fmt.Sprintf("the reader %s has read only up to position %d", reader, at)
			break
		}
		if !errors.Is(db.NotFound(err), db.ErrNotFound) {
			return nil, fmt.Errorf("read the log's readers: %w", err)
		}
		out = append(out, ArchivedSegment{Manifest: Manifest{First: first, End: end, Count: size},
			File: SegmentName(first, end), Newest: db.Time(newest.Int64)})
	}
	return out, nil
}

// archiveSegment archives one segment; it returns nil when another
// process archived it meanwhile.
func (l *Log) archiveSegment(ctx context.Context, s ArchivedSegment, cp *Checkpoint, verifiers []note.Verifier, opt ArchiveOptions) (*ArchivedSegment, error) {
	origin, err := l.Origin(ctx)
	if err != nil {
		return nil, err
	}
	dataPath := filepath.Join(l.keep.archiveDir, s.File+".gz")
	manifestPath := filepath.Join(l.keep.archiveDir, s.File+".manifest")

	// The entries, each checked against its leaf hash as it is written.
	leaves := make([]byte, 0, 32*(s.End-s.First))
	sha, err := l.writeSegmentRows(ctx, dataPath, s.First, s.End, &leaves)
	switch {
	case errors.Is(err, os.ErrExist):
		// Written by a run that stopped before deleting the rows: keep it
		// if it holds exactly these entries.
		leaves = leaves[:0]
		if err := l.readSegmentLeaves(ctx, s.First, s.End, &leaves); err != nil {
			return nil, err
		}
		if sha, err = matchingSegmentFile(dataPath, s.First, s.End, foldLeaves(leaves)); err != nil {
			return nil, err
		}
		s.Resumed = true
	case err != nil:
		return nil, err
	}
	root := foldLeaves(leaves)
	if err := l.checkSegmentInTree(ctx, l.db, s.First, s.End, root, cp); err != nil {
		return nil, fmt.Errorf("%w: refusing to archive; run anzen audit verify", err)
	}

	m := Manifest{Origin: origin, First: s.First, End: s.End, Count: s.End - s.First, Root: root, SHA256: sha,
		Created: l.clock.Now().UTC().Truncate(time.Second)}
	signed, err := l.writeManifest(ctx, manifestPath, &m, verifiers)
	if err != nil {
		return nil, err
	}
	s.Manifest = m

	// Read back what is on disk before anything leaves the database.
	back, err := readManifestFile(manifestPath, verifiers)
	if err != nil || !bytes.Equal(back.raw, signed) {
		return nil, fmt.Errorf("reading back %s: %v", manifestPath, err)
	}
	got, _, err := segmentLeaves(dataPath, &m, -1)
	if err != nil {
		return nil, fmt.Errorf("reading back %s: %w", dataPath, err)
	}
	if !bytes.Equal(got, leaves) {
		return nil, fmt.Errorf("reading back %s: the file holds other leaves", dataPath)
	}

	if archiveCrash != nil {
		if err := archiveCrash(); err != nil {
			return nil, err
		}
	}
	err = l.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_segments (first_seq, end_seq, file, sha256, manifest, created)
			VALUES (?, ?, ?, ?, ?, ?)`, m.First, m.End, s.File, fmt.Sprintf("%x", m.SHA256), string(signed),
			m.Created.UnixMilli()); err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, `DELETE FROM audit_log WHERE seq >= ? AND seq < ?`, m.First, m.End)
		if err != nil {
			return fmt.Errorf("delete archived events: %w", err)
		}
		if n, err := r.RowsAffected(); err != nil || n != m.Count {
			return fmt.Errorf("deleting the archived events removed %d rows, not %d (%v)", n, m.Count, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_index WHERE seq >= ? AND seq < ?`, m.First, m.End); err != nil {
			return fmt.Errorf("delete archived events from the search index: %w", err)
		}
		via, actor := opt.Via, opt.Actor
		if via == "" {
			via = "job"
		}
		if actor == "" {
			actor = "system"
		}
		return l.Record(ctx, tx, selfaudit.Event{ActorLogin: actor, ClientAddr: opt.Client, Action: ActionArchive,
			Target:  "audit-segment:" + strconv.FormatInt(m.First, 10) + "-" + strconv.FormatInt(m.End, 10),
			Outcome: selfaudit.Success, Detail: map[string]string{"file": s.File, "sha256": fmt.Sprintf("%x", m.SHA256),
				"events": strconv.FormatInt(m.Count, 10), "newest_received": s.Newest.Format(time.RFC3339), "via": via}})
	})
	if db.IsUniqueViolation(err) {
		return nil, nil // archived by another process meanwhile
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// segmentRecorded reports whether the segment from first is recorded as
// archived.
func (l *Log) segmentRecorded(ctx context.Context, first int64) bool {
	var n int
	err := l.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_segments WHERE first_seq = ?`, first).Scan(&n)
	return err == nil && n > 0
}

// writeSegmentRows writes the rows of the segment from first to a new
// segment file at path, checking each entry against its leaf hash and
// appending the leaves to leaves.
func (l *Log) writeSegmentRows(ctx context.Context, path string, first, end int64, leaves *[]byte) ([]byte, error) {
	if _, err := os.Stat(path); err == nil {
		return nil, os.ErrExist
	}
	rows, err := l.db.QueryContext(ctx, `SELECT seq, leaf, entry FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq`,
		first, end)
	if err != nil {
		return nil, fmt.Errorf("read the log: %w", err)
	}
	defer rows.Close()
	next := first
	e := &segmentEntry{}
	return writeSegmentData(path, func() (*segmentEntry, error) {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return nil, fmt.Errorf("read the log: %w", err)
			}
			if next != end {
				return nil, fmt.Errorf("the event at position %d is missing: run anzen audit verify", next)
			}
			return nil, nil
		}
		if err := rows.Scan(&e.seq, &e.leaf, &e.entry); err != nil {
			return nil, fmt.Errorf("read the log: %w", err)
		}
		if e.seq != next {
			return nil, fmt.Errorf("the event at position %d is missing: run anzen audit verify", next)
		}
		if !bytes.Equal(LeafHash(e.seq, e.entry), e.leaf) {
			return nil, fmt.Errorf("the event at position %d does not match its leaf hash: run anzen audit verify", e.seq)
		}
		*leaves = append(*leaves, e.leaf...)
		next++
		return e, nil
	})
}

// readSegmentLeaves appends the leaf hashes of the segment from first, as
// the database holds them, each checked against its entry.
func (l *Log) readSegmentLeaves(ctx context.Context, first, end int64, leaves *[]byte) error {
	r := l.readChunk(ctx, first, end)
	if r.err != nil {
		return r.err
	}
	if r.bad >= 0 {
		return fmt.Errorf("%s: run anzen audit verify", r.problem)
	}
	*leaves = append(*leaves, r.leaves...)
	return nil
}

// matchingSegmentFile checks that the segment file at path holds the
// entries whose subtree root is root, and returns its SHA-256.
func matchingSegmentFile(path string, first, end int64, root []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var leaves []byte
	next := first
	var bad error
	sha, err := readSegmentData(f, func(e *segmentEntry) error {
		if bad == nil && (e.seq != next || !bytes.Equal(LeafHash(e.seq, e.entry), e.leaf)) {
			bad = fmt.Errorf("position %d", next)
		}
		leaves = append(leaves, e.leaf...)
		next++
		return nil
	})
	if err == nil && bad == nil && next == end && bytes.Equal(foldLeaves(leaves), root) {
		return sha, nil
	}
	return nil, fmt.Errorf("%s is already there but does not hold the events from position %d (%v): move it away and run again",
		path, first, errors.Join(err, bad))
}

// writeManifest signs m and writes it to path, unless a manifest signed by
// the log for the same segment file is already there (from a run that
// stopped before deleting the rows), which it then adopts, setting m to it.
func (l *Log) writeManifest(ctx context.Context, path string, m *Manifest, verifiers []note.Verifier) ([]byte, error) {
	for try := 0; ; try++ {
		old, err := readManifestFile(path, verifiers)
		if err == nil && old.First == m.First && old.End == m.End && old.Origin == m.Origin &&
			bytes.Equal(old.Root, m.Root) && bytes.Equal(old.SHA256, m.SHA256) {
			*m = old.Manifest
			return old.raw, nil
		}
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is already there but is not the manifest of this segment file (%v): move it away and run again", path, err)
		}
		signer, err := l.signer.Signer(ctx, m.Origin)
		if err != nil {
			return nil, fmt.Errorf("checkpoint key: %w", err)
		}
		signed, err := signManifest(m, signer)
		if err != nil {
			return nil, err
		}
		_, err = writeDurable(path, func(w io.Writer) error { _, err := w.Write(signed); return err })
		if errors.Is(err, os.ErrExist) && try == 0 {
			continue // another process wrote it meanwhile: adopt it if it is the same segment's
		}
		if err != nil {
			return nil, err
		}
		return signed, nil
	}
}

// manifestFile is a manifest read from its file.
type manifestFile struct {
	Manifest
	raw []byte
}

// readManifestFile reads and opens the manifest at path.
func readManifestFile(path string, verifiers []note.Verifier) (*manifestFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxManifest {
		return nil, fmt.Errorf("%w: larger than %d bytes", errManifest, maxManifest)
	}
	m, err := OpenManifest(raw, verifiers...)
	if err != nil {
		return nil, err
	}
	return &manifestFile{Manifest: *m, raw: raw}, nil
}
