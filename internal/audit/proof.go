package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Proof shows that one event is in the log: an RFC 6962 inclusion proof of
// its leaf against a signed checkpoint. It is self-contained, so that it
// can be checked offline, by someone who trusts only the log's verifier
// key, with CheckProof (anzen audit check-proof).
type Proof struct {
	Seq        int64    `json:"seq"`
	TreeSize   int64    `json:"tree_size"`
	LeafHash   []byte   `json:"leaf_hash"`
	Hashes     [][]byte `json:"hashes"`
	Entry      []byte   `json:"entry"`      // the canonical entry that was hashed
	Checkpoint string   `json:"checkpoint"` // the signed note
	// VerifierKeys are the log's keys as the log itself gave them; a
	// checker should compare them with the key it trusts.
	VerifierKeys []string `json:"verifier_keys,omitempty"`
	// Event is the entry decoded, for people; the checker decodes Entry
	// itself and does not read this.
	Event *Event `json:"event,omitempty"`
}

// ErrNotCheckpointed is returned for an event newer than the latest signed
// checkpoint.
var ErrNotCheckpointed = errors.New("the event is newer than the latest signed checkpoint")

// Prove returns the inclusion proof of the event at seq against the latest
// signed checkpoint.
func (l *Log) Prove(ctx context.Context, seq int64) (*Proof, error) {
	cp, err := l.LatestCheckpoint(ctx)
	if errors.Is(err, db.ErrNotFound) {
		return nil, ErrNotCheckpointed
	}
	if err != nil {
		return nil, err
	}
	if seq < 0 {
		return nil, fmt.Errorf("sequence number %d: %w", seq, db.ErrNotFound)
	}
	if seq >= cp.Size {
		size, err := l.Size(ctx)
		if err == nil && seq >= size {
			return nil, fmt.Errorf("sequence number %d: %w (the log has %d events)", seq, db.ErrNotFound, size)
		}
		return nil, fmt.Errorf("sequence number %d: %w (size %d)", seq, ErrNotCheckpointed, cp.Size)
	}
	p := &Proof{Seq: seq, TreeSize: cp.Size, Checkpoint: cp.Note}
	err = l.db.QueryRowContext(ctx, `SELECT leaf, entry FROM audit_log WHERE seq = ?`, seq).Scan(&p.LeafHash, &p.Entry)
	if errors.Is(db.NotFound(err), db.ErrNotFound) {
		if l.keep.archiveDir != "" {
			return l.ProveArchived(ctx, seq, l.keep.archiveDir)
		}
		return nil, fmt.Errorf("sequence number %d: %w", seq, ErrArchived)
	}
	if err != nil {
		return nil, fmt.Errorf("read event %d: %w", seq, err)
	}
	if p.Hashes, err = inclusionProof(ctx, l.db, uint64(seq), uint64(cp.Size)); err != nil {
		return nil, fmt.Errorf("inclusion proof of %d: %w", seq, err)
	}
	if ev, err := DecodeEntry(p.Entry); err == nil {
		ev.Seq = seq
		p.Event = &ev
	}
	if l.signer != nil {
		if p.VerifierKeys, err = l.VerifierKeys(ctx); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// CheckProof checks p offline: the checkpoint's signature with one of the
// verifier keys given, then the entry's leaf hash and the inclusion proof
// against the checkpoint's root. It returns the event the proof shows.
func CheckProof(p *Proof, verifierKeys ...string) (*Event, error) {
	if len(verifierKeys) == 0 {
		return nil, errors.New("no verifier key to check the checkpoint's signature with")
	}
	vs, err := Verifiers(verifierKeys...)
	if err != nil {
		return nil, err
	}
	origin, _, _ := bytes.Cut([]byte(p.Checkpoint), []byte("\n"))
	cp, err := OpenCheckpoint([]byte(p.Checkpoint), string(origin), vs...)
	if err != nil {
		return nil, err
	}
	if int64(cp.Size) != p.TreeSize {
		return nil, fmt.Errorf("the proof is for a tree of %d events, the checkpoint for %d", p.TreeSize, cp.Size)
	}
	if p.Seq < 0 || p.Seq >= p.TreeSize {
		return nil, fmt.Errorf("sequence number %d is outside the tree of %d events", p.Seq, p.TreeSize)
	}
	leaf := LeafHash(p.Seq, p.Entry)
	if len(p.LeafHash) > 0 && !bytes.Equal(leaf, p.LeafHash) {
		return nil, errors.New("the entry does not hash to the leaf hash given")
	}
	if err := proof.VerifyInclusion(hasher, uint64(p.Seq), uint64(p.TreeSize), leaf, p.Hashes, cp.Hash); err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	ev, err := DecodeEntry(p.Entry)
	if err != nil {
		return nil, err
	}
	ev.Seq = p.Seq
	return &ev, nil
}
