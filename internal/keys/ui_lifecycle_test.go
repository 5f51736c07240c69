package keys_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// pageCA is a certification authority made for the page tests.
type pageCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newPageCA(t *testing.T, now time.Time) *pageCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Page Test CA", Country: []string{"JP"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &pageCA{key: key, cert: cert}
}

// issue signs the CSR for days from now and returns the chain, leaf first.
func (ca *pageCA) issue(t *testing.T, csrPEM []byte, now time.Time, days int, serial int64) []byte {
	t.Helper()
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("not a CSR: %q", csrPEM)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("CSR: %v", err)
	}
	policy, _ := x509.OIDFromInts([]uint64{1, 2, 392, 100495, 1, 5, 1, 1, 1})
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: csr.Subject, DNSNames: csr.DNSNames,
		NotBefore: now.Add(-time.Minute), NotAfter: now.AddDate(0, 0, days), KeyUsage: x509.KeyUsageDigitalSignature,
		Policies: []x509.OID{policy}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})...)
}

// csr asks for a CSR through the key page and checks it comes as a file.
func (e *pageEnv) csr(name, cn string) []byte {
	e.t.Helper()
	w := e.do("POST", "/keys/"+name+"/csr", "admin", "", url.Values{"cn": {cn}, "o": {"Example Hospital"},
		"ou": {"医療情報部"}, "c": {"JP"}, "dns_names": {"sign.example.jp, ehr.example.jp"}})
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Disposition"), "attachment;") ||
		!strings.Contains(w.Body.String(), "-----BEGIN CERTIFICATE REQUEST-----") {
		e.t.Fatalf("CSR download: %d %v\n%s", w.Code, w.Header(), w.Body)
	}
	return w.Body.Bytes()
}

// upload posts the chain as a file of a multipart form, as admin.
func (e *pageEnv) upload(name string, chain []byte) *httptest.ResponseRecorder {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", "chain.pem")
	if err != nil {
		e.t.Fatal(err)
	}
	_, _ = fw.Write(chain)
	_ = mw.WriteField("pem", "")
	_ = mw.Close()
	r := httptest.NewRequest("POST", "/keys/"+name+"/certificates", &buf)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	r.Header.Set("X-Test-As", "admin")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func TestCertificatePages_CSRImportAndExpiryBadges(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		now := e.clock.Now()
		ca := newPageCA(t, now)
		e.create("rx-sign", keys.PurposeSigning, keys.ECDSAP256, 0)
		e.create("discharge-sign", keys.PurposeSigning, keys.Ed25519, 0)
		e.create("ehr-notes", keys.PurposeStorage, "", 0)

		// Pasted into the textarea (a urlencoded form) ...
		chain := ca.issue(t, e.csr("rx-sign", "rx.example.jp"), now, 20, 0x1001)
		e.post("/keys/rx-sign/certificates", url.Values{"pem": {string(chain)}}, "/keys/rx-sign#certificates",
			"keys.certpage.flash.imported")
		// ... or uploaded as a file.
		w := e.upload("discharge-sign", ca.issue(t, e.csr("discharge-sign", "discharge"), now, 200, 0x2002))
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/keys/discharge-sign#certificates" {
			t.Fatalf("upload: %d %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
		}
		if got := e.audited("key.certificate.import"); len(got) != 2 {
			t.Errorf("imports recorded: %v", got)
		}

		body := e.page("/keys/rx-sign", "auditor", "en")
		for _, s := range []string{"CN=rx.example.jp", "CN=Page Test CA", "1001", "1.2.392.100495.1.5.1.1.1",
			"Ends within 30 days"} {
			if !strings.Contains(body, s) {
				t.Errorf("rx-sign page lacks %q", s)
			}
		}
		if strings.Contains(body, `id="csr-form"`) || strings.Contains(body, `id="cert-import-form"`) {
			t.Error("an auditor sees the certificate forms")
		}
		if strings.Contains(e.page("/keys/ehr-notes", "admin", "en"), `id="certificates"`) {
			t.Error("a storage key shows a certificates section")
		}

		tests := []struct {
			advance time.Duration
			rx, dis string
		}{
			{0, "Ends within 30 days", ""},
			{14 * 24 * time.Hour, "Ends within 7 days", ""},
			{21 * 24 * time.Hour, "Expired", ""},
			{120 * 24 * time.Hour, "Expired", "Ends within 90 days"},
		}
		for _, tt := range tests {
			e.clock.Set(now.Add(tt.advance))
			list := e.page("/keys/certificates", "auditor", "en")
			rx, dis := strings.Index(list, `CN=rx.example.jp`), strings.Index(list, "CN=discharge")
			if rx < 0 || dis < 0 || rx > dis {
				t.Fatalf("the certificates page does not list both, soonest ending first")
			}
			if !strings.Contains(list[rx:dis], tt.rx) {
				t.Errorf("after %v: rx-sign lacks badge %q", tt.advance, tt.rx)
			}
			if tt.dis != "" && !strings.Contains(list[dis:], tt.dis) {
				t.Errorf("after %v: discharge-sign lacks badge %q", tt.advance, tt.dis)
			}
			if tt.dis == "" && strings.Contains(list[dis:], `class="badge`) {
				t.Errorf("after %v: discharge-sign has a badge", tt.advance)
			}
		}
		e.clock.Set(now)
	})
}

