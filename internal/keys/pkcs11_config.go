package keys

import "errors"

// PKCS11Config names the HSM token that holds the root of trust.
type PKCS11Config struct {
	Module     string // path of the HSM vendor's PKCS#11 library
	TokenLabel string // CKA_LABEL of the token (slot) anzen uses
	PIN        string // the token's user PIN
}

// RootKeyLabel is the label of the root wrapping key inside the token.
const RootKeyLabel = "anzen-root"

// Errors of opening a PKCS#11 root. They are wrapped with the module path
// or the token label, so that the message names what to fix.
var (
	ErrPKCS11Module  = errors.New("the PKCS#11 module does not exist or cannot be loaded")
	ErrTokenNotFound = errors.New("no HSM token has this label")
	ErrWrongPIN      = errors.New("the HSM refused the user PIN (CKR_PIN_INCORRECT)")
	ErrPINLocked     = errors.New("the HSM token's user PIN is locked (CKR_PIN_LOCKED): the token's security officer must reset it")
	ErrHSMMechanism  = errors.New("the HSM token does not offer a mechanism this needs")
)

// ErrNoCgo is returned by OpenPKCS11Root in a build without cgo: PKCS#11
// modules are C libraries, loaded through cgo.
var ErrNoCgo = errors.New("this anzen was built without cgo (CGO_ENABLED=0), so it cannot load a PKCS#11 module; build it with cgo to use the pkcs11 root")
