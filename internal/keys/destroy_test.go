package keys

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

var (
	admin2    = Actor{UserID: 2, Login: "admin2", Client: "10.0.0.2"}
	systemAct = Actor{Login: "system"}
	cliAct    = Actor{Login: "cli:root", Client: "local"}
)

func auditActions(t *testing.T, e *env, action string) []audit.Entry {
	t.Helper()
	got, _, err := e.log.Search(context.Background(), audit.Filter{Action: action, AllFacilities: true})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestDestroy_ApprovedVersionIsUnreadableForeverOtherVersionsStillWork(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.create(t, "ehr-notes", PurposeStorage, "")
		ec := Context{"patient": "P-1"}
		ct1, err := e.svc.Encrypt(ctx, system, "ehr-notes", []byte("version one"), ec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Rotate(ctx, admin, "ehr-notes"); err != nil {
			t.Fatal(err)
		}
		ct2, err := e.svc.Encrypt(ctx, system, "ehr-notes", []byte("version two"), ec)
		if err != nil {
			t.Fatal(err)
		}
		// Warm the caches, so that approval must clear them.
		if _, err := e.svc.Decrypt(ctx, system, ct1, ec); err != nil {
			t.Fatal(err)
		}
		req, err := e.svc.RequestDestroy(ctx, admin, "ehr-notes", 1, "patient records past retention (5 years)")
		if err != nil {
			t.Fatal(err)
		}
		if req.State != RequestPending || req.RequestedBy != "admin" || !req.ExpiresAt.Equal(e.clock.Now().Add(DestroyRequestTTL)) {
			t.Fatalf("request = %+v", req)
		}
		if _, err := e.svc.Decrypt(ctx, system, ct1, ec); err != nil {
			t.Fatalf("a pending request already destroyed the version: %v", err)
		}
		done, err := e.svc.ApproveDestroy(ctx, admin2, req.ID)
		if err != nil {
			t.Fatal(err)
		}
		if done.State != RequestApproved || done.DecidedBy != "admin2" {
			t.Fatalf("approved request = %+v", done)
		}
		var material, state string
		if err := d.QueryRowContext(ctx, `SELECT material, state FROM keys_versions v JOIN keys_keys k ON k.id = v.key_id
			WHERE k.name = ? AND v.version = 1`, "ehr-notes").Scan(&material, &state); err != nil {
			t.Fatal(err)
		}
		if material != "" || state != string(Destroyed) {
			t.Fatalf("after approval: material %q, state %s", material, state)
		}
		restarted := New(d, e.clock, e.log, nil)
		r, _ := testRoot()
		restarted.Unseal(r)
		for name, svc := range map[string]*Service{"same service": e.svc, "after a restart": restarted} {
			if _, err := svc.Decrypt(ctx, system, ct1, ec); !errors.Is(err, ErrVersion) {
				t.Errorf("%s: decrypt of the destroyed version: %v, want ErrVersion", name, err)
			}
			if _, err := svc.Rewrap(ctx, system, ct1, ec); !errors.Is(err, ErrVersion) {
				t.Errorf("%s: rewrap of the destroyed version: %v, want ErrVersion", name, err)
			}
			if got, err := svc.Decrypt(ctx, system, ct2, ec); err != nil || string(got) != "version two" {
				t.Errorf("%s: the other version: %q %v", name, got, err)
			}
		}
		if _, err := e.svc.ApproveDestroy(ctx, admin2, req.ID); !errors.Is(err, ErrRequestClosed) {
			t.Errorf("second approval: %v", err)
		}
		if _, err := e.svc.RequestDestroy(ctx, admin, "ehr-notes", 1, "again"); !errors.Is(err, ErrVersion) {
			t.Errorf("request for a destroyed version: %v", err)
		}
		for _, action := range []string{"key.destroy.request", "key.destroy.approve"} {
			got := auditActions(t, e, action)
			if len(got) != 1 || got[0].Target != "key:ehr-notes" || got[0].Detail["version"] != "1" {
				t.Errorf("audit %s: %+v", action, got)
			}
		}
	})
}