func TestCertificatePages_BadInputIsShownAndStoresNothing(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		now := e.clock.Now()
		e.create("rx-sign", keys.PurposeSigning, keys.ECDSAP256, 0)
		e.create("other-sign", keys.PurposeSigning, keys.ECDSAP256, 0)
		other := newPageCA(t, now).issue(t, e.csr("other-sign", "other"), now, 30, 7)
		tests := []struct {
			name, path string
			form       url.Values
			status     int
			want       string
		}{
			{"no subject", "/keys/rx-sign/csr", url.Values{"c": {"JP"}}, 422, "at least a common name"},
			{"bad country", "/keys/rx-sign/csr", url.Values{"cn": {"x"}, "c": {"JPN"}}, 422, "two-letter code"},
			{"bad DNS name", "/keys/rx-sign/csr", url.Values{"cn": {"x"}, "dns_names": {"bad_name!"}}, 422, "DNS name is not valid"},
			{"no certificate", "/keys/rx-sign/certificates", url.Values{"pem": {"hello"}}, 422, "No PEM certificate"},
			{"a private key", "/keys/rx-sign/certificates", url.Values{"pem": {"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}}, 422, "another PEM block"},
			{"another key's certificate", "/keys/rx-sign/certificates", url.Values{"pem": {string(other)}}, 422, "not for this key"},
			{"chain too large", "/keys/rx-sign/certificates", url.Values{"pem": {strings.Repeat("A", keys.MaxChainPEM+1)}}, 422, "too large"},
			{"form too large", "/keys/rx-sign/certificates", url.Values{"pem": {strings.Repeat("A", keys.MaxChainPEM+100<<10)}}, 413, "too large"},
		}
		for _, tt := range tests {
			w := e.do("POST", tt.path, "admin", "en", tt.form)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.want) {
				t.Errorf("%s: %d, want %d with %q", tt.name, w.Code, tt.status, tt.want)
			}
		}
		if got := e.audited("key.certificate.import"); len(got) != 0 {
			t.Errorf("bad imports recorded: %v", got)
		}
		if w := e.do("POST", "/keys/nope/csr", "admin", "en", url.Values{"cn": {"x"}}); w.Code != http.StatusNotFound {
			t.Errorf("CSR of an unknown key: %d", w.Code)
		}
	})
}

