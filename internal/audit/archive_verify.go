package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Checking the archive: every segment recorded in the database has its
// two files in the archive directory; the manifest's signature holds and
// it is the one the database recorded; the data file has the SHA-256 the
// manifest signs; every entry hashes to its leaf at its position; the
// leaves make the root the manifest names, which is the stored tree node
// over the segment and, with the stored tree, the root of the latest
// signed checkpoint. The checkpoints signed while the archived events were
// still in the database are checked against the segments' leaves.

// Kinds of problem of an archive segment.
const (
	SegmentMissing    = "missing"    // a file of the segment is not in the archive directory
	SegmentManifest   = "manifest"   // the manifest's signature fails, or it differs from the database's copy
	SegmentFile       = "file"       // the data file cannot be read
	SegmentHash       = "hash"       // the data file is not the one the manifest signs
	SegmentEntry      = "entry"      // an entry does not match its leaf hash or position
	SegmentRoot       = "root"       // the leaves do not make the stored tree node or the signed tree
	SegmentCheckpoint = "checkpoint" // a checkpoint signed before archiving does not match the segment
	SegmentRecord     = "record"     // the database's record of the segment is not signed by the log
)

// ProblemArchive is the kind of problem Verify reports when the archive
// directory it was given does not match the log.
const ProblemArchive = "archive"

// SegmentProblem is one problem found in the archive.
type SegmentProblem struct {
	Kind    string `json:"kind"`
	Seq     int64  `json:"seq"` // the first position concerned
	Problem string `json:"problem"`
}

func (p *SegmentProblem) Error() string { return p.Problem }

type segmentProblem = SegmentProblem

// ArchiveReport is what VerifyArchive found.
type ArchiveReport struct {
	Dir         string           `json:"dir"`
	Segments    int              `json:"segments"`
	Events      int64            `json:"events"`
	Checkpoints int              `json:"checkpoints"` // signed before archiving, checked against segments
	OK          bool             `json:"ok"`
	Problems    []SegmentProblem `json:"problems,omitempty"`
}

func (r *ArchiveReport) add(kind string, seq int64, format string, args ...any) {
	r.OK = false
	r.Problems = append(r.Problems, SegmentProblem{Kind: kind, Seq: seq, Problem: fmt.Sprintf(format, args...)})
}

// segmentRecord is one row of audit_segments.
type segmentRecord struct {
	first, end int64
	file       string
	manifest   string
}

