package keys

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Certificates of signing keys: anzen makes a certificate signing request
// with the key's active version (through its crypto.Signer, so a key held
// by the HSM signs it there and never leaves), the CA issues the
// certificate under its policy, and ImportCertificate stores it with its
// chain and the facts of the CA's policy (issuer, policy OIDs, HPKI role,
// validity). Certificates near their end are reported at 90, 30 and 7 days.

// Limits of an imported chain.
const (
	MaxChainPEM   = 256 << 10
	MaxChainCerts = 10
)

// ExpiryThresholds are the days before a certificate's end at which anzen
// warns, from the first warning to the last.
var ExpiryThresholds = []int{90, 30, 7}

// Certificate is a certificate issued for a version of a signing key.
type Certificate struct {
	ID          int64      `json:"id"`
	Key         string     `json:"key"`
	Version     int        `json:"version"`
	Fingerprint string     `json:"fingerprint_sha256"`
	Serial      string     `json:"serial"`
	Issuer      string     `json:"issuer"`
	Subject     string     `json:"subject"`
	NotBefore   time.Time  `json:"not_before"`
	NotAfter    time.Time  `json:"not_after"`
	Policies    []string   `json:"policies"`
	HPKIRoles   []HPKIRole `json:"hpki_roles"`
	// HPKIExtension is the raw subjectDirectoryAttributes extension (base64
	// DER) when the certificate has an hcRole attribute.
	HPKIExtension string    `json:"hpki_extension,omitempty"`
	ChainPEM      string    `json:"chain_pem"`
	ImportedBy    string    `json:"imported_by"`
	ImportedAt    time.Time `json:"imported_at"`

	warnedLevel int
}

func signatureAlgorithm(a Algorithm) x509.SignatureAlgorithm {
	switch a {
	case Ed25519:
		return x509.PureEd25519
	case ECDSAP256:
		return x509.ECDSAWithSHA256
	case RSAPSS3072:
		return x509.SHA256WithRSAPSS
	}
	return x509.UnknownSignatureAlgorithm
}

