package keys_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The API tests run the key service's routes on a web.Server of their own,
// over SQLite and PostgreSQL, with an authenticator that signs each request
// in as the principal its X-Test-As header names.

var apiParts = []db.Migrations{audit.Migrations(), keys.Migrations()}

// apiRoot is one local root for every API test (sealing it with argon2id
// takes a while); its file is removed at once, the root stays in memory.
var apiRoot = sync.OnceValues(func() (*keys.LocalRoot, error) {
	dir, err := os.MkdirTemp("", "anzen-keys-api-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	return keys.CreateLocalRoot(filepath.Join(dir, "root.json"), "api tests passphrase")
})

// principals of the API tests, by the X-Test-As value.
var principals = map[string]*authz.Principal{
	"admin": {UserID: 1, Login: "admin", Grants: []authz.Grant{{Role: authz.Admin, Facility: authz.AllFacilities}}},
	"nurse": {UserID: 7, Login: "nurse01", Grants: []authz.Grant{{Role: authz.Staff, Facility: 1}}},
	"auditor": {UserID: 8, Login: "auditor01",
		Grants: []authz.Grant{{Role: authz.Auditor, Facility: authz.AllFacilities}}},
	"vendor":     {UserID: 9, Login: "vendor01", Grants: []authz.Grant{{Role: authz.Vendor, Facility: 1}}},
	"token:lis":  {Login: "token:lis", Name: "lis", TokenID: 3, Scopes: []string{"keys"}, TokenFacility: 1},
	"token:read": {Login: "token:reader", Name: "reader", TokenID: 4, Scopes: []string{"read"}, TokenFacility: 1},
}

type headerAuth struct{}

func (headerAuth) Authenticate(_ http.ResponseWriter, r *http.Request) (*authz.Principal, web.Stage, error) {
	p, ok := principals[r.Header.Get("X-Test-As")]
	if !ok {
		return nil, web.StageNone, nil
	}
	return p, web.StageFull, nil
}

// apiEnv is the key service's API over one database.
type apiEnv struct {
	t     *testing.T
	svc   *keys.Service
	log   *audit.Log
	db    *db.DB
	clock *clock.Frozen
	h     http.Handler
}

func newAPIEnv(t *testing.T, d *db.DB, unseal bool) *apiEnv {
	t.Helper()
	cat := i18n.New()
	for _, f := range []fs.FS{web.Locales(), keys.Locales()} {
		if err := cat.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	c := clock.NewFrozen(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	l := audit.New(d, c)
	svc := keys.New(d, c, l, nil)
	if unseal {
		r, err := apiRoot()
		if err != nil {
			t.Fatal(err)
		}
		svc.Unseal(r)
	}
	srv := web.NewServer(web.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Catalog: cat,
		DefaultLang: "ja", MaxBodyBytes: 1 << 20})
	srv.SetAuthenticator(headerAuth{})
	if err := keys.Register(srv, svc); err != nil {
		t.Fatal(err)
	}
	return &apiEnv{t: t, svc: svc, log: l, db: d, clock: c, h: srv.Handler()}
}

// answer is one response of the API.
type answer struct {
	status int
	body   []byte
	header http.Header
}

// problem returns the answer's problem type without the prefix, or "".
func (a answer) problem() string {
	var p web.Problem
	if json.Unmarshal(a.body, &p) != nil {
		return ""
	}
	return strings.TrimPrefix(p.Type, web.ProblemTypePrefix)
}

func (a answer) String() string { return fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(a.body)) }

// do sends a request as the named principal; a non-nil body is sent as
// JSON (a string as it is).
func (e *apiEnv) do(as, method, path string, body any) answer {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(buf)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Test-As", as)
	req.Header.Set("Accept-Language", "en")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return answer{status: w.Code, body: w.Body.Bytes(), header: w.Header()}
}

// ok sends a request that must answer want, and decodes its body into out.
func (e *apiEnv) ok(want int, out any, as, method, path string, body any) {
	e.t.Helper()
	a := e.do(as, method, path, body)
	if a.status != want {
		e.t.Fatalf("%s %s as %s: %s, want %d", method, path, as, a, want)
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, a.body)
		}
	}
}

