package keys

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

const keyColumns = `id, name, purpose, algorithm, owner, rotation_period_ms, min_decrypt_version, created_at`

// load reads a key and its versions.
func (s *Service) load(ctx context.Context, where string, arg any) (*Key, error) {
	var k Key
	var rot, created int64
	err := s.db.QueryRowContext(ctx, "SELECT "+keyColumns+" FROM keys_keys WHERE "+where, arg).Scan(&k.ID, &k.Name,
		&k.Purpose, &k.Algorithm, &k.Owner, &rot, &k.MinDecryptVersion, &created)
	if err != nil {
		if db.NotFound(err) == db.ErrNotFound {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("read key: %w", err)
	}
	k.RotationPeriod, k.CreatedAt = time.Duration(rot)*time.Millisecond, db.Time(created)
	rows, err := s.db.QueryContext(ctx, `SELECT version, state, root, hsm_id, public_key, created_at
		FROM keys_versions WHERE key_id = ? ORDER BY version`, k.ID)
	if err != nil {
		return nil, fmt.Errorf("read key versions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v Version
		var hsmID, pub string
		var at int64
		if err := rows.Scan(&v.Version, &v.State, &v.Root, &hsmID, &pub, &at); err != nil {
			return nil, err
		}
		v.InHSM, v.CreatedAt = hsmID != "", db.Time(at)
		if pub != "" {
			v.PublicKey, _ = base64.StdEncoding.DecodeString(pub)
		}
		k.Versions = append(k.Versions, v)
	}
	return &k, rows.Err()
}

func (s *Service) storedVersion(ctx context.Context, keyID int64, v int) (storedVersion, error) {
	var sv storedVersion
	sv.Version.Version = v
	err := s.db.QueryRowContext(ctx, `SELECT state, root, material, hsm_id FROM keys_versions
		WHERE key_id = ? AND version = ?`, keyID, v).Scan(&sv.State, &sv.Root, &sv.material, &sv.hsmID)
	if err != nil {
		return sv, ErrVersion
	}
	if sv.State == Destroyed {
		return sv, ErrVersion
	}
	return sv, nil
}

// Get returns a key by name.
func (s *Service) Get(ctx context.Context, name string) (*Key, error) {
	ck, err := s.keyByName(ctx, name)
	if err != nil {
		return nil, err
	}
	return ck.key, nil
}

// List returns every key, by name.
func (s *Service) List(ctx context.Context) ([]*Key, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM keys_keys ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := make([]*Key, 0, len(ids))
	for _, id := range ids {
		k, err := s.load(ctx, "id = ?", id)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// Actor is who manages keys, for the audit record.
type Actor struct {
	UserID int64
	Login  string
	Client string
}

func (a Actor) event(action, target string, detail map[string]string) selfaudit.Event {
	return selfaudit.Event{ActorID: a.UserID, ActorLogin: a.Login, Action: action, Target: target,
		Outcome: selfaudit.Success, ClientAddr: a.Client, Detail: detail}
}

// Create makes a key with its first version.
func (s *Service) Create(ctx context.Context, by Actor, nk NewKey) (*Key, error) {
	if err := nk.validate(); err != nil {
		return nil, err
	}
	r, err := s.Root()
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var id int64
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO keys_keys (name, purpose, algorithm, owner, rotation_period_ms,
			min_decrypt_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?) RETURNING id`,
			nk.Name, string(nk.Purpose), string(nk.Algorithm), nk.Owner, nk.RotationPeriod.Milliseconds(),
			db.Millis(now), db.Millis(now)).Scan(&id)
		if db.IsUniqueViolation(err) {
			return &ValidationError{Fields: map[string]string{"name": "keys.validation.duplicate"}}
		}
		if err != nil {
			return fmt.Errorf("create key: %w", err)
		}
		g, err := generate(r, id, 1, nk.Algorithm, nk.Name)
		if err != nil {
			return err
		}
		if err := insertVersion(ctx, tx, id, 1, r.Kind(), g, now); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, by.event("key.create", "key:"+nk.Name, map[string]string{
			"purpose": string(nk.Purpose), "algorithm": string(nk.Algorithm), "root": r.Kind(),
			"in_hsm": strconv.FormatBool(g.inHSM), "rotation": nk.RotationPeriod.String()}))
	})
	if err != nil {
		return nil, err
	}
	return s.load(ctx, "id = ?", id)
}

func insertVersion(ctx context.Context, tx *db.Tx, keyID int64, v int, root string, g generated, now time.Time) error {
	pub := ""
	if len(g.public) > 0 {
		pub = base64.StdEncoding.EncodeToString(g.public)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO keys_versions (key_id, version, state, root, material, hsm_id,
		public_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, keyID, v, string(Active), root,
		base64.StdEncoding.EncodeToString(g.wrapped), g.hsmID, pub, db.Millis(now), db.Millis(now))
	if err != nil {
		return fmt.Errorf("store key version: %w", err)
	}
	return nil
}

// Rotate adds a new version, which becomes the one that encrypts and
// signs; the previous active version becomes decrypt-only.
func (s *Service) Rotate(ctx context.Context, by Actor, name string) (*Key, error) {
	ck, err := s.keyByName(ctx, name)
	if err != nil {
		return nil, err
	}
	r, err := s.Root()
	if err != nil {
		return nil, err
	}
	k := ck.key
	now := s.clock.Now()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var latest int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM keys_versions WHERE key_id = ?`,
			k.ID).Scan(&latest); err != nil {
			return err
		}
		next := latest + 1
		g, err := generate(r, k.ID, next, k.Algorithm, fmt.Sprintf("%s-v%d", k.Name, next))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE keys_versions SET state = ?, updated_at = ? WHERE key_id = ? AND state = ?`,
			string(DecryptOnly), db.Millis(now), k.ID, string(Active)); err != nil {
			return err
		}
		if err := insertVersion(ctx, tx, k.ID, next, r.Kind(), g, now); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, by.event("key.rotate", "key:"+k.Name, map[string]string{
			"version": strconv.Itoa(next), "in_hsm": strconv.FormatBool(g.inHSM)}))
	})
	s.forget(k.ID)
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, name)
}

// SetVersionState disables a version, or enables a disabled one again (as
// active when it is the newest, else decrypt-only).
func (s *Service) SetVersionState(ctx context.Context, by Actor, name string, version int, enable bool) error {
	ck, err := s.keyByName(ctx, name)
	if err != nil {
		return err
	}
	k := ck.key
	v := k.Version(version)
	if v == nil || v.State == Destroyed {
		return ErrVersion
	}
	to := Disabled
	if enable {
		to = DecryptOnly
		if version == k.Latest().Version {
			to = Active
		}
	}
	defer s.forget(k.ID)
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE keys_versions SET state = ?, updated_at = ? WHERE key_id = ? AND version = ?`,
			string(to), db.Millis(s.clock.Now()), k.ID, version); err != nil {
			return err
		}
		action := "key.disable"
		if enable {
			action = "key.enable"
		}
		return s.audit.Record(ctx, tx, by.event(action, "key:"+k.Name, map[string]string{"version": strconv.Itoa(version)}))
	})
}

