package keys

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// testCA is a certification authority made in the test.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newTestCA(t testing.TB, now time.Time) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test HPKI CA", Organization: []string{"Test"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{key: key, cert: cert}
}

// hcRoleExtension builds a subjectDirectoryAttributes extension holding an
// hcRole with the given role text, as the HPKI profile writes it.
func hcRoleExtension(role string) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SubjectDirectoryAttributes
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // Attribute
			b.AddASN1ObjectIdentifier(OIDHCActor)
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { // values
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { // HCActorData
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // HCActor
						b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
							b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { // CodedData
								b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
									b.AddASN1ObjectIdentifier(OIDJHPKICodingScheme)
								})
								b.AddASN1(cbasn1.Tag(2).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
									b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(role)) })
								})
							})
						})
					})
				})
			})
		})
	})
	return b.BytesOrPanic()
}

var testPolicy = asn1.ObjectIdentifier{1, 2, 392, 100495, 1, 5, 1, 1, 1}

// issue signs a certificate for the CSR, valid for days from now.
func (ca *testCA) issue(t testing.TB, csrPEM []byte, now time.Time, days int, role string) []byte {
	t.Helper()
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("not a CSR: %q", csrPEM)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatalf("the CSR's signature does not verify: %v", err)
	}
	policy, _ := x509.OIDFromInts([]uint64{1, 2, 392, 100495, 1, 5, 1, 1, 1})
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x5eed), Subject: csr.Subject, DNSNames: csr.DNSNames,
		NotBefore: now.Add(-time.Minute), NotAfter: now.AddDate(0, 0, days), KeyUsage: x509.KeyUsageDigitalSignature,
		Policies: []x509.OID{policy}}
	if role != "" {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidSubjectDirectoryAttributes, Value: hcRoleExtension(role)}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func (ca *testCA) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

func TestCSR_EverySigningAlgorithmSignsARequestTheCAAccepts(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t, testParts...))
	ctx := context.Background()
	ca := newTestCA(t, e.clock.Now())
	subject, err := ParseSubject(`CN=anzen e-prescription signer,O=Example Hospital\, Tokyo,C=JP`)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Algorithm{Ed25519, ECDSAP256, RSAPSS3072} {
		name := "csr-" + string(a)
		e.create(t, name, PurposeSigning, a)
		csr, err := e.svc.CSR(ctx, admin, name, subject, "sign.example-hospital.jp")
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		leaf := ca.issue(t, csr, e.clock.Now(), 365, "")
		c, err := e.svc.ImportCertificate(ctx, admin, name, append(leaf, ca.pem()...))
		if err != nil {
			t.Fatalf("%s: import: %v", a, err)
		}
		if c.Subject != "CN=anzen e-prescription signer,O=Example Hospital\\, Tokyo,C=JP" || c.Version != 1 {
			t.Errorf("%s: certificate %+v", a, c)
		}
	}
	e.create(t, "not-signing", PurposeStorage, "")
	if _, err := e.svc.CSR(ctx, admin, "not-signing", subject); !errors.Is(err, ErrOperation) {
		t.Errorf("CSR for an encryption key: %v", err)
	}
	var ve *ValidationError
	if _, err := e.svc.CSR(ctx, admin, "csr-ed25519", pkix.Name{}); !errors.As(err, &ve) {
		t.Errorf("CSR without a subject: %v", err)
	}
	if _, err := e.svc.CSR(ctx, admin, "csr-ed25519", subject, "bad name!"); !errors.As(err, &ve) {
		t.Errorf("CSR with a bad DNS name: %v", err)
	}
	if n := len(auditActions(t, e, "key.csr")); n != 3 {
		t.Errorf("%d CSR records, want 3", n)
	}
}

func TestCSR_HSMKeySignsInsideTheHSM(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t, testParts...))
	e.svc.Unseal(newFakeHSM(t))
	ctx := context.Background()
	e.create(t, "hsm-signer", PurposeSigning, Ed25519)
	csr, err := e.svc.CSR(ctx, admin, "hsm-signer", pkix.Name{CommonName: "anzen"})
	if err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, e.clock.Now())
	if _, err := e.svc.ImportCertificate(ctx, admin, "hsm-signer", ca.issue(t, csr, e.clock.Now(), 30, "")); err != nil {
		t.Fatal(err)
	}
}

