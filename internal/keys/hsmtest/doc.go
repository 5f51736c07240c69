// Package hsmtest gives tests a fresh SoftHSM token, so that the PKCS#11
// root of trust is tested against a real PKCS#11 module.
//
// SoftHSM reads its configuration (SOFTHSM2_CONF) and its token directory
// when the module is initialised, which happens when the first PKCS#11
// root of the process opens and is undone when the last one closes. So New
// sets SOFTHSM2_CONF for the test only (t.Setenv: such tests cannot be
// parallel, which SoftHSM's process-wide state asks anyway), and a test
// makes every token it needs before it opens a root, and closes its roots
// when it ends (t.Cleanup).
package hsmtest

// Module is Debian's SoftHSM PKCS#11 module.
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// PINs of every test token.
const (
	UserPIN = "1234"
	SOPIN   = "0000"
)