func TestDestroy_RefusesTheSamePersonAnzenItselfAndTheActiveVersion(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.create(t, "lab", PurposeStorage, "")
		if _, err := e.svc.Rotate(ctx, admin, "lab"); err != nil {
			t.Fatal(err)
		}
		req, err := e.svc.RequestDestroy(ctx, admin, "lab", 1, "shred")
		if err != nil {
			t.Fatal(err)
		}
		sameLogin := Actor{UserID: 99, Login: "ADMIN"}
		approvals := []struct {
			name string
			by   Actor
			want error
		}{
			{"the requester", admin, ErrApprovalNeeded},
			{"the requester's login under another id", sameLogin, ErrApprovalNeeded},
			{"anzen itself", systemAct, ErrPersonRequired},
			{"a bare command line", cliAct, ErrPersonRequired},
		}
		for _, tt := range approvals {
			if _, err := e.svc.ApproveDestroy(ctx, tt.by, req.ID); !errors.Is(err, tt.want) {
				t.Errorf("approval by %s: %v, want %v", tt.name, err, tt.want)
			}
		}
		var ve *ValidationError
		requests := []struct {
			name    string
			by      Actor
			version int
			reason  string
			check   func(error) bool
		}{
			{"the active version", admin, 2, "x", func(err error) bool { return errors.As(err, &ve) && ve.Fields["version"] == "keys.destroy.active" }},
			{"a second open request", admin2, 1, "x", func(err error) bool { return errors.As(err, &ve) && ve.Fields["version"] == "keys.destroy.pending" }},
			{"no reason", admin, 1, "  ", func(err error) bool { return errors.As(err, &ve) && ve.Fields["reason"] != "" }},
			{"a control character", admin, 1, "a\x00b", func(err error) bool { return errors.As(err, &ve) && ve.Fields["reason"] != "" }},
			{"an unknown version", admin, 9, "x", func(err error) bool { return errors.Is(err, ErrVersion) }},
			{"anzen itself", systemAct, 1, "x", func(err error) bool { return errors.Is(err, ErrPersonRequired) }},
		}
		for _, tt := range requests {
			if _, err := e.svc.RequestDestroy(ctx, tt.by, "lab", tt.version, tt.reason); !tt.check(err) {
				t.Errorf("request for %s: %v", tt.name, err)
			}
		}
		if _, err := e.svc.RequestDestroy(ctx, admin, "no-such-key", 1, "x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown key: %v", err)
		}
		if got, _ := e.svc.Get(ctx, "lab"); got.Version(1).State != DecryptOnly {
			t.Fatalf("refused approvals changed the version: %+v", got.Version(1))
		}
		if n := len(auditActions(t, e, "key.destroy.approve")); n != 0 {
			t.Fatalf("%d approval records after refusals", n)
		}
		// Disabling the active version retires it on purpose; then it may go.
		if err := e.svc.SetVersionState(ctx, admin, "lab", 2, false); err != nil {
			t.Fatal(err)
		}
		req2, err := e.svc.RequestDestroy(ctx, admin, "lab", 2, "retire the whole key")
		if err != nil {
			t.Fatalf("request for a disabled newest version: %v", err)
		}
		if _, err := e.svc.ApproveDestroy(ctx, admin2, req2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Encrypt(ctx, system, "lab", []byte("x"), nil); !errors.Is(err, ErrVersion) {
			t.Fatalf("encrypt without any usable version: %v", err)
		}
	})
}

func TestDestroy_RequestsExpireAfterSevenDaysAndCanBeRejected(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.create(t, "pacs", PurposeTransport, "")
		if _, err := e.svc.Rotate(ctx, admin, "pacs"); err != nil {
			t.Fatal(err)
		}
		old, err := e.svc.RequestDestroy(ctx, admin, "pacs", 1, "first try")
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(DestroyRequestTTL + time.Second)
		if _, err := e.svc.ApproveDestroy(ctx, admin2, old.ID); !errors.Is(err, ErrRequestClosed) {
			t.Fatalf("approval of an expired request: %v", err)
		}
		if list, err := e.svc.DestroyRequests(ctx, RequestExpired); err != nil || len(list) != 1 || list[0].State != RequestExpired {
			t.Fatalf("expired requests: %+v %v", list, err)
		}
		again, err := e.svc.RequestDestroy(ctx, admin, "pacs", 1, "second try")
		if err != nil {
			t.Fatalf("a new request after the old one expired: %v", err)
		}
		if n := len(auditActions(t, e, "key.destroy.expire")); n != 1 {
			t.Errorf("%d expiry records, want 1", n)
		}
		if _, err := e.svc.RejectDestroy(ctx, admin, again.ID, "\x07"); err == nil {
			t.Error("a note with a control character was taken")
		}
		rej, err := e.svc.RejectDestroy(ctx, admin, again.ID, "withdrawn by the requester")
		if err != nil || rej.State != RequestRejected || rej.Note != "withdrawn by the requester" {
			t.Fatalf("reject: %+v %v", rej, err)
		}
		if _, err := e.svc.ApproveDestroy(ctx, admin2, again.ID); !errors.Is(err, ErrRequestClosed) {
			t.Fatalf("approval of a rejected request: %v", err)
		}
		if _, err := e.svc.ApproveDestroy(ctx, admin2, 12345); !errors.Is(err, ErrNoRequest) {
			t.Fatalf("approval of no request: %v", err)
		}
		all, err := e.svc.DestroyRequests(ctx, "")
		if err != nil || len(all) != 2 || all[0].ID != again.ID {
			t.Fatalf("all requests, newest first: %+v %v", all, err)
		}
		if pending, _ := e.svc.DestroyRequests(ctx, RequestPending); len(pending) != 0 {
			t.Fatalf("pending: %+v", pending)
		}
		if _, err := e.svc.DestroyRequests(ctx, "bogus"); err == nil {
			t.Fatal("an unknown state filter was taken")
		}
		if got, _ := e.svc.Get(ctx, "pacs"); got.Version(1).State != DecryptOnly {
			t.Fatalf("version 1 after expiry and rejection: %s", got.Version(1).State)
		}
	})
}

