//go:build cgo

package keys

import (
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"

	"github.com/miekg/pkcs11"
)

// Ed25519 in the HSM goes through miekg/pkcs11 directly, since crypto11
// (v1.6) has no EdDSA: CKM_EC_EDWARDS_KEY_PAIR_GEN makes the pair, CKM_EDDSA
// signs the whole message (pure Ed25519, as ed25519.Sign).

// eddsaSigner signs with an Ed25519 private key object of the token.
type eddsaSigner struct {
	r    *PKCS11Root
	priv pkcs11.ObjectHandle
	pub  ed25519.PublicKey
}

func (s *eddsaSigner) Public() crypto.PublicKey { return s.pub }

// Sign signs message (not a digest) with CKM_EDDSA; opts must ask for no
// pre-hash, as for ed25519.PrivateKey.
func (s *eddsaSigner) Sign(_ io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts != nil && opts.HashFunc() != crypto.Hash(0) {
		return nil, errors.New("ed25519 keys in the HSM sign the message itself, not a digest")
	}
	var sig []byte
	err := s.r.session(func(sh pkcs11.SessionHandle) error {
		if err := s.r.p11.SignInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(ckmEdDSA, nil)}, s.priv); err != nil {
			return fmt.Errorf("C_SignInit (EdDSA): %w", err)
		}
		var err error
		if sig, err = s.r.p11.Sign(sh, message); err != nil {
			return fmt.Errorf("C_Sign (EdDSA): %w", err)
		}
		return nil
	})
	if err == nil && len(sig) != ed25519.SignatureSize {
		err = fmt.Errorf("the HSM returned an Ed25519 signature of %d bytes", len(sig))
	}
	return sig, err
}

// generateEd25519 makes an Ed25519 key pair in the token with the same
// attributes as the other signing keys.
func (r *PKCS11Root) generateEd25519(id []byte, label string) (*eddsaSigner, error) {
	common := func(class uint) []*pkcs11.Attribute {
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, ckkECEdwards),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		}
	}
	pubT := append(common(pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, ed25519Params))
	privT := append(common(pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false))
	var s *eddsaSigner
	err := r.session(func(sh pkcs11.SessionHandle) error {
		pubH, privH, err := r.p11.GenerateKeyPair(sh,
			[]*pkcs11.Mechanism{pkcs11.NewMechanism(ckmECEdwardsKeyPairGen, nil)}, pubT, privT)
		if err != nil {
			return err
		}
		pub, err := r.edwardsPoint(sh, pubH)
		if err != nil {
			_ = r.p11.DestroyObject(sh, privH)
			_ = r.p11.DestroyObject(sh, pubH)
			return err
		}
		s = &eddsaSigner{r: r, priv: privH, pub: pub}
		return nil
	})
	return s, err
}

// findEd25519 finds the Ed25519 key pair with the given CKA_ID.
func (r *PKCS11Root) findEd25519(id []byte) (*eddsaSigner, error) {
	var s *eddsaSigner
	err := r.session(func(sh pkcs11.SessionHandle) error {
		privs, err := r.find(sh, id, pkcs11.CKO_PRIVATE_KEY, ckkECEdwards)
		if err != nil {
			return err
		}
		pubs, err := r.find(sh, id, pkcs11.CKO_PUBLIC_KEY, ckkECEdwards)
		if err != nil {
			return err
		}
		if len(privs) != 1 || len(pubs) != 1 {
			return fmt.Errorf("no Ed25519 key pair with this id (%d private, %d public objects)", len(privs), len(pubs))
		}
		pub, err := r.edwardsPoint(sh, pubs[0])
		if err != nil {
			return err
		}
		s = &eddsaSigner{r: r, priv: privs[0], pub: pub}
		return nil
	})
	return s, err
}

// edwardsPoint reads an Ed25519 public key object's CKA_EC_POINT: the
// 32-byte point, DER-wrapped in an OCTET STRING (PKCS#11 3.0) or bare.
func (r *PKCS11Root) edwardsPoint(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle) (ed25519.PublicKey, error) {
	attrs, err := r.p11.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil)})
	if err != nil {
		return nil, fmt.Errorf("read Ed25519 public key: %w", err)
	}
	point := attrs[0].Value
	if len(point) == 2+ed25519.PublicKeySize && point[0] == 0x04 && point[1] == ed25519.PublicKeySize {
		point = point[2:]
	}
	if len(point) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("the HSM's Ed25519 public key has %d bytes", len(point))
	}
	return ed25519.PublicKey(append([]byte(nil), point...)), nil
}
