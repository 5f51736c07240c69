package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

var testParts = []db.Migrations{audit.Migrations(), Migrations()}

// testRootDir holds the local root shared by the tests of this package
// (the argon2id unseal costs ~100 ms); TestMain removes it.
var testRootDir string

var testRoot = sync.OnceValues(func() (*LocalRoot, error) {
	return CreateLocalRoot(filepath.Join(testRootDir, "root.json"), "correct horse battery staple")
})

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "anzen-keys-test-")
	if err != nil {
		panic(err)
	}
	testRootDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type env struct {
	svc   *Service
	log   *audit.Log
	clock *clock.Frozen
	db    *db.DB
}

func newEnv(t testing.TB, d *db.DB) *env {
	t.Helper()
	r, err := testRoot()
	if err != nil {
		t.Fatal(err)
	}
	c := clock.NewFrozen(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	l := audit.New(d, c)
	s := New(d, c, l, nil)
	s.usage.now = c.Now
	s.Unseal(r)
	return &env{svc: s, log: l, clock: c, db: d}
}

var admin = Actor{UserID: 1, Login: "admin", Client: "127.0.0.1"}

var system = SystemCaller("test")

func (e *env) create(t testing.TB, name string, p Purpose, a Algorithm) *Key {
	t.Helper()
	k, err := e.svc.Create(context.Background(), admin, NewKey{Name: name, Purpose: p, Algorithm: a})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return k
}

func TestEncrypt_RoundTripBindsContextAndDetectsTampering(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.create(t, "ehr-records", PurposeStorage, "")
		ec := Context{"patient": "P-000123", "table": "notes", "column": "body"}
		plain := []byte("既往歴：特記事項なし")
		ct, err := e.svc.Encrypt(ctx, system, "ehr-records", plain, ec)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(ct, plain) {
			t.Fatal("the ciphertext contains the plaintext")
		}
		got, err := e.svc.Decrypt(ctx, system, ct, Context{"column": "body", "table": "notes", "patient": "P-000123"})
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("decrypt = %q, %v", got, err)
		}
		for name, wrong := range map[string]Context{
			"other patient": {"patient": "P-000124", "table": "notes", "column": "body"},
			"missing pair":  {"patient": "P-000123", "table": "notes"},
			"extra pair":    {"patient": "P-000123", "table": "notes", "column": "body", "x": "y"},
			"none":          nil,
		} {
			if _, err := e.svc.Decrypt(ctx, system, ct, wrong); !errors.Is(err, ErrContext) {
				t.Errorf("%s: err = %v, want ErrContext", name, err)
			}
		}
		for i := 0; i < len(ct); i++ {
			bad := bytes.Clone(ct)
			bad[i] ^= 0x01
			if out, err := e.svc.Decrypt(ctx, system, bad, ec); err == nil {
				t.Fatalf("flipping byte %d went unnoticed: %q", i, out)
			}
		}
		if _, err := e.svc.Decrypt(ctx, system, ct[:len(ct)-1], ec); err == nil {
			t.Fatal("a truncated ciphertext decrypted")
		}
		text := EncodeText(ct)
		back, err := DecodeText("  " + text + "\n")
		if err != nil || !bytes.Equal(back, ct) {
			t.Fatalf("text form round trip: %v", err)
		}
	})
}

func TestRotate_OldDataStaysReadableRewrapMovesItAndMinVersionRefuses(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.create(t, "backup-2026", PurposeBackup, AES256GCM)
		ec := Context{"file": "daily.tar"}
		v1, err := e.svc.Encrypt(ctx, system, "backup-2026", []byte("generation 1"), ec)
		if err != nil {
			t.Fatal(err)
		}
		k, err := e.svc.Rotate(ctx, admin, "backup-2026")
		if err != nil {
			t.Fatal(err)
		}
		if len(k.Versions) != 2 || k.Versions[0].State != DecryptOnly || k.Versions[1].State != Active {
			t.Fatalf("after rotate: %+v", k.Versions)
		}
		if got, err := e.svc.Decrypt(ctx, system, v1, ec); err != nil || string(got) != "generation 1" {
			t.Fatalf("old ciphertext after rotation: %q %v", got, err)
		}
		v2, err := e.svc.Rewrap(ctx, system, v1, ec)
		if err != nil {
			t.Fatal(err)
		}
		h, _, _ := parseHeader(v2)
		if h.Version != 2 {
			t.Fatalf("rewrapped to version %d", h.Version)
		}
		if _, err := e.svc.Rewrap(ctx, system, v1, Context{"file": "other"}); !errors.Is(err, ErrContext) {
			t.Fatalf("rewrap with a wrong context: %v", err)
		}
		if err := e.svc.SetMinDecryptVersion(ctx, admin, "backup-2026", 2); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Decrypt(ctx, system, v1, ec); !errors.Is(err, ErrVersion) {
			t.Fatalf("version 1 below the minimum: %v", err)
		}
		if got, err := e.svc.Decrypt(ctx, system, v2, ec); err != nil || string(got) != "generation 1" {
			t.Fatalf("rewrapped ciphertext: %q %v", got, err)
		}
		if err := e.svc.SetVersionState(ctx, admin, "backup-2026", 2, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Decrypt(ctx, system, v2, ec); !errors.Is(err, ErrVersion) {
			t.Fatalf("disabled version: %v", err)
		}
		if _, err := e.svc.Encrypt(ctx, system, "backup-2026", []byte("x"), nil); !errors.Is(err, ErrVersion) {
			t.Fatalf("encrypt with no active version: %v", err)
		}
		if err := e.svc.SetVersionState(ctx, admin, "backup-2026", 2, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Decrypt(ctx, system, v2, ec); err != nil {
			t.Fatalf("enabled again: %v", err)
		}
	})
}