func TestDestroy_ParallelApprovalsDestroyOnce(t *testing.T) {
	dbtest.Each(t, testParts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.create(t, "race", PurposeStorage, "")
		if _, err := e.svc.Rotate(ctx, admin, "race"); err != nil {
			t.Fatal(err)
		}
		req, err := e.svc.RequestDestroy(ctx, admin, "race", 1, "shred")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.svc.ApproveDestroy(ctx, Actor{UserID: int64(10 + i), Login: fmt.Sprintf("ciso%d", i)}, req.ID)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			}
		}
		if ok != 1 || len(auditActions(t, e, "key.destroy.approve")) != 1 {
			t.Fatalf("%d approvals succeeded (%v); want exactly one", ok, errs)
		}
	})
}

// fakeHSM is an HSM root for the tests: the local root wraps, and signing
// keys live in memory, never handed out as bytes.
type fakeHSM struct {
	*LocalRoot
	mu   sync.Mutex
	keys map[string]ed25519.PrivateKey
}

func newFakeHSM(t testing.TB) *fakeHSM {
	r, err := testRoot()
	if err != nil {
		t.Fatal(err)
	}
	return &fakeHSM{LocalRoot: r, keys: map[string]ed25519.PrivateKey{}}
}

func (h *fakeHSM) Kind() string { return "pkcs11" }

func (h *fakeHSM) GenerateSigner(label string, alg Algorithm) (string, crypto.PublicKey, error) {
	if alg != Ed25519 {
		return "", nil, ErrOperation
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	h.mu.Lock()
	defer h.mu.Unlock()
	id := fmt.Sprintf("obj-%d", len(h.keys)+1)
	h.keys[id] = priv
	return id, pub, nil
}

func (h *fakeHSM) Signer(id string, alg Algorithm) (crypto.Signer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k, ok := h.keys[id]
	if !ok {
		return nil, errors.New("no such object")
	}
	return k, nil
}

func (h *fakeHSM) DestroyObject(id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.keys[id]; !ok {
		return errors.New("no such object")
	}
	delete(h.keys, id)
	return nil
}

func TestDestroy_HSMKeyIsDestroyedInTheHSM(t *testing.T) {
	d := dbtest.SQLite(t, testParts...)
	e := newEnv(t, d)
	hsm := newFakeHSM(t)
	e.svc.Unseal(hsm)
	ctx := context.Background()
	e.create(t, "checkpoints", PurposeAuditCheckpoint, Ed25519)
	sig1, err := e.svc.Sign(ctx, system, "checkpoints", []byte("tree head 1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Rotate(ctx, admin, "checkpoints"); err != nil {
		t.Fatal(err)
	}
	req, err := e.svc.RequestDestroy(ctx, admin, "checkpoints", 1, "compromised")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveDestroy(ctx, admin2, req.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := hsm.keys["obj-1"]; ok || len(hsm.keys) != 1 {
		t.Fatalf("HSM objects after approval: %v", hsm.keys)
	}
	if err := e.svc.Verify(ctx, system, []byte("tree head 1"), sig1); !errors.Is(err, ErrVersion) {
		t.Fatalf("verify with the destroyed version: %v", err)
	}
	if _, err := e.svc.Sign(ctx, system, "checkpoints", []byte("tree head 2")); err != nil {
		t.Fatalf("the new version signs: %v", err)
	}
	got := auditActions(t, e, "key.destroy.approve")
	if len(got) != 1 || got[0].Detail["in_hsm"] != "true" {
		t.Fatalf("approval record: %+v", got)
	}
}