func TestDestroyPages_SecondAdminApprovesAndTheDataIsGone(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		ctx := context.Background()
		e.create("ehr-notes", keys.PurposeStorage, "", 0)
		ct, err := e.svc.Encrypt(ctx, keys.SystemCaller("test"), "ehr-notes", []byte("patient note"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Rotate(ctx, keys.Actor{UserID: 1, Login: "admin"}, "ehr-notes"); err != nil {
			t.Fatal(err)
		}
		for _, lang := range []string{"ja", "en"} {
			body := e.page("/keys/ehr-notes", "admin", lang)
			warn := map[string]string{"ja": "二度と復号できなくなり", "en": "becomes unrecoverable for good"}[lang]
			if !strings.Contains(body, warn) || !strings.Contains(body, `/keys/ehr-notes/versions/1/destroy-request`) {
				t.Errorf("%s: the key page lacks the destroy form of v1 with its warning", lang)
			}
			if strings.Contains(body, `/versions/2/destroy-request`) {
				t.Errorf("%s: the active version has a destroy form", lang)
			}
		}

		// The active version is refused, with the reason beside the form.
		w := e.do("POST", "/keys/ehr-notes/versions/2/destroy-request", "admin", "en", url.Values{"reason": {"x"}})
		if w.Code != http.StatusUnprocessableEntity {
			t.Errorf("destroying the active version: %d", w.Code)
		}
		if w := e.do("POST", "/keys/ehr-notes/versions/1/destroy-request", "admin", "en", url.Values{"reason": {" "}}); w.Code != 422 ||
			!strings.Contains(w.Body.String(), "give the reason") {
			t.Errorf("no reason: %d", w.Code)
		}
		e.post("/keys/ehr-notes/versions/1/destroy-request", url.Values{"reason": {"retention period ended"}},
			"/keys/destroy-requests", "keys.destroypage.flash.requested")
		reqs, err := e.svc.DestroyRequests(ctx, keys.RequestPending)
		if err != nil || len(reqs) != 1 {
			t.Fatalf("pending requests: %v %v", reqs, err)
		}
		id := reqs[0].ID
		approve := "/keys-destroy-requests/" + itoa(id) + "/approve"
		list := e.page("/keys/destroy-requests", "auditor", "en")
		if !strings.Contains(list, "retention period ended") || !strings.Contains(list, "Awaiting approval") ||
			strings.Contains(list, approve) {
			t.Errorf("the auditor's list of requests is wrong")
		}

		// The requester cannot approve: the page says why, nothing changes.
		w = e.do("POST", approve, "admin", "en", url.Values{})
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "cannot approve it") {
			t.Errorf("approval by the requester: %d", w.Code)
		}
		w = e.do("POST", approve, "admin", "ja", url.Values{})
		if !strings.Contains(w.Body.String(), "申請した本人は承認できません") {
			t.Error("the refusal is not translated")
		}
		if k, _ := e.svc.Get(ctx, "ehr-notes"); k.Version(1).State == keys.Destroyed {
			t.Fatal("the requester's approval destroyed the version")
		}

		w = e.do("POST", approve, "admin2", "en", url.Values{})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/keys/destroy-requests" ||
			!strings.Contains(w.Header().Get("Set-Cookie"), "keys.destroypage.flash.approved") {
			t.Fatalf("approval by a second admin: %d %v", w.Code, w.Header())
		}
		if !strings.Contains(e.page("/keys/ehr-notes", "admin", "en"), "Destroyed") {
			t.Error("the key page does not show v1 destroyed")
		}
		if _, err := e.svc.Decrypt(ctx, keys.SystemCaller("test"), ct, nil); err == nil {
			t.Error("a ciphertext of the destroyed version still decrypts")
		}
		if got := e.audited("key.destroy.approve"); len(got) != 1 || !strings.Contains(got[0], "admin2") {
			t.Errorf("approval recorded: %v", got)
		}
		if w := e.do("POST", approve, "admin2", "en", url.Values{}); w.Code != http.StatusConflict {
			t.Errorf("approving again: %d", w.Code)
		}
		list = e.page("/keys/destroy-requests?state=approved", "admin", "en")
		if !strings.Contains(list, "Approved (destroyed)") || !strings.Contains(list, "admin2") {
			t.Error("the approved request is not listed with its approver")
		}
	})
}

