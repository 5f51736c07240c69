package keys

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// Root is a root of trust: it wraps every key's material, so that the
// database alone reveals nothing.
type Root interface {
	// Kind names the root: "local" or "pkcs11".
	Kind() string
	// Wrap encrypts key material, binding aad.
	Wrap(plaintext, aad []byte) ([]byte, error)
	// Unwrap decrypts what Wrap returned, given the same aad.
	Unwrap(wrapped, aad []byte) ([]byte, error)
}

// HSM is a root that can also generate and keep signing keys that never
// leave it.
type HSM interface {
	Root
	// GenerateSigner makes a non-extractable key pair inside the HSM and
	// returns its object id and public key.
	GenerateSigner(label string, alg Algorithm) (id string, pub crypto.PublicKey, err error)
	// Signer returns a signer for the key pair with the given id.
	Signer(id string, alg Algorithm) (crypto.Signer, error)
	// DestroyObject deletes the key pair with the given id.
	DestroyObject(id string) error
}

// ErrWrongPassphrase is returned when the unseal passphrase does not open
// the sealed root key.
var ErrWrongPassphrase = errors.New("the unseal passphrase is wrong, or the sealed root key file was altered")

// LocalRoot is a 256-bit root key kept in a file, sealed under a passphrase
// (argon2id, then AES-256-GCM). It wraps key material in software; it is
// for hospitals without an HSM, and signing keys under it do not meet the
// guideline's storage-device requirement.
type LocalRoot struct {
	aead cipher.AEAD
}

// sealedRoot is the file format of a sealed root key.
type sealedRoot struct {
	Format  string    `json:"format"`
	KDF     string    `json:"kdf"`
	Memory  uint32    `json:"m"`
	Time    uint32    `json:"t"`
	Threads uint8     `json:"p"`
	Salt    []byte    `json:"salt"`
	Nonce   []byte    `json:"nonce"`
	Sealed  []byte    `json:"sealed"`
	Created time.Time `json:"created_at"`
}

const sealedFormat = "anzen-root-v1"

// Argon2id cost of the unseal passphrase: heavier than for login passwords,
// since it runs once per start and guards every key.
const (
	sealMemoryKiB = 64 * 1024
	sealTime      = 3
	sealThreads   = 2
)

// Test-only cost (see UseCheapSealingInTests): 64 KiB, one pass, one
// thread, about a millisecond instead of 5–20 s under the race detector.
const (
	testSealMemoryKiB = 64
	testSealTime      = 1
	testSealThreads   = 1
)

// cheapSealing is set only by UseCheapSealingInTests.
var cheapSealing atomic.Bool

// UseCheapSealingInTests makes CreateLocalRoot seal new root keys at
// argon2id m=64 KiB, t=1, p=1 instead of the cost above, for the rest of
// this test binary. It is for tests that start anzen many times (apptest,
// the CLI tests), where each start unseals the root; the sealed file keeps
// its own parameters, so OpenLocalRoot is unchanged. It is not a setting:
// it panics outside a test binary (testing.Testing), so no configuration
// can lower the cost. This package's own tests seal at the real cost.
func UseCheapSealingInTests() {
	if !testing.Testing() {
		panic("keys: UseCheapSealingInTests called outside a test binary")
	}
	cheapSealing.Store(true)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// CreateLocalRoot makes a new root key, seals it under passphrase and
// writes it to path (mode 0600). It refuses to overwrite an existing file.
func CreateLocalRoot(path, passphrase string) (*LocalRoot, error) {
	if len(passphrase) < 12 {
		return nil, errors.New("the unseal passphrase must have at least 12 characters")
	}
	root := make([]byte, 32)
	salt := make([]byte, 16)
	nonce := make([]byte, 12)
	for _, b := range [][]byte{root, salt, nonce} {
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
	}
	memory, passes, threads := uint32(sealMemoryKiB), uint32(sealTime), uint8(sealThreads)
	if cheapSealing.Load() {
		memory, passes, threads = testSealMemoryKiB, testSealTime, testSealThreads
	}
	kek := argon2.IDKey([]byte(passphrase), salt, passes, memory, threads, 32)
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	s := sealedRoot{Format: sealedFormat, KDF: "argon2id", Memory: memory, Time: passes,
		Threads: threads, Salt: salt, Nonce: nonce, Sealed: aead.Seal(nil, nonce, root, []byte(sealedFormat)),
		Created: time.Now().UTC()}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write sealed root key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write sealed root key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return newLocalRoot(root)
}

// OpenLocalRoot unseals the root key at path with passphrase. A wrong
// passphrase gives ErrWrongPassphrase and changes nothing.
func OpenLocalRoot(path, passphrase string) (*LocalRoot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read sealed root key: %w", err)
	}
	var s sealedRoot
	if err := json.Unmarshal(b, &s); err != nil || s.Format != sealedFormat || s.KDF != "argon2id" ||
		len(s.Salt) < 16 || len(s.Nonce) != 12 || s.Memory == 0 || s.Memory > 4<<20 || s.Time == 0 ||
		s.Time > 100 || s.Threads == 0 {
		return nil, fmt.Errorf("%s is not a sealed anzen root key", path)
	}
	kek := argon2.IDKey([]byte(passphrase), s.Salt, s.Time, s.Memory, s.Threads, 32)
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	root, err := aead.Open(nil, s.Nonce, s.Sealed, []byte(sealedFormat))
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return newLocalRoot(root)
}

func newLocalRoot(key []byte) (*LocalRoot, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &LocalRoot{aead: aead}, nil
}

// Kind is "local".
func (r *LocalRoot) Kind() string { return "local" }

// Wrap seals plaintext under the root key: nonce | ciphertext.
func (r *LocalRoot) Wrap(plaintext, aad []byte) ([]byte, error) {
	return sealAEAD(r.aead, plaintext, aad)
}

// Unwrap opens what Wrap returned.
func (r *LocalRoot) Unwrap(wrapped, aad []byte) ([]byte, error) {
	return openAEAD(r.aead, wrapped, aad)
}

// sealAEAD seals with a fresh random nonce put in front.
func sealAEAD(aead cipher.AEAD, plaintext, aad []byte) ([]byte, error) {
	ns := aead.NonceSize()
	out := make([]byte, ns, ns+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[:ns], plaintext, aad), nil
}

// openAEAD opens what sealAEAD returned.
func openAEAD(aead cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	ns := aead.NonceSize()
	if len(sealed) < ns+aead.Overhead() {
		return nil, ErrMalformed
	}
	return aead.Open(nil, sealed[:ns], sealed[ns:], aad)
}
