package identity_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// softKey is a software authenticator for tests: one ECDSA P-256
// credential that answers registration with "none" attestation and signs
// assertions, as a security key would, with a signature counter.
type softKey struct {
	priv   *ecdsa.PrivateKey
	id     []byte
	count  uint32
	rpID   string
	origin string
}

// Authenticator data flags (WebAuthn §6.1).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagAT = 0x40 // attested credential data included
)

func newSoftKey(t testing.TB, rpID, origin string) *softKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &softKey{priv: priv, id: id, rpID: rpID, origin: origin}
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// coseKey is the credential public key as a COSE_Key (RFC 9053: EC2,
// ES256, P-256).
func (k *softKey) coseKey(t testing.TB) []byte {
	t.Helper()
	pub, err := k.priv.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	raw := pub.Bytes() // 0x04 || X || Y
	return cborEncode(t, map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
}

func cborEncode(t testing.TB, v any) []byte {
	t.Helper()
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := em.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// authData builds authenticator data: RP ID hash, flags, counter and,
// with AT, the attested credential (zero AAGUID, id, COSE key).
func (k *softKey) authData(t testing.TB, flags byte) []byte {
	t.Helper()
	h := sha256.Sum256([]byte(k.rpID))
	out := append([]byte{}, h[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, k.count)
	if flags&flagAT != 0 {
		out = append(out, make([]byte, 16)...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(k.id)))
		out = append(out, k.id...)
		out = append(out, k.coseKey(t)...)
	}
	return out
}

func (k *softKey) clientData(t testing.TB, typ, challenge string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": k.origin, "crossOrigin": false})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// create answers navigator.credentials.create for the given challenge,
// as the browser would serialise it (RegistrationResponseJSON).
func (k *softKey) create(t testing.TB, challenge string) json.RawMessage {
	t.Helper()
	att := cborEncode(t, map[string]any{"fmt": "none", "attStmt": map[string]any{},
		"authData": k.authData(t, flagUP|flagUV|flagAT)})
	return mustJSON(t, map[string]any{
		"id": b64u(k.id), "rawId": b64u(k.id), "type": "public-key", "clientExtensionResults": map[string]any{},
		"authenticatorAttachment": "cross-platform",
		"response": map[string]any{
			"clientDataJSON":    b64u(k.clientData(t, "webauthn.create", challenge)),
			"attestationObject": b64u(att),
			"transports":        []string{"usb"},
		},
	})
}

// get answers navigator.credentials.get for the given challenge with the
// counter advanced by one (AuthenticationResponseJSON).
func (k *softKey) get(t testing.TB, challenge string, userHandle []byte) json.RawMessage {
	t.Helper()
	k.count++
	return k.sign(t, challenge, userHandle)
}

// sign answers an assertion with the counter as it stands.
func (k *softKey) sign(t testing.TB, challenge string, userHandle []byte) json.RawMessage {
	t.Helper()
	cd := k.clientData(t, "webauthn.get", challenge)
	ad := k.authData(t, flagUP|flagUV)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	resp := map[string]any{"clientDataJSON": b64u(cd), "authenticatorData": b64u(ad), "signature": b64u(sig)}
	if userHandle != nil {
		resp["userHandle"] = b64u(userHandle)
	}
	return mustJSON(t, map[string]any{"id": b64u(k.id), "rawId": b64u(k.id), "type": "public-key",
		"clientExtensionResults": map[string]any{}, "response": resp})
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
