package keys

import (
	"bytes"
	"context"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Backup of key material: ExportBackup writes every key, its versions,
// grants and certificates, with the material of each version that is not
// destroyed unwrapped from the root, into one file encrypted with HPKE
// (RFC 9180) to a recovery key: the hybrid post-quantum KEM ML-KEM-768 +
// X25519 (X-Wing), HKDF-SHA256 and AES-256-GCM, from the standard library.
// The recovery key's private half is kept offline, apart from anzen.
//
// Keys held by an HSM are listed with their HSM object ids but without
// material: their private keys were generated non-extractable and cannot
// leave the HSM; the HSM's own backup (or its cluster) protects them.
// ImportBackup restores into a key store that does not have those keys yet,
// keeping each key's id (ciphertexts name the key by id), and wraps the
// material under the current root.

// Text forms of the recovery key halves: a prefix, then base64url of the
// KEM id (two bytes, big-endian) and the serialized key.
const (
	RecoveryPublicPrefix  = "anzen-recovery-public-v1:"
	RecoveryPrivatePrefix = "anzen-recovery-private-v1:"
)

// backupMagic begins every backup file; the header that follows names the
// HPKE suite and the recovery key's fingerprint:
//
//	magic (8) | KEM id (2) | KDF id (2) | AEAD id (2) | fingerprint (16) | HPKE enc | HPKE ciphertext
//
// The header is bound to the ciphertext as HPKE info.
var backupMagic = []byte("ANZENKB\x01")

const (
	backupFormat     = "anzen-key-backup-v1"
	fingerprintLen   = 16
	backupHeaderSize = 8 + 6 + fingerprintLen
)

// BackupNotice is written into every backup file.
const BackupNotice = "Keys held by an HSM are listed without material: their private keys were generated inside the " +
	"HSM as non-extractable and cannot leave it. Back them up with the HSM's own means. / HSM 内の鍵は鍵材料なしで" +
	"記載しています（HSM 内で取り出し不可として生成されたため、HSM の外に出せません）。HSM 自体のバックアップ機能で保護してください。"

// Errors of backups.
var (
	ErrRecoveryKey    = errors.New("the recovery key does not open this backup, or the backup was altered")
	ErrNotRecoveryKey = errors.New("not an anzen recovery key of the expected half (public or private)")
	ErrNotBackup      = errors.New("not an anzen key backup")
	ErrBackupConflict = errors.New("the backup has keys that this key store has already")
)

// ConflictError names the keys of a backup that exist already (by name, or
// by id under another name); nothing was imported.
type ConflictError struct{ Names []string }

func (e *ConflictError) Error() string {
	return ErrBackupConflict.Error() + ": " + strings.Join(e.Names, ", ")
}

// Unwrap makes errors.Is(err, ErrBackupConflict) hold.
func (e *ConflictError) Unwrap() error { return ErrBackupConflict }

func backupSuite() (hpke.KDF, hpke.AEAD) { return hpke.HKDFSHA256(), hpke.AES256GCM() }

// GenerateRecoveryKey makes a recovery key pair (ML-KEM-768 + X25519) and
// returns the text forms of its public and private halves, each one line.
func GenerateRecoveryKey() (public, private []byte, err error) {
	kem := hpke.MLKEM768X25519()
	sk, err := kem.GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	raw, err := sk.Bytes()
	if err != nil {
		return nil, nil, err
	}
	defer clear(raw)
	return recoveryText(RecoveryPublicPrefix, kem.ID(), sk.PublicKey().Bytes()),
		recoveryText(RecoveryPrivatePrefix, kem.ID(), raw), nil
}

func recoveryText(prefix string, kemID uint16, key []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, kemID)
	return []byte(prefix + base64.RawURLEncoding.EncodeToString(append(b, key...)) + "\n")
}

func parseRecoveryText(text []byte, prefix string) (hpke.KEM, []byte, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(string(text)), prefix)
	if !ok {
		return nil, nil, ErrNotRecoveryKey
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) < 3 {
		return nil, nil, ErrNotRecoveryKey
	}
	kem, err := hpke.NewKEM(binary.BigEndian.Uint16(b))
	if err != nil {
		return nil, nil, ErrNotRecoveryKey
	}
	return kem, b[2:], nil
}

func parseRecoveryPublic(text []byte) (hpke.PublicKey, error) {
	kem, raw, err := parseRecoveryText(text, RecoveryPublicPrefix)
	if err != nil {
		return nil, err
	}
	pk, err := kem.NewPublicKey(raw)
	if err != nil {
		return nil, ErrNotRecoveryKey
	}
	return pk, nil
}

func parseRecoveryPrivate(text []byte) (hpke.PrivateKey, error) {
	kem, raw, err := parseRecoveryText(text, RecoveryPrivatePrefix)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	sk, err := kem.NewPrivateKey(raw)
	if err != nil {
		return nil, ErrNotRecoveryKey
	}
	return sk, nil
}

