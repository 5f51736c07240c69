//go:build !cgo

package keys

import "crypto"

// PKCS11Root is the PKCS#11 root of trust; a build without cgo cannot load
// PKCS#11 modules, so it has none (see ErrNoCgo).
type PKCS11Root struct{}

// OpenPKCS11Root returns ErrNoCgo: this build cannot load PKCS#11 modules.
func OpenPKCS11Root(PKCS11Config) (*PKCS11Root, error) { return nil, ErrNoCgo }

// Kind is "pkcs11".
func (*PKCS11Root) Kind() string { return "pkcs11" }

// Wrap returns ErrNoCgo.
func (*PKCS11Root) Wrap(_, _ []byte) ([]byte, error) { return nil, ErrNoCgo }

// Unwrap returns ErrNoCgo.
func (*PKCS11Root) Unwrap(_, _ []byte) ([]byte, error) { return nil, ErrNoCgo }

// GenerateSigner returns ErrNoCgo.
func (*PKCS11Root) GenerateSigner(string, Algorithm) (string, crypto.PublicKey, error) {
	return "", nil, ErrNoCgo
}

// Signer returns ErrNoCgo.
func (*PKCS11Root) Signer(string, Algorithm) (crypto.Signer, error) { return nil, ErrNoCgo }

// DestroyObject returns ErrNoCgo.
func (*PKCS11Root) DestroyObject(string) error { return ErrNoCgo }

// Close does nothing.
func (*PKCS11Root) Close() error { return nil }