// refused sends a request that must be refused with status and kind.
func (e *apiEnv) refused(status int, kind, as, method, path string, body any) answer {
	e.t.Helper()
	a := e.do(as, method, path, body)
	if a.status != status || a.problem() != kind {
		e.t.Errorf("%s %s as %s: %s, want %d %s", method, path, as, a, status, kind)
	}
	if ct := a.header.Get("Content-Type"); a.status >= 400 && ct != "application/problem+json" {
		e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return a
}

func (e *apiEnv) create(name, purpose, alg string) keys.KeyDetail {
	e.t.Helper()
	var k keys.KeyDetail
	e.ok(http.StatusCreated, &k, "admin", "POST", "/api/v1/keys",
		map[string]any{"name": name, "purpose": purpose, "algorithm": alg})
	return k
}

func (e *apiEnv) grant(name string, grants ...keys.Grant) {
	e.t.Helper()
	e.ok(http.StatusOK, nil, "admin", "PUT", "/api/v1/keys/"+name+"/grants", map[string]any{"grants": grants})
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func unb64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("not base64: %q", s)
	}
	return string(b)
}

func (e *apiEnv) encrypt(as, name, plain string, ec keys.Context) string {
	e.t.Helper()
	var out keys.CiphertextResponse
	e.ok(http.StatusOK, &out, as, "POST", "/api/v1/keys/"+name+"/encrypt",
		map[string]any{"plaintext": b64(plain), "context": ec})
	if !strings.HasPrefix(out.Ciphertext, keys.TextPrefix) {
		e.t.Fatalf("ciphertext %q lacks the prefix", out.Ciphertext)
	}
	return out.Ciphertext
}

func (e *apiEnv) decrypt(as, ct string, ec keys.Context) string {
	e.t.Helper()
	var out keys.PlaintextResponse
	e.ok(http.StatusOK, &out, as, "POST", "/api/v1/keys/decrypt", map[string]any{"ciphertext": ct, "context": ec})
	return unb64(e.t, out.Plaintext)
}

