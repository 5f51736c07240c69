package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"slices"
)

// MaxPlaintext is the largest plaintext Encrypt takes (envelope encryption
// is for records and files, not for streams).
const MaxPlaintext = 64 << 20

// use finds the key, checks the caller's grant and the operation, and
// counts the use whatever the outcome.
func (s *Service) use(ctx context.Context, c Caller, name string, op Operation) (*Key, error) {
	ck, err := s.keyByName(ctx, name)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(OperationsFor(ck.key.Algorithm), op) {
		s.usage.add(c, ck.key, 0, op, nil, ErrOperation)
		return nil, ErrOperation
	}
	if !allowed(c, ck.grants, op) {
		s.usage.add(c, ck.key, 0, op, nil, ErrDenied)
		return nil, ErrDenied
	}
	return ck.key, nil
}

// byID finds the key a blob names and checks name (when given), grant,
// operation and that the version may decrypt or verify.
func (s *Service) byID(ctx context.Context, c Caller, h header, op Operation) (*Key, error) {
	ck, err := s.key(ctx, h.KeyID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrVersion
		}
		return nil, err
	}
	k := ck.key
	if k.Algorithm != h.Alg || !slices.Contains(OperationsFor(k.Algorithm), op) {
		return nil, ErrMalformed
	}
	if !allowed(c, ck.grants, op) {
		s.usage.add(c, k, h.Version, op, nil, ErrDenied)
		return nil, ErrDenied
	}
	v := k.Version(h.Version)
	if v == nil || h.Version < k.MinDecryptVersion || (v.State != Active && v.State != DecryptOnly) {
		s.usage.add(c, k, h.Version, op, nil, ErrVersion)
		return nil, ErrVersion
	}
	return k, nil
}

// activeVersion returns the version that encrypts and signs.
func activeVersion(k *Key) (int, error) {
	for i := len(k.Versions) - 1; i >= 0; i-- {
		if k.Versions[i].State == Active {
			return k.Versions[i].Version, nil
		}
	}
	return 0, ErrVersion
}

// Encrypt seals plaintext under a fresh data key wrapped by the key's active
// version, binding the context. It returns the binary ciphertext; EncodeText
// gives its text form.
func (s *Service) Encrypt(ctx context.Context, c Caller, name string, plaintext []byte, ec Context) ([]byte, error) {
	if len(plaintext) > MaxPlaintext {
		return nil, errors.New("plaintext larger than 64 MiB")
	}
	if err := ec.validate(); err != nil {
		return nil, err
	}
	k, err := s.use(ctx, c, name, OpEncrypt)
	if err != nil {
		return nil, err
	}
	v, err := activeVersion(k)
	if err != nil {
		s.usage.add(c, k, 0, OpEncrypt, ec, err)
		return nil, err
	}
	out, err := s.seal(ctx, k, v, kindCiphertext, plaintext, ec)
	s.usage.add(c, k, v, OpEncrypt, ec, err)
	return out, err
}

// seal builds a ciphertext (kindCiphertext) or a wrapped data key
// (kindDataKey, plaintext = the data key).
func (s *Service) seal(ctx context.Context, k *Key, v int, kind byte, plaintext []byte, ec Context) ([]byte, error) {
	m, err := s.versionMaterial(ctx, k, v)
	if err != nil {
		return nil, err
	}
	digest := ec.digest()
	h := header{Kind: kind, KeyID: k.ID, Version: v, Alg: k.Algorithm}
	out := h.append(make([]byte, 0, 96+len(plaintext)))
	hdrLen := len(out)
	var dek []byte
	if kind == kindDataKey {
		dek = plaintext
	} else {
		dek = make([]byte, 32)
		if _, err := rand.Read(dek); err != nil {
			return nil, err
		}
		defer clear(dek)
	}
	wrapAAD := append(append(make([]byte, 0, hdrLen+32), out...), digest[:]...)
	wrapped, err := sealAEAD(m.aead, dek, wrapAAD)
	if err != nil {
		return nil, err
	}
	if kind == kindDataKey {
		return append(out, wrapped...), nil
	}
	out = binary.AppendUvarint(out, uint64(len(wrapped)))
	out = append(out, wrapped...)
	dataAEAD, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	sealed, err := sealAEAD(dataAEAD, plaintext, dataAAD(k.ID, digest))
	if err != nil {
		return nil, err
	}
	return append(out, sealed...), nil
}