func keyFingerprint(pk hpke.PublicKey) []byte {
	sum := sha256.Sum256(append(binary.BigEndian.AppendUint16(nil, pk.KEM().ID()), pk.Bytes()...))
	return sum[:fingerprintLen]
}

// RecoveryKeyFingerprint returns the fingerprint (hex) of a recovery public
// key in its text form, as backups and their audit records name it.
func RecoveryKeyFingerprint(public []byte) (string, error) {
	pk, err := parseRecoveryPublic(public)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(keyFingerprint(pk)), nil
}

// backupFile is the plaintext of a backup.
type backupFile struct {
	Format    string      `json:"format"`
	CreatedAt time.Time   `json:"created_at"`
	CreatedBy string      `json:"created_by"`
	Root      string      `json:"root"`
	Notice    string      `json:"notice"`
	Keys      []backupKey `json:"keys"`
}

type backupKey struct {
	ID                int64           `json:"id"`
	Name              string          `json:"name"`
	Purpose           Purpose         `json:"purpose"`
	Algorithm         Algorithm       `json:"algorithm"`
	Owner             string          `json:"owner"`
	FacilityID        int64           `json:"facility_id"`
	RotationPeriodMS  int64           `json:"rotation_period_ms"`
	MinDecryptVersion int             `json:"min_decrypt_version"`
	CreatedAt         int64           `json:"created_at"`
	UpdatedAt         int64           `json:"updated_at"`
	Grants            []Grant         `json:"grants"`
	Versions          []backupVersion `json:"versions"`
	Certificates      []backupCert    `json:"certificates"`
}

type backupVersion struct {
	Version   int    `json:"version"`
	State     State  `json:"state"`
	InHSM     bool   `json:"in_hsm"`
	HSMID     string `json:"hsm_id,omitempty"`
	PublicKey string `json:"public_key,omitempty"`
	Material  []byte `json:"material,omitempty"` // the unwrapped key material
	CreatedAt int64  `json:"created_at"`
	UpdatedAt int64  `json:"updated_at"`
}

type backupCert struct {
	Version     int    `json:"version"`
	Fingerprint string `json:"fingerprint"`
	Serial      string `json:"serial"`
	Issuer      string `json:"issuer"`
	Subject     string `json:"subject"`
	NotBefore   int64  `json:"not_before"`
	NotAfter    int64  `json:"not_after"`
	Policies    string `json:"policies"`
	HPKIRoles   string `json:"hpki_roles"`
	HPKIRaw     string `json:"hpki_raw"`
	ChainPEM    string `json:"chain_pem"`
	WarnedLevel int    `json:"warned_level"`
	ImportedBy  string `json:"imported_by"`
	ImportedAt  int64  `json:"imported_at"`
}

// BackupOption adjusts ExportBackup and ImportBackup.
type BackupOption func(*backupOptions)

type backupOptions struct{ progress func(done, total int) }

// WithProgress has fn called after each key, with the number of keys done
// and the total (for a progress bar).
func WithProgress(fn func(done, total int)) BackupOption {
	return func(o *backupOptions) { o.progress = fn }
}