func TestSign_EveryAlgorithmVerifiesAndRefusesOtherMessages(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		for _, a := range []Algorithm{Ed25519, ECDSAP256, RSAPSS3072} {
			name := "sig-" + string(a)
			e.create(t, name, PurposeSigning, a)
			sig, err := e.svc.Sign(ctx, system, name, []byte("checkpoint 42"))
			if err != nil {
				t.Fatalf("%s: %v", a, err)
			}
			if err := e.svc.Verify(ctx, system, []byte("checkpoint 42"), sig); err != nil {
				t.Fatalf("%s verify: %v", a, err)
			}
			if err := e.svc.Verify(ctx, system, []byte("checkpoint 43"), sig); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("%s verify of another message: %v", a, err)
			}
			if pub, err := e.svc.PublicKey(ctx, name, 0); err != nil || len(pub) == 0 {
				t.Fatalf("%s public key: %v", a, err)
			}
			if _, err := e.svc.Encrypt(ctx, system, name, []byte("x"), nil); !errors.Is(err, ErrOperation) {
				t.Fatalf("%s encrypts: %v", a, err)
			}
		}
		e.create(t, "pseudonyms", PurposeIntegration, HMACSHA256)
		mac, err := e.svc.HMAC(ctx, system, "pseudonyms", []byte("P-000123"))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Verify(ctx, system, []byte("P-000123"), mac); err != nil {
			t.Fatalf("HMAC verify: %v", err)
		}
		if err := e.svc.Verify(ctx, system, []byte("P-000124"), mac); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("HMAC of another message: %v", err)
		}
	})
}

func TestDataKey_WrappedFormOpensToTheSameKey(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.create(t, "pacs-export", PurposeTransport, "")
		ec := Context{"study": "1.2.392.200036"}
		dek, wrapped, err := e.svc.DataKey(ctx, system, "pacs-export", ec, true)
		if err != nil || len(dek) != 32 {
			t.Fatalf("datakey: %v", err)
		}
		got, err := e.svc.DecryptDataKey(ctx, system, wrapped, ec)
		if err != nil || !bytes.Equal(got, dek) {
			t.Fatalf("decrypt datakey: %v", err)
		}
		if none, w2, err := e.svc.DataKey(ctx, system, "pacs-export", ec, false); err != nil || none != nil || len(w2) == 0 {
			t.Fatalf("wrapped-only datakey: %v %v", none, err)
		}
		if _, err := e.svc.Decrypt(ctx, system, wrapped, ec); !errors.Is(err, ErrMalformed) {
			t.Fatalf("a data key taken as a ciphertext: %v", err)
		}
	})
}