func dataAAD(keyID int64, digest [32]byte) []byte {
	b := binary.AppendUvarint([]byte("anzen-data|"), uint64(keyID))
	return append(b, digest[:]...)
}

// parsed is a ciphertext or wrapped data key taken apart.
type parsed struct {
	h       header
	hdr     []byte // the header bytes
	wrapped []byte // the wrapped data key
	data    []byte // nonce | sealed data (ciphertexts only)
}

func parseSealed(b []byte) (parsed, error) {
	h, rest, err := parseHeader(b)
	if err != nil {
		return parsed{}, err
	}
	p := parsed{h: h, hdr: b[:len(b)-len(rest)]}
	switch h.Kind {
	case kindDataKey:
		p.wrapped = rest
	case kindCiphertext:
		n, used := binary.Uvarint(rest)
		if used <= 0 || n > uint64(len(rest)-used) || n < 12+16 {
			return parsed{}, ErrMalformed
		}
		p.wrapped, p.data = rest[used:used+int(n)], rest[used+int(n):]
	default:
		return parsed{}, ErrMalformed
	}
	return p, nil
}

// unwrapDEK opens the data key of a parsed blob.
func (s *Service) unwrapDEK(ctx context.Context, k *Key, p parsed, ec Context) ([]byte, [32]byte, error) {
	digest := ec.digest()
	m, err := s.versionMaterial(ctx, k, p.h.Version)
	if err != nil {
		return nil, digest, err
	}
	aad := append(append(make([]byte, 0, len(p.hdr)+32), p.hdr...), digest[:]...)
	dek, err := openAEAD(m.aead, p.wrapped, aad)
	if err != nil {
		return nil, digest, ErrContext
	}
	return dek, digest, nil
}

// Decrypt opens a ciphertext made by Encrypt, given the same context.
func (s *Service) Decrypt(ctx context.Context, c Caller, ciphertext []byte, ec Context) ([]byte, error) {
	p, err := parseSealed(ciphertext)
	if err != nil {
		return nil, err
	}
	if p.h.Kind != kindCiphertext {
		return nil, ErrMalformed
	}
	k, err := s.byID(ctx, c, p.h, OpDecrypt)
	if err != nil {
		return nil, err
	}
	dek, digest, err := s.unwrapDEK(ctx, k, p, ec)
	if err != nil {
		s.usage.add(c, k, p.h.Version, OpDecrypt, ec, err)
		return nil, err
	}
	defer clear(dek)
	dataAEAD, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	plain, err := openAEAD(dataAEAD, p.data, dataAAD(k.ID, digest))
	if err != nil {
		err = ErrContext
	}
	s.usage.add(c, k, p.h.Version, OpDecrypt, ec, err)
	return plain, err
}

// Rewrap moves a ciphertext or wrapped data key to the key's active
// version. The data itself is neither decrypted nor returned: only its data
// key is opened and wrapped again.
func (s *Service) Rewrap(ctx context.Context, c Caller, blob []byte, ec Context) ([]byte, error) {
	p, err := parseSealed(blob)
	if err != nil {
		return nil, err
	}
	k, err := s.byID(ctx, c, p.h, OpRewrap)
	if err != nil {
		return nil, err
	}
	v, err := activeVersion(k)
	if err != nil {
		return nil, err
	}
	dek, digest, err := s.unwrapDEK(ctx, k, p, ec)
	if err != nil {
		s.usage.add(c, k, p.h.Version, OpRewrap, ec, err)
		return nil, err
	}
	defer clear(dek)
	m, err := s.versionMaterial(ctx, k, v)
	if err != nil {
		return nil, err
	}
	h := header{Kind: p.h.Kind, KeyID: k.ID, Version: v, Alg: k.Algorithm}
	out := h.append(nil)
	aad := append(append([]byte(nil), out...), digest[:]...)
	wrapped, err := sealAEAD(m.aead, dek, aad)
	if err != nil {
		return nil, err
	}
	if p.h.Kind == kindCiphertext {
		out = binary.AppendUvarint(out, uint64(len(wrapped)))
		out = append(append(out, wrapped...), p.data...)
	} else {
		out = append(out, wrapped...)
	}
	s.usage.add(c, k, v, OpRewrap, ec, nil)
	return out, nil
}

