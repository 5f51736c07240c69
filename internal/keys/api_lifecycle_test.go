package keys

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The lifecycle API runs on a web.Server of its own, signed in as the
// principal the X-Lifecycle-As header names.

var lifecyclePrincipals = map[string]*authz.Principal{
	"admin":      {UserID: 1, Login: "admin", Grants: []authz.Grant{{Role: authz.Admin, Facility: authz.AllFacilities}}},
	"admin2":     {UserID: 2, Login: "admin2", Grants: []authz.Grant{{Role: authz.Admin, Facility: authz.AllFacilities}}},
	"ciso":       {UserID: 3, Login: "ciso01", Grants: []authz.Grant{{Role: authz.CISO, Facility: authz.AllFacilities}}},
	"auditor":    {UserID: 8, Login: "auditor01", Grants: []authz.Grant{{Role: authz.Auditor, Facility: authz.AllFacilities}}},
	"token:read": {Login: "token:reader", TokenID: 4, Scopes: []string{"read"}, TokenFacility: 1},
}

type lifecycleAuth struct{}

func (lifecycleAuth) Authenticate(_ http.ResponseWriter, r *http.Request) (*authz.Principal, web.Stage, error) {
	p, ok := lifecyclePrincipals[r.Header.Get("X-Lifecycle-As")]
	if !ok {
		return nil, web.StageNone, nil
	}
	return p, web.StageFull, nil
}

type lifecycleAPI struct {
	*env
	t   *testing.T
	srv *web.Server
	h   http.Handler
}

func newLifecycleAPI(t *testing.T, d *db.DB) *lifecycleAPI {
	t.Helper()
	cat := i18n.New()
	for _, f := range []fs.FS{web.Locales(), Locales()} {
		if err := cat.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t, d)
	srv := web.NewServer(web.Options{Catalog: cat, DefaultLang: "en", MaxBodyBytes: 1 << 20})
	srv.SetAuthenticator(lifecycleAuth{})
	if err := Register(srv, e.svc); err != nil {
		t.Fatal(err)
	}
	return &lifecycleAPI{env: e, t: t, srv: srv, h: srv.Handler()}
}

type lifecycleAnswer struct {
	status int
	body   []byte
	header http.Header
}

func (a lifecycleAnswer) problem() string {
	var p web.Problem
	if json.Unmarshal(a.body, &p) != nil {
		return ""
	}
	return strings.TrimPrefix(p.Type, web.ProblemTypePrefix)
}

func (a lifecycleAnswer) String() string {
	return fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(a.body))
}

// call sends body (JSON-encoded unless it is []byte) as the named caller.
func (e *lifecycleAPI) call(as, method, path, ctype string, body any) lifecycleAnswer {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	default:
		raw, _ = json.Marshal(b)
	}
	r := httptest.NewRequest(method, path, bytes.NewReader(raw))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	r.Header.Set("X-Lifecycle-As", as)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return lifecycleAnswer{status: w.Code, body: w.Body.Bytes(), header: w.Header()}
}

func (e *lifecycleAPI) expect(status int, kind string, a lifecycleAnswer, what string) {
	e.t.Helper()
	if a.status != status || (kind != "" && a.problem() != kind) {
		e.t.Errorf("%s: %s, want %d %s", what, a, status, kind)
	}
}

const jsonType = "application/json"

