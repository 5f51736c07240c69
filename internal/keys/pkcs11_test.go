//go:build cgo

package keys_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/keys/hsmtest"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

func TestPKCS11Root_SigningKeysAreMadeInTheHSMAndTheirPrivatePartCannotBeRead(t *testing.T) {
	dbtest.Each(t, rootParts, func(t *testing.T, d *db.DB) {
		cfg := hsmtest.New(t)
		svc := newRootEnv(t, d, hsmtest.Open(t, cfg))
		ctx := context.Background()
		for _, tc := range []struct {
			alg    keys.Algorithm
			secret uint // an attribute holding the private key
		}{
			{keys.ECDSAP256, pkcs11.CKA_VALUE},
			{keys.Ed25519, pkcs11.CKA_VALUE},
			{keys.RSAPSS3072, pkcs11.CKA_PRIVATE_EXPONENT},
		} {
			name := "checkpoint-" + string(tc.alg)
			k := svc.create(t, name, keys.PurposeSigning, tc.alg)
			if v := k.Latest(); !v.InHSM || v.Root != "pkcs11" {
				t.Fatalf("%s: version %+v is not held in the HSM", tc.alg, v)
			}
			_, material, id := svc.stored(t, k.ID, 1)
			if material != "" || len(id) != 32 {
				t.Fatalf("%s: stored material %q, HSM id %q", tc.alg, material, id)
			}
			vals, errs := hsmtest.Attributes(t, cfg, id, pkcs11.CKA_NEVER_EXTRACTABLE, pkcs11.CKA_EXTRACTABLE,
				pkcs11.CKA_SENSITIVE, pkcs11.CKA_PRIVATE, pkcs11.CKA_TOKEN, pkcs11.CKA_SIGN, pkcs11.CKA_DECRYPT, pkcs11.CKA_LABEL,
				tc.secret)
			for attr, want := range map[uint]bool{pkcs11.CKA_NEVER_EXTRACTABLE: true, pkcs11.CKA_EXTRACTABLE: false,
				pkcs11.CKA_SENSITIVE: true, pkcs11.CKA_PRIVATE: true, pkcs11.CKA_TOKEN: true, pkcs11.CKA_SIGN: true,
				pkcs11.CKA_DECRYPT: false} {
				if got := vals[attr]; len(got) != 1 || (got[0] != 0) != want {
					t.Errorf("%s: attribute 0x%x = %v (%v), want %v", tc.alg, attr, got, errs[attr], want)
				}
			}
			if string(vals[pkcs11.CKA_LABEL]) != name {
				t.Errorf("%s: CKA_LABEL = %q", tc.alg, vals[pkcs11.CKA_LABEL])
			}
			if v, ok := vals[tc.secret]; ok || !errors.Is(errs[tc.secret], pkcs11.Error(pkcs11.CKR_ATTRIBUTE_SENSITIVE)) {
				t.Fatalf("%s: reading the private key gave %x, %v; want CKR_ATTRIBUTE_SENSITIVE", tc.alg, v, errs[tc.secret])
			}
			msg := []byte("checkpoint 42 of the audit log")
			sig, err := svc.Sign(ctx, rootCaller, name, msg)
			if err != nil {
				t.Fatalf("%s: sign: %v", tc.alg, err)
			}
			if err := svc.Verify(ctx, rootCaller, msg, sig); err != nil {
				t.Fatalf("%s: verify: %v", tc.alg, err)
			}
			if err := svc.Verify(ctx, rootCaller, []byte("checkpoint 43"), sig); !errors.Is(err, keys.ErrBadSignature) {
				t.Fatalf("%s: another message verified: %v", tc.alg, err)
			}
			der, err := svc.PublicKey(ctx, name, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !verifiesOutside(t, der, tc.alg, msg, sig) {
				t.Fatalf("%s: the standard library does not verify the HSM's signature", tc.alg)
			}
		}
	})
}

// verifiesOutside checks a signature of the key service with the standard
// library alone. The raw signature follows the blob's 7-byte header ("AZ",
// format, kind, key id, version, algorithm: ids and versions below 128).
func verifiesOutside(t *testing.T, der []byte, alg keys.Algorithm, msg, blob []byte) bool {
	t.Helper()
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(msg)
	sig := blob[7:]
	switch alg {
	case keys.Ed25519:
		return ed25519.Verify(pub.(ed25519.PublicKey), msg, sig)
	case keys.ECDSAP256:
		return ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig)
	case keys.RSAPSS3072:
		return rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA256, digest[:], sig,
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	}
	return false
}