func TestImportCertificate_ReadsPolicyFactsAndHPKIRole(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		now := e.clock.Now()
		ca := newTestCA(t, now)
		e.create(t, "doctor-sign", PurposeSigning, ECDSAP256)
		csr, err := e.svc.CSR(ctx, admin, "doctor-sign", pkix.Name{CommonName: "Hanako Yamada", Country: []string{"JP"}})
		if err != nil {
			t.Fatal(err)
		}
		leaf := ca.issue(t, csr, now, 60, "Medical Doctor")
		c, err := e.svc.ImportCertificate(ctx, admin, "doctor-sign", append(append([]byte("subject=CN=Hanako\n"), leaf...), ca.pem()...))
		if err != nil {
			t.Fatal(err)
		}
		if c.Issuer != "CN=Test HPKI CA,O=Test" || c.Serial != "5EED" || len(c.Policies) != 1 ||
			c.Policies[0] != testPolicy.String() || !c.NotAfter.Equal(now.AddDate(0, 0, 60).Truncate(time.Second)) {
			t.Errorf("certificate facts: %+v", c)
		}
		if len(c.HPKIRoles) != 1 || c.HPKIRoles[0].Text != "Medical Doctor" ||
			c.HPKIRoles[0].Scheme != "1.2.392.100495.1.6.1.1" || c.HPKIExtension == "" {
			t.Errorf("HPKI role: %+v (raw %q)", c.HPKIRoles, c.HPKIExtension)
		}
		if strings.Count(c.ChainPEM, "BEGIN CERTIFICATE") != 2 {
			t.Errorf("chain stored: %q", c.ChainPEM)
		}
		list, err := e.svc.Certificates(ctx, "doctor-sign")
		if err != nil || len(list) != 1 || list[0].HPKIRoles[0].Text != "Medical Doctor" || list[0].Fingerprint != c.Fingerprint {
			t.Fatalf("certificates: %+v %v", list, err)
		}
		rec := auditActions(t, e, "key.certificate.import")
		if len(rec) != 1 || rec[0].Detail["hpki_roles"] != "Medical Doctor" || rec[0].Detail["serial"] != "5EED" {
			t.Errorf("import record: %+v", rec)
		}

		// Bad input: each refused, nothing more stored.
		e.create(t, "other-sign", PurposeSigning, ECDSAP256)
		otherCSR, _ := e.svc.CSR(ctx, admin, "other-sign", pkix.Name{CommonName: "other"})
		otherLeaf := ca.issue(t, otherCSR, now, 60, "")
		stranger := newTestCA(t, now)
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("secret")})
		refusals := []struct {
			name  string
			input []byte
			want  string
		}{
			{"a certificate of another key", otherLeaf, "keys.cert.key_mismatch"},
			{"an issuer that did not sign it", append(bytes.Clone(leaf), stranger.pem()...), "keys.cert.chain_order"},
			{"the same certificate again", leaf, "keys.cert.duplicate"},
			{"no PEM at all", []byte("hello"), "keys.cert.none"},
			{"a private key", append(bytes.Clone(leaf), keyPEM...), "keys.cert.not_certificate"},
			{"a broken certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x01}}), "keys.cert.unreadable"},
			{"too large", bytes.Repeat([]byte("x"), MaxChainPEM+1), "keys.cert.too_large"},
			{"too many", bytes.Repeat(ca.pem(), MaxChainCerts+1), "keys.cert.too_many"},
		}
		for _, tt := range refusals {
			var ve *ValidationError
			if _, err := e.svc.ImportCertificate(ctx, admin, "doctor-sign", tt.input); !errors.As(err, &ve) || ve.Fields["certificate"] != tt.want {
				t.Errorf("%s: %v, want %s", tt.name, err, tt.want)
			}
		}
		e.create(t, "storage", PurposeStorage, "")
		if _, err := e.svc.ImportCertificate(ctx, admin, "storage", leaf); !errors.Is(err, ErrOperation) {
			t.Errorf("certificate for an encryption key: %v", err)
		}
		if list, _ := e.svc.Certificates(ctx, "doctor-sign"); len(list) != 1 {
			t.Errorf("%d certificates after the refusals", len(list))
		}
	})
}

