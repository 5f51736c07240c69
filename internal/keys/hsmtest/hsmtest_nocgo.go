//go:build !cgo

package hsmtest

import (
	"testing"

	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// New skips the test (or fails it under ANZEN_TEST_STRICT=1): a build
// without cgo cannot load PKCS#11 modules.
func New(t testing.TB) keys.PKCS11Config {
	t.Helper()
	dbtest.Missing(t, "PKCS#11 (this test binary was built without cgo)")
	return keys.PKCS11Config{}
}

// Open fails: a build without cgo has no PKCS#11 root.
func Open(t testing.TB, cfg keys.PKCS11Config) *keys.PKCS11Root {
	t.Helper()
	t.Fatal(keys.ErrNoCgo)
	return nil
}
