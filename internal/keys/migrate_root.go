package keys

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// ErrHSMHeld refuses to move key pairs that live inside an HSM: they cannot
// leave it.
var ErrHSMHeld = errors.New("signing keys held inside the HSM cannot leave it")

// migrating is one key version as MigrateRoot reads it.
type migrating struct {
	keyID   int64
	version int
	name    string
	alg     Algorithm
	wrapped []byte
	hsmID   string
}

// MigrateRoot moves every key from the service's root of trust to another
// (anzen keys migrate-root): the material of every version that is not
// destroyed is unwrapped by the current root and wrapped by to, and
// keys_versions.root names to, all in one transaction recorded in the audit
// log ("key.migrate_root"); then the service uses to. On any failure nothing
// changes and the service keeps its root.
//
// Key pairs held in an HSM cannot leave it: when a version that is not
// destroyed is held in the HSM, the move is refused with ErrHSMHeld naming
// the keys, unless to is an HSM that holds those same key pairs (the same
// token, or one the HSM vendor cloned). Moving from local to pkcs11, the
// software signing keys stay software keys: wrapped by the new root, with
// in_hsm still false, and still short of the guideline's storage-device
// requirement; rotating them makes versions generated inside the HSM.
//
// Requests of this process that need the root wait for the move. Other
// anzen instances sharing the database keep their own root in memory, so
// the move is meant to run with them stopped; a version already wrapped by
// to (a key created by such an instance after a move that is run again) is
// left as it is. progress, when not nil, is called as versions are done.
func (s *Service) MigrateRoot(ctx context.Context, by Actor, to Root, progress func(done, total int)) error {
	if to == nil {
		return errors.New("migrate root: no target root")
	}
	if progress == nil {
		progress = func(int, int) {}
	}
	s.rootMu.Lock()
	defer s.rootMu.Unlock()
	from := s.root
	if from == nil {
		return ErrSealed
	}
	if from == to {
		return errors.New("migrate root: the key service already uses this root")
	}
	if err := probeRoot(to); err != nil {
		return fmt.Errorf("migrate root: the new %s root does not work: %w", to.Kind(), err)
	}
	var moved, kept, software int
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if tx.Dialect() == db.Postgres {
			// Keep other writers out until the move commits.
			if _, err := tx.ExecContext(ctx, `LOCK TABLE keys_versions IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return err
			}
		}
		versions, err := readMigrating(ctx, tx)
		if err != nil {
			return err
		}
		toHSM, _ := to.(HSM)
		var held []string
		for _, m := range versions {
			if m.hsmID == "" {
				continue
			}
			if toHSM != nil {
				if _, err := toHSM.Signer(m.hsmID, m.alg); err == nil {
					continue
				}
			}
			held = append(held, fmt.Sprintf("%s (version %d)", m.name, m.version))
		}
		if len(held) > 0 {
			return fmt.Errorf("%w: %s; destroy these versions first, or keep the %s root", ErrHSMHeld,
				strings.Join(held, ", "), from.Kind())
		}
		progress(0, len(versions))
		now := db.Millis(s.clock.Now())
		for i, m := range versions {
			material := ""
			switch {
			case m.hsmID != "":
				kept++
			default:
				w, err := rewrap(from, to, m)
				if err != nil {
					return err
				}
				material = base64.StdEncoding.EncodeToString(w)
				moved++
				if m.alg.Signing() {
					software++
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE keys_versions SET root = ?, material = CASE WHEN hsm_id = ''
				THEN ? ELSE material END, updated_at = ? WHERE key_id = ? AND version = ?`,
				to.Kind(), material, now, m.keyID, m.version); err != nil {
				return fmt.Errorf("store rewrapped key %s version %d: %w", m.name, m.version, err)
			}
			progress(i+1, len(versions))
		}
		return s.audit.Record(ctx, tx, by.event("key.migrate_root", "keys", map[string]string{
			"from": from.Kind(), "to": to.Kind(), "rewrapped": strconv.Itoa(moved),
			"hsm_held": strconv.Itoa(kept), "software_signing": strconv.Itoa(software)}))
	})
	if err != nil {
		return err
	}
	s.root = to
	s.mu.Lock()
	clear(s.material)
	clear(s.meta)
	s.mu.Unlock()
	if software > 0 && to.Kind() == "pkcs11" {
		s.log.Warn("keys: software signing key versions moved under the HSM root stay software keys; rotate them to make versions inside the HSM",
			"versions", software)
	}
	return nil
}

// readMigrating reads every version that is not destroyed.
func readMigrating(ctx context.Context, tx *db.Tx) ([]migrating, error) {
	rows, err := tx.QueryContext(ctx, `SELECT v.key_id, v.version, v.material, v.hsm_id, k.name, k.algorithm
		FROM keys_versions v JOIN keys_keys k ON k.id = v.key_id WHERE v.state <> ? ORDER BY v.key_id, v.version`,
		string(Destroyed))
	if err != nil {
		return nil, fmt.Errorf("read key versions: %w", err)
	}
	defer rows.Close()
	var out []migrating
	for rows.Next() {
		var m migrating
		var material string
		if err := rows.Scan(&m.keyID, &m.version, &material, &m.hsmID, &m.name, &m.alg); err != nil {
			return nil, err
		}
		if m.hsmID == "" {
			if m.wrapped, err = base64.StdEncoding.DecodeString(material); err != nil || len(m.wrapped) == 0 {
				return nil, fmt.Errorf("key %s version %d has no readable material", m.name, m.version)
			}
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// rewrap moves one version's material from one root to the other. Material
// that only to opens was moved already and is returned as it is.
func rewrap(from, to Root, m migrating) ([]byte, error) {
	aad := materialAAD(m.keyID, m.version)
	raw, err := from.Unwrap(m.wrapped, aad)
	if err != nil {
		if already, err2 := to.Unwrap(m.wrapped, aad); err2 == nil {
			clear(already)
			return m.wrapped, nil
		}
		return nil, fmt.Errorf("unwrap key %s version %d with the %s root: %w", m.name, m.version, from.Kind(), err)
	}
	defer clear(raw)
	w, err := to.Wrap(raw, aad)
	if err != nil {
		return nil, fmt.Errorf("wrap key %s version %d with the %s root: %w", m.name, m.version, to.Kind(), err)
	}
	return w, nil
}

// probeRoot checks that a root wraps and unwraps.
func probeRoot(r Root) error {
	probe, aad := []byte("anzen migrate-root probe"), []byte("probe")
	w, err := r.Wrap(probe, aad)
	if err != nil {
		return err
	}
	got, err := r.Unwrap(w, aad)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, probe) {
		return errors.New("wrap and unwrap do not round-trip")
	}
	return nil
}
