//go:build cgo

package keys

import (
	"bytes"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// PKCS#11 3.0 names for Ed25519, which miekg/pkcs11 v1.1.2 does not define
// (SoftHSM 2.6 and OpenSC use these values).
const (
	ckkECEdwards           = 0x00000040
	ckmECEdwardsKeyPairGen = 0x00001055
	ckmEdDSA               = 0x00001057
)

// ed25519Params is CKA_EC_PARAMS for Ed25519: the DER of OID 1.3.101.112.
var ed25519Params = []byte{0x06, 0x03, 0x2b, 0x65, 0x70}

// mechanismsFor lists what the token must offer to generate and use keys of
// an algorithm.
var mechanismsFor = map[Algorithm][]uint{
	ECDSAP256:  {pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.CKM_ECDSA},
	RSAPSS3072: {pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, pkcs11.CKM_RSA_PKCS_PSS},
	Ed25519:    {ckmECEdwardsKeyPairGen, ckmEdDSA},
}

// PKCS11Root is a root of trust inside an HSM reached through PKCS#11: an
// AES-256 key that never leaves the token wraps every key's material
// (AES-GCM computed by the HSM), and signing keys are generated in the token
// as non-extractable key pairs. Sessions come from crypto11's pool
// (PKCS#11 sessions are not safe for concurrent use); Ed25519, which
// crypto11 lacks, and object deletion go through miekg/pkcs11 with a small
// pool of their own on the same module and login.
type PKCS11Root struct {
	module, label string
	c11           *crypto11.Context
	aead          cipher.AEAD
	p11           *pkcs11.Ctx
	slot          uint
	mechs         map[uint]bool
	registry      string

	mu      sync.RWMutex // guards closed and idle against Close
	closed  bool
	idle    chan pkcs11.SessionHandle
	signers sync.Map // hex id -> crypto.Signer
}

// openTokens remembers the tokens this process has logged in to. PKCS#11
// login is per process: a second C_Login to a logged-in token answers
// CKR_USER_ALREADY_LOGGED_IN without checking the PIN, so a second open
// compares its PIN with the one the HSM accepted.
var openTokens = struct {
	sync.Mutex
	m map[string]*openToken
}{m: map[string]*openToken{}}

type openToken struct {
	refs int
	pin  [32]byte
}

// OpenPKCS11Root logs in to the token and finds its root wrapping key,
// creating it at the first open (AES-256, CKA_TOKEN, CKA_SENSITIVE,
// not extractable). A wrong PIN gives ErrWrongPIN, a missing module
// ErrPKCS11Module and an unknown label ErrTokenNotFound; a failed open
// leaves nothing behind. Close releases the token.
func OpenPKCS11Root(cfg PKCS11Config) (*PKCS11Root, error) {
	if cfg.Module == "" || cfg.TokenLabel == "" || cfg.PIN == "" {
		return nil, errors.New("PKCS#11 root: the module, the token label and the PIN are all needed")
	}
	if st, err := os.Stat(cfg.Module); err != nil || st.IsDir() {
		return nil, fmt.Errorf("%w: %s", ErrPKCS11Module, cfg.Module)
	}
	openTokens.Lock()
	defer openTokens.Unlock()
	registry := cfg.Module + "\x00" + cfg.TokenLabel
	pin := sha256.Sum256([]byte(cfg.PIN))
	if ot := openTokens.m[registry]; ot != nil && subtle.ConstantTimeCompare(ot.pin[:], pin[:]) != 1 {
		return nil, fmt.Errorf("token %q, open in this process under another PIN: %w", cfg.TokenLabel, ErrWrongPIN)
	}
	c11, err := crypto11.Configure(&crypto11.Config{Path: cfg.Module, TokenLabel: cfg.TokenLabel, Pin: cfg.PIN,
		MaxSessions: 64, PoolWaitTimeout: 30 * time.Second, GCMIVLength: 12})
	if err != nil {
		return nil, configureError(cfg, err)
	}
	r := &PKCS11Root{module: cfg.Module, label: cfg.TokenLabel, c11: c11, registry: registry,
		idle: make(chan pkcs11.SessionHandle, 8)}
	if err := r.init(); err != nil {
		r.release()
		return nil, err
	}
	if ot := openTokens.m[registry]; ot != nil {
		ot.refs++
	} else {
		openTokens.m[registry] = &openToken{refs: 1, pin: pin}
	}
	return r, nil
}

// configureError turns crypto11's failure to open the token into an error
// that names the cause.
func configureError(cfg PKCS11Config, err error) error {
	var rv pkcs11.Error
	if errors.As(err, &rv) {
		switch rv {
		case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_LEN_RANGE:
			return fmt.Errorf("token %q: %w", cfg.TokenLabel, ErrWrongPIN)
		case pkcs11.CKR_PIN_LOCKED:
			return fmt.Errorf("token %q: %w", cfg.TokenLabel, ErrPINLocked)
		}
		return fmt.Errorf("open HSM token %q: %w", cfg.TokenLabel, err)
	}
	p := pkcs11.New(cfg.Module)
	if p == nil {
		return fmt.Errorf("%w: %s", ErrPKCS11Module, cfg.Module)
	}
	defer p.Destroy()
	ierr := p.Initialize()
	if ierr != nil && !errors.Is(ierr, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return fmt.Errorf("%w: %s: %v", ErrPKCS11Module, cfg.Module, ierr)
	}
	if ierr == nil {
		defer p.Finalize()
	}
	labels, lerr := tokenLabels(p)
	if lerr == nil && !contains(labels, cfg.TokenLabel) {
		return fmt.Errorf("%w: %q in %s (tokens present: %s)", ErrTokenNotFound, cfg.TokenLabel, cfg.Module,
			strings.Join(quoteAll(labels), ", "))
	}
	return fmt.Errorf("open HSM token %q in %s: %w", cfg.TokenLabel, cfg.Module, err)
}

func tokenLabels(p *pkcs11.Ctx) ([]string, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range slots {
		if ti, err := p.GetTokenInfo(s); err == nil && ti.Label != "" {
			out = append(out, ti.Label)
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func quoteAll(list []string) []string {
	if len(list) == 0 {
		return []string{"none"}
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// init reaches the module directly for what crypto11 lacks, checks the
// mechanisms and finds or creates the root key.
func (r *PKCS11Root) init() error {
	r.p11 = pkcs11.New(r.module)
	if r.p11 == nil {
		return fmt.Errorf("%w: %s", ErrPKCS11Module, r.module)
	}
	// crypto11 has initialised the module for this process; it finalises it
	// when its last context closes, so this handle never does.
	if err := r.p11.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return fmt.Errorf("initialise PKCS#11 module %s: %w", r.module, err)
	}
	slots, err := r.p11.GetSlotList(true)
	if err != nil {
		return fmt.Errorf("list HSM slots: %w", err)
	}
	found := 0
	for _, s := range slots {
		if ti, err := r.p11.GetTokenInfo(s); err == nil && ti.Label == r.label {
			if found++; found == 1 {
				r.slot = s
			}
		}
	}
	if found != 1 {
		return fmt.Errorf("%d HSM tokens are labelled %q; give each token its own label", found, r.label)
	}
	ms, err := r.p11.GetMechanismList(r.slot)
	if err != nil {
		return fmt.Errorf("list the HSM's mechanisms: %w", err)
	}
	r.mechs = map[uint]bool{}
	for _, m := range ms {
		r.mechs[m.Mechanism] = true
	}
	if !r.mechs[pkcs11.CKM_AES_GCM] || !r.mechs[pkcs11.CKM_AES_KEY_GEN] {
		return fmt.Errorf("%w: AES-GCM (CKM_AES_GCM, CKM_AES_KEY_GEN) for the root key", ErrHSMMechanism)
	}
	key, created, err := r.rootKey()
	if err != nil {
		return err
	}
	if r.aead, err = key.NewGCM(); err == nil {
		err = r.selfTest()
	}
	if err != nil {
		if created {
			_ = key.Delete()
		}
		return fmt.Errorf("root key %q in token %q: %w", RootKeyLabel, r.label, err)
	}
	return nil
}

// rootKey finds the root wrapping key, or makes it when the token has none.
func (r *PKCS11Root) rootKey() (*crypto11.SecretKey, bool, error) {
	found, err := r.c11.FindKeys(nil, []byte(RootKeyLabel))
	if err != nil {
		return nil, false, fmt.Errorf("find root key %q: %w", RootKeyLabel, err)
	}
	switch len(found) {
	case 0:
		id := make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			return nil, false, err
		}
		t, err := crypto11.NewAttributeSetWithIDAndLabel(id, []byte(RootKeyLabel))
		if err != nil {
			return nil, false, err
		}
		for a, v := range map[uint]bool{pkcs11.CKA_TOKEN: true, pkcs11.CKA_PRIVATE: true, pkcs11.CKA_SENSITIVE: true,
			pkcs11.CKA_EXTRACTABLE: false, pkcs11.CKA_ENCRYPT: true, pkcs11.CKA_DECRYPT: true,
			pkcs11.CKA_WRAP: false, pkcs11.CKA_UNWRAP: false} {
			if err := t.Set(a, v); err != nil {
				return nil, false, err
			}
		}
		key, err := r.c11.GenerateSecretKeyWithAttributes(t, 256, crypto11.CipherAES)
		if err != nil {
			return nil, false, fmt.Errorf("create root key %q in token %q: %w", RootKeyLabel, r.label, err)
		}
		return key, true, nil
	case 1:
		key := found[0]
		attrs, err := r.c11.GetAttributes(key, []crypto11.AttributeType{pkcs11.CKA_KEY_TYPE, pkcs11.CKA_VALUE_LEN,
			pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE})
		if err != nil {
			return nil, false, fmt.Errorf("read root key %q: %w", RootKeyLabel, err)
		}
		if attrULong(attrs[pkcs11.CKA_KEY_TYPE]) != pkcs11.CKK_AES || attrULong(attrs[pkcs11.CKA_VALUE_LEN]) != 32 {
			return nil, false, fmt.Errorf("the key labelled %q in token %q is not an AES-256 key", RootKeyLabel, r.label)
		}
		if !attrBool(attrs[pkcs11.CKA_SENSITIVE]) || attrBool(attrs[pkcs11.CKA_EXTRACTABLE]) {
			return nil, false, fmt.Errorf("the root key %q in token %q is extractable or not sensitive; anzen refuses to use it",
				RootKeyLabel, r.label)
		}
		return key, false, nil
	}
	return nil, false, fmt.Errorf("token %q holds %d keys labelled %q; anzen cannot tell which is its root", r.label,
		len(found), RootKeyLabel)
}

func attrBool(a *pkcs11.Attribute) bool { return a != nil && len(a.Value) == 1 && a.Value[0] != 0 }

func attrULong(a *pkcs11.Attribute) uint64 {
	switch {
	case a == nil:
		return 1<<64 - 1
	case len(a.Value) == 8:
		return binary.NativeEndian.Uint64(a.Value)
	case len(a.Value) == 4:
		return uint64(binary.NativeEndian.Uint32(a.Value))
	}
	return 1<<64 - 1
}

// selfTest wraps and unwraps a probe, so that an HSM whose AES-GCM does not
// work is found at open, not at the first key.
func (r *PKCS11Root) selfTest() error {
	probe := []byte("anzen pkcs11 root self-test")
	w, err := r.Wrap(probe, []byte("self-test"))
	if err != nil {
		return err
	}
	got, err := r.Unwrap(w, []byte("self-test"))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, probe) {
		return errors.New("AES-GCM in the HSM does not round-trip")
	}
	return nil
}

// Kind is "pkcs11".
func (r *PKCS11Root) Kind() string { return "pkcs11" }

// Wrap seals plaintext with the root key by AES-GCM inside the HSM, binding
// aad: nonce | ciphertext | tag.
func (r *PKCS11Root) Wrap(plaintext, aad []byte) (out []byte, err error) {
	// crypto11's AEAD panics when the HSM fails, as cipher.AEAD has no error.
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("wrap in HSM token %q: %v", r.label, p)
		}
	}()
	return sealAEAD(r.aead, plaintext, aad)
}

// Unwrap opens what Wrap returned, inside the HSM.
func (r *PKCS11Root) Unwrap(wrapped, aad []byte) ([]byte, error) {
	out, err := openAEAD(r.aead, wrapped, aad)
	if err != nil && !errors.Is(err, ErrMalformed) {
		return nil, fmt.Errorf("unwrap in HSM token %q: %w", r.label, err)
	}
	return out, err
}

// GenerateSigner makes a key pair inside the token: CKA_ID a random 16-byte
// id (returned in hex), CKA_LABEL label, and a private key that is a token
// object, private, sensitive, not extractable and only signs.
func (r *PKCS11Root) GenerateSigner(label string, alg Algorithm) (string, crypto.PublicKey, error) {
	if err := r.supports(alg); err != nil {
		return "", nil, err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", nil, err
	}
	hexID := hex.EncodeToString(id)
	if alg == Ed25519 {
		s, err := r.generateEd25519(id, label)
		if err != nil {
			return "", nil, fmt.Errorf("generate Ed25519 key pair in token %q: %w", r.label, err)
		}
		r.signers.Store(hexID, s)
		return hexID, s.Public(), nil
	}
	pub, err := crypto11.NewAttributeSetWithIDAndLabel(id, []byte(label))
	if err != nil {
		return "", nil, err
	}
	priv := pub.Copy()
	for a, v := range map[uint]bool{pkcs11.CKA_TOKEN: true, pkcs11.CKA_PRIVATE: false, pkcs11.CKA_VERIFY: true} {
		_ = pub.Set(a, v)
	}
	// A signing key signs and does nothing else (no decrypt or unwrap,
	// which crypto11 would otherwise allow).
	for a, v := range map[uint]bool{pkcs11.CKA_TOKEN: true, pkcs11.CKA_PRIVATE: true, pkcs11.CKA_SENSITIVE: true,
		pkcs11.CKA_EXTRACTABLE: false, pkcs11.CKA_SIGN: true, pkcs11.CKA_DECRYPT: false, pkcs11.CKA_UNWRAP: false} {
		_ = priv.Set(a, v)
	}
	var s crypto11.Signer
	if alg == ECDSAP256 {
		s, err = r.c11.GenerateECDSAKeyPairWithAttributes(pub, priv, elliptic.P256())
	} else {
		_ = pub.Set(pkcs11.CKA_ENCRYPT, false)
		_ = priv.Set(pkcs11.CKA_DECRYPT, false)
		s, err = r.c11.GenerateRSAKeyPairWithAttributes(pub, priv, 3072)
	}
	if err != nil {
		return "", nil, fmt.Errorf("generate %s key pair in token %q: %w", alg, r.label, err)
	}
	hs := &hsmSigner{inner: s, alg: alg}
	r.signers.Store(hexID, hs)
	return hexID, hs.Public(), nil
}

func (r *PKCS11Root) supports(alg Algorithm) error {
	ms, ok := mechanismsFor[alg]
	if !ok {
		return ErrOperation
	}
	for _, m := range ms {
		if !r.mechs[m] {
			return fmt.Errorf("%w: %s keys need mechanism 0x%x, which token %q does not offer; choose another algorithm",
				ErrHSMMechanism, alg, m, r.label)
		}
	}
	return nil
}

// Signer returns a signer that signs with the key pair id inside the HSM.
func (r *PKCS11Root) Signer(id string, alg Algorithm) (crypto.Signer, error) {
	if s, ok := r.signers.Load(id); ok {
		return s.(crypto.Signer), nil
	}
	raw, err := hex.DecodeString(id)
	if err != nil || len(raw) == 0 {
		return nil, fmt.Errorf("HSM object id %q is not hex", id)
	}
	var s crypto.Signer
	if alg == Ed25519 {
		s, err = r.findEd25519(raw)
	} else {
		var found crypto11.Signer
		if found, err = r.c11.FindKeyPair(raw, nil); err == nil {
			s, err = &hsmSigner{inner: found, alg: alg}, checkPublic(found.Public(), alg)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("signing key %s in token %q: %w", id, r.label, err)
	}
	r.signers.Store(id, s)
	return s, nil
}

func checkPublic(pub crypto.PublicKey, alg Algorithm) error {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if alg == ECDSAP256 && p.Curve == elliptic.P256() {
			return nil
		}
	case *rsa.PublicKey:
		if alg == RSAPSS3072 && p.N.BitLen() == 3072 {
			return nil
		}
	}
	return fmt.Errorf("the key pair is not an %s key", alg)
}

// hsmSigner signs with a crypto11 key pair, allowing only the options of
// anzen's algorithm: SHA-256 digests, and PSS (CKM_RSA_PKCS_PSS in the HSM)
// for RSA.
type hsmSigner struct {
	inner crypto.Signer
	alg   Algorithm
}

func (s *hsmSigner) Public() crypto.PublicKey { return s.inner.Public() }

func (s *hsmSigner) Sign(rnd io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil || opts.HashFunc() != crypto.SHA256 || len(digest) != sha256.Size {
		return nil, fmt.Errorf("%s keys in the HSM sign SHA-256 digests only", s.alg)
	}
	if _, pss := opts.(*rsa.PSSOptions); s.alg == RSAPSS3072 && !pss {
		return nil, errors.New("rsa-pss-3072 keys in the HSM sign with RSA-PSS only")
	}
	return s.inner.Sign(rnd, digest, opts)
}

// DestroyObject deletes the private and public key objects with the given
// id from the token. An id with no objects left is not an error, so that a
// destruction interrupted after the HSM step can be completed.
func (r *PKCS11Root) DestroyObject(id string) error {
	raw, err := hex.DecodeString(id)
	if err != nil || len(raw) == 0 {
		return fmt.Errorf("HSM object id %q is not hex", id)
	}
	r.signers.Delete(id)
	return r.session(func(sh pkcs11.SessionHandle) error {
		for _, class := range []uint{pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_PUBLIC_KEY} {
			hs, err := r.find(sh, raw, class, 0)
			if err != nil {
				return err
			}
			for _, h := range hs {
				if err := r.p11.DestroyObject(sh, h); err != nil {
					return fmt.Errorf("destroy HSM object %s in token %q: %w", id, r.label, err)
				}
			}
		}
		return nil
	})
}

// find lists the objects of a class with the given CKA_ID (and key type,
// when not 0).
func (r *PKCS11Root) find(sh pkcs11.SessionHandle, id []byte, class, keyType uint) ([]pkcs11.ObjectHandle, error) {
	t := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, id), pkcs11.NewAttribute(pkcs11.CKA_CLASS, class)}
	if keyType != 0 {
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType))
	}
	if err := r.p11.FindObjectsInit(sh, t); err != nil {
		return nil, fmt.Errorf("search HSM objects: %w", err)
	}
	hs, _, err := r.p11.FindObjects(sh, 16)
	if ferr := r.p11.FindObjectsFinal(sh); err == nil {
		err = ferr
	}
	if err != nil {
		return nil, fmt.Errorf("search HSM objects: %w", err)
	}
	return hs, nil
}