func TestAPI_DestroyNeedsASecondPersonAndMakesTheVersionUnreadable(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newLifecycleAPI(t, d)
		ctx := context.Background()
		e.create(t, "ehr", PurposeStorage, "")
		ct, _ := e.svc.Encrypt(ctx, system, "ehr", []byte("v1 data"), nil)
		for range 2 {
			if _, err := e.svc.Rotate(ctx, admin, "ehr"); err != nil {
				t.Fatal(err)
			}
		}
		base := "/api/v1/keys/ehr/versions/"
		e.expect(http.StatusForbidden, "forbidden", e.call("token:read", "POST", base+"1/destroy-requests", jsonType,
			DestroyRequestBody{Reason: "x"}), "a read token asks")
		e.expect(http.StatusUnprocessableEntity, "validation", e.call("admin", "POST", base+"3/destroy-requests", jsonType,
			DestroyRequestBody{Reason: "x"}), "the active version")
		e.expect(http.StatusUnprocessableEntity, "validation", e.call("admin", "POST", base+"1/destroy-requests", jsonType,
			DestroyRequestBody{}), "no reason")
		e.expect(http.StatusNotFound, "not-found", e.call("admin", "POST", base+"x/destroy-requests", jsonType,
			DestroyRequestBody{Reason: "x"}), "a version that is not a number")
		e.expect(http.StatusConflict, "key-version", e.call("admin", "POST", base+"9/destroy-requests", jsonType,
			DestroyRequestBody{Reason: "x"}), "an unknown version")
		e.expect(http.StatusNotFound, "key-not-found", e.call("admin", "POST", "/api/v1/keys/nope/versions/1/destroy-requests",
			jsonType, DestroyRequestBody{Reason: "x"}), "an unknown key")
		e.expect(http.StatusUnsupportedMediaType, "unsupported-media-type", e.call("admin", "POST", base+"1/destroy-requests",
			"text/plain", []byte(`{"reason":"x"}`)), "plain text")

		a := e.call("admin", "POST", base+"1/destroy-requests", jsonType, DestroyRequestBody{Reason: "retention over"})
		var req DestroyRequest
		if a.status != http.StatusCreated || json.Unmarshal(a.body, &req) != nil || req.State != RequestPending {
			t.Fatalf("request: %s", a)
		}
		a = e.call("auditor", "GET", "/api/v1/keys/destroy-requests?state=pending", "", nil)
		var list DestroyRequestList
		if a.status != http.StatusOK || json.Unmarshal(a.body, &list) != nil || len(list.Requests) != 1 || list.Requests[0].Key != "ehr" {
			t.Fatalf("pending list: %s", a)
		}
		e.expect(http.StatusBadRequest, "invalid-parameter", e.call("auditor", "GET", "/api/v1/keys/destroy-requests?state=x", "", nil), "bad state")
		e.expect(http.StatusOK, "", e.call("token:read", "GET", "/api/v1/keys/destroy-requests", "", nil), "a read token lists")

		approve := fmt.Sprintf("/api/v1/keys/destroy-requests/%d/approve", req.ID)
		e.expect(http.StatusForbidden, "approval-needed", e.call("admin", "POST", approve, "", nil), "the requester approves")
		e.expect(http.StatusForbidden, "forbidden", e.call("auditor", "POST", approve, "", nil), "an auditor approves")
		if _, err := e.svc.Decrypt(ctx, system, ct, nil); err != nil {
			t.Fatalf("refused approvals destroyed the version: %v", err)
		}
		a = e.call("ciso", "POST", approve, "", nil)
		if a.status != http.StatusOK || json.Unmarshal(a.body, &req) != nil || req.State != RequestApproved || req.DecidedBy != "ciso01" {
			t.Fatalf("approval: %s", a)
		}
		if _, err := e.svc.Decrypt(ctx, system, ct, nil); !errors.Is(err, ErrVersion) {
			t.Fatalf("decrypt after approval: %v", err)
		}
		e.expect(http.StatusConflict, "request-closed", e.call("admin2", "POST", approve, "", nil), "a second approval")
		e.expect(http.StatusNotFound, "not-found", e.call("admin2", "POST", "/api/v1/keys/destroy-requests/999999/approve", "", nil), "no request")

		a = e.call("admin", "POST", base+"2/destroy-requests", jsonType, DestroyRequestBody{Reason: "later"})
		if a.status != http.StatusCreated || json.Unmarshal(a.body, &req) != nil {
			t.Fatalf("second request: %s", a)
		}
		reject := fmt.Sprintf("/api/v1/keys/destroy-requests/%d/reject", req.ID)
		e.expect(http.StatusBadRequest, "invalid-json", e.call("admin2", "POST", reject, jsonType, []byte{}), "reject without a body")
		a = e.call("admin2", "POST", reject, jsonType, RejectDestroyBody{Note: "still needed"})
		if a.status != http.StatusOK || json.Unmarshal(a.body, &req) != nil || req.State != RequestRejected {
			t.Fatalf("reject: %s", a)
		}
	})
}