func TestDestroyPages_RejectAndExpire(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		ctx := context.Background()
		e.create("ehr-notes", keys.PurposeStorage, "", 0)
		admin := keys.Actor{UserID: 1, Login: "admin"}
		_, _ = e.svc.Rotate(ctx, admin, "ehr-notes")
		_, _ = e.svc.Rotate(ctx, admin, "ehr-notes")
		r1, err := e.svc.RequestDestroy(ctx, admin, "ehr-notes", 1, "old")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.RequestDestroy(ctx, admin, "ehr-notes", 2, "older"); err != nil {
			t.Fatal(err)
		}
		reject := "/keys-destroy-requests/" + itoa(r1.ID) + "/reject"
		if w := e.do("POST", reject, "admin2", "en", url.Values{"note": {"bad\x01note"}}); w.Code != 422 {
			t.Errorf("a note with a control character: %d", w.Code)
		}
		e.post(reject, url.Values{"note": {"still needed"}}, "/keys/destroy-requests", "keys.destroypage.flash.rejected")
		e.clock.Set(e.clock.Now().Add(keys.DestroyRequestTTL + time.Hour))
		list := e.page("/keys/destroy-requests", "auditor", "en")
		for _, s := range []string{"Rejected", "still needed", "Expired"} {
			if !strings.Contains(list, s) {
				t.Errorf("the list lacks %q", s)
			}
		}
		if w := e.do("POST", "/keys-destroy-requests/999/approve", "admin2", "en", url.Values{}); w.Code != http.StatusNotFound {
			t.Errorf("approving an unknown request: %d", w.Code)
		}
	})
}

func TestLifecyclePages_AuditorIsRefusedEveryChange(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		ctx := context.Background()
		e.create("rx-sign", keys.PurposeSigning, keys.ECDSAP256, 0)
		_, _ = e.svc.Rotate(ctx, keys.Actor{UserID: 1, Login: "admin"}, "rx-sign")
		r, err := e.svc.RequestDestroy(ctx, keys.Actor{UserID: 1, Login: "admin"}, "rx-sign", 1, "test")
		if err != nil {
			t.Fatal(err)
		}
		id := itoa(r.ID)
		for _, path := range []string{"/keys/rx-sign/csr", "/keys/rx-sign/certificates",
			"/keys/rx-sign/versions/1/destroy-request", "/keys-destroy-requests/" + id + "/approve",
			"/keys-destroy-requests/" + id + "/reject"} {
			for _, who := range []string{"auditor", "staff"} {
				if w := e.do("POST", path, who, "en", url.Values{"cn": {"x"}, "reason": {"x"}}); w.Code != http.StatusForbidden {
					t.Errorf("POST %s as %s: %d, want 403", path, who, w.Code)
				}
			}
		}
		if got := e.audited("key.csr"); len(got) != 0 {
			t.Errorf("refused CSR recorded: %v", got)
		}
		if req, _ := e.svc.DestroyRequest(ctx, r.ID); req.State != keys.RequestPending {
			t.Errorf("the request became %s", req.State)
		}
	})
}

func TestLifecyclePages_RenderInBothLanguages(t *testing.T) {
	dbtest.Each(t, pageParts, func(t *testing.T, d *db.DB) {
		e := newPageEnv(t, d, nil)
		ctx := context.Background()
		now := e.clock.Now()
		e.create("rx-sign", keys.PurposeSigning, keys.ECDSAP256, 0)
		chain := newPageCA(t, now).issue(t, e.csr("rx-sign", "rx"), now, 5, 3)
		e.post("/keys/rx-sign/certificates", url.Values{"pem": {string(chain)}}, "/keys/rx-sign#certificates",
			"keys.certpage.flash.imported")
		_, _ = e.svc.Rotate(ctx, keys.Actor{UserID: 1, Login: "admin"}, "rx-sign")
		if _, err := e.svc.RequestDestroy(ctx, keys.Actor{UserID: 1, Login: "admin"}, "rx-sign", 1, "test"); err != nil {
			t.Fatal(err)
		}
		for _, lang := range []string{"ja", "en"} {
			for _, who := range []string{"admin", "auditor"} {
				for _, path := range []string{"/keys", "/keys/rx-sign", "/keys/certificates", "/keys/destroy-requests",
					"/keys/destroy-requests?state=expired", "/"} {
					body := e.page(path, who, lang)
					if m := untranslated.FindAllString(body, -1); m != nil {
						t.Errorf("%s as %s (%s) shows untranslated ids %v", path, who, lang, m)
					}
				}
			}
		}
		dash := e.page("/", "admin", "en")
		if n := strings.Count(dash, "signing keys"); n != 1 {
			t.Errorf("the dashboard names signing keys outside an HSM %d times, want once", n)
		}
	})
}
