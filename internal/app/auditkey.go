package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/anzen-health/anzen/internal/keys"
)

// CheckpointKeyName is the key service's key that signs the audit log's
// checkpoints (purpose audit-checkpoint; Ed25519, the algorithm of C2SP
// signed notes; inside the HSM when keys.root is pkcs11).
const CheckpointKeyName = "audit-checkpoint"

// checkpointKey gives the audit log its signing key from the key service
// (audit.CheckpointSigner).
type checkpointKey struct{ app *App }

// ensureCheckpointKey creates the audit-checkpoint key on first start and
// checks that it can sign notes.
func (a *App) ensureCheckpointKey(ctx context.Context) error {
	k, err := a.Keys.Get(ctx, CheckpointKeyName)
	if errors.Is(err, keys.ErrNotFound) {
		_, err = a.Keys.Create(ctx, systemActor, keys.NewKey{Name: CheckpointKeyName,
			Purpose: keys.PurposeAuditCheckpoint, Algorithm: keys.Ed25519, Owner: "anzen audit log"})
		var ve *keys.ValidationError
		if err == nil || errors.As(err, &ve) && ve.Fields["name"] == "keys.validation.duplicate" {
			// Made here, or by another instance sharing the database first.
			k, err = a.Keys.Get(ctx, CheckpointKeyName)
		}
	}
	if err != nil {
		return fmt.Errorf("audit checkpoint key: %w", err)
	}
	if k.Algorithm != keys.Ed25519 {
		return fmt.Errorf("the key %s is %s; checkpoints (C2SP signed notes) need ed25519: rename that key and restart",
			CheckpointKeyName, k.Algorithm)
	}
	return nil
}

// Signer returns a note signer of the key's active version.
func (c checkpointKey) Signer(ctx context.Context, name string) (note.Signer, error) {
	k, err := c.app.Keys.Get(ctx, CheckpointKeyName)
	if err != nil {
		return nil, err
	}
	v := k.Latest()
	if v == nil || v.State != keys.Active {
		return nil, fmt.Errorf("the key %s has no active version", CheckpointKeyName)
	}
	vkey, err := c.verifierKey(ctx, name, v.Version)
	if err != nil {
		return nil, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	return &noteSigner{name: name, hash: verifier.KeyHash(), version: v.Version, keys: c.app.Keys}, nil
}

// VerifierKeys returns a verifier key per version that can still verify.
func (c checkpointKey) VerifierKeys(ctx context.Context, name string) ([]string, error) {
	k, err := c.app.Keys.Get(ctx, CheckpointKeyName)
	if err != nil {
		return nil, err
	}
	var out []string
	for i := len(k.Versions) - 1; i >= 0; i-- {
		v := k.Versions[i]
		if v.State != keys.Active && v.State != keys.DecryptOnly || v.Version < k.MinDecryptVersion {
			continue
		}
		vkey, err := c.verifierKey(ctx, name, v.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, vkey)
	}
	return out, nil
}

func (c checkpointKey) verifierKey(ctx context.Context, name string, version int) (string, error) {
	pub, err := c.app.Keys.MaterialPublicKey(ctx, CheckpointKeyName, version)
	if err != nil {
		return "", fmt.Errorf("%s version %d: %w", CheckpointKeyName, version, err)
	}
	ed, ok := pub.(ed25519.PublicKey)
	if !ok {
		return "", fmt.Errorf("%s version %d is not an Ed25519 key", CheckpointKeyName, version)
	}
	return note.NewEd25519VerifierKey(name, ed)
}

// noteSigner signs notes through the key service.
type noteSigner struct {
	name    string
	hash    uint32
	version int
	keys    *keys.Service
}

func (s *noteSigner) Name() string    { return s.name }
func (s *noteSigner) KeyHash() uint32 { return s.hash }

func (s *noteSigner) Sign(msg []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sig, err := s.keys.Sign(ctx, keys.SystemCaller("audit"), CheckpointKeyName, msg)
	if err != nil {
		return nil, err
	}
	v, raw, err := keys.SignatureParts(sig)
	if err != nil {
		return nil, err
	}
	if v != s.version {
		// Rotated between choosing the key hash and signing.
		return nil, fmt.Errorf("%s was rotated while signing; the next checkpoint uses the new version", CheckpointKeyName)
	}
	return raw, nil
}