func applyOptions(opts []BackupOption) backupOptions {
	o := backupOptions{progress: func(int, int) {}}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// ExportBackup writes every key into a backup encrypted to recipient (the
// text form of a recovery public key, see GenerateRecoveryKey), and records
// that it did.
func (s *Service) ExportBackup(ctx context.Context, by Actor, recipient []byte, opts ...BackupOption) ([]byte, error) {
	o := applyOptions(opts)
	pk, err := parseRecoveryPublic(recipient)
	if err != nil {
		return nil, err
	}
	root, err := s.Root()
	if err != nil {
		return nil, err
	}
	keys, err := s.readBackupKeys(ctx)
	if err != nil {
		return nil, err
	}
	withMaterial, inHSM := 0, 0
	defer func() {
		for _, k := range keys {
			for _, v := range k.Versions {
				clear(v.Material)
			}
		}
	}()
	for i := range keys {
		k := &keys[i]
		for j := range k.Versions {
			v := &k.Versions[j]
			switch {
			case v.State == Destroyed:
			case v.InHSM:
				inHSM++
			default:
				wrapped, err := base64.StdEncoding.DecodeString(string(v.Material))
				if err != nil || len(wrapped) == 0 {
					return nil, fmt.Errorf("key %s version %d has no material to back up", k.Name, v.Version)
				}
				if v.Material, err = root.Unwrap(wrapped, materialAAD(k.ID, v.Version)); err != nil {
					return nil, fmt.Errorf("unwrap key %s version %d: %w", k.Name, v.Version, err)
				}
				withMaterial++
			}
		}
		o.progress(i+1, len(keys))
	}
	plain, err := json.Marshal(backupFile{Format: backupFormat, CreatedAt: s.clock.Now(), CreatedBy: by.Login,
		Root: root.Kind(), Notice: BackupNotice, Keys: keys})
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	kdf, aead := backupSuite()
	header := append([]byte(nil), backupMagic...)
	header = binary.BigEndian.AppendUint16(header, pk.KEM().ID())
	header = binary.BigEndian.AppendUint16(header, kdf.ID())
	header = binary.BigEndian.AppendUint16(header, aead.ID())
	header = append(header, keyFingerprint(pk)...)
	sealed, err := hpke.Seal(pk, kdf, aead, append([]byte(backupFormat+"|"), header...), plain)
	if err != nil {
		return nil, fmt.Errorf("encrypt the backup: %w", err)
	}
	if err := s.audit.Record(ctx, s.db, by.event("key.backup.export", "keys", map[string]string{
		"keys": fmt.Sprint(len(keys)), "versions_with_material": fmt.Sprint(withMaterial),
		"versions_in_hsm": fmt.Sprint(inHSM), "recipient": hex.EncodeToString(keyFingerprint(pk))})); err != nil {
		return nil, err
	}
	return append(header, sealed...), nil
}

// readBackupKeys reads every key as stored; Material holds the base64 of
// the wrapped material until ExportBackup unwraps it.
func (s *Service) readBackupKeys(ctx context.Context) ([]backupKey, error) {
	var keys []backupKey
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, purpose, algorithm, owner, facility_id, rotation_period_ms,
		min_decrypt_version, created_at, updated_at FROM keys_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	for rows.Next() {
		var k backupKey
		if err := rows.Scan(&k.ID, &k.Name, &k.Purpose, &k.Algorithm, &k.Owner, &k.FacilityID, &k.RotationPeriodMS,
			&k.MinDecryptVersion, &k.CreatedAt, &k.UpdatedAt); err != nil {
			rows.Close()
			return nil, err
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range keys {
		k := &keys[i]
		if k.Grants, err = s.loadGrants(ctx, k.ID); err != nil {
			return nil, err
		}
		if k.Versions, err = s.readBackupVersions(ctx, k.ID); err != nil {
			return nil, err
		}
		if k.Certificates, err = s.readBackupCerts(ctx, k.ID); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func (s *Service) readBackupVersions(ctx context.Context, keyID int64) ([]backupVersion, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT version, state, material, hsm_id, public_key, created_at, updated_at
		FROM keys_versions WHERE key_id = ? ORDER BY version`, keyID)
	if err != nil {
		return nil, fmt.Errorf("read key versions: %w", err)
	}
	defer rows.Close()
	var out []backupVersion
	for rows.Next() {
		var v backupVersion
		var material string
		if err := rows.Scan(&v.Version, &v.State, &material, &v.HSMID, &v.PublicKey, &v.CreatedAt, &v.UpdatedAt); err != nil {
			return nil, err
		}
		v.InHSM = v.HSMID != ""
		if v.State != Destroyed && !v.InHSM {
			v.Material = []byte(material)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (s *Service) readBackupCerts(ctx context.Context, keyID int64) ([]backupCert, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT version, fingerprint, serial, issuer, subject, not_before, not_after,
		policies, hpki_roles, hpki_raw, chain_pem, warned_level, imported_by, imported_at FROM keys_certificates
		WHERE key_id = ? ORDER BY id`, keyID)
	if err != nil {
		return nil, fmt.Errorf("read certificates: %w", err)
	}
	defer rows.Close()
	out := []backupCert{}
	for rows.Next() {
		var c backupCert
		if err := rows.Scan(&c.Version, &c.Fingerprint, &c.Serial, &c.Issuer, &c.Subject, &c.NotBefore, &c.NotAfter,
			&c.Policies, &c.HPKIRoles, &c.HPKIRaw, &c.ChainPEM, &c.WarnedLevel, &c.ImportedBy, &c.ImportedAt); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// openBackup decrypts a backup file with the recovery private key.
func openBackup(file, private []byte) (*backupFile, error) {
	sk, err := parseRecoveryPrivate(private)
	if err != nil {
		return nil, err
	}
	if len(file) < backupHeaderSize || !bytes.Equal(file[:8], backupMagic) {
		return nil, ErrNotBackup
	}
	header := file[:backupHeaderSize]
	kdf, aead := backupSuite()
	if binary.BigEndian.Uint16(header[8:]) != sk.KEM().ID() ||
		!bytes.Equal(header[14:backupHeaderSize], keyFingerprint(sk.PublicKey())) {
		return nil, ErrRecoveryKey
	}
	if binary.BigEndian.Uint16(header[10:]) != kdf.ID() || binary.BigEndian.Uint16(header[12:]) != aead.ID() {
		return nil, fmt.Errorf("%w: unknown HPKE suite", ErrNotBackup)
	}
	plain, err := hpke.Open(sk, kdf, aead, append([]byte(backupFormat+"|"), header...), file[backupHeaderSize:])
	if err != nil {
		return nil, ErrRecoveryKey
	}
	defer clear(plain)
	var b backupFile
	if err := json.Unmarshal(plain, &b); err != nil || b.Format != backupFormat {
		return nil, fmt.Errorf("%w: unreadable contents", ErrNotBackup)
	}
	return &b, nil
}
