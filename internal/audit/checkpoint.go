package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	tlog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Checkpoints are signed notes in the C2SP tlog-checkpoint format:
//
//	<origin>
//	<tree size>
//	<base64 root hash>
//
//	— <origin> <base64 key hash and Ed25519 signature>
//
// anyone holding the log's verifier key (shown on the audit pages and
// served with the checkpoint) can check them with any C2SP tool, and an
// outside witness that keeps copies can later show that the log was
// rewritten, even by someone who controls the whole database.

// CheckpointSigner is the key that signs checkpoints: the key service's
// audit-checkpoint key, which internal/app provides.
type CheckpointSigner interface {
	// Signer returns a note signer of the key's active version, whose
	// signatures carry the name given (the log's origin).
	Signer(ctx context.Context, name string) (note.Signer, error)
	// VerifierKeys returns the verifier key (note.NewVerifier's form) named
	// name of every version of the key that can still verify, newest first,
	// made from the key material itself rather than from a stored copy.
	VerifierKeys(ctx context.Context, name string) ([]string, error)
}

// ErrNoSigner is returned when the log has no checkpoint key.
var ErrNoSigner = errors.New("the audit log has no checkpoint signing key")

// Checkpoint is one signed checkpoint of the tree.
type Checkpoint struct {
	Origin   string    `json:"origin"`
	Size     int64     `json:"size"`
	Root     []byte    `json:"root"`
	SignedAt time.Time `json:"signed_at"`
	Note     string    `json:"note"` // the whole signed note
}

// Origin returns the log's origin line, the name in its checkpoints and
// signatures, choosing it on first use: the configured name, or
// "anzen/audit/" and eight random hex digits. Once chosen it never changes,
// so that every checkpoint of the log names the same log.
func (l *Log) Origin(ctx context.Context) (string, error) {
	h, err := readHead(ctx, l.db)
	if err != nil || h.origin != "" {
		return h.origin, err
	}
	origin := l.origin
	if origin == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		origin = "anzen/audit/" + hex.EncodeToString(b[:])
	}
	if _, err := l.db.ExecContext(ctx, `UPDATE audit_head SET origin = ? WHERE id = 1 AND origin = ''`, origin); err != nil {
		return "", fmt.Errorf("set the log's origin: %w", err)
	}
	h, err = readHead(ctx, l.db)
	return h.origin, err
}

// WithOrigin names the log in its checkpoints, when it has no name yet.
func WithOrigin(origin string) Option { return func(l *Log) { l.origin = origin } }

// SignCheckpoint signs a checkpoint of the tree as it is now, unless the
// newest checkpoint already covers it, and returns the newest checkpoint
// (nil while the log is empty). Before signing it checks that the tree is
// consistent with the previous checkpoint: a log must never sign two
// checkpoints that contradict each other, and a tree rewritten behind
// anzen's back is refused here.
func (l *Log) SignCheckpoint(ctx context.Context) (*Checkpoint, error) {
	if l.signer == nil {
		return nil, ErrNoSigner
	}
	origin, err := l.Origin(ctx)
	if err != nil {
		return nil, err
	}
	h, err := readHead(ctx, l.db)
	if err != nil {
		return nil, err
	}
	prev, err := l.LatestCheckpoint(ctx)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return nil, err
	}
	if prev != nil && prev.Size >= h.size {
		return prev, nil
	}
	if h.size == 0 {
		return nil, nil
	}
	if prev != nil {
		if err := l.checkConsistent(ctx, prev.Size, prev.Root, h.size, h.root); err != nil {
			return nil, fmt.Errorf("refusing to sign a checkpoint at %d: %w", h.size, err)
		}
	}
	signer, err := l.signer.Signer(ctx, origin)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	body := tlog.Checkpoint{Origin: origin, Size: uint64(h.size), Hash: h.root}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	cp := &Checkpoint{Origin: origin, Size: h.size, Root: h.root, SignedAt: l.clock.Now().Truncate(time.Millisecond), Note: string(signed)}
	if _, err := l.db.ExecContext(ctx, `INSERT INTO audit_checkpoints (size, root, signed_at, note) VALUES (?, ?, ?, ?)
		ON CONFLICT (size) DO NOTHING`, cp.Size, cp.Root, cp.SignedAt.UnixMilli(), cp.Note); err != nil {
		return nil, fmt.Errorf("store checkpoint: %w", err)
	}
	l.cpMu.Lock()
	l.lastSigned = max(l.lastSigned, cp.Size)
	l.cpMu.Unlock()
	return l.LatestCheckpoint(ctx)
}