func TestAPI_CSRImportAndListCertificates(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newLifecycleAPI(t, d)
		e.create(t, "rx-sign", PurposeSigning, ECDSAP256)
		ca := newTestCA(t, e.clock.Now())
		e.expect(http.StatusUnprocessableEntity, "validation", e.call("admin", "POST", "/api/v1/keys/rx-sign/csr", jsonType,
			CSRBody{Subject: "CN"}), "subject syntax")
		e.expect(http.StatusUnprocessableEntity, "validation", e.call("admin", "POST", "/api/v1/keys/rx-sign/csr", jsonType,
			CSRBody{}), "no subject")
		e.expect(http.StatusForbidden, "forbidden", e.call("auditor", "POST", "/api/v1/keys/rx-sign/csr", jsonType,
			CSRBody{Subject: "CN=x"}), "an auditor")
		a := e.call("admin", "POST", "/api/v1/keys/rx-sign/csr", jsonType,
			CSRBody{Subject: "CN=rx.example-hospital.jp,O=Example Hospital,C=JP", DNSNames: []string{"rx.example-hospital.jp"}})
		var csr CSRResponse
		if a.status != http.StatusOK || json.Unmarshal(a.body, &csr) != nil {
			t.Fatalf("csr: %s", a)
		}
		leaf := ca.issue(t, []byte(csr.CSR), e.clock.Now(), 20, "Pharmacist")
		a = e.call("admin", "POST", "/api/v1/keys/rx-sign/certificates", PEMMediaType, append(leaf, ca.pem()...))
		var c Certificate
		if a.status != http.StatusCreated || json.Unmarshal(a.body, &c) != nil || c.HPKIRoles[0].Text != "Pharmacist" {
			t.Fatalf("import as PEM: %s", a)
		}
		renewed := ca.issue(t, []byte(csr.CSR), e.clock.Now(), 400, "")
		e.expect(http.StatusCreated, "", e.call("admin", "POST", "/api/v1/keys/rx-sign/certificates", jsonType,
			ImportCertificateBody{PEM: string(renewed)}), "import as JSON")
		e.expect(http.StatusUnprocessableEntity, "validation", e.call("admin", "POST", "/api/v1/keys/rx-sign/certificates",
			PEMMediaType, []byte("not pem")), "not PEM")
		e.expect(http.StatusUnsupportedMediaType, "unsupported-media-type", e.call("admin", "POST",
			"/api/v1/keys/rx-sign/certificates", "text/plain", leaf), "plain text")
		a = e.call("token:read", "GET", "/api/v1/keys/rx-sign/certificates", "", nil)
		var list CertificateList
		if a.status != http.StatusOK || json.Unmarshal(a.body, &list) != nil || len(list.Certificates) != 2 ||
			list.Certificates[0].Fingerprint == c.Fingerprint {
			t.Fatalf("list, latest-ending first: %s", a)
		}
		e.expect(http.StatusNotFound, "key-not-found", e.call("auditor", "GET", "/api/v1/keys/nope/certificates", "", nil), "unknown key")
	})
}

func TestCertificatesCard_ListsExpiringCertificatesOnly(t *testing.T) {
	e := newLifecycleAPI(t, dbtest.SQLite(t, testParts...))
	ctx := context.Background()
	h := &handlers{srv: e.srv, svc: e.svc}
	r := httptest.NewRequest("GET", "/", nil)
	stats, err := h.certificatesCard(r)
	if err != nil || len(stats) != 1 || stats[0].LabelID != "keys.certcard.no_expiry" {
		t.Fatalf("empty card: %+v %v", stats, err)
	}
	ca := newTestCA(t, e.clock.Now())
	for _, name := range []string{"sig-soon", "sig-later"} {
		e.create(t, name, PurposeSigning, Ed25519)
		csr, _ := e.svc.CSR(ctx, admin, name, pkix.Name{CommonName: name})
		days := 5
		if name == "sig-later" {
			days = 60
		}
		if _, err := e.svc.ImportCertificate(ctx, admin, name, ca.issue(t, csr, e.clock.Now(), days, "")); err != nil {
			t.Fatal(err)
		}
	}
	stats, err = h.certificatesCard(r)
	if err != nil || len(stats) != 2 {
		t.Fatalf("card: %+v %v", stats, err)
	}
	if stats[0].LabelID != "keys.certcard.within_7" || stats[0].Level != "bad" || !strings.HasPrefix(stats[0].Value, "sig-soon (") ||
		stats[1].LabelID != "keys.certcard.within_90" || stats[1].Level != "warn" {
		t.Errorf("expiry stats: %+v", stats[:2])
	}
	// Signing keys outside an HSM are counted once, on the keys card.
	for _, st := range stats {
		if st.LabelID == "keys.certcard.not_in_hsm" {
			t.Errorf("the certificates card repeats the keys card's HSM warning: %+v", st)
		}
	}
}