// DataKey makes a fresh 256-bit data key for the caller to encrypt with
// itself, and returns it with its wrapped form (to store beside the data).
// With plaintext false only the wrapped form is returned.
func (s *Service) DataKey(ctx context.Context, c Caller, name string, ec Context, plaintext bool) (dek, wrapped []byte, err error) {
	if err := ec.validate(); err != nil {
		return nil, nil, err
	}
	k, err := s.use(ctx, c, name, OpDataKey)
	if err != nil {
		return nil, nil, err
	}
	v, err := activeVersion(k)
	if err != nil {
		return nil, nil, err
	}
	dek = make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		return nil, nil, err
	}
	wrapped, err = s.seal(ctx, k, v, kindDataKey, dek, ec)
	s.usage.add(c, k, v, OpDataKey, ec, err)
	if err != nil || !plaintext {
		clear(dek)
		return nil, wrapped, err
	}
	return dek, wrapped, nil
}

// DecryptDataKey opens a wrapped data key made by DataKey.
func (s *Service) DecryptDataKey(ctx context.Context, c Caller, wrapped []byte, ec Context) ([]byte, error) {
	p, err := parseSealed(wrapped)
	if err != nil {
		return nil, err
	}
	if p.h.Kind != kindDataKey {
		return nil, ErrMalformed
	}
	k, err := s.byID(ctx, c, p.h, OpDecrypt)
	if err != nil {
		return nil, err
	}
	dek, _, err := s.unwrapDEK(ctx, k, p, ec)
	s.usage.add(c, k, p.h.Version, OpDecrypt, ec, err)
	return dek, err
}

// Sign signs message with the key's active version: Ed25519 over the
// message, ECDSA P-256 and RSA-PSS over its SHA-256. The signature names
// the key and version, so Verify needs nothing else.
func (s *Service) Sign(ctx context.Context, c Caller, name string, message []byte) ([]byte, error) {
	k, err := s.use(ctx, c, name, OpSign)
	if err != nil {
		return nil, err
	}
	v, err := activeVersion(k)
	if err != nil {
		return nil, err
	}
	m, err := s.versionMaterial(ctx, k, v)
	if err != nil {
		s.usage.add(c, k, v, OpSign, nil, err)
		return nil, err
	}
	sig, err := signWith(m.signer, k.Algorithm, message)
	s.usage.add(c, k, v, OpSign, nil, err)
	if err != nil {
		return nil, err
	}
	return append(header{Kind: kindSignature, KeyID: k.ID, Version: v, Alg: k.Algorithm}.append(nil), sig...), nil
}