// checkConsistent checks, from the stored tree, that the tree of size2
// with root2 extends the one of size1 with root1.
func (l *Log) checkConsistent(ctx context.Context, size1 int64, root1 []byte, size2 int64, root2 []byte) error {
	p, err := consistencyProof(ctx, l.db, uint64(size1), uint64(size2))
	if err != nil {
		return fmt.Errorf("consistency proof %d→%d: %w", size1, size2, err)
	}
	if err := proof.VerifyConsistency(hasher, uint64(size1), uint64(size2), p, root1, root2); err != nil {
		return fmt.Errorf("the tree of %d events is not consistent with the checkpoint at %d: %w", size2, size1, err)
	}
	return nil
}

// LatestCheckpoint returns the newest signed checkpoint, or db.ErrNotFound.
func (l *Log) LatestCheckpoint(ctx context.Context) (*Checkpoint, error) {
	cps, err := l.checkpoints(ctx, `ORDER BY size DESC LIMIT 1`)
	if err != nil {
		return nil, err
	}
	if len(cps) == 0 {
		return nil, db.ErrNotFound
	}
	return cps[0], nil
}

// Checkpoints returns the stored checkpoints from size from on, oldest
// first.
func (l *Log) Checkpoints(ctx context.Context, from int64) ([]*Checkpoint, error) {
	return l.checkpoints(ctx, `WHERE size >= ? ORDER BY size`, from)
}

func (l *Log) checkpoints(ctx context.Context, tail string, args ...any) ([]*Checkpoint, error) {
	origin, err := l.Origin(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := l.db.QueryContext(ctx, `SELECT size, root, signed_at, note FROM audit_checkpoints `+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	defer rows.Close()
	var out []*Checkpoint
	for rows.Next() {
		cp := &Checkpoint{Origin: origin}
		var at int64
		if err := rows.Scan(&cp.Size, &cp.Root, &at, &cp.Note); err != nil {
			return nil, fmt.Errorf("read checkpoints: %w", err)
		}
		cp.SignedAt = db.Time(at)
		out = append(out, cp)
	}
	return out, rows.Err()
}

// VerifierKeys returns the verifier keys (note.NewVerifier's form) of the
// checkpoint key, newest first, as people and witnesses need them to check
// checkpoints.
func (l *Log) VerifierKeys(ctx context.Context) ([]string, error) {
	if l.signer == nil {
		return nil, ErrNoSigner
	}
	origin, err := l.Origin(ctx)
	if err != nil {
		return nil, err
	}
	return l.signer.VerifierKeys(ctx, origin)
}

func (l *Log) verifiers(ctx context.Context) ([]note.Verifier, error) {
	keys, err := l.VerifierKeys(ctx)
	if err != nil {
		return nil, err
	}
	return Verifiers(keys...)
}

// Verifiers turns verifier keys into note verifiers.
func Verifiers(keys ...string) ([]note.Verifier, error) {
	out := make([]note.Verifier, 0, len(keys))
	for _, k := range keys {
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("verifier key %q: %w", k, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// OpenCheckpoint checks a signed checkpoint note against the verifiers and
// returns what it says. The origin must be the log's.
func OpenCheckpoint(signed []byte, origin string, verifiers ...note.Verifier) (*tlog.Checkpoint, error) {
	var lastErr error
	for _, v := range verifiers {
		cp, _, _, err := tlog.ParseCheckpoint(signed, origin, v)
		if err == nil {
			return cp, nil
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = errors.New("no verifier key")
	}
	return nil, fmt.Errorf("checkpoint signature: %w", lastErr)
}

// checkpointMatches reports whether cp's note, checked with verifiers,
// says size and root.
func checkpointMatches(cp *Checkpoint, verifiers []note.Verifier) error {
	got, err := OpenCheckpoint([]byte(cp.Note), cp.Origin, verifiers...)
	if err != nil {
		return err
	}
	if int64(got.Size) != cp.Size || !bytes.Equal(got.Hash, cp.Root) {
		return fmt.Errorf("the signed note says size %d, the row %d or another root", got.Size, cp.Size)
	}
	return nil
}
