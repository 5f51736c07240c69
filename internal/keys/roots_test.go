package keys_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// Helpers of the external tests of the roots of trust (pkcs11_test.go,
// migrate_root_test.go, bench_test.go), which use hsmtest and so cannot be
// in package keys.

var rootParts = []db.Migrations{audit.Migrations(), keys.Migrations()}

var rootAdmin = keys.Actor{UserID: 1, Login: "admin", Client: "127.0.0.1"}

var rootCaller = keys.SystemCaller("test")

// newTestLocalRoot makes a local root (argon2id sealing takes a moment, so each
// test makes at most a few); its sealed file is not needed afterwards.
func newTestLocalRoot(t testing.TB) *keys.LocalRoot {
	t.Helper()
	r, err := keys.CreateLocalRoot(filepath.Join(t.TempDir(), "root.json"), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type rootEnv struct {
	*keys.Service
	log *audit.Log
	db  *db.DB
}

func newRootEnv(t testing.TB, d *db.DB, r keys.Root) *rootEnv {
	t.Helper()
	c := clock.NewFrozen(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	l := audit.New(d, c)
	s := keys.New(d, c, l, nil)
	s.Unseal(r)
	return &rootEnv{Service: s, log: l, db: d}
}

func (s *rootEnv) create(t testing.TB, name string, p keys.Purpose, a keys.Algorithm) *keys.Key {
	t.Helper()
	k, err := s.Create(context.Background(), rootAdmin, keys.NewKey{Name: name, Purpose: p, Algorithm: a})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return k
}

// stored reads a version's row as the database holds it.
func (s *rootEnv) stored(t testing.TB, keyID int64, version int) (root, material, hsmID string) {
	t.Helper()
	if err := s.db.QueryRowContext(context.Background(), `SELECT root, material, hsm_id FROM keys_versions
		WHERE key_id = ? AND version = ?`, keyID, version).Scan(&root, &material, &hsmID); err != nil {
		t.Fatal(err)
	}
	return root, material, hsmID
}
