package ingest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSFiles are the files of a syslog TLS listener (RFC 5425).
type TLSFiles struct {
	Cert, Key string // the server's certificate (chain) and private key, PEM
	// ClientCA is a PEM file of the CAs whose client certificates are
	// accepted; empty accepts none (and asks for none).
	ClientCA string
	// RequireClientCert refuses a client without a certificate of
	// ClientCA (mutual TLS, as IHE ATNA asks).
	RequireClientCert bool
}

// ErrTLSFile is returned (wrapped) for a file of TLSFiles that cannot be
// used; the message names the file.
var ErrTLSFile = errors.New("TLS file")

// TLSFileError says which file of TLSFiles is wrong.
type TLSFileError struct {
	Which string // tls_cert, tls_key or client_ca, as the settings ingest.syslog.* name them
	Err   error
}

// Error returns what is wrong with the file.
func (e *TLSFileError) Error() string { return e.Err.Error() }

// Unwrap returns ErrTLSFile.
func (e *TLSFileError) Unwrap() error { return ErrTLSFile }

// SyslogTLS returns the TLS configuration of a syslog listener: TLS 1.2 or
// newer (RFC 5425 requires 1.2 at least; 1.0 and 1.1 are broken), the
// server certificate of f, and client certificates verified against f's
// CAs when given, or required.
func SyslogTLS(f TLSFiles) (*tls.Config, error) {
	if f.Cert == "" || f.Key == "" {
		which := "tls_cert"
		if f.Cert != "" {
			which = "tls_key"
		}
		return nil, &TLSFileError{which, errors.New("a TLS listener needs a certificate and its key")}
	}
	if _, err := os.Stat(f.Cert); err != nil {
		return nil, &TLSFileError{"tls_cert", err}
	}
	if _, err := os.Stat(f.Key); err != nil {
		return nil, &TLSFileError{"tls_key", err}
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, &TLSFileError{"tls_cert", fmt.Errorf("%s and %s: %w", f.Cert, f.Key, err)}
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	switch {
	case f.ClientCA != "":
		pem, err := os.ReadFile(f.ClientCA)
		if err != nil {
			return nil, &TLSFileError{"client_ca", err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &TLSFileError{"client_ca", fmt.Errorf("%s holds no PEM certificate", f.ClientCA)}
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.VerifyClientCertIfGiven
		if f.RequireClientCert {
			c.ClientAuth = tls.RequireAndVerifyClientCert
		}
	case f.RequireClientCert:
		return nil, &TLSFileError{"client_ca", errors.New("client certificates are required, but no CA to verify them is given")}
	}
	return c, nil
}