func TestPKCS11Root_WrapsSymmetricMaterialAndFindsTheSameRootKeyAgain(t *testing.T) {
	dbtest.Each(t, rootParts, func(t *testing.T, d *db.DB) {
		cfg := hsmtest.New(t)
		root := hsmtest.Open(t, cfg)
		svc := newRootEnv(t, d, root)
		ctx := context.Background()
		k := svc.create(t, "ehr-records", keys.PurposeStorage, keys.AES256GCM)
		mac := svc.create(t, "pseudonyms", keys.PurposeIntegration, keys.HMACSHA256)
		ec := keys.Context{"patient": "P-000123", "table": "notes"}
		ct, err := svc.Encrypt(ctx, rootCaller, "ehr-records", []byte("既往歴：特記事項なし"), ec)
		if err != nil {
			t.Fatal(err)
		}
		tag, err := svc.HMAC(ctx, rootCaller, "pseudonyms", []byte("P-000123"))
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []*keys.Key{k, mac} {
			rootKind, material, id := svc.stored(t, key.ID, 1)
			wrapped, err := base64.StdEncoding.DecodeString(material)
			if rootKind != "pkcs11" || id != "" || err != nil || len(wrapped) != 12+32+16 {
				t.Fatalf("%s: root %q, HSM id %q, material of %d bytes (%v)", key.Name, rootKind, id, len(wrapped), err)
			}
			aad := []byte("anzen-key|" + strconv.FormatInt(key.ID, 10) + "|1")
			raw, err := root.Unwrap(wrapped, aad)
			if err != nil || len(raw) != 32 || bytes.Contains(wrapped, raw) {
				t.Fatalf("%s: the HSM root does not unwrap the stored material to a 32-byte key: %v", key.Name, err)
			}
			if _, err := root.Unwrap(wrapped, []byte("anzen-key|999|1")); err == nil {
				t.Fatalf("%s: material unwrapped under another key's associated data", key.Name)
			}
		}
		// A new process: the root key is found in the token, not made again.
		if err := root.Close(); err != nil {
			t.Fatal(err)
		}
		again := newRootEnv(t, d, hsmtest.Open(t, cfg))
		got, err := again.Decrypt(ctx, rootCaller, ct, ec)
		if err != nil || string(got) != "既往歴：特記事項なし" {
			t.Fatalf("decrypt after reopening the token: %q, %v", got, err)
		}
		if err := again.Verify(ctx, rootCaller, []byte("P-000123"), tag); err != nil {
			t.Fatalf("HMAC after reopening the token: %v", err)
		}
		if _, err := again.Decrypt(ctx, rootCaller, ct, keys.Context{"patient": "P-000124", "table": "notes"}); !errors.Is(err, keys.ErrContext) {
			t.Fatalf("another patient's context: %v", err)
		}
	})
}