// SetMinDecryptVersion refuses decryption with versions below min from now
// on (after every old ciphertext has been rewrapped).
func (s *Service) SetMinDecryptVersion(ctx context.Context, by Actor, name string, min int) error {
	ck, err := s.keyByName(ctx, name)
	if err != nil {
		return err
	}
	k := ck.key
	if min < 1 || min > k.Latest().Version {
		return &ValidationError{Fields: map[string]string{"min_decrypt_version": "keys.validation.min_version"}}
	}
	defer s.forget(k.ID)
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE keys_keys SET min_decrypt_version = ?, updated_at = ? WHERE id = ?`,
			min, db.Millis(s.clock.Now()), k.ID); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, by.event("key.min_version", "key:"+k.Name, map[string]string{
			"min_decrypt_version": strconv.Itoa(min)}))
	})
}

// Grant lets a role or an API token use a key for some operations.
type Grant struct {
	Kind       string      `json:"kind"`    // "role" or "token"
	Subject    string      `json:"subject"` // the role name, or the token id
	Operations []Operation `json:"operations"`
}

func (s *Service) loadGrants(ctx context.Context, keyID int64) ([]Grant, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, subject, operations FROM keys_grants WHERE key_id = ?
		ORDER BY kind, subject`, keyID)
	if err != nil {
		return nil, fmt.Errorf("read key grants: %w", err)
	}
	defer rows.Close()
	var out []Grant
	for rows.Next() {
		var g Grant
		var ops string
		if err := rows.Scan(&g.Kind, &g.Subject, &ops); err != nil {
			return nil, err
		}
		for _, o := range strings.Split(ops, ",") {
			g.Operations = append(g.Operations, Operation(o))
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// Grants returns who may use a key for what.
func (s *Service) Grants(ctx context.Context, name string) ([]Grant, error) {
	ck, err := s.keyByName(ctx, name)
	if err != nil {
		return nil, err
	}
	return ck.grants, nil
}

// SetGrants replaces who may use a key for what.
func (s *Service) SetGrants(ctx context.Context, by Actor, name string, grants []Grant) error {
	ck, err := s.keyByName(ctx, name)
	if err != nil {
		return err
	}
	k := ck.key
	supported := OperationsFor(k.Algorithm)
	f := map[string]string{}
	seen := map[string]bool{}
	for _, g := range grants {
		if seen[g.Kind+"\x00"+g.Subject] {
			f["grants"] = "keys.validation.grant_duplicate"
		}
		seen[g.Kind+"\x00"+g.Subject] = true
		switch g.Kind {
		case "role":
			if _, err := authz.ParseRole(g.Subject); err != nil {
				f["grants"] = "keys.validation.grant_role"
			}
		case "token":
			if n, err := strconv.ParseInt(g.Subject, 10, 64); err != nil || n <= 0 {
				f["grants"] = "keys.validation.grant_token"
			}
		default:
			f["grants"] = "keys.validation.grant_kind"
		}
		if len(g.Operations) == 0 {
			f["grants"] = "keys.validation.grant_ops"
		}
		for _, o := range g.Operations {
			if !slices.Contains(supported, o) {
				f["grants"] = "keys.validation.grant_ops"
			}
		}
	}
	if len(f) > 0 {
		return &ValidationError{Fields: f}
	}
	defer s.forget(k.ID)
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM keys_grants WHERE key_id = ?`, k.ID); err != nil {
			return err
		}
		var text []string
		for _, g := range grants {
			ops := make([]string, len(g.Operations))
			for i, o := range g.Operations {
				ops[i] = string(o)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO keys_grants (key_id, kind, subject, operations) VALUES (?, ?, ?, ?)`,
				k.ID, g.Kind, g.Subject, strings.Join(ops, ",")); err != nil {
				return fmt.Errorf("store key grant: %w", err)
			}
			text = append(text, g.Kind+":"+g.Subject+"="+strings.Join(ops, "+"))
		}
		return s.audit.Record(ctx, tx, by.event("key.grants", "key:"+k.Name, map[string]string{
			"grants": strings.Join(text, " ")}))
	})
}

// allowed reports whether the caller may use the key for op: anzen itself
// always; a person through a grant to one of their roles; an API token
// through a grant to that token.
func allowed(c Caller, grants []Grant, op Operation) bool {
	if c.Principal == nil {
		return true
	}
	for _, g := range grants {
		if !slices.Contains(g.Operations, op) {
			continue
		}
		switch {
		case g.Kind == "token" && c.Principal.TokenID != 0 && g.Subject == strconv.FormatInt(c.Principal.TokenID, 10):
			return true
		case g.Kind == "role" && c.Principal.TokenID == 0 && c.Principal.HasRole(authz.Role(g.Subject)):
			return true
		}
	}
	return false
}
