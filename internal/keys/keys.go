// Package keys is anzen's key service (guideline 6.11 B-1 ④: keys managed
// by purpose; private signing keys kept as the issuing CA's policy requires,
// in storage devices that meet the requirements).
//
// Named keys have a purpose, an algorithm and numbered versions. Encryption
// is envelope encryption: every object gets its own data key, wrapped by the
// key's newest version; the self-describing ciphertext names the key and
// version and binds an encryption context (patient id, table, column ...)
// that must match on decryption. Rotation adds a version, rewrap moves a
// ciphertext to it without revealing the plaintext, and destroying a version
// makes its ciphertexts unrecoverable.
//
// All key material is wrapped by a root of trust: a passphrase-sealed root
// key in the data directory ("local"), or a key inside an HSM reached
// through PKCS#11 ("pkcs11"), where signing keys are also generated and
// kept, non-extractable. The envelope format and the usage aggregation are
// written here because no maintained Go library offers a KMS of this shape;
// the cryptography itself is the standard library's (AES-256-GCM, Ed25519,
// ECDSA, RSA-PSS, HMAC-SHA256).
package keys

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
)

//go:embed migrations
var migrationsFS embed.FS

//go:embed locales/*.toml
var localesFS embed.FS

// Locales returns the part's message catalog files.
func Locales() fs.FS {
	sub, _ := fs.Sub(localesFS, "locales")
	return sub
}

// Purpose is what a key is for; the guideline asks that keys be managed per
// purpose.
type Purpose string

// Purposes of keys.
const (
	PurposeStorage         Purpose = "storage"
	PurposeTransport       Purpose = "transport"
	PurposeBackup          Purpose = "backup"
	PurposeSigning         Purpose = "signing"
	PurposeAuditCheckpoint Purpose = "audit-checkpoint"
	PurposeIntegration     Purpose = "integration"
)

// Purposes lists every purpose.
var Purposes = []Purpose{PurposeStorage, PurposeTransport, PurposeBackup, PurposeSigning,
	PurposeAuditCheckpoint, PurposeIntegration}

// Algorithm is a key's algorithm.
type Algorithm string

// Algorithms anzen offers.
const (
	AES256GCM  Algorithm = "aes256-gcm"
	HMACSHA256 Algorithm = "hmac-sha256"
	Ed25519    Algorithm = "ed25519"
	ECDSAP256  Algorithm = "ecdsa-p256"
	RSAPSS3072 Algorithm = "rsa-pss-3072"
)

// Algorithms lists every algorithm.
var Algorithms = []Algorithm{AES256GCM, HMACSHA256, Ed25519, ECDSAP256, RSAPSS3072}

// Signing reports whether the algorithm signs.
func (a Algorithm) Signing() bool { return a == Ed25519 || a == ECDSAP256 || a == RSAPSS3072 }

// Operation is one thing a key does.
type Operation string

// Operations.
const (
	OpEncrypt Operation = "encrypt"
	OpDecrypt Operation = "decrypt"
	OpRewrap  Operation = "rewrap"
	OpDataKey Operation = "datakey"
	OpSign    Operation = "sign"
	OpVerify  Operation = "verify"
	OpHMAC    Operation = "hmac"
)

// Operations lists every operation.
var Operations = []Operation{OpEncrypt, OpDecrypt, OpRewrap, OpDataKey, OpSign, OpVerify, OpHMAC}

// OperationsFor lists the operations an algorithm supports.
func OperationsFor(a Algorithm) []Operation {
	switch {
	case a == AES256GCM:
		return []Operation{OpEncrypt, OpDecrypt, OpRewrap, OpDataKey}
	case a == HMACSHA256:
		return []Operation{OpHMAC, OpVerify}
	case a.Signing():
		return []Operation{OpSign, OpVerify}
	}
	return nil
}

// State is the state of one key version.
type State string

// Version states. The newest active version encrypts and signs; older
// versions are decrypt-only (they still decrypt and verify); a disabled
// version does nothing until enabled again; a destroyed one has no
// material left.
const (
	Active      State = "active"
	DecryptOnly State = "decrypt-only"
	Disabled    State = "disabled"
	Destroyed   State = "destroyed"
)

// Key is a named key and its versions.
type Key struct {
	ID                int64         `json:"id"`
	Name              string        `json:"name"`
	Purpose           Purpose       `json:"purpose"`
	Algorithm         Algorithm     `json:"algorithm"`
	Owner             string        `json:"owner"`
	RotationPeriod    time.Duration `json:"-"`
	MinDecryptVersion int           `json:"min_decrypt_version"`
	CreatedAt         time.Time     `json:"created_at"`
	Versions          []Version     `json:"versions"`
}

