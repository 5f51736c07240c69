package ingest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// testPKI is a CA, a server certificate for 127.0.0.1 and client
// certificates of that CA and of another, as PEM files in a directory.
type testPKI struct {
	dir                       string
	caFile, certFile, keyFile string
	roots                     *x509.CertPool
	client, stranger          tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	caCert, caKey := testCA(t, "anzen test CA")
	otherCert, otherKey := testCA(t, "another CA")
	p.roots = x509.NewCertPool()
	p.roots.AddCert(caCert)
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", caCert.Raw)
	der, key := testLeaf(t, caCert, caKey, "anzen syslog", x509.ExtKeyUsageServerAuth)
	p.certFile = p.write(t, "server.pem", "CERTIFICATE", der)
	p.keyFile = p.write(t, "server-key.pem", "PRIVATE KEY", key)
	p.client = testPair(t, caCert, caKey, "ehr01.hospital.local")
	p.stranger = testPair(t, otherCert, otherKey, "intruder")
	return p
}

func (p *testPKI) write(t *testing.T, name, typ string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func testCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func testLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, usage x509.ExtKeyUsage) ([]byte, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name, "localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der, pk
}

func testPair(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string) tls.Certificate {
	der, key := testLeaf(t, ca, caKey, name, x509.ExtKeyUsageClientAuth)
	pair, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}))
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// sendTLS sends data over TLS with cert (none when nil) and reports
// whether the server took the connection: with TLS 1.3 a refused client
// certificate shows at the first read after the handshake.
func sendTLS(t *testing.T, addr net.Addr, roots *x509.CertPool, cert *tls.Certificate, maxVersion uint16, data string) error {
	t.Helper()
	cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MaxVersion: maxVersion}
	if cert != nil {
		// Sent whatever CAs the server names, so that a certificate of
		// another CA reaches the server's check.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	c, err := tls.Dial("tcp", addr.String(), cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, data); err != nil {
		return err
	}
	// Half-close and wait for the server to close: a refusal arrives as
	// an alert.
	_ = c.CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func TestSyslog_TLS(t *testing.T) {
	pki := newTestPKI(t)
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		for _, require := range []bool{false, true} {
			l := newTestLog(d)
			cfg, err := SyslogTLS(TLSFiles{Cert: pki.certFile, Key: pki.keyFile, ClientCA: pki.caFile, RequireClientCert: require})
			if err != nil {
				t.Fatal(err)
			}
			s := startSyslog(t, l, SyslogConfig{TLS: "on", TLSConfig: cfg})
			addr := s.Addr("tls")
			accepted := int64(0)
			// A client with a certificate of the CA is always let in.
			if err := sendTLS(t, addr, pki.roots, &pki.client, 0, octets(ehrMessage(1), ehrMessage(2))); err != nil {
				t.Fatalf("require %v: a client of the CA: %v", require, err)
			}
			accepted += 2
			waitFor(t, "the CA's client", func() bool { return stats(s, "tls").Accepted == accepted })
			// Without a certificate: only when not required.
			err = sendTLS(t, addr, pki.roots, nil, 0, octets(ehrMessage(3)))
			if require && err == nil {
				t.Errorf("a client without a certificate was let in")
			}
			if !require {
				if err != nil {
					t.Fatalf("a client without a certificate: %v", err)
				}
				accepted++
			}
			// A certificate of another CA: never.
			if err := sendTLS(t, addr, pki.roots, &pki.stranger, 0, octets(ehrMessage(4))); err == nil {
				t.Errorf("require %v: a certificate of another CA was let in", require)
			}
			// TLS 1.1: never.
			if err := sendTLS(t, addr, pki.roots, &pki.client, tls.VersionTLS11, octets(ehrMessage(5))); err == nil {
				t.Errorf("require %v: TLS 1.1 was let in", require)
			}
			// TLS 1.2 with newline framing, which some senders use.
			if err := sendTLS(t, addr, pki.roots, &pki.client, tls.VersionTLS12, lines(ehrMessage(6))); err != nil {
				t.Fatalf("TLS 1.2: %v", err)
			}
			accepted++
			waitFor(t, "every good client", func() bool { return stats(s, "tls").Accepted == accepted })
			time.Sleep(20 * time.Millisecond)
			if st := stats(s, "tls"); st.Accepted != accepted || st.Received != accepted {
				t.Errorf("require %v: counters %+v, want %d accepted of %d", require, st, accepted, accepted)
			}
		}
	})
}

func TestSyslogTLS_FileErrorsNameTheFile(t *testing.T) {
	pki := newTestPKI(t)
	for _, tc := range []struct {
		files TLSFiles
		which string
	}{
		{TLSFiles{Cert: pki.certFile}, "tls_key"},
		{TLSFiles{Cert: filepath.Join(pki.dir, "none.pem"), Key: pki.keyFile}, "tls_cert"},
		{TLSFiles{Cert: pki.certFile, Key: pki.caFile}, "tls_cert"},
		{TLSFiles{Cert: pki.certFile, Key: pki.keyFile, ClientCA: pki.keyFile}, "client_ca"},
		{TLSFiles{Cert: pki.certFile, Key: pki.keyFile, RequireClientCert: true}, "client_ca"},
	} {
		_, err := SyslogTLS(tc.files)
		var fe *TLSFileError
		if !errors.As(err, &fe) || fe.Which != tc.which || !errors.Is(err, ErrTLSFile) {
			t.Errorf("%+v: %v, want an error about %s", tc.files, err, tc.which)
		}
	}
}
