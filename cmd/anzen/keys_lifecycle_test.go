package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// signIn is what a person types when a destroy command asks: the password,
// then the TOTP code of the time at.
func signIn(t *testing.T, u *apptest.User, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(u.TOTPSecret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix,
		Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return u.Password + "\n" + code + "\n"
}

// wrongCode returns a TOTP code that is valid at no time near now.
func wrongCode(t *testing.T, u *apptest.User) string {
	t.Helper()
	valid := map[string]bool{}
	for _, off := range []time.Duration{-90, -60, -30, 0, 30, 60, 90} {
		valid[strings.TrimSuffix(strings.SplitN(signIn(t, u, time.Now().Add(off*time.Second)), "\n", 3)[1], "\n")] = true
	}
	for _, c := range []string{"000000", "111111", "222222"} {
		if !valid[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

func TestKeysCLI_DestroyTakesTwoPeopleSignedIn(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			all := authz.Grant{Role: authz.Admin, Facility: authz.AllFacilities}
			asker := e.CreateUser(t, "keys-asker", true, all)
			approver := e.CreateUser(t, "keys-approver", true, all)
			nurse := e.CreateUser(t, "keys-nurse", true)
			c := cliBeside(t, e)
			c.mustRun("keys", "create", "ehr", "--purpose", "storage")
			ct := ciphertextLine(t, c.mustPipe("処方内容", "keys", "encrypt", "ehr"))
			c.mustRun("keys", "rotate", "ehr")
			// The command line uses the real clock; each person's codes are
			// of now, then of the next step (both within the allowed skew).
			now := time.Now()

			c.refuses("--login: required", "", "keys", "destroy", "ehr", "--version", "1", "--reason", "x")
			c.refuses("--version: required", "", "keys", "destroy", "ehr", "--reason", "x", "--login", "keys-asker")
			c.refuses("give exactly one of", "", "keys", "destroy", "--approve", "1", "--reject", "1", "--login", "x")
			c.refuses("sign-in as \"keys-asker\" refused", "wrong password\n000000\n", "keys", "destroy", "ehr",
				"--version", "1", "--reason", "x", "--login", "keys-asker")
			c.refuses("sign-in as \"keys-nurse\" refused", nurse.Password+"\n"+wrongCode(t, nurse)+"\n", "keys", "destroy", "--approve", "1",
				"--login", "keys-nurse")
			c.refuses("encrypts and signs now", signIn(t, approver, now), "keys", "destroy", "ehr", "--version", "2",
				"--reason", "x", "--login", "keys-approver")

			r := c.mustPipe(signIn(t, asker, now), "keys", "destroy", "ehr", "--version", "1",
				"--reason", "保存期間満了", "--login", "keys-asker")
			if !strings.HasPrefix(r.out, "destroy request ") || !strings.Contains(r.out, "key ehr version 1, pending until") {
				t.Fatalf("request: %q", r.out)
			}
			id := strings.Fields(r.out)[2]
			id = strings.TrimSuffix(id, ":")

			c.refuses("may not do this", signIn(t, nurse, now), "keys", "destroy", "--approve", id, "--login", "keys-nurse")
			c.refuses("cannot approve too", signIn(t, asker, now.Add(30*time.Second)), "keys", "destroy", "--approve", id,
				"--login", "keys-asker")
			c.mustPipe(ct, "keys", "decrypt") // refusals destroyed nothing

			r = c.mustPipe(signIn(t, approver, now.Add(30*time.Second)), "keys", "destroy", "--approve", id,
				"--login", "keys-approver")
			if r.out != "key ehr version 1 destroyed (request "+id+" by keys-asker, approved by keys-approver)\n" {
				t.Fatalf("approval: %q", r.out)
			}
			c.refuses("version", ct, "keys", "decrypt")

			r = c.mustRun("keys", "destroy", "--list", "--json")
			var list []keys.DestroyRequest
			if err := json.Unmarshal([]byte(r.out), &list); err != nil || len(list) != 1 || list[0].State != keys.RequestApproved {
				t.Fatalf("list: %q %v", r.out, err)
			}
			a := c.open()
			rec, _ := a.Keys.DestroyRequests(context.Background(), keys.RequestApproved)
			if len(rec) != 1 || rec[0].RequestedBy != "keys-asker" || rec[0].DecidedBy != "keys-approver" {
				t.Fatalf("stored request: %+v", rec)
			}
			failures, _, _ := a.Audit.Search(context.Background(), audit.Filter{Action: "login.failure", AllFacilities: true})
			reasons := map[string]string{}
			for _, f := range failures {
				reasons[f.ActorLogin] = f.Detail["reason"]
			}
			if reasons["keys-nurse"] != "wrong_totp" || reasons["keys-asker"] != "wrong_password" {
				t.Errorf("sign-in failures recorded: %v", reasons)
			}
		})
	}
}

// issueFor plays the certification authority: it signs a certificate for
// the CSR and returns the leaf and the CA certificate in PEM.
func issueFor(t *testing.T, csrPEM string) string {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil {
		t.Fatalf("not PEM: %q", csrPEM)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("CSR: %v", err)
	}
	policy, _ := x509.OIDFromInts([]uint64{1, 2, 392, 100495, 1, 5, 1, 1, 1})
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(77), Subject: csr.Subject,
		NotBefore: now.Add(-time.Minute), NotAfter: now.AddDate(0, 0, 20), Policies: []x509.OID{policy}},
		ca, csr.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
}

