package keys_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/keys/hsmtest"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// snapshot is every version row as stored.
func (s *rootEnv) snapshot(t *testing.T) []string {
	t.Helper()
	rows, err := s.db.QueryContext(context.Background(), `SELECT key_id, version, state, root, material, hsm_id,
		updated_at FROM keys_versions ORDER BY key_id, version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, v, at int64
		var state, root, material, hsmID string
		if err := rows.Scan(&id, &v, &state, &root, &material, &hsmID, &at); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join([]string{strconv.FormatInt(id, 10), state, root, material, hsmID,
			strconv.FormatInt(v, 10), strconv.FormatInt(at, 10)}, "|"))
	}
	return out
}

func (s *rootEnv) migrations(t *testing.T) []audit.Entry {
	t.Helper()
	got, _, err := s.log.Search(context.Background(), audit.Filter{Action: "key.migrate_root", AllFacilities: true})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestMigrateRoot_LocalToPKCS11KeepsEveryKeyReadable(t *testing.T) {
	dbtest.Each(t, rootParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		cfg := hsmtest.New(t)
		local := newTestLocalRoot(t)
		svc := newRootEnv(t, d, local)
		svc.create(t, "ehr-records", keys.PurposeStorage, keys.AES256GCM)
		svc.create(t, "pseudonyms", keys.PurposeIntegration, keys.HMACSHA256)
		sw := svc.create(t, "checkpoint", keys.PurposeAuditCheckpoint, keys.Ed25519)
		ec := keys.Context{"patient": "P-000123"}
		old, err := svc.Encrypt(ctx, rootCaller, "ehr-records", []byte("generation 1"), ec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Rotate(ctx, rootAdmin, "ehr-records"); err != nil {
			t.Fatal(err)
		}
		newer, err := svc.Encrypt(ctx, rootCaller, "ehr-records", []byte("generation 2"), ec)
		if err != nil {
			t.Fatal(err)
		}
		tag, _ := svc.HMAC(ctx, rootCaller, "pseudonyms", []byte("P-000123"))
		sig, _ := svc.Sign(ctx, rootCaller, "checkpoint", []byte("tree head 7"))
		hsm := hsmtest.Open(t, cfg)
		var calls [][2]int
		if err := svc.MigrateRoot(ctx, rootAdmin, hsm, func(done, total int) { calls = append(calls, [2]int{done, total}) }); err != nil {
			t.Fatal(err)
		}
		if len(calls) != 5 || calls[0] != [2]int{0, 4} || calls[4] != [2]int{4, 4} {
			t.Fatalf("progress calls %v, want 0/4 .. 4/4", calls)
		}
		for _, row := range svc.snapshot(t) {
			if strings.Split(row, "|")[2] != "pkcs11" {
				t.Fatalf("a version is not under the HSM root: %s", row)
			}
		}
		k, err := svc.Get(ctx, "checkpoint")
		if err != nil || k.Latest().InHSM || k.Latest().Root != "pkcs11" {
			t.Fatalf("software signing key after the move: %+v, %v", k.Latest(), err)
		}
		if _, _, id := svc.stored(t, sw.ID, 1); id != "" {
			t.Fatalf("the software signing key got an HSM id %q", id)
		}
		// The service and a new process with only the HSM root read the old data.
		fresh := newRootEnv(t, d, hsm)
		for _, s := range []*rootEnv{svc, fresh} {
			for ct, want := range map[*[]byte]string{&old: "generation 1", &newer: "generation 2"} {
				if got, err := s.Decrypt(ctx, rootCaller, *ct, ec); err != nil || string(got) != want {
					t.Fatalf("decrypt after the move: %q, %v", got, err)
				}
			}
			if err := s.Verify(ctx, rootCaller, []byte("P-000123"), tag); err != nil {
				t.Fatalf("HMAC after the move: %v", err)
			}
			if err := s.Verify(ctx, rootCaller, []byte("tree head 7"), sig); err != nil {
				t.Fatalf("signature after the move: %v", err)
			}
		}
		if _, err := fresh.Sign(ctx, rootCaller, "checkpoint", []byte("tree head 8")); err != nil {
			t.Fatalf("the software signing key signs under the HSM root: %v", err)
		}
		// The old root opens nothing any more.
		if _, err := newRootEnv(t, d, local).Decrypt(ctx, rootCaller, old, ec); err == nil {
			t.Fatal("the old local root still unwraps the moved material")
		}
		if r, _ := svc.Root(); r != keys.Root(hsm) {
			t.Fatalf("the service uses %v after the move", r.Kind())
		}
		if k := svc.create(t, "checkpoint-hsm", keys.PurposeAuditCheckpoint, keys.ECDSAP256); !k.Latest().InHSM {
			t.Fatal("a signing key made after the move is not in the HSM")
		}
		ev := svc.migrations(t)
		if len(ev) != 1 || ev[0].Detail["from"] != "local" || ev[0].Detail["to"] != "pkcs11" ||
			ev[0].Detail["rewrapped"] != "4" || ev[0].Detail["software_signing"] != "1" || ev[0].ActorLogin != "admin" {
			t.Fatalf("audit records of the move: %+v", ev)
		}
	})
}

func TestMigrateRoot_PKCS11ToLocalRefusesKeysHeldInTheHSMAndNamesThem(t *testing.T) {
	dbtest.Each(t, rootParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		cfg := hsmtest.New(t)
		svc := newRootEnv(t, d, hsmtest.Open(t, cfg))
		svc.create(t, "lab-results", keys.PurposeStorage, keys.AES256GCM)
		signer := svc.create(t, "checkpoint", keys.PurposeAuditCheckpoint, keys.ECDSAP256)
		ec := keys.Context{"order": "L-1"}
		ct, err := svc.Encrypt(ctx, rootCaller, "lab-results", []byte("Hb 13.2"), ec)
		if err != nil {
			t.Fatal(err)
		}
		before := svc.snapshot(t)
		local := newTestLocalRoot(t)
		err = svc.MigrateRoot(ctx, rootAdmin, local, nil)
		if !errors.Is(err, keys.ErrHSMHeld) || !strings.Contains(err.Error(), "checkpoint (version 1)") ||
			strings.Contains(err.Error(), "lab-results") {
			t.Fatalf("err = %v; want ErrHSMHeld naming checkpoint only", err)
		}
		if after := svc.snapshot(t); !reflect.DeepEqual(before, after) {
			t.Fatalf("a refused move changed the versions:\n%v\n%v", before, after)
		}
		if r, _ := svc.Root(); r.Kind() != "pkcs11" || len(svc.migrations(t)) != 0 {
			t.Fatal("a refused move changed the root or was recorded as done")
		}
		// Once the HSM-held version is destroyed, the rest moves.
		if _, err := d.ExecContext(ctx, `UPDATE keys_versions SET state = 'destroyed' WHERE key_id = ?`, signer.ID); err != nil {
			t.Fatal(err)
		}
		if err := svc.MigrateRoot(ctx, rootAdmin, local, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := newRootEnv(t, d, local).Decrypt(ctx, rootCaller, ct, ec); err != nil || string(got) != "Hb 13.2" {
			t.Fatalf("decrypt under the local root: %q, %v", got, err)
		}
	})
}

// failingRoot wraps with another root and fails at its n-th Wrap.
type failingRoot struct {
	keys.Root
	n, calls int
}

func (f *failingRoot) Wrap(plaintext, aad []byte) ([]byte, error) {
	if f.calls++; f.calls == f.n {
		return nil, errors.New("the HSM went away")
	}
	return f.Root.Wrap(plaintext, aad)
}

func TestMigrateRoot_FailureHalfwayChangesNothing(t *testing.T) {
	dbtest.Each(t, rootParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		cfg := hsmtest.New(t)
		local := newTestLocalRoot(t)
		svc := newRootEnv(t, d, local)
		for _, name := range []string{"a", "b", "c"} {
			svc.create(t, name, keys.PurposeStorage, keys.AES256GCM)
		}
		ec := keys.Context{"file": "daily.tar"}
		ct, err := svc.Encrypt(ctx, rootCaller, "c", []byte("backup"), ec)
		if err != nil {
			t.Fatal(err)
		}
		before := svc.snapshot(t)
		// The probe is the first Wrap; the second version's wrap fails.
		target := &failingRoot{Root: hsmtest.Open(t, cfg), n: 3}
		var last [2]int
		err = svc.MigrateRoot(ctx, rootAdmin, target, func(done, total int) { last = [2]int{done, total} })
		if err == nil || !strings.Contains(err.Error(), "the HSM went away") || !strings.Contains(err.Error(), "key b version 1") {
			t.Fatalf("err = %v; want the wrap failure naming key b", err)
		}
		if last != [2]int{1, 3} {
			t.Fatalf("progress reached %v before the failure, want 1/3", last)
		}
		if after := svc.snapshot(t); !reflect.DeepEqual(before, after) {
			t.Fatalf("a failed move changed the versions:\n%v\n%v", before, after)
		}
		if r, _ := svc.Root(); r != keys.Root(local) || len(svc.migrations(t)) != 0 {
			t.Fatal("a failed move changed the root or was recorded")
		}
		if got, err := newRootEnv(t, d, local).Decrypt(ctx, rootCaller, ct, ec); err != nil || string(got) != "backup" {
			t.Fatalf("decrypt after the failed move: %q, %v", got, err)
		}
		if err := svc.MigrateRoot(ctx, rootAdmin, local, nil); err == nil {
			t.Fatal("a move to the root in use was accepted")
		}
	})
}