// events returns the audit records of action, newest first.
func (e *apiEnv) events(action string) []audit.Entry {
	e.t.Helper()
	es, _, err := e.log.Search(context.Background(), audit.Filter{Action: action, AllFacilities: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}

func TestAPI_AdministratorCreatesRotatesDisablesAndGrants(t *testing.T) {
	dbtest.Each(t, apiParts, func(t *testing.T, d *db.DB) {
		e := newAPIEnv(t, d, true)
		var created keys.KeyDetail
		a := e.do("admin", "POST", "/api/v1/keys", map[string]any{"name": "ehr-notes", "purpose": "storage",
			"owner": "医療情報部", "rotation_days": 365})
		if a.status != http.StatusCreated || a.header.Get("Location") != "/api/v1/keys/ehr-notes" {
			t.Fatalf("create: %s, Location %q", a, a.header.Get("Location"))
		}
		if err := json.Unmarshal(a.body, &created); err != nil {
			t.Fatal(err)
		}
		if created.Algorithm != keys.AES256GCM || created.ActiveVersion != 1 || created.RotationDays != 365 ||
			!created.NextRotation.Equal(e.clock.Now().Add(365*24*time.Hour)) || len(created.Grants) != 0 ||
			created.Owner != "医療情報部" || len(created.Operations) != 4 {
			t.Fatalf("created key: %+v", created)
		}
		e.create("checkpoints", "audit-checkpoint", "")

		var list keys.KeyList
		e.ok(http.StatusOK, &list, "auditor", "GET", "/api/v1/keys", nil)
		if len(list.Keys) != 2 || list.Keys[0].Name != "checkpoints" || list.Keys[0].Algorithm != keys.Ed25519 ||
			len(list.Keys[0].Versions[0].PublicKey) == 0 || !list.Keys[0].NextRotation.IsZero() {
			t.Fatalf("list: %+v", list.Keys)
		}
		if raw := e.do("auditor", "GET", "/api/v1/keys", nil); bytes.Contains(raw.body, []byte("next_rotation\":\"0001")) {
			t.Errorf("a key without rotation shows a zero next rotation: %s", raw.body)
		}

		var k keys.KeyDetail
		e.ok(http.StatusOK, &k, "admin", "POST", "/api/v1/keys/ehr-notes/rotate", nil)
		if k.ActiveVersion != 2 || k.Versions[0].State != keys.DecryptOnly || k.Versions[1].State != keys.Active {
			t.Fatalf("rotated: %+v", k.Versions)
		}
		e.ok(http.StatusOK, &k, "admin", "POST", "/api/v1/keys/ehr-notes/versions/1/disable", nil)
		if k.Versions[0].State != keys.Disabled {
			t.Fatalf("disabled: %+v", k.Versions)
		}
		e.ok(http.StatusOK, &k, "admin", "POST", "/api/v1/keys/ehr-notes/versions/1/enable", nil)
		if k.Versions[0].State != keys.DecryptOnly {
			t.Fatalf("enabled again: %+v", k.Versions)
		}
		e.ok(http.StatusOK, &k, "admin", "PUT", "/api/v1/keys/ehr-notes/min-decrypt-version",
			map[string]any{"min_decrypt_version": 2})
		if k.MinDecryptVersion != 2 {
			t.Fatalf("min decrypt version: %d", k.MinDecryptVersion)
		}
		var gl keys.GrantList
		e.ok(http.StatusOK, &gl, "admin", "PUT", "/api/v1/keys/ehr-notes/grants", map[string]any{"grants": []keys.Grant{
			{Kind: "role", Subject: "staff", Operations: []keys.Operation{keys.OpEncrypt}},
			{Kind: "token", Subject: "03", Operations: []keys.Operation{keys.OpDecrypt}}}})
		if len(gl.Grants) != 2 || gl.Grants[1].Subject != "3" {
			t.Fatalf("grants as stored: %+v", gl.Grants)
		}
		e.ok(http.StatusOK, &gl, "auditor", "GET", "/api/v1/keys/ehr-notes/grants", nil)
		e.ok(http.StatusOK, &k, "auditor", "GET", "/api/v1/keys/ehr-notes", nil)
		if len(gl.Grants) != 2 || len(k.Grants) != 2 {
			t.Fatalf("grants read back: %+v / %+v", gl.Grants, k.Grants)
		}

		for _, action := range []string{"key.create", "key.rotate", "key.disable", "key.enable", "key.min_version", "key.grants"} {
			es := e.events(action)
			if len(es) == 0 || es[0].ActorLogin != "admin" || es[0].ClientAddr != "192.0.2.1" {
				t.Errorf("%s: recorded %+v, want admin at 192.0.2.1", action, es)
			}
		}
	})
}

func TestAPI_OnlyManagersChangeAndOnlyReadersList(t *testing.T) {
	dbtest.Each(t, apiParts, func(t *testing.T, d *db.DB) {
		e := newAPIEnv(t, d, true)
		e.create("lab", "storage", "")
		for _, as := range []string{"nurse", "auditor", "token:lis", "token:read"} {
			e.refused(http.StatusForbidden, "forbidden", as, "POST", "/api/v1/keys",
				map[string]any{"name": "x1", "purpose": "storage"})
			e.refused(http.StatusForbidden, "forbidden", as, "POST", "/api/v1/keys/lab/rotate", nil)
			e.refused(http.StatusForbidden, "forbidden", as, "PUT", "/api/v1/keys/lab/grants", map[string]any{"grants": []any{}})
		}
		e.refused(http.StatusForbidden, "forbidden", "nurse", "GET", "/api/v1/keys", nil)
		e.refused(http.StatusForbidden, "forbidden", "vendor", "GET", "/api/v1/keys/lab", nil)
		e.ok(http.StatusOK, nil, "token:lis", "GET", "/api/v1/keys/lab", nil) // scope keys reads keys
		e.refused(http.StatusUnauthorized, "unauthenticated", "", "GET", "/api/v1/keys", nil)
		e.ok(http.StatusOK, nil, "token:read", "GET", "/api/v1/keys/lab", nil)
		e.refused(http.StatusForbidden, "forbidden", "vendor", "POST", "/api/v1/keys/lab/encrypt",
			map[string]any{"plaintext": b64("x")})
		e.refused(http.StatusForbidden, "forbidden", "token:read", "POST", "/api/v1/keys/lab/encrypt",
			map[string]any{"plaintext": b64("x")})
	})
}

func TestAPI_KeyGrantsDecideWhoEncryptsAndDecrypts(t *testing.T) {
	dbtest.Each(t, apiParts, func(t *testing.T, d *db.DB) {
		e := newAPIEnv(t, d, true)
		e.create("lab-results", "storage", "")
		ec := keys.Context{"patient": "P-000123", "table": "results"}
		body := map[string]any{"plaintext": b64("Hb 13.2 g/dL"), "context": ec}
		// keys.use lets a staff member and a token with scope keys past
		// the route, but the key has no grants yet.
		e.refused(http.StatusForbidden, "key-denied", "nurse", "POST", "/api/v1/keys/lab-results/encrypt", body)
		e.refused(http.StatusForbidden, "key-denied", "token:lis", "POST", "/api/v1/keys/lab-results/encrypt", body)
		e.refused(http.StatusForbidden, "key-denied", "admin", "POST", "/api/v1/keys/lab-results/encrypt", body)

		e.grant("lab-results", keys.Grant{Kind: "role", Subject: "staff", Operations: []keys.Operation{keys.OpEncrypt}},
			keys.Grant{Kind: "token", Subject: "3", Operations: []keys.Operation{keys.OpDecrypt, keys.OpEncrypt}})
		ct := e.encrypt("nurse", "lab-results", "Hb 13.2 g/dL", ec)
		// The ciphertext names its key; decrypting it still needs that
		// key's grant of decrypt.
		e.refused(http.StatusForbidden, "key-denied", "nurse", "POST", "/api/v1/keys/decrypt",
			map[string]any{"ciphertext": ct, "context": ec})
		if got := e.decrypt("token:lis", ct, ec); got != "Hb 13.2 g/dL" {
			t.Fatalf("token decrypt = %q", got)
		}
		ct2 := e.encrypt("token:lis", "lab-results", "K 4.1", nil)
		if got := e.decrypt("token:lis", ct2, nil); got != "K 4.1" {
			t.Fatalf("decrypt without context = %q", got)
		}

		if err := e.svc.FlushUsage(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, u := range e.events("key.use") {
			seen[u.ActorLogin+" "+u.ClientAddr+" "+u.Detail["operation"]+" "+u.Detail["result"]] = true
			if strings.Contains(fmt.Sprint(u.Detail), "P-000123") || strings.Contains(fmt.Sprint(u.Detail), "Hb") {
				t.Fatalf("a context value or plaintext reached the audit log: %v", u.Detail)
			}
		}
		for _, want := range []string{"user:nurse01 192.0.2.1 encrypt denied", "user:nurse01 192.0.2.1 encrypt success",
			"user:nurse01 192.0.2.1 decrypt denied", "token:lis 192.0.2.1 decrypt success"} {
			if !seen[want] {
				t.Errorf("no usage record %q in %v", want, seen)
			}
		}
	})
}

func TestAPI_DecryptRefusesWrongContextTamperingAndUnknownKeys(t *testing.T) {
	dbtest.Each(t, apiParts, func(t *testing.T, d *db.DB) {
		e := newAPIEnv(t, d, true)
		e.create("notes", "storage", "")
		e.create("sig", "signing", "ed25519")
		e.grant("notes", keys.Grant{Kind: "role", Subject: "staff",
			Operations: []keys.Operation{keys.OpEncrypt, keys.OpDecrypt, keys.OpRewrap}})
		ec := keys.Context{"patient": "P-000123"}
		ct := e.encrypt("nurse", "notes", "既往歴：特記事項なし", ec)
		raw, err := keys.DecodeText(ct)
		if err != nil {
			t.Fatal(err)
		}
		tampered := bytes.Clone(raw)
		tampered[len(tampered)-5] ^= 0x40
		header := bytes.Clone(raw)
		header[3] = 'Q' // an unknown kind

		dec := "/api/v1/keys/decrypt"
		tests := []struct {
			name        string
			as, path    string
			body        any
			status      int
			kind, field string
		}{
			{"wrong context", "nurse", dec, map[string]any{"ciphertext": ct, "context": keys.Context{"patient": "P-000124"}},
				422, "context-mismatch", ""},
			{"no context", "nurse", dec, map[string]any{"ciphertext": ct}, 422, "context-mismatch", ""},
			{"altered data", "nurse", dec, map[string]any{"ciphertext": keys.EncodeText(tampered), "context": ec},
				422, "context-mismatch", ""},
			{"altered header", "nurse", dec, map[string]any{"ciphertext": keys.EncodeText(header), "context": ec},
				400, "malformed-ciphertext", ""},
			{"truncated", "nurse", dec, map[string]any{"ciphertext": ct[:20], "context": ec}, 400, "malformed-ciphertext", ""},
			{"not anzen", "nurse", dec, map[string]any{"ciphertext": "vault:v1:abc", "context": ec}, 400, "malformed-ciphertext", ""},
			{"no ciphertext", "nurse", dec, map[string]any{"context": ec}, 422, "validation", "ciphertext"},
			{"rewrap with wrong context", "nurse", "/api/v1/keys/rewrap",
				map[string]any{"ciphertext": ct, "context": keys.Context{"patient": "P-000124"}}, 422, "context-mismatch", ""},
			{"unknown key", "nurse", "/api/v1/keys/no-such-key/encrypt", map[string]any{"plaintext": b64("x")},
				404, "key-not-found", ""},
			{"plaintext not base64", "nurse", "/api/v1/keys/notes/encrypt", map[string]any{"plaintext": "***"},
				422, "validation", "plaintext"},
			{"context key empty", "nurse", "/api/v1/keys/notes/encrypt",
				map[string]any{"plaintext": b64("x"), "context": map[string]string{"": "v"}}, 422, "validation", "context"},
			{"context value too long", "nurse", "/api/v1/keys/notes/encrypt",
				map[string]any{"plaintext": b64("x"), "context": map[string]string{"k": strings.Repeat("v", 257)}},
				422, "validation", "context"},
			{"context of a number", "nurse", "/api/v1/keys/notes/encrypt",
				`{"plaintext":"eA==","context":{"k":1}}`, 400, "invalid-field-type", ""},
			{"unknown field", "nurse", "/api/v1/keys/notes/encrypt", `{"plaintext":"eA==","aad":"x"}`, 400, "unknown-field", ""},
			{"encrypt with a signing key", "admin", "/api/v1/keys/sig/encrypt", map[string]any{"plaintext": b64("x")},
				409, "unsupported-operation", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := e.refused(tt.status, tt.kind, tt.as, "POST", tt.path, tt.body)
				if tt.field != "" {
					var p web.Problem
					_ = json.Unmarshal(a.body, &p)
					if len(p.Errors) != 1 || p.Errors[0].Field != tt.field || p.Errors[0].Message == "" ||
						strings.HasPrefix(p.Errors[0].Message, "keys.") {
						t.Errorf("errors = %+v, want one translated message for %s", p.Errors, tt.field)
					}
				}
			})
		}
		// The right context still opens it.
		if got := e.decrypt("nurse", ct, ec); got != "既往歴：特記事項なし" {
			t.Fatalf("decrypt = %q", got)
		}
	})
}

func TestAPI_VersionStatesAndMinimumDecryptVersion(t *testing.T) {
	dbtest.Each(t, apiParts, func(t *testing.T, d *db.DB) {
		e := newAPIEnv(t, d, true)
		e.create("backup", "backup", "")
		e.grant("backup", keys.Grant{Kind: "role", Subject: "admin",
			Operations: []keys.Operation{keys.OpEncrypt, keys.OpDecrypt, keys.OpRewrap}})
		ec := keys.Context{"file": "daily.tar"}
		v1 := e.encrypt("admin", "backup", "generation 1", ec)
		e.ok(http.StatusOK, nil, "admin", "POST", "/api/v1/keys/backup/rotate", nil)
		if got := e.decrypt("admin", v1, ec); got != "generation 1" {
			t.Fatalf("old ciphertext after rotation: %q", got)
		}
		var rw keys.CiphertextResponse
		e.ok(http.StatusOK, &rw, "admin", "POST", "/api/v1/keys/rewrap", map[string]any{"ciphertext": v1, "context": ec})
		if rw.Ciphertext == v1 || e.decrypt("admin", rw.Ciphertext, ec) != "generation 1" {
			t.Fatalf("rewrapped: %q", rw.Ciphertext)
		}
		e.ok(http.StatusOK, nil, "admin", "PUT", "/api/v1/keys/backup/min-decrypt-version", map[string]any{"min_decrypt_version": 2})
		e.refused(http.StatusConflict, "key-version", "admin", "POST", "/api/v1/keys/decrypt",
			map[string]any{"ciphertext": v1, "context": ec})
		e.ok(http.StatusOK, nil, "admin", "POST", "/api/v1/keys/backup/versions/2/disable", nil)
		e.refused(http.StatusConflict, "key-version", "admin", "POST", "/api/v1/keys/decrypt",
			map[string]any{"ciphertext": rw.Ciphertext, "context": ec})
		e.refused(http.StatusConflict, "key-version", "admin", "POST", "/api/v1/keys/backup/encrypt",
			map[string]any{"plaintext": b64("x")})
		e.refused(http.StatusConflict, "key-version", "admin", "POST", "/api/v1/keys/backup/versions/9/enable", nil)
		e.refused(http.StatusNotFound, "not-found", "admin", "POST", "/api/v1/keys/backup/versions/two/enable", nil)
		e.refused(http.StatusNotFound, "not-found", "admin", "POST", "/api/v1/keys/backup/versions/0/enable", nil)
		e.refused(http.StatusNotFound, "key-not-found", "admin", "POST", "/api/v1/keys/nothing/versions/1/enable", nil)
		e.ok(http.StatusOK, nil, "admin", "POST", "/api/v1/keys/backup/versions/2/enable", nil)
		if got := e.decrypt("admin", rw.Ciphertext, ec); got != "generation 1" {
			t.Fatalf("enabled again: %q", got)
		}
	})
}

func TestAPI_DataKeysSignaturesAndMACs(t *testing.T) {
	dbtest.Each(t, apiParts, func(t *testing.T, d *db.DB) {
		e := newAPIEnv(t, d, true)
		e.create("pacs", "transport", "")
		e.create("sig", "signing", "ecdsa-p256")
		e.create("pseudo", "integration", "hmac-sha256")
		all := func(ops ...keys.Operation) keys.Grant {
			return keys.Grant{Kind: "token", Subject: "3", Operations: ops}
		}
		e.grant("pacs", all(keys.OpDataKey, keys.OpDecrypt))
		e.grant("sig", all(keys.OpSign, keys.OpVerify))
		e.grant("pseudo", all(keys.OpHMAC, keys.OpVerify))
		const as = "token:lis"

		ec := keys.Context{"study": "1.2.392.200036"}
		var dk keys.DataKeyResponse
		e.ok(http.StatusOK, &dk, as, "POST", "/api/v1/keys/pacs/datakey", map[string]any{"context": ec})
		if len(unb64(t, dk.Plaintext)) != 32 || !strings.HasPrefix(dk.Wrapped, keys.TextPrefix) {
			t.Fatalf("datakey: %+v", dk)
		}
		if got := e.decrypt(as, dk.Wrapped, ec); got != unb64(t, dk.Plaintext) {
			t.Fatal("the wrapped data key opens to another key")
		}
		var only keys.DataKeyResponse
		a := e.do(as, "POST", "/api/v1/keys/pacs/datakey", map[string]any{"context": ec, "plaintext": false})
		if a.status != 200 || json.Unmarshal(a.body, &only) != nil || only.Plaintext != "" || only.Wrapped == "" ||
			bytes.Contains(a.body, []byte(`"plaintext"`)) {
			t.Fatalf("wrapped-only datakey: %s", a)
		}

		var sig keys.SignatureResponse
		e.ok(http.StatusOK, &sig, as, "POST", "/api/v1/keys/sig/sign", map[string]any{"message": b64("checkpoint 42")})
		var v keys.VerifyResponse
		e.ok(http.StatusOK, &v, as, "POST", "/api/v1/keys/verify",
			map[string]any{"message": b64("checkpoint 42"), "signature": sig.Signature})
		if !v.Valid || v.Key != "sig" || v.Version != 1 {
			t.Fatalf("verify: %+v", v)
		}
		// An altered message is an answer (valid false), not an error.
		v = keys.VerifyResponse{}
		e.ok(http.StatusOK, &v, as, "POST", "/api/v1/keys/verify",
			map[string]any{"message": b64("checkpoint 43"), "signature": sig.Signature})
		if v.Valid || v.Key != "sig" {
			t.Fatalf("verify of another message: %+v", v)
		}
		e.refused(http.StatusBadRequest, "malformed-ciphertext", as, "POST", "/api/v1/keys/verify",
			map[string]any{"message": b64("checkpoint 42"), "signature": "anzen:AAAA"})
		e.refused(http.StatusUnprocessableEntity, "validation", as, "POST", "/api/v1/keys/verify",
			map[string]any{"message": "%%%", "signature": sig.Signature})
		e.refused(http.StatusForbidden, "key-denied", "nurse", "POST", "/api/v1/keys/verify",
			map[string]any{"message": b64("checkpoint 42"), "signature": sig.Signature})

		var mac keys.MACResponse
		e.ok(http.StatusOK, &mac, as, "POST", "/api/v1/keys/pseudo/hmac", map[string]any{"message": b64("P-000123")})
		v = keys.VerifyResponse{}
		e.ok(http.StatusOK, &v, as, "POST", "/api/v1/keys/verify", map[string]any{"message": b64("P-000123"), "signature": mac.MAC})
		if !v.Valid || v.Key != "pseudo" {
			t.Fatalf("verify MAC: %+v", v)
		}
		e.refused(http.StatusConflict, "unsupported-operation", as, "POST", "/api/v1/keys/pseudo/sign",
			map[string]any{"message": b64("x")})
		e.refused(http.StatusForbidden, "key-denied", as, "POST", "/api/v1/keys/pacs/encrypt",
			map[string]any{"plaintext": b64("x")})
	})
}