func TestGrants_PeopleAndTokensNeedAGrantAndUsesAreAudited(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.create(t, "lab-results", PurposeStorage, "")
		nurse := Caller{Principal: &authz.Principal{UserID: 7, Login: "nurse01",
			Grants: []authz.Grant{{Role: authz.Staff, Facility: 1}}}, Client: "10.0.0.7"}
		token := Caller{Principal: &authz.Principal{Login: "token:lis", TokenID: 3, Scopes: []string{"read"}}, Client: "10.0.0.9"}
		if _, err := e.svc.Encrypt(ctx, nurse, "lab-results", []byte("x"), nil); !errors.Is(err, ErrDenied) {
			t.Fatalf("no grant: %v", err)
		}
		if err := e.svc.SetGrants(ctx, admin, "lab-results", []Grant{
			{Kind: "role", Subject: "staff", Operations: []Operation{OpEncrypt}},
			{Kind: "token", Subject: "3", Operations: []Operation{OpEncrypt, OpDecrypt}},
		}); err != nil {
			t.Fatal(err)
		}
		ct, err := e.svc.Encrypt(ctx, nurse, "lab-results", []byte("Hb 13.2"), Context{"patient": "P-1"})
		if err != nil {
			t.Fatalf("granted encrypt: %v", err)
		}
		if _, err := e.svc.Decrypt(ctx, nurse, ct, Context{"patient": "P-1"}); !errors.Is(err, ErrDenied) {
			t.Fatalf("decrypt without a grant: %v", err)
		}
		if got, err := e.svc.Decrypt(ctx, token, ct, Context{"patient": "P-1"}); err != nil || string(got) != "Hb 13.2" {
			t.Fatalf("token decrypt: %v", err)
		}
		if err := e.svc.SetGrants(ctx, admin, "lab-results", []Grant{{Kind: "role", Subject: "staff",
			Operations: []Operation{OpSign}}}); err == nil {
			t.Fatal("a grant of an unsupported operation was accepted")
		}
		var ve *ValidationError
		if err := e.svc.SetGrants(ctx, admin, "lab-results", []Grant{
			{Kind: "role", Subject: "staff", Operations: []Operation{OpEncrypt}},
			{Kind: "role", Subject: "staff", Operations: []Operation{OpDecrypt}},
		}); !errors.As(err, &ve) || ve.Fields["grants"] != "keys.validation.grant_duplicate" {
			t.Fatalf("a role granted twice: %v", err)
		}
		e.clock.Advance(time.Minute)
		if err := e.svc.FlushUsage(ctx, false); err != nil {
			t.Fatal(err)
		}
		uses, _, err := e.log.Search(ctx, audit.Filter{Action: "key.use", AllFacilities: true})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for _, u := range uses {
			seen[u.ActorLogin+" "+u.Detail["operation"]+" "+u.Detail["result"]] = u.Detail["count"]
			if u.Detail["context_keys"] == "patient" && u.Outcome == "" {
				t.Error("use without outcome")
			}
			for _, v := range u.Detail {
				if v == "P-1" || v == "Hb 13.2" {
					t.Fatalf("a context value or plaintext reached the audit log: %+v", u.Detail)
				}
			}
		}
		for _, want := range []string{"user:nurse01 encrypt denied", "user:nurse01 encrypt success",
			"user:nurse01 decrypt denied", "token:lis decrypt success"} {
			if seen[want] == "" {
				t.Errorf("no audit record %q in %v", want, seen)
			}
		}
		points, err := e.svc.Usage(ctx, "lab-results", time.Time{})
		if err != nil || len(points) == 0 {
			t.Fatalf("usage: %v %v", points, err)
		}
	})
}

func TestOpenLocalRoot_WrongPassphraseChangesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root.json")
	r, err := CreateLocalRoot(path, "the right passphrase")
	if err != nil {
		t.Fatal(err)
	}
	// Sealed at anzen's cost: tests elsewhere may ask for a cheap one
	// (UseCheapSealingInTests), these do not.
	var sealed sealedRoot
	if b, err := os.ReadFile(path); err != nil || json.Unmarshal(b, &sealed) != nil ||
		sealed.Memory != 64*1024 || sealed.Time != 3 || sealed.Threads != 2 {
		t.Fatalf("sealed at m=%d t=%d p=%d (%v), want m=65536 t=3 p=2", sealed.Memory, sealed.Time, sealed.Threads, err)
	}
	w, _ := r.Wrap([]byte("material"), []byte("aad"))
	if _, err := OpenLocalRoot(path, "the wrong passphrase"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	r2, err := OpenLocalRoot(path, "the right passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r2.Unwrap(w, []byte("aad")); err != nil || string(got) != "material" {
		t.Fatalf("unwrap after reopening: %q %v", got, err)
	}
	if _, err := CreateLocalRoot(path, "another passphrase"); err == nil {
		t.Fatal("CreateLocalRoot overwrote an existing root")
	}
}

func TestCreate_RefusesNamesThatArePaths(t *testing.T) {
	nk := NewKey{Name: "destroy-requests", Purpose: PurposeStorage}
	var ve *ValidationError
	if err := nk.validate(); !errors.As(err, &ve) || ve.Fields["name"] != "keys.validation.reserved_name" {
		t.Fatalf("a key named like a path: %v", err)
	}
}
