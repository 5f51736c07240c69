package keys

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// ImportResult says what ImportBackup restored.
type ImportResult struct {
	Imported []string     `json:"imported"`
	Skipped  []SkippedKey `json:"skipped"`
}

// SkippedKey is a key of the backup that could not be restored here, and
// why (an i18n message id).
type SkippedKey struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// ImportBackup restores the keys of a backup file, opened with the recovery
// private key (text form), into this key store, wrapping their material
// under the current root. Every key keeps its id, because ciphertexts name
// the key by id: a key whose name or id exists here already is a conflict,
// and then nothing is imported (ConflictError), except a key of the same
// name that was never used (such as the one anzen makes for its own
// secrets at its first start), which the restored key replaces. Keys with
// versions held by an HSM are restored only when the current root is an
// HSM that still has their objects; otherwise they are skipped and listed.
// A wrong recovery key gives ErrRecoveryKey and imports nothing. It all
// happens in one transaction, recorded.
func (s *Service) ImportBackup(ctx context.Context, by Actor, file, private []byte, opts ...BackupOption) (*ImportResult, error) {
	o := applyOptions(opts)
	b, err := openBackup(file, private)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, k := range b.Keys {
			for _, v := range k.Versions {
				clear(v.Material)
			}
		}
	}()
	root, err := s.Root()
	if err != nil {
		return nil, err
	}
	hsm, isHSM := root.(HSM)
	res := &ImportResult{Imported: []string{}, Skipped: []SkippedKey{}}
	var toRestore []*backupKey
	for i := range b.Keys {
		k := &b.Keys[i]
		if err := k.check(); err != nil {
			return nil, err
		}
		skip := ""
		for _, v := range k.Versions {
			switch {
			case v.State == Destroyed || !v.InHSM:
			case !isHSM:
				skip = "keys.backup.skip_hsm_root"
			default:
				if _, err := hsm.Signer(v.HSMID, k.Algorithm); err != nil {
					skip = "keys.backup.skip_hsm_object"
				}
			}
		}
		if skip != "" {
			res.Skipped = append(res.Skipped, SkippedKey{Name: k.Name, Reason: skip})
			continue
		}
		toRestore = append(toRestore, k)
	}
	var replaced []replacedKey
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if replaced, err = s.clearWay(ctx, tx, toRestore); err != nil {
			return err
		}
		for i, k := range toRestore {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := s.restoreKey(ctx, tx, by, root, k, replaced); err != nil {
				return err
			}
			res.Imported = append(res.Imported, k.Name)
			o.progress(i+1, len(toRestore))
		}
		if tx.Dialect() == db.Postgres && len(toRestore) > 0 {
			// Explicit ids do not move the identity sequence; move it past them.
			var last int64
			if err := tx.QueryRowContext(ctx, `SELECT setval(pg_get_serial_sequence('keys_keys', 'id'),
				(SELECT MAX(id) FROM keys_keys))`).Scan(&last); err != nil {
				return fmt.Errorf("advance the key id sequence: %w", err)
			}
		}
		skipped := make([]string, len(res.Skipped))
		for i, sk := range res.Skipped {
			skipped[i] = sk.Name
		}
		return s.audit.Record(ctx, tx, by.event("key.backup.import", "keys", map[string]string{
			"imported": strings.Join(res.Imported, ","), "skipped": strings.Join(skipped, ","),
			"backup_created_at": b.CreatedAt.UTC().Format(time.RFC3339), "backup_created_by": b.CreatedBy,
			"backup_root": b.Root}))
	})
	if err != nil {
		return nil, err
	}
	for _, k := range toRestore {
		s.forget(k.ID)
	}
	for _, r := range replaced {
		s.forgetKey(r.id, r.name)
	}
	return res, nil
}

// replacedKey is a key of this store that a restore replaced.
type replacedKey struct {
	id   int64
	name string
}