func TestKeysCLI_CSRThenImportCertAndList(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			c := newCLI(t, d)
			c.mustRun("keys", "create", "rx-sign", "--purpose", "signing", "--algorithm", "ecdsa-p256")
			c.refuses("--subject: required", "", "keys", "csr", "rx-sign")
			c.refuses("--subject", "", "keys", "csr", "rx-sign", "--subject", "E=x@example.jp")
			r := c.mustRun("keys", "csr", "rx-sign", "--subject", "CN=rx.example-hospital.jp,O=Example Hospital,C=JP",
				"--dns", "rx.example-hospital.jp")
			if !strings.HasPrefix(r.out, "-----BEGIN CERTIFICATE REQUEST-----") {
				t.Fatalf("csr: %q", r.out)
			}
			chain := issueFor(t, r.out)
			c.refuses("standard input", "no certificate here", "keys", "import-cert", "rx-sign")
			r = c.mustPipe(chain, "keys", "import-cert", "rx-sign")
			for _, want := range []string{"rx-sign (version 1)", "CN=Test CA", "1.2.392.100495.1.5.1.1.1", "serial"} {
				if !strings.Contains(r.out, want) {
					t.Errorf("import-cert printed %q, want %q in it", r.out, want)
				}
			}
			c.refuses("imported already", chain, "keys", "import-cert", "rx-sign")
			r = c.mustRun("keys", "certs", "rx-sign", "--json")
			var list []keys.Certificate
			if err := json.Unmarshal([]byte(r.out), &list); err != nil || len(list) != 1 || list[0].Serial != "4D" {
				t.Fatalf("certs: %q %v", r.out, err)
			}
			c.refuses("no key named", "", "keys", "certs", "nope")
		})
	}
}

func TestKeysCLI_BackupRestoresIntoANewInstallation(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			old := newCLI(t, d)
			old.mustRun("keys", "create", "ehr", "--purpose", "storage")
			ct := ciphertextLine(t, old.mustPipe("検査結果：陰性", "keys", "encrypt", "ehr", "--context", "patient=P-1"))

			dir := t.TempDir()
			private := filepath.Join(dir, "recovery.key")
			old.refuses("--out: required", "", "keys", "recovery-key")
			r := old.mustRun("keys", "recovery-key", "--out", private)
			if !strings.HasPrefix(r.out, keys.RecoveryPublicPrefix) {
				t.Fatalf("public half: %q", r.out)
			}
			if fi, err := os.Stat(private); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("private half: %v %v", fi, err)
			}
			old.refuses("file exists", "", "keys", "recovery-key", "--out", private)
			public := filepath.Join(dir, "recovery.pub")
			if err := os.WriteFile(public, []byte(r.out), 0o644); err != nil {
				t.Fatal(err)
			}
			old.refuses("private half", "", "keys", "export-backup", "--recipient", private)
			backup := old.mustRun("keys", "export-backup", "--recipient", public).out
			if strings.Contains(backup, "ehr") {
				t.Fatal("the backup is not encrypted")
			}

			// A new installation: its own database, root and passphrase.
			fresh := newCLI(t, d)
			wrong := filepath.Join(dir, "wrong.key")
			fresh.mustRun("keys", "recovery-key", "--out", wrong)
			fresh.refuses("recovery key does not open this backup", backup, "keys", "import-backup", "--identity", wrong)
			fresh.refuses("--identity: required", backup, "keys", "import-backup")
			r = fresh.mustPipe(backup, "keys", "import-backup", "--identity", private)
			if !strings.Contains(r.out, "restored ehr\n") {
				t.Fatalf("import: %q", r.out)
			}
			if r := fresh.mustPipe(ct, "keys", "decrypt", "--context", "patient=P-1"); r.out != "検査結果：陰性" {
				t.Fatalf("decrypt in the new installation: %q", r.out)
			}
			fresh.refuses("has already", backup, "keys", "import-backup", "--identity", private)
		})
	}
}