func (l *Log) segmentRecords(ctx context.Context) ([]segmentRecord, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT first_seq, end_seq, file, manifest FROM audit_segments ORDER BY first_seq`)
	if err != nil {
		return nil, fmt.Errorf("read archive segments: %w", err)
	}
	defer rows.Close()
	var out []segmentRecord
	for rows.Next() {
		var r segmentRecord
		if err := rows.Scan(&r.first, &r.end, &r.file, &r.manifest); err != nil {
			return nil, fmt.Errorf("read archive segments: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// VerifyArchive checks every segment recorded in the database against its
// files in dir (the configured archive directory when dir is empty). It
// returns an error only when it could not check.
func (l *Log) VerifyArchive(ctx context.Context, dir string) (*ArchiveReport, error) {
	if dir == "" {
		dir = l.keep.archiveDir
	}
	rep := &ArchiveReport{Dir: dir, OK: true}
	if l.signer == nil {
		return nil, ErrNoSigner
	}
	verifiers, err := l.verifiers(ctx)
	if err != nil {
		return nil, fmt.Errorf("checkpoint keys: %w", err)
	}
	recs, err := l.segmentRecords(ctx)
	if err != nil || len(recs) == 0 {
		return rep, err
	}
	latest, err := l.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	cps, err := l.Checkpoints(ctx, 0)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Segments++
		rep.Events += r.end - r.first
		m := l.checkSegmentRecord(rep, r, verifiers)
		if m == nil {
			continue
		}
		mf, err := readManifestFile(filepath.Join(dir, r.file+".manifest"), verifiers)
		switch {
		case errors.Is(err, os.ErrNotExist):
			rep.add(SegmentMissing, r.first, "the manifest %s.manifest of positions %d to %d is not in %s", r.file, r.first, r.end-1, dir)
		case err != nil:
			rep.add(SegmentManifest, r.first, "the manifest %s.manifest: %v", r.file, err)
		case string(mf.raw) != r.manifest:
			rep.add(SegmentManifest, r.first, "the manifest %s.manifest differs from the one recorded when it was archived", r.file)
		}
		leaves, _, err := segmentLeaves(filepath.Join(dir, r.file+".gz"), m, -1)
		var sp *SegmentProblem
		switch {
		case errors.Is(err, os.ErrNotExist):
			rep.add(SegmentMissing, r.first, "the segment file %s.gz of positions %d to %d is not in %s", r.file, r.first, r.end-1, dir)
			continue
		case errors.As(err, &sp):
			rep.add(sp.Kind, sp.Seq, "%s.gz: %s", r.file, sp.Problem)
			continue
		case err != nil:
			rep.add(SegmentFile, r.first, "%s.gz: %v", r.file, err)
			continue
		}
		root := foldLeaves(leaves)
		if !bytes.Equal(root, m.Root) {
			rep.add(SegmentRoot, r.first, "%s.gz: its entries do not make the root its manifest signs", r.file)
			continue
		}
		if err := l.checkSegmentInTree(ctx, l.db, r.first, r.end, root, latest); err != nil {
			if errors.As(err, &sp) {
				rep.add(sp.Kind, sp.Seq, "%s.gz: %s", r.file, sp.Problem)
				continue
			}
			return nil, err
		}
		for _, cp := range cps {
			if cp.Size <= r.first || cp.Size >= r.end {
				continue
			}
			rep.Checkpoints++
			if err := l.checkArchivedCheckpoint(ctx, cp, r.first, leaves, verifiers); err != nil {
				if errors.As(err, &sp) {
					rep.add(sp.Kind, sp.Seq, "%s", sp.Problem)
					continue
				}
				return nil, err
			}
		}
	}
	return rep, nil
}

// checkSegmentRecord checks the database's copy of a segment's manifest:
// signed by the log, naming the segment the row names. It returns the
// manifest, or nil after adding the problem to rep.
func (l *Log) checkSegmentRecord(rep *ArchiveReport, r segmentRecord, verifiers []note.Verifier) *Manifest {
	m, err := OpenManifest([]byte(r.manifest), verifiers...)
	if err != nil {
		rep.add(SegmentRecord, r.first, "the database's record of positions %d to %d: %v", r.first, r.end-1, err)
		return nil
	}
	if m.First != r.first || m.End != r.end || r.file != SegmentName(m.First, m.End) {
		rep.add(SegmentRecord, r.first, "the database's record of positions %d to %d carries the manifest of positions %d to %d",
			r.first, r.end-1, m.First, m.End-1)
		return nil
	}
	return m
}

// checkSegmentRecords checks, for Verify, that every archived segment's
// record is signed by the log and names the stored tree node over it: the
// database alone cannot then pass off deleted events as archived ones.
func (l *Log) checkSegmentRecords(ctx context.Context, res *VerifyResult, verifiers []note.Verifier) error {
	if len(verifiers) == 0 {
		return nil
	}
	recs, err := l.segmentRecords(ctx)
	if err != nil {
		return err
	}
	rep := &ArchiveReport{OK: true}
	for _, r := range recs {
		m := l.checkSegmentRecord(rep, r, verifiers)
		if m == nil {
			break
		}
		node, _ := segmentNode(m.First, m.End) // parseManifest checked it
		hs, err := nodeHashes(ctx, l.db, []compact.NodeID{node})
		if err != nil || !bytes.Equal(hs[0], m.Root) {
			rep.add(SegmentRoot, m.First, "the stored tree node over the archived positions %d to %d differs from the root its signed manifest names (%v)",
				m.First, m.End-1, err)
			break
		}
	}
	if !rep.OK {
		p := rep.Problems[0]
		res.fail(p.Seq, ProblemArchive, "%s", p.Problem)
	}
	return nil
}

// verifyArchiveInto runs VerifyArchive for Verify and reports its first
// problem in res.
func (l *Log) verifyArchiveInto(ctx context.Context, res *VerifyResult, dir string) error {
	rep, err := l.VerifyArchive(ctx, dir)
	if err != nil {
		return err
	}
	res.ArchiveSegments = rep.Segments
	if !rep.OK {
		p := rep.Problems[0]
		res.fail(p.Seq, ProblemArchive, "%s", p.Problem)
	}
	return nil
}

// checkSegmentInTree checks that root, the root of the segment from first,
// is the stored tree node over it, and that with the stored tree it makes
// the root of the signed checkpoint cp.
func (l *Log) checkSegmentInTree(ctx context.Context, q db.Querier, first, end int64, root []byte, cp *Checkpoint) error {
	node, ok := segmentNode(first, end)
	if !ok {
		return fmt.Errorf("positions %d to %d are not a segment", first, end-1)
	}
	hs, err := nodeHashes(ctx, q, []compact.NodeID{node})
	if err != nil {
		return &SegmentProblem{SegmentRoot, first, fmt.Sprintf("the stored tree node over positions %d to %d cannot be read: %v", first, end-1, err)}
	}
	if !bytes.Equal(hs[0], root) {
		return &SegmentProblem{SegmentRoot, first, fmt.Sprintf("positions %d to %d do not make the stored tree node over them", first, end-1)}
	}
	if cp.Size < end {
		return &SegmentProblem{SegmentRoot, first, fmt.Sprintf("no signed checkpoint covers positions %d to %d", first, end-1)}
	}
	left, err := loadRange(ctx, q, uint64(first))
	if err != nil {
		return fmt.Errorf("read the tree before position %d: %w", first, err)
	}
	seg, err := ranges.NewRange(uint64(first), uint64(end), [][]byte{root})
	if err != nil {
		return err
	}
	ids := compact.RangeNodes(uint64(end), uint64(cp.Size), nil)
	rhs, err := nodeHashes(ctx, q, ids)
	if err != nil {
		return fmt.Errorf("read the tree after position %d: %w", end, err)
	}
	if rhs == nil {
		rhs = [][]byte{}
	}
	right, err := ranges.NewRange(uint64(end), uint64(cp.Size), rhs)
	if err != nil {
		return err
	}
	if err := left.AppendRange(seg, nil); err != nil {
		return err
	}
	if err := left.AppendRange(right, nil); err != nil {
		return err
	}
	if !bytes.Equal(rootOf(left), cp.Root) {
		return &SegmentProblem{SegmentRoot, first, fmt.Sprintf(
			"positions %d to %d with the stored tree do not make the root of the checkpoint signed at %d events", first, end-1, cp.Size)}
	}
	return nil
}

// segmentNodes returns the hashes of ids: those inside the segment from
// first computed from its leaves, the others read from the database.
func segmentNodes(ctx context.Context, q db.Querier, ids []compact.NodeID, first int64, leaves []byte) ([][]byte, error) {
	out := make([][]byte, len(ids))
	var rest []compact.NodeID
	var at []int
	for i, id := range ids {
		b, e := id.Coverage()
		if int64(b) >= first && int64(e) <= first+int64(len(leaves)/32) {
			out[i] = foldLeaves(leaves[32*(int64(b)-first) : 32*(int64(e)-first)])
			continue
		}
		rest, at = append(rest, id), append(at, i)
	}
	hs, err := nodeHashes(ctx, q, rest)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		out[i] = hs[j]
	}
	return out, nil
}

// checkArchivedCheckpoint checks a checkpoint signed at a size inside the
// segment from first against the segment's leaves and the stored tree.
func (l *Log) checkArchivedCheckpoint(ctx context.Context, cp *Checkpoint, first int64, leaves []byte, verifiers []note.Verifier) error {
	hs, err := segmentNodes(ctx, l.db, compact.RangeNodes(0, uint64(cp.Size), nil), first, leaves)
	if err != nil {
		return fmt.Errorf("read the tree at %d events: %w", cp.Size, err)
	}
	rng, err := ranges.NewRange(0, uint64(cp.Size), hs)
	if err != nil {
		return err
	}
	if !bytes.Equal(rootOf(rng), cp.Root) {
		return &SegmentProblem{SegmentCheckpoint, first, fmt.Sprintf(
			"the archived events do not make the root of the checkpoint signed at %s for %d events", cp.SignedAt.Format(time.RFC3339), cp.Size)}
	}
	if err := checkpointMatches(cp, verifiers); err != nil {
		return &SegmentProblem{SegmentCheckpoint, first, fmt.Sprintf("the checkpoint at %d events: %v", cp.Size, err)}
	}
	return nil
}

// ProveArchived returns the inclusion proof of an archived event, reading
// it and its segment's leaves from the segment files in dir (the
// configured archive directory when dir is empty), against the latest
// signed checkpoint.
func (l *Log) ProveArchived(ctx context.Context, seq int64, dir string) (*Proof, error) {
	if dir == "" {
		dir = l.keep.archiveDir
	}
	if dir == "" {
		return nil, fmt.Errorf("sequence number %d: %w", seq, ErrArchived)
	}
	if l.signer == nil {
		return nil, ErrNoSigner
	}
	cp, err := l.LatestCheckpoint(ctx)
	if errors.Is(err, db.ErrNotFound) {
		return nil, ErrNotCheckpointed
	}
	if err != nil {
		return nil, err
	}
	var rec *segmentRecord
	recs, err := l.segmentRecords(ctx)
	if err != nil {
		return nil, err
	}
	for i := range recs {
		if recs[i].first <= seq && seq < recs[i].end {
			rec = &recs[i]
		}
	}
	if seq < 0 || rec == nil {
		return nil, fmt.Errorf("sequence number %d is not in an archive segment: %w", seq, db.ErrNotFound)
	}
	verifiers, err := l.verifiers(ctx)
	if err != nil {
		return nil, err
	}
	m, err := OpenManifest([]byte(rec.manifest), verifiers...)
	if err != nil {
		return nil, fmt.Errorf("the record of the segment of %d: %w", seq, err)
	}
	leaves, entry, err := segmentLeaves(filepath.Join(dir, rec.file+".gz"), m, seq)
	if err != nil {
		return nil, fmt.Errorf("the archive segment of %d: %w", seq, err)
	}
	nodes, err := proof.Inclusion(uint64(seq), uint64(cp.Size))
	if err != nil {
		return nil, err
	}
	first := rec.first
	hs, err := segmentNodes(ctx, l.db, nodes.IDs, first, leaves)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof of %d: %w", seq, err)
	}
	p := &Proof{Seq: seq, TreeSize: cp.Size, Checkpoint: cp.Note, Entry: entry,
		LeafHash: bytes.Clone(leaves[32*(seq-first) : 32*(seq-first+1)])}
	if p.Hashes, err = nodes.Rehash(hs, hasher.HashChildren); err != nil {
		return nil, err
	}
	if err := proof.VerifyInclusion(hasher, uint64(seq), uint64(cp.Size), p.LeafHash, p.Hashes, cp.Root); err != nil {
		return nil, fmt.Errorf("the archive segment of %d does not match the signed tree: %w", seq, err)
	}
	if ev, err := DecodeEntry(p.Entry); err == nil {
		ev.Seq = seq
		p.Event = &ev
	}
	if p.VerifierKeys, err = l.VerifierKeys(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// checkArchivedSignature checks, for Verify, a checkpoint signed inside the
// archived positions: its signature only, since the leaves under it are in
// the archive (VerifyArchive checks its root).
func (l *Log) checkArchivedSignature(res *VerifyResult, cp *Checkpoint, verifiers []note.Verifier) {
	res.Checkpoints++
	res.ArchivedCheckpoints++
	if len(verifiers) > 0 {
		if err := checkpointMatches(cp, verifiers); err != nil {
			res.fail(0, ProblemCheckpoint, "the checkpoint at %d events: %v", cp.Size, err)
		}
	}
}