func TestExpiringCertificates_WarnAt90_30And7DaysOnceEach(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		start := e.clock.Now()
		ca := newTestCA(t, start)
		e.create(t, "tls-sign", PurposeSigning, ECDSAP256)
		csr, _ := e.svc.CSR(ctx, admin, "tls-sign", pkix.Name{CommonName: "anzen"})
		if _, err := e.svc.ImportCertificate(ctx, admin, "tls-sign", ca.issue(t, csr, start, 100, "")); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			after     time.Duration
			threshold int // -1: none
			warnings  int
		}{
			{0, -1, 0},
			{20 * 24 * time.Hour, 90, 1}, // 80 days left
			{21 * 24 * time.Hour, 90, 0}, // warned already
			{75 * 24 * time.Hour, 30, 1}, // 25 days left
			{94 * 24 * time.Hour, 7, 1},  // 6 days left
			{101 * 24 * time.Hour, 0, 1}, // expired
			{102 * 24 * time.Hour, 0, 0},
		}
		for _, st := range steps {
			now := start.Add(st.after)
			e.clock.Set(now)
			list, err := e.svc.ExpiringCertificates(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case st.threshold < 0 && len(list) != 0:
				t.Errorf("after %v: %+v, want none", st.after, list)
			case st.threshold >= 0 && (len(list) != 1 || list[0].Threshold != st.threshold):
				t.Errorf("after %v: %+v, want threshold %d", st.after, list, st.threshold)
			}
			n, err := e.svc.RecordExpiryWarnings(ctx)
			if err != nil || n != st.warnings {
				t.Errorf("after %v: %d warnings (%v), want %d", st.after, n, err, st.warnings)
			}
		}
		if n := len(auditActions(t, e, "key.certificate.expiring")); n != 4 {
			t.Errorf("%d expiry records, want 4", n)
		}
		// A renewed certificate silences the warning for the key.
		csr2, _ := e.svc.CSR(ctx, admin, "tls-sign", pkix.Name{CommonName: "anzen renewed"})
		if _, err := e.svc.ImportCertificate(ctx, admin, "tls-sign", ca.issue(t, csr2, e.clock.Now(), 365, "")); err != nil {
			t.Fatal(err)
		}
		if list, _ := e.svc.ExpiringCertificates(ctx, e.clock.Now()); len(list) != 0 {
			t.Errorf("after renewal: %+v", list)
		}
	})
}

func TestParseSubject(t *testing.T) {
	tests := []struct {
		in   string
		want string // pkix.Name.String(), or "" for an error
	}{
		{"CN=anzen,O=Example Hospital,C=JP", "CN=anzen,O=Example Hospital,C=JP"},
		{" cn = anzen , ou = IT , ou = Security ", "CN=anzen,OU=IT+OU=Security"},
		{`CN=a\,b`, `CN=a\,b`},
		{"CN=x,SERIALNUMBER=123,L=Chiyoda,ST=Tokyo,STREET=1-1,POSTALCODE=100-0001", "SERIALNUMBER=123,CN=x,POSTALCODE=100-0001,STREET=1-1,L=Chiyoda,ST=Tokyo"},
		{"CN=", ""},
		{"E=mail@example.jp", ""},
		{"anzen", ""},
		{"C=JPN", ""},
	}
	for _, tt := range tests {
		n, err := ParseSubject(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("%q: accepted as %s", tt.in, n)
		case tt.want != "" && (err != nil || n.String() != tt.want):
			t.Errorf("%q: %s %v, want %s", tt.in, n, err, tt.want)
		}
	}
}

func TestParseHCRoles_RefusesMalformedAndKeepsOtherAttributes(t *testing.T) {
	good := hcRoleExtension("Pharmacist")
	roles, found, err := parseHCRoles(good)
	if err != nil || !found || len(roles) != 1 || roles[0].Text != "Pharmacist" {
		t.Fatalf("good: %+v %v %v", roles, found, err)
	}
	var other cryptobyte.Builder
	other.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{2, 5, 4, 72})
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddASN1(cbasn1.UTF8String, func(*cryptobyte.Builder) {}) })
		})
	})
	if roles, found, err := parseHCRoles(other.BytesOrPanic()); err != nil || found || len(roles) != 0 {
		t.Errorf("other attribute: %+v %v %v", roles, found, err)
	}
	for i := 1; i < len(good); i++ {
		if _, _, err := parseHCRoles(good[:i]); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
}