func signWith(signer crypto.Signer, alg Algorithm, message []byte) ([]byte, error) {
	switch alg {
	case Ed25519:
		return signer.Sign(rand.Reader, message, crypto.Hash(0))
	case ECDSAP256:
		d := sha256.Sum256(message)
		return signer.Sign(rand.Reader, d[:], crypto.SHA256)
	case RSAPSS3072:
		d := sha256.Sum256(message)
		return signer.Sign(rand.Reader, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	}
	return nil, ErrOperation
}

// Verify checks a signature made by Sign, or a MAC made by HMAC, over
// message. It returns ErrBadSignature when it does not verify.
func (s *Service) Verify(ctx context.Context, c Caller, message, signature []byte) error {
	h, rest, err := parseHeader(signature)
	if err != nil {
		return err
	}
	if h.Kind != kindSignature && h.Kind != kindMAC {
		return ErrMalformed
	}
	k, err := s.byID(ctx, c, h, OpVerify)
	if err != nil {
		return err
	}
	m, err := s.versionMaterial(ctx, k, h.Version)
	if err != nil {
		return err
	}
	ok := false
	switch {
	case h.Kind == kindMAC && k.Algorithm == HMACSHA256:
		mac := hmac.New(sha256.New, m.secret)
		mac.Write(message)
		ok = subtle.ConstantTimeCompare(mac.Sum(nil), rest) == 1
	case h.Kind == kindSignature:
		ok = verifyWith(m.public, k.Algorithm, message, rest)
	}
	err = nil
	if !ok {
		err = ErrBadSignature
	}
	s.usage.add(c, k, h.Version, OpVerify, nil, err)
	return err
}

func verifyWith(pub crypto.PublicKey, alg Algorithm, message, sig []byte) bool {
	switch alg {
	case Ed25519:
		p, ok := pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(p, message, sig)
	case ECDSAP256:
		p, ok := pub.(*ecdsa.PublicKey)
		d := sha256.Sum256(message)
		return ok && ecdsa.VerifyASN1(p, d[:], sig)
	case RSAPSS3072:
		p, ok := pub.(*rsa.PublicKey)
		d := sha256.Sum256(message)
		return ok && rsa.VerifyPSS(p, crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	}
	return false
}

// HMAC returns the HMAC-SHA256 of message under the key's active version,
// with a header naming key and version (Verify checks it).
func (s *Service) HMAC(ctx context.Context, c Caller, name string, message []byte) ([]byte, error) {
	k, err := s.use(ctx, c, name, OpHMAC)
	if err != nil {
		return nil, err
	}
	v, err := activeVersion(k)
	if err != nil {
		return nil, err
	}
	m, err := s.versionMaterial(ctx, k, v)
	if err != nil {
		s.usage.add(c, k, v, OpHMAC, nil, err)
		return nil, err
	}
	mac := hmac.New(sha256.New, m.secret)
	mac.Write(message)
	s.usage.add(c, k, v, OpHMAC, nil, nil)
	return mac.Sum(header{Kind: kindMAC, KeyID: k.ID, Version: v, Alg: k.Algorithm}.append(nil)), nil
}

// PublicKey returns the PKIX DER public key of a signing key's version
// (0 for the active one).
func (s *Service) PublicKey(ctx context.Context, name string, version int) ([]byte, error) {
	ck, err := s.keyByName(ctx, name)
	if err != nil {
		return nil, err
	}
	if version == 0 {
		if version, err = activeVersion(ck.key); err != nil {
			return nil, err
		}
	}
	v := ck.key.Version(version)
	if v == nil || len(v.PublicKey) == 0 {
		return nil, ErrVersion
	}
	return v.PublicKey, nil
}

// SignatureParts splits a signature made by Sign into the version of the
// key that made it and the algorithm's own signature bytes (what other
// formats, such as a C2SP signed note, carry).
func SignatureParts(signature []byte) (version int, raw []byte, err error) {
	h, rest, err := parseHeader(signature)
	if err != nil {
		return 0, nil, err
	}
	if h.Kind != kindSignature {
		return 0, nil, ErrMalformed
	}
	return h.Version, rest, nil
}

// MaterialPublicKey returns the public key of a signing key's version as
// its material gives it (the private key unwrapped by the root, or the
// HSM's own object), not the copy stored beside it: what a verifier that
// must not trust the database alone uses. The version must be able to
// verify (active or decrypt-only, not below the minimum).
func (s *Service) MaterialPublicKey(ctx context.Context, name string, version int) (crypto.PublicKey, error) {
	ck, err := s.keyByName(ctx, name)
	if err != nil {
		return nil, err
	}
	k := ck.key
	if !k.Algorithm.Signing() {
		return nil, ErrOperation
	}
	v := k.Version(version)
	if v == nil || version < k.MinDecryptVersion || (v.State != Active && v.State != DecryptOnly) {
		return nil, ErrVersion
	}
	m, err := s.versionMaterial(ctx, k, version)
	if err != nil {
		return nil, err
	}
	return m.public, nil
}
