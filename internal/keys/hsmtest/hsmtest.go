//go:build cgo

package hsmtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// New makes a SoftHSM token in a temporary directory of the test and
// returns how to reach it. Without softhsm2-util or the module the test is
// skipped, or fails under ANZEN_TEST_STRICT=1.
func New(t testing.TB) keys.PKCS11Config {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		dbtest.Missing(t, "SoftHSM (softhsm2-util; Debian package softhsm2)")
	}
	if _, err := os.Stat(Module); err != nil {
		dbtest.Missing(t, "SoftHSM ("+Module+"; Debian package softhsm2)")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	if err := moduleIdle(); err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	label := "anzen-test-" + hex.EncodeToString(b[:])
	cmd := exec.Command(util, "--init-token", "--free", "--label", label, "--so-pin", SOPIN, "--pin", UserPIN)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return keys.PKCS11Config{Module: Module, TokenLabel: label, PIN: UserPIN}
}

// moduleIdle checks that no root of this process holds the module
// initialised, since SoftHSM would then not see the new token.
func moduleIdle() error {
	p := pkcs11.New(Module)
	if p == nil {
		return errors.New("hsmtest: cannot load " + Module)
	}
	defer p.Destroy()
	err := p.Initialize()
	if errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return errors.New("hsmtest: a PKCS#11 root of this process is still open, so SoftHSM would not see a new " +
			"token: make every token before opening a root, and close roots when the test ends (t.Cleanup)")
	}
	if err != nil {
		return errors.New("hsmtest: initialise SoftHSM: " + err.Error())
	}
	return p.Finalize()
}

// Open opens the PKCS#11 root of a token and closes it when the test ends.
func Open(t testing.TB, cfg keys.PKCS11Config) *keys.PKCS11Root {
	t.Helper()
	r, err := keys.OpenPKCS11Root(cfg)
	if err != nil {
		t.Fatalf("open PKCS#11 root: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// Attributes reads attributes of the private key object with the given id
// (hex) straight through PKCS#11, bypassing anzen; a root of the token must
// be open (its login is the process's). An attribute the token refuses to
// reveal comes back as the error of its own read.
func Attributes(t testing.TB, cfg keys.PKCS11Config, id string, types ...uint) (map[uint][]byte, map[uint]error) {
	t.Helper()
	raw, err := hex.DecodeString(id)
	if err != nil {
		t.Fatalf("HSM object id %q: %v", id, err)
	}
	p := pkcs11.New(cfg.Module)
	if p == nil {
		t.Fatalf("cannot load %s", cfg.Module)
	}
	defer p.Destroy()
	switch err := p.Initialize(); {
	case err == nil:
		// No root has the module open, so the token's login is gone too.
		p.Finalize()
		t.Fatalf("hsmtest.Attributes: no PKCS#11 root of token %q is open", cfg.TokenLabel)
	case !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)):
		t.Fatal(err)
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	var sh pkcs11.SessionHandle
	opened := false
	for _, s := range slots {
		if ti, err := p.GetTokenInfo(s); err == nil && ti.Label == cfg.TokenLabel {
			if sh, err = p.OpenSession(s, pkcs11.CKF_SERIAL_SESSION); err != nil {
				t.Fatal(err)
			}
			opened = true
			break
		}
	}
	if !opened {
		t.Fatalf("no token %q", cfg.TokenLabel)
	}
	defer p.CloseSession(sh)
	if err := p.Login(sh, pkcs11.CKU_USER, cfg.PIN); err != nil &&
		!errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
		t.Fatal(err)
	}
	if err := p.FindObjectsInit(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, raw),
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)}); err != nil {
		t.Fatal(err)
	}
	hs, _, err := p.FindObjects(sh, 2)
	_ = p.FindObjectsFinal(sh)
	if err != nil || len(hs) != 1 {
		t.Fatalf("private key object %s: %d found, %v", id, len(hs), err)
	}
	values, errs := map[uint][]byte{}, map[uint]error{}
	for _, ty := range types {
		got, err := p.GetAttributeValue(sh, hs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(ty, nil)})
		if err != nil {
			errs[ty] = err
			continue
		}
		values[ty] = got[0].Value
	}
	return values, errs
}
