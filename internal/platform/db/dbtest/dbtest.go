// Package dbtest gives tests a fresh, migrated database on every dialect
// anzen supports, so that one store test runs on SQLite and PostgreSQL.
//
// PostgreSQL is found through ANZEN_TEST_POSTGRES (a postgres:// DSN); each
// test gets its own schema, dropped when the test ends. Without the variable
// the PostgreSQL half is skipped, unless ANZEN_TEST_STRICT=1, where it fails.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Strict reports whether tests must fail instead of skipping when a service
// they need is missing (ANZEN_TEST_STRICT=1, as in CI).
func Strict() bool { return os.Getenv("ANZEN_TEST_STRICT") == "1" }

// Missing skips the test for a missing service, or fails it in strict mode.
func Missing(t testing.TB, what string) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s is not available and ANZEN_TEST_STRICT=1", what)
	}
	t.Skipf("%s is not available (set it up or see .ci/run)", what)
}

// Each runs fn once per dialect with a fresh database migrated with parts.
func Each(t *testing.T, parts []db.Migrations, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, parts...)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, parts...)) })
}

// SQLite returns a migrated SQLite database in a temporary directory.
func SQLite(t testing.TB, parts ...db.Migrations) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(ctx, nil, parts...); err != nil {
		t.Fatal(err)
	}
	return d
}

// PostgresDSN returns a DSN for a fresh schema on the test server, dropped
// when the test ends. It skips or fails when there is no server.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("ANZEN_TEST_POSTGRES")
	if base == "" {
		Missing(t, "PostgreSQL (ANZEN_TEST_POSTGRES)")
	}
	ctx := context.Background()
	admin, err := db.Open(ctx, base, "")
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	defer admin.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		a, err := db.Open(context.Background(), base, "")
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("ANZEN_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres returns a migrated database in a fresh schema on the test server.
func Postgres(t testing.TB, parts ...db.Migrations) *db.DB {
	t.Helper()
	dsn := PostgresDSN(t)
	ctx := context.Background()
	d, err := db.Open(ctx, dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(ctx, nil, parts...); err != nil {
		t.Fatal(err)
	}
	return d
}