// Version is one generation of a key's material.
type Version struct {
	Version   int       `json:"version"`
	State     State     `json:"state"`
	Root      string    `json:"root"`   // the root of trust that wraps or holds it
	InHSM     bool      `json:"in_hsm"` // the private key lives in the HSM, non-extractable
	PublicKey []byte    `json:"public_key,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Latest returns the newest version.
func (k *Key) Latest() *Version {
	if len(k.Versions) == 0 {
		return nil
	}
	return &k.Versions[len(k.Versions)-1]
}

// Version returns version n.
func (k *Key) Version(n int) *Version {
	for i := range k.Versions {
		if k.Versions[i].Version == n {
			return &k.Versions[i]
		}
	}
	return nil
}

// NextRotation is when the background job rotates the key; zero when the
// key has no rotation period.
func (k *Key) NextRotation() time.Time {
	if k.RotationPeriod <= 0 || k.Latest() == nil {
		return time.Time{}
	}
	return k.Latest().CreatedAt.Add(k.RotationPeriod)
}

// Errors of the key service.
var (
	ErrNotFound       = errors.New("no such key")
	ErrVersion        = errors.New("key version unknown, below the minimum decryption version, disabled or destroyed")
	ErrContext        = errors.New("the encryption context does not match, or the ciphertext was altered")
	ErrMalformed      = errors.New("not an anzen ciphertext, signature or data key")
	ErrOperation      = errors.New("the key's algorithm does not support this operation")
	ErrDenied         = errors.New("the caller may not use this key for this operation")
	ErrSealed         = errors.New("the key service is sealed: give the unseal passphrase")
	ErrBadSignature   = errors.New("signature does not verify")
	ErrApprovalNeeded = errors.New("destroying a key version needs a second administrator's approval")
)

// ValidationError names the invalid fields of a request; messages are
// i18n message ids.
type ValidationError struct{ Fields map[string]string }

func (e *ValidationError) Error() string { return fmt.Sprintf("invalid key request: %v", e.Fields) }

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// reservedNames are path segments of the key service's pages and API that a
// key of the same name would hide behind.
var reservedNames = []string{"certificates", "decrypt", "destroy-requests", "new", "rewrap", "verify"}

// NewKey is what it takes to create a key.
type NewKey struct {
	Name           string
	Purpose        Purpose
	Algorithm      Algorithm // empty: the purpose's default
	Owner          string
	RotationPeriod time.Duration
}

// DefaultAlgorithm is the algorithm a purpose gets when none is named.
func DefaultAlgorithm(p Purpose) Algorithm {
	switch p {
	case PurposeSigning, PurposeAuditCheckpoint:
		return Ed25519
	}
	return AES256GCM
}

func (nk *NewKey) validate() error {
	f := map[string]string{}
	if !namePattern.MatchString(nk.Name) {
		f["name"] = "keys.validation.name"
	} else if slices.Contains(reservedNames, nk.Name) {
		f["name"] = "keys.validation.reserved_name"
	}
	if !slices.Contains(Purposes, nk.Purpose) {
		f["purpose"] = "keys.validation.purpose"
	}
	if nk.Algorithm == "" {
		nk.Algorithm = DefaultAlgorithm(nk.Purpose)
	}
	if !slices.Contains(Algorithms, nk.Algorithm) {
		f["algorithm"] = "keys.validation.algorithm"
	} else if (nk.Purpose == PurposeSigning || nk.Purpose == PurposeAuditCheckpoint) != nk.Algorithm.Signing() {
		f["algorithm"] = "keys.validation.algorithm_purpose"
	}
	if len(nk.Owner) > 200 {
		f["owner"] = "keys.validation.owner"
	}
	if nk.RotationPeriod < 0 || (nk.RotationPeriod > 0 && nk.RotationPeriod < time.Hour) || nk.RotationPeriod > 10*365*24*time.Hour {
		f["rotation"] = "keys.validation.rotation"
	}
	if len(f) > 0 {
		return &ValidationError{Fields: f}
	}
	return nil
}

// Caller is who uses a key: a person, an API token, or anzen itself.
type Caller struct {
	Principal *authz.Principal // nil for anzen itself
	System    string           // what part of anzen, when Principal is nil
	Client    string
}

// SystemCaller is anzen itself using a key for its own purpose.
func SystemCaller(what string) Caller { return Caller{System: what, Client: "local"} }

// Name is how the caller appears in usage records.
func (c Caller) Name() string {
	switch {
	case c.Principal == nil:
		return "system:" + c.System
	case c.Principal.TokenID != 0:
		return c.Principal.Login
	}
	return "user:" + c.Principal.Login
}