// session runs f with a session of the directly reached module, taken from
// a small pool; a session that failed is closed rather than reused.
func (r *PKCS11Root) session(f func(pkcs11.SessionHandle) error) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return fmt.Errorf("the PKCS#11 root of token %q is closed", r.label)
	}
	var sh pkcs11.SessionHandle
	select {
	case sh = <-r.idle:
	default:
		var err error
		if sh, err = r.p11.OpenSession(r.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION); err != nil {
			return fmt.Errorf("open a session with HSM token %q: %w", r.label, err)
		}
	}
	err := f(sh)
	if err == nil {
		select {
		case r.idle <- sh:
			return nil
		default:
		}
	}
	_ = r.p11.CloseSession(sh)
	return err
}

// Close logs out of the token when no other root of this process uses it
// and frees the sessions. The root cannot be used afterwards.
func (r *PKCS11Root) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	openTokens.Lock()
	defer openTokens.Unlock()
	if ot := openTokens.m[r.registry]; ot != nil {
		if ot.refs--; ot.refs <= 0 {
			delete(openTokens.m, r.registry)
		}
	}
	r.release()
	return nil
}

// release closes the sessions and crypto11's context.
func (r *PKCS11Root) release() {
	if r.p11 != nil {
		for {
			select {
			case sh := <-r.idle:
				_ = r.p11.CloseSession(sh)
				continue
			default:
			}
			break
		}
		r.p11.Destroy()
	}
	_ = r.c11.Close()
}
