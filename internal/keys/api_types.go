package keys

import "time"

// Payloads of the key service's JSON API. Binary data (plaintext, messages,
// data keys) travels as standard base64 with padding; ciphertexts,
// signatures, MACs and wrapped data keys in their text form
// ("anzen:" + base64url, see EncodeText).

// KeyInfo is a key as the API shows it: its versions (never material), the
// operations its algorithm supports and when it is rotated next.
type KeyInfo struct {
	*Key
	// RotationDays is the automatic rotation period in days; 0 for none.
	RotationDays float64 `json:"rotation_days"`
	// NextRotation is when the background job rotates the key; absent
	// without a rotation period.
	NextRotation time.Time `json:"next_rotation,omitzero"`
	// ActiveVersion encrypts and signs; 0 when every version is disabled.
	ActiveVersion int         `json:"active_version"`
	Operations    []Operation `json:"operations"`
}

// KeyDetail is the body of GET /api/v1/keys/{name} and of every change to
// a key: the key and who may use it for what.
type KeyDetail struct {
	KeyInfo
	Grants []Grant `json:"grants"`
}

// KeyList is the body of GET /api/v1/keys.
type KeyList struct {
	Keys []KeyInfo `json:"keys"`
}

// CreateKeyRequest is the body of POST /api/v1/keys. An empty algorithm
// is the purpose's default (DefaultAlgorithm); rotation_days 0 means no
// automatic rotation.
type CreateKeyRequest struct {
	Name         string `json:"name"`
	Purpose      string `json:"purpose"`
	Algorithm    string `json:"algorithm"`
	Owner        string `json:"owner"`
	RotationDays int    `json:"rotation_days"`
}

// MinDecryptVersionRequest is the body of PUT
// /api/v1/keys/{name}/min-decrypt-version.
type MinDecryptVersionRequest struct {
	MinDecryptVersion int `json:"min_decrypt_version"`
}

// GrantList is the body of GET and PUT /api/v1/keys/{name}/grants; PUT
// replaces every grant of the key.
type GrantList struct {
	Grants []Grant `json:"grants"`
}

// EncryptRequest is the body of POST /api/v1/keys/{name}/encrypt.
type EncryptRequest struct {
	Plaintext string  `json:"plaintext"` // base64
	Context   Context `json:"context"`
}

// CiphertextRequest is the body of POST /api/v1/keys/decrypt and
// /api/v1/keys/rewrap: a ciphertext (or a wrapped data key) and the
// context it was made with.
type CiphertextRequest struct {
	Ciphertext string  `json:"ciphertext"` // anzen:...
	Context    Context `json:"context"`
}

// CiphertextResponse is the answer of encrypt and rewrap.
type CiphertextResponse struct {
	Ciphertext string `json:"ciphertext"`
}

// PlaintextResponse is the answer of decrypt.
type PlaintextResponse struct {
	Plaintext string `json:"plaintext"` // base64
}

// DataKeyRequest is the body of POST /api/v1/keys/{name}/datakey. Without
// plaintext (or with true) the answer carries the data key itself beside
// its wrapped form; with false only the wrapped form.
type DataKeyRequest struct {
	Context   Context `json:"context"`
	Plaintext *bool   `json:"plaintext"`
}

// DataKeyResponse is the answer of datakey.
type DataKeyResponse struct {
	Plaintext string `json:"plaintext,omitempty"` // base64 of the 32-byte key
	Wrapped   string `json:"wrapped"`
}

// MessageRequest is the body of sign and hmac.
type MessageRequest struct {
	Message string `json:"message"` // base64
}

// SignatureResponse is the answer of sign.
type SignatureResponse struct {
	Signature string `json:"signature"`
}

// MACResponse is the answer of hmac.
type MACResponse struct {
	MAC string `json:"mac"`
}

// VerifyRequest is the body of POST /api/v1/keys/verify: a message and a
// signature (or MAC) made by anzen.
type VerifyRequest struct {
	Message   string `json:"message"` // base64
	Signature string `json:"signature"`
}

// VerifyResponse is the answer of verify: whether the signature holds, and
// which key and version made it (the caller should check that it is the
// key it expects).
type VerifyResponse struct {
	Valid   bool   `json:"valid"`
	Key     string `json:"key"`
	Version int    `json:"version"`
}