// clearWay finds the keys of this store that stand in the way of the
// backup's keys (same name, or same id). An unused key of the same name
// (one version, in software, never used, no grants, certificates or
// destroy requests: such as the key anzen makes for itself at its first
// start) is removed to make way; any other is a conflict, and then nothing
// is imported.
func (s *Service) clearWay(ctx context.Context, tx *db.Tx, toRestore []*backupKey) ([]replacedKey, error) {
	names := map[string]bool{}
	for _, k := range toRestore {
		names[k.Name] = true
	}
	replaceable := map[int64]string{}
	var conflicts []string
	for _, k := range toRestore {
		rows, err := tx.QueryContext(ctx, `SELECT id, name FROM keys_keys WHERE name = ? OR id = ?`, k.Name, k.ID)
		if err != nil {
			return nil, err
		}
		var found []replacedKey
		for rows.Next() {
			var r replacedKey
			if err := rows.Scan(&r.id, &r.name); err != nil {
				rows.Close()
				return nil, err
			}
			found = append(found, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		for _, r := range found {
			if _, ok := replaceable[r.id]; ok {
				continue
			}
			unused := false
			if names[r.name] {
				if unused, err = s.unusedKey(ctx, tx, r.id); err != nil {
					return nil, err
				}
			}
			if !unused {
				conflicts = append(conflicts, k.Name)
				break
			}
			replaceable[r.id] = r.name
		}
	}
	if len(conflicts) > 0 {
		return nil, &ConflictError{Names: conflicts}
	}
	var out []replacedKey
	for id, name := range replaceable {
		for _, q := range []string{`DELETE FROM keys_versions WHERE key_id = ?`, `DELETE FROM keys_keys WHERE id = ?`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return nil, fmt.Errorf("make way for the restored key %s: %w", name, err)
			}
		}
		out = append(out, replacedKey{id: id, name: name})
	}
	return out, nil
}

// unusedKey reports whether key id has one software version and has never
// been used nor had grants, certificates or destroy requests.
func (s *Service) unusedKey(ctx context.Context, tx *db.Tx, id int64) (bool, error) {
	s.usage.mu.Lock()
	for g := range s.usage.counts {
		if g.keyID == id {
			s.usage.mu.Unlock()
			return false, nil
		}
	}
	s.usage.mu.Unlock()
	var versions, inHSM, others int
	err := tx.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM keys_versions WHERE key_id = ?),
		(SELECT COUNT(*) FROM keys_versions WHERE key_id = ? AND hsm_id <> ''),
		(SELECT COUNT(*) FROM keys_usage WHERE key_id = ?) + (SELECT COUNT(*) FROM keys_grants WHERE key_id = ?) +
		(SELECT COUNT(*) FROM keys_certificates WHERE key_id = ?) + (SELECT COUNT(*) FROM keys_destroy_requests WHERE key_id = ?)`,
		id, id, id, id, id, id).Scan(&versions, &inHSM, &others)
	if err != nil {
		return false, fmt.Errorf("check whether key %d was used: %w", id, err)
	}
	return versions == 1 && inHSM == 0 && others == 0, nil
}

// forgetKey drops a key that no longer exists from memory, with its name
// and material.
func (s *Service) forgetKey(id int64, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.meta, id)
	if s.byName[name] == id {
		delete(s.byName, name)
	}
	for ref := range s.material {
		if ref.key == id {
			delete(s.material, ref)
		}
	}
}

// check refuses a key of a backup that could not have been exported.
func (k *backupKey) check() error {
	ok := k.ID > 0 && namePattern.MatchString(k.Name) && slices.Contains(Purposes, k.Purpose) &&
		slices.Contains(Algorithms, k.Algorithm) && len(k.Versions) > 0 && k.MinDecryptVersion >= 1
	for _, v := range k.Versions {
		switch v.State {
		case Active, DecryptOnly, Disabled:
			ok = ok && v.Version > 0 && (v.InHSM == (len(v.Material) == 0))
		case Destroyed:
			ok = ok && v.Version > 0
		default:
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("%w: key %q is incomplete", ErrNotBackup, clip(k.Name))
	}
	return nil
}

// restoreKey inserts one key of a backup with its id, versions (material
// wrapped under root), grants and certificates.
func (s *Service) restoreKey(ctx context.Context, tx *db.Tx, by Actor, root Root, k *backupKey, replaced []replacedKey) error {
	override := ""
	if tx.Dialect() == db.Postgres {
		override = " OVERRIDING SYSTEM VALUE"
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO keys_keys (id, name, purpose, algorithm, owner, facility_id,
		rotation_period_ms, min_decrypt_version, created_at, updated_at)`+override+` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Name, string(k.Purpose), string(k.Algorithm), k.Owner, k.FacilityID, k.RotationPeriodMS,
		k.MinDecryptVersion, k.CreatedAt, k.UpdatedAt)
	if db.IsUniqueViolation(err) {
		return &ConflictError{Names: []string{k.Name}}
	}
	if err != nil {
		return fmt.Errorf("restore key %s: %w", k.Name, err)
	}
	withMaterial := 0
	for _, v := range k.Versions {
		material, hsmID := "", ""
		switch {
		case v.State == Destroyed:
		case v.InHSM:
			hsmID = v.HSMID
		default:
			w, err := root.Wrap(v.Material, materialAAD(k.ID, v.Version))
			if err != nil {
				return fmt.Errorf("wrap key %s version %d: %w", k.Name, v.Version, err)
			}
			material = base64.StdEncoding.EncodeToString(w)
			withMaterial++
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO keys_versions (key_id, version, state, root, material, hsm_id,
			public_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, k.ID, v.Version, string(v.State),
			root.Kind(), material, hsmID, v.PublicKey, v.CreatedAt, v.UpdatedAt); err != nil {
			return fmt.Errorf("restore key %s version %d: %w", k.Name, v.Version, err)
		}
	}
	for _, g := range k.Grants {
		ops := make([]string, len(g.Operations))
		for i, o := range g.Operations {
			ops[i] = string(o)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO keys_grants (key_id, kind, subject, operations) VALUES (?, ?, ?, ?)`,
			k.ID, g.Kind, g.Subject, strings.Join(ops, ",")); err != nil {
			return fmt.Errorf("restore grants of key %s: %w", k.Name, err)
		}
	}
	for _, c := range k.Certificates {
		if _, err := tx.ExecContext(ctx, `INSERT INTO keys_certificates (key_id, version, fingerprint, serial, issuer,
			subject, not_before, not_after, policies, hpki_roles, hpki_raw, chain_pem, warned_level, imported_by,
			imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, k.ID, c.Version, c.Fingerprint, c.Serial,
			c.Issuer, c.Subject, c.NotBefore, c.NotAfter, c.Policies, c.HPKIRoles, c.HPKIRaw, c.ChainPEM, c.WarnedLevel,
			c.ImportedBy, c.ImportedAt); err != nil {
			return fmt.Errorf("restore certificates of key %s: %w", k.Name, err)
		}
	}
	detail := map[string]string{"id": strconv.FormatInt(k.ID, 10), "versions": strconv.Itoa(len(k.Versions)),
		"versions_with_material": strconv.Itoa(withMaterial), "root": root.Kind()}
	for _, r := range replaced {
		if r.name == k.Name {
			detail["replaced_unused_key_id"] = strconv.FormatInt(r.id, 10)
		}
	}
	return s.audit.Record(ctx, tx, by.event("key.restore", "key:"+k.Name, detail))
}