var dnsNamePattern = regexp.MustCompile(`^(\*\.)?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// CSR returns a PEM certificate signing request for subject (and DNS
// names, for a TLS certificate) signed by the active version of signing
// key name.
func (s *Service) CSR(ctx context.Context, by Actor, name string, subject pkix.Name, dnsNames ...string) ([]byte, error) {
	f := map[string]string{}
	if subject.CommonName == "" && len(subject.Organization) == 0 {
		f["subject"] = "keys.cert.subject"
	}
	for _, n := range dnsNames {
		if len(n) > 253 || !dnsNamePattern.MatchString(n) {
			f["dns_names"] = "keys.cert.dns_name"
		}
	}
	if len(f) > 0 {
		return nil, &ValidationError{Fields: f}
	}
	ck, err := s.keyByName(ctx, name)
	if err != nil {
		return nil, err
	}
	k := ck.key
	if !k.Algorithm.Signing() {
		return nil, ErrOperation
	}
	v, err := activeVersion(k)
	if err != nil {
		return nil, err
	}
	m, err := s.versionMaterial(ctx, k, v)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject,
		DNSNames: dnsNames, SignatureAlgorithm: signatureAlgorithm(k.Algorithm)}, m.signer)
	if err != nil {
		return nil, fmt.Errorf("sign the certificate request: %w", err)
	}
	if err := s.audit.Record(ctx, s.db, by.event("key.csr", "key:"+k.Name, map[string]string{
		"version": strconv.Itoa(v), "subject": subject.String(), "dns_names": strings.Join(dnsNames, ",")})); err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// subjectAttributes maps the attribute names ParseSubject takes to where
// they go in a pkix.Name.
var subjectAttributes = map[string]func(n *pkix.Name, v string){
	"CN":           func(n *pkix.Name, v string) { n.CommonName = v },
	"O":            func(n *pkix.Name, v string) { n.Organization = append(n.Organization, v) },
	"OU":           func(n *pkix.Name, v string) { n.OrganizationalUnit = append(n.OrganizationalUnit, v) },
	"C":            func(n *pkix.Name, v string) { n.Country = append(n.Country, v) },
	"ST":           func(n *pkix.Name, v string) { n.Province = append(n.Province, v) },
	"L":            func(n *pkix.Name, v string) { n.Locality = append(n.Locality, v) },
	"STREET":       func(n *pkix.Name, v string) { n.StreetAddress = append(n.StreetAddress, v) },
	"POSTALCODE":   func(n *pkix.Name, v string) { n.PostalCode = append(n.PostalCode, v) },
	"SERIALNUMBER": func(n *pkix.Name, v string) { n.SerialNumber = v },
}

// ParseSubject reads a distinguished name written as "CN=...,O=...,C=JP"
// (attributes CN, O, OU, C, ST, L, STREET, POSTALCODE, SERIALNUMBER; a
// comma or backslash inside a value is escaped with a backslash).
func ParseSubject(s string) (pkix.Name, error) {
	var n pkix.Name
	if !utf8.ValidString(s) || len(s) > 1024 {
		return n, fmt.Errorf("the subject is not UTF-8 or longer than 1024 bytes")
	}
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == ',':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())
	for _, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		k, v = strings.ToUpper(strings.TrimSpace(k)), strings.TrimSpace(v)
		set, known := subjectAttributes[k]
		if !ok || !known || v == "" {
			return n, fmt.Errorf("%q is not ATTRIBUTE=value with one of CN, O, OU, C, ST, L, STREET, POSTALCODE, SERIALNUMBER", clip(p))
		}
		if k == "C" && len(v) != 2 {
			return n, fmt.Errorf("the country C=%s is not a two-letter code such as JP", clip(v))
		}
		set(&n, v)
	}
	return n, nil
}

// parseChain reads the PEM certificates of b, leaf first. Text around the
// blocks (as openssl writes it) is ignored; a block of another type is
// refused, so that a private key pasted by mistake is not stored.
func parseChain(b []byte) ([]*x509.Certificate, error) {
	bad := func(msg string) error { return &ValidationError{Fields: map[string]string{"certificate": msg}} }
	if len(b) > MaxChainPEM {
		return nil, bad("keys.cert.too_large")
	}
	var chain []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, bad("keys.cert.not_certificate")
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, bad("keys.cert.unreadable")
		}
		chain = append(chain, c)
		if len(chain) > MaxChainCerts {
			return nil, bad("keys.cert.too_many")
		}
	}
	if len(chain) == 0 {
		return nil, bad("keys.cert.none")
	}
	for i := 0; i+1 < len(chain); i++ {
		if chain[i].CheckSignatureFrom(chain[i+1]) != nil {
			return nil, bad("keys.cert.chain_order")
		}
	}
	return chain, nil
}

// ImportCertificate stores a certificate issued for signing key name, with
// its chain (PEM, leaf first, then each issuer). The leaf's public key must
// be that of one of the key's versions; each certificate must be signed by
// the next. Issuer, subject, serial, validity, certificate policies and the
// HPKI role (hcRole) are read from the leaf.
func (s *Service) ImportCertificate(ctx context.Context, by Actor, name string, pemChain []byte) (*Certificate, error) {
	chain, err := parseChain(pemChain)
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	k, err := s.load(ctx, "name = ?", name)
	if err != nil {
		return nil, err
	}
	if !k.Algorithm.Signing() {
		return nil, ErrOperation
	}
	pub, err := x509.MarshalPKIXPublicKey(leaf.PublicKey)
	if err != nil {
		return nil, &ValidationError{Fields: map[string]string{"certificate": "keys.cert.key_mismatch"}}
	}
	version := 0
	for _, v := range k.Versions {
		if v.State != Destroyed && bytes.Equal(v.PublicKey, pub) {
			version = v.Version
		}
	}
	if version == 0 {
		return nil, &ValidationError{Fields: map[string]string{"certificate": "keys.cert.key_mismatch"}}
	}
	c := &Certificate{Key: k.Name, Version: version, Serial: strings.ToUpper(leaf.SerialNumber.Text(16)),
		Issuer: leaf.Issuer.String(), Subject: leaf.Subject.String(), NotBefore: leaf.NotBefore.UTC(),
		NotAfter: leaf.NotAfter.UTC(), Policies: []string{}, HPKIRoles: []HPKIRole{}, ImportedBy: by.Login,
		ImportedAt: s.clock.Now()}
	sum := sha256.Sum256(leaf.Raw)
	c.Fingerprint = hex.EncodeToString(sum[:])
	for _, p := range leaf.Policies {
		c.Policies = append(c.Policies, p.String())
	}
	for _, ext := range leaf.Extensions {
		if !ext.Id.Equal(oidSubjectDirectoryAttributes) {
			continue
		}
		roles, found, err := parseHCRoles(ext.Value)
		if found || err != nil {
			// Kept as it is whenever it holds an hcRole or could not be
			// read, so that nothing of the CA's statement is lost.
			c.HPKIExtension = base64.StdEncoding.EncodeToString(ext.Value)
		}
		if err == nil {
			c.HPKIRoles = append(c.HPKIRoles, roles...)
		}
	}
	var buf bytes.Buffer
	for _, cert := range chain {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	}
	c.ChainPEM = buf.String()
	roles, _ := json.Marshal(c.HPKIRoles)
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO keys_certificates (key_id, version, fingerprint, serial, issuer,
			subject, not_before, not_after, policies, hpki_roles, hpki_raw, chain_pem, imported_by, imported_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, k.ID, version, c.Fingerprint, c.Serial,
			c.Issuer, c.Subject, db.Millis(c.NotBefore), db.Millis(c.NotAfter), strings.Join(c.Policies, ","),
			string(roles), c.HPKIExtension, c.ChainPEM, c.ImportedBy, db.Millis(c.ImportedAt)).Scan(&c.ID)
		if db.IsUniqueViolation(err) {
			return &ValidationError{Fields: map[string]string{"certificate": "keys.cert.duplicate"}}
		}
		if err != nil {
			return fmt.Errorf("store certificate: %w", err)
		}
		texts := make([]string, len(c.HPKIRoles))
		for i, r := range c.HPKIRoles {
			texts[i] = r.Text
		}
		return s.audit.Record(ctx, tx, by.event("key.certificate.import", "key:"+k.Name, map[string]string{
			"version": strconv.Itoa(version), "serial": c.Serial, "issuer": c.Issuer, "subject": c.Subject,
			"not_after": c.NotAfter.Format(time.RFC3339), "policies": strings.Join(c.Policies, ","),
			"hpki_roles": strings.Join(texts, ","), "chain_length": strconv.Itoa(len(chain))}))
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

const certColumns = `c.id, k.name, c.version, c.fingerprint, c.serial, c.issuer, c.subject, c.not_before, c.not_after,
	c.policies, c.hpki_roles, c.hpki_raw, c.chain_pem, c.imported_by, c.imported_at, c.warned_level`

func (s *Service) queryCertificates(ctx context.Context, where string, args ...any) ([]*Certificate, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+certColumns+` FROM keys_certificates c
		JOIN keys_keys k ON k.id = c.key_id `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read certificates: %w", err)
	}
	defer rows.Close()
	out := []*Certificate{}
	for rows.Next() {
		var c Certificate
		var nb, na, at int64
		var policies, roles string
		if err := rows.Scan(&c.ID, &c.Key, &c.Version, &c.Fingerprint, &c.Serial, &c.Issuer, &c.Subject, &nb, &na,
			&policies, &roles, &c.HPKIExtension, &c.ChainPEM, &c.ImportedBy, &at, &c.warnedLevel); err != nil {
			return nil, err
		}
		c.NotBefore, c.NotAfter, c.ImportedAt = db.Time(nb), db.Time(na), db.Time(at)
		c.Policies = []string{}
		if policies != "" {
			c.Policies = strings.Split(policies, ",")
		}
		if err := json.Unmarshal([]byte(roles), &c.HPKIRoles); err != nil || c.HPKIRoles == nil {
			c.HPKIRoles = []HPKIRole{}
		}
		out = append(out, &c)
	}
	return out, rows.Err()
}

// Certificates lists the certificates of key name, the latest-ending first.
func (s *Service) Certificates(ctx context.Context, name string) ([]*Certificate, error) {
	if _, err := s.keyByName(ctx, name); err != nil {
		return nil, err
	}
	return s.queryCertificates(ctx, `WHERE k.name = ? ORDER BY c.not_after DESC, c.id DESC`, name)
}

// ExpiringCertificate is a certificate near or past its end.
type ExpiringCertificate struct {
	*Certificate
	// Threshold is the warning crossed: 90, 30 or 7 days, or 0 when the
	// certificate has expired.
	Threshold int `json:"threshold_days"`
	DaysLeft  int `json:"days_left"`
}

// threshold returns the warning crossed at now by a certificate ending at
// notAfter, and its level (1 for the first warning ... len+1 for expired);
// level 0 when none is crossed yet.
func threshold(notAfter, now time.Time) (days, level int) {
	left := notAfter.Sub(now)
	if left <= 0 {
		return 0, len(ExpiryThresholds) + 1
	}
	for i := len(ExpiryThresholds) - 1; i >= 0; i-- {
		if left <= time.Duration(ExpiryThresholds[i])*24*time.Hour {
			return ExpiryThresholds[i], i + 1
		}
	}
	return 0, 0
}

// ExpiringCertificates returns, for each signing key, its active version's
// latest-ending certificate when that ends within the first threshold (90
// days) of now or has ended, soonest first. A key whose newer certificate
// has been imported is not reported for the older one.
func (s *Service) ExpiringCertificates(ctx context.Context, now time.Time) ([]ExpiringCertificate, error) {
	all, err := s.queryCertificates(ctx, `JOIN keys_versions v ON v.key_id = c.key_id AND v.version = c.version
		WHERE v.state = ? ORDER BY k.name, c.not_after DESC, c.id DESC`, string(Active))
	if err != nil {
		return nil, err
	}
	var out []ExpiringCertificate
	seen := map[string]bool{}
	for _, c := range all {
		if seen[c.Key] {
			continue
		}
		seen[c.Key] = true
		days, level := threshold(c.NotAfter, now)
		if level == 0 {
			continue
		}
		left := int(c.NotAfter.Sub(now).Hours() / 24)
		out = append(out, ExpiringCertificate{Certificate: c, Threshold: days, DaysLeft: left})
	}
	slices.SortStableFunc(out, func(a, b ExpiringCertificate) int { return a.NotAfter.Compare(b.NotAfter) })
	return out, nil
}

// RecordExpiryWarnings writes an audit record "key.certificate.expiring"
// the first time each certificate crosses a threshold (90, 30, 7 days,
// expired), for notification to pick up; a background job calls it. It
// returns how many warnings it wrote.
func (s *Service) RecordExpiryWarnings(ctx context.Context) (int, error) {
	now := s.clock.Now()
	list, err := s.ExpiringCertificates(ctx, now)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range list {
		_, level := threshold(c.NotAfter, now)
		if level <= c.warnedLevel {
			continue
		}
		wrote := false
		err := s.db.InTx(ctx, func(tx *db.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE keys_certificates SET warned_level = ? WHERE id = ? AND warned_level < ?`,
				level, c.ID, level)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k == 0 {
				return nil // another instance warned first
			}
			wrote = true
			return s.audit.Record(ctx, tx, Actor{Login: "system"}.event("key.certificate.expiring", "key:"+c.Key,
				map[string]string{"version": strconv.Itoa(c.Version), "serial": c.Serial, "issuer": c.Issuer,
					"not_after": c.NotAfter.Format(time.RFC3339), "threshold_days": strconv.Itoa(c.Threshold)}))
		})
		if err != nil {
			return n, fmt.Errorf("record certificate expiry warning: %w", err)
		}
		if wrote {
			n++
		}
	}
	return n, nil
}

// SoftwareSigningKeys names the signing keys whose active version is not
// held by an HSM: with the local root, every one. They do not meet the
// guideline's requirement that private signing keys be kept in a storage
// device that meets requirements (6.11 B-1 ④ D).
func (s *Service) SoftwareSigningKeys(ctx context.Context) ([]string, error) {
	list, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range list {
		if !k.Algorithm.Signing() {
			continue
		}
		for _, v := range k.Versions {
			if v.State == Active && !v.InHSM {
				out = append(out, k.Name)
			}
		}
	}
	return out, nil
}