func TestOpenPKCS11Root_WrongPINMissingModuleAndUnknownTokenAreClearErrors(t *testing.T) {
	cfg := hsmtest.New(t)
	notModule := filepath.Join(t.TempDir(), "not-a-module.so")
	if err := os.WriteFile(notModule, []byte("not a shared library"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		cfg     keys.PKCS11Config
		want    error
		mention string
	}{
		{"wrong PIN", keys.PKCS11Config{Module: cfg.Module, TokenLabel: cfg.TokenLabel, PIN: "9999"}, keys.ErrWrongPIN, "CKR_PIN_INCORRECT"},
		{"module that does not exist", keys.PKCS11Config{Module: "/usr/lib/no-such-hsm/libpkcs11.so",
			TokenLabel: cfg.TokenLabel, PIN: cfg.PIN}, keys.ErrPKCS11Module, "/usr/lib/no-such-hsm/libpkcs11.so"},
		{"file that is no module", keys.PKCS11Config{Module: notModule, TokenLabel: cfg.TokenLabel, PIN: cfg.PIN},
			keys.ErrPKCS11Module, notModule},
		{"unknown token", keys.PKCS11Config{Module: cfg.Module, TokenLabel: "no-such-token", PIN: cfg.PIN},
			keys.ErrTokenNotFound, cfg.TokenLabel},
		{"no PIN", keys.PKCS11Config{Module: cfg.Module, TokenLabel: cfg.TokenLabel}, nil, "PIN"},
	}
	check := func(t *testing.T, c keys.PKCS11Config, want error, mention string) {
		t.Helper()
		r, err := keys.OpenPKCS11Root(c)
		if err == nil {
			r.Close()
			t.Fatal("opened")
		}
		if (want != nil && !errors.Is(err, want)) || !strings.Contains(err.Error(), mention) {
			t.Fatalf("err = %v; want %v mentioning %q", err, want, mention)
		}
		if strings.Contains(err.Error(), c.PIN) && c.PIN != "" {
			t.Fatalf("the error shows the PIN: %v", err)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { check(t, tc.cfg, tc.want, tc.mention) })
	}
	// The token is still usable, and while it is open (logged in), a second
	// open with a wrong PIN is still refused.
	r := hsmtest.Open(t, cfg)
	if _, err := r.Wrap([]byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	t.Run("wrong PIN while open", func(t *testing.T) { check(t, cases[0].cfg, keys.ErrWrongPIN, "CKR_PIN_INCORRECT") })
	second := hsmtest.Open(t, cfg)
	w, err := second.Wrap([]byte("same root key"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Unwrap(w, []byte("aad")); err != nil || string(got) != "same root key" {
		t.Fatalf("two opens of one token do not share the root key: %q %v", got, err)
	}
}

func TestPKCS11Root_SignsConcurrentlyRefusesOtherPaddingAndDestroysPairs(t *testing.T) {
	cfg := hsmtest.New(t)
	r := hsmtest.Open(t, cfg)
	for _, alg := range []keys.Algorithm{keys.ECDSAP256, keys.Ed25519, keys.RSAPSS3072} {
		id, pub, err := r.GenerateSigner("pair-"+string(alg), alg)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		s, err := r.Signer(id, alg)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 8; i++ {
					msg := []byte("message " + strconv.Itoa(g) + "/" + strconv.Itoa(i))
					if err := signAndCheck(s, pub, alg, msg); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("%s: %v", alg, err)
		}
		if alg == keys.RSAPSS3072 {
			d := sha256.Sum256([]byte("x"))
			if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err == nil {
				t.Fatal("an RSA-PSS key in the HSM signed with PKCS#1 v1.5 padding")
			}
		}
		if err := r.DestroyObject(id); err != nil {
			t.Fatalf("%s: destroy: %v", alg, err)
		}
		if _, err := r.Signer(id, alg); err == nil {
			t.Fatalf("%s: the destroyed pair is still found", alg)
		}
		if err := r.DestroyObject(id); err != nil {
			t.Fatalf("%s: destroying again: %v", alg, err)
		}
	}
	// The root key is not a key pair: destroying pairs never touches it.
	if _, err := r.Wrap([]byte("x"), nil); err != nil {
		t.Fatal(err)
	}
}

func signAndCheck(s crypto.Signer, pub crypto.PublicKey, alg keys.Algorithm, msg []byte) error {
	d := sha256.Sum256(msg)
	var ok bool
	switch alg {
	case keys.Ed25519:
		sig, err := s.Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil {
			return err
		}
		ok = ed25519.Verify(pub.(ed25519.PublicKey), msg, sig)
	case keys.ECDSAP256:
		sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			return err
		}
		ok = ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sig)
	case keys.RSAPSS3072:
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		sig, err := s.Sign(rand.Reader, d[:], opts)
		if err != nil {
			return err
		}
		ok = rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA256, d[:], sig, opts) == nil
	}
	if !ok {
		return errors.New("signature does not verify")
	}
	return nil
}

func TestPKCS11Root_AnHSMThatIsGoneFailsEachOperationAndCreatesNothing(t *testing.T) {
	dbtest.Each(t, rootParts, func(t *testing.T, d *db.DB) {
		cfg := hsmtest.New(t)
		root := hsmtest.Open(t, cfg)
		svc := newRootEnv(t, d, root)
		ctx := context.Background()
		svc.create(t, "checkpoint", keys.PurposeAuditCheckpoint, keys.ECDSAP256)
		if err := root.Close(); err != nil {
			t.Fatal(err)
		}
		for _, nk := range []keys.NewKey{
			{Name: "records", Purpose: keys.PurposeStorage, Algorithm: keys.AES256GCM},
			{Name: "signer", Purpose: keys.PurposeSigning, Algorithm: keys.Ed25519},
			{Name: "signer-ec", Purpose: keys.PurposeSigning, Algorithm: keys.ECDSAP256},
		} {
			if _, err := svc.Create(ctx, rootAdmin, nk); err == nil || !strings.Contains(err.Error(), cfg.TokenLabel) {
				t.Fatalf("create %s with the HSM gone: %v; want an error naming the token", nk.Name, err)
			}
			if _, err := svc.Get(ctx, nk.Name); !errors.Is(err, keys.ErrNotFound) {
				t.Fatalf("a failed create left key %s behind: %v", nk.Name, err)
			}
		}
		if _, err := svc.Rotate(ctx, rootAdmin, "checkpoint"); err == nil {
			t.Fatal("rotated with the HSM gone")
		}
		if k, err := svc.Get(ctx, "checkpoint"); err != nil || len(k.Versions) != 1 {
			t.Fatalf("a failed rotation left a version behind: %+v %v", k, err)
		}
		if _, err := root.Wrap([]byte("x"), nil); err == nil || !strings.Contains(err.Error(), cfg.TokenLabel) {
			t.Fatalf("wrap with the HSM gone: %v", err)
		}
	})
}
