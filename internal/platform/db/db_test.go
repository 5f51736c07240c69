package db_test

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

//go:embed testdata/migrations
var migrationsFS embed.FS

// testMigrations is a tiny schema (items, tags) in both dialects.
func testMigrations(t testing.TB) db.Migrations {
	t.Helper()
	sub := func(dir string) fs.FS {
		f, err := fs.Sub(migrationsFS, "testdata/migrations/"+dir)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	return db.Migrations{Part: "dbtest", SQLite: sub("sqlite"), Postgres: sub("postgres")}
}

func TestRebind_RewritesPlaceholdersOutsideLiteralsAndComments(t *testing.T) {
	tests := []struct {
		name    string
		dialect db.Dialect
		in      string
		want    string
	}{
		{"sqlite is left alone", db.SQLite,
			"SELECT a FROM t WHERE a = ? AND b = ?",
			"SELECT a FROM t WHERE a = ? AND b = ?"},
		{"postgres numbers placeholders in order", db.Postgres,
			"SELECT a FROM t WHERE a = ? AND b = ? AND c IN (?, ?)",
			"SELECT a FROM t WHERE a = $1 AND b = $2 AND c IN ($3, $4)"},
		{"no placeholders", db.Postgres,
			"SELECT 1",
			"SELECT 1"},
		{"question mark in a string literal stays", db.Postgres,
			"SELECT '?' , a FROM t WHERE b = ?",
			"SELECT '?' , a FROM t WHERE b = $1"},
		{"escaped quote inside a literal", db.Postgres,
			"SELECT 'it''s ?' WHERE a = ? AND b = 'x?y' AND c = ?",
			"SELECT 'it''s ?' WHERE a = $1 AND b = 'x?y' AND c = $2"},
		{"question mark in a quoted identifier stays", db.Postgres,
			`SELECT "odd?col" FROM t WHERE a = ?`,
			`SELECT "odd?col" FROM t WHERE a = $1`},
		{"apostrophe in a line comment does not open a string", db.Postgres,
			"SELECT a -- the user's row?\nFROM t WHERE a = ?",
			"SELECT a -- the user's row?\nFROM t WHERE a = $1"},
		{"block comment", db.Postgres,
			"SELECT /* why? it's here */ a FROM t WHERE a = ?",
			"SELECT /* why? it's here */ a FROM t WHERE a = $1"},
		{"unterminated literal is copied as is", db.Postgres,
			"SELECT ? WHERE a = 'open ?",
			"SELECT $1 WHERE a = 'open ?"},
		{"more than nine placeholders", db.Postgres,
			"VALUES (?,?,?,?,?,?,?,?,?,?,?)",
			"VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"},
		{"multibyte text around placeholders", db.Postgres,
			"SELECT '施設?' WHERE 名前 = ?",
			"SELECT '施設?' WHERE 名前 = $1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := db.Rebind(tt.dialect, tt.in); got != tt.want {
				t.Errorf("Rebind(%s, %q)\n got %q\nwant %q", tt.dialect, tt.in, got, tt.want)
			}
		})
	}
}

func TestOpen_SQLiteInDataDirHasWALAndForeignKeys(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data") // Open creates it
	d, err := db.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Dialect() != db.SQLite {
		t.Fatalf("dialect = %s, want sqlite", d.Dialect())
	}
	if _, err := os.Stat(filepath.Join(dir, "anzen.db")); err != nil {
		t.Fatalf("database file: %v", err)
	}
	if err := d.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	// Every connection of the pool must carry the pragmas, not only the first.
	var conns []*sql.Conn
	for i := 0; i < 3; i++ {
		c, err := d.SQL().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var mode string
		if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" {
			t.Errorf("connection %d: journal_mode = %q, want wal", i, mode)
		}
		var fk int
		if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if fk != 1 {
			t.Errorf("connection %d: foreign_keys = %d, want 1", i, fk)
		}
	}
	for _, c := range conns {
		c.Close()
	}

	// And the foreign keys are enforced.
	if err := d.Migrate(ctx, nil, testMigrations(t)); err != nil {
		t.Fatal(err)
	}
	_, err = d.ExecContext(ctx, "INSERT INTO tags (item_id, tag) VALUES (?, ?)", 42, "orphan")
	if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
		t.Fatalf("insert of an orphan tag: err = %v, want a FOREIGN KEY error", err)
	}
}

func TestOpen_SQLiteFilePathDSN(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "elsewhere.db")
	d, err := db.Open(ctx, path, "/nonexistent-data-dir-is-not-used")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file at the DSN path: %v", err)
	}
}

func TestOpen_PostgresUnreachableIsAnError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback is closed: the error must come back, not hang.
	_, err := db.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", "")
	if err == nil {
		t.Fatal("Open of an unreachable PostgreSQL succeeded")
	}
	if !strings.Contains(err.Error(), "connect to postgres") {
		t.Errorf("error %q does not say what failed", err)
	}
}

func countItems(t *testing.T, q db.Querier, name string) int {
	t.Helper()
	var n int
	if err := q.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM items WHERE name = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestInTx_CommitsOrRollsBack(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		fail      func() error // called after the insert; may panic
		wantErr   error
		wantPanic bool
		wantRows  int
	}{
		{"nil commits", func() error { return nil }, nil, false, 1},
		{"error rolls back and is returned", func() error { return errBoom }, errBoom, false, 0},
		{"wrapped error rolls back", func() error { return errors.Join(errors.New("ctx"), errBoom) }, errBoom, false, 0},
		{"panic rolls back and panics on", func() error { panic("kaboom") }, nil, true, 0},
	}
	dbtest.Each(t, []db.Migrations{testMigrations(t)}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				name := "intx " + tt.name
				var err error
				panicked := func() (p any) {
					defer func() { p = recover() }()
					err = d.InTx(ctx, func(tx *db.Tx) error {
						if tx.Dialect() != d.Dialect() {
							t.Errorf("tx dialect %s, db dialect %s", tx.Dialect(), d.Dialect())
						}
						if _, err := tx.ExecContext(ctx, "INSERT INTO items (name) VALUES (?)", name); err != nil {
							return err
						}
						// The transaction sees its own write.
						if n := countItems(t, tx, name); n != 1 {
							t.Errorf("inside the transaction: %d rows, want 1", n)
						}
						return tt.fail()
					})
					return nil
				}()
				if (panicked != nil) != tt.wantPanic {
					t.Fatalf("panic = %v, want panic %v", panicked, tt.wantPanic)
				}
				if tt.wantPanic && panicked != "kaboom" {
					t.Errorf("panic value = %v, want the original kaboom", panicked)
				}
				if tt.wantErr == nil && err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if n := countItems(t, d, name); n != tt.wantRows {
					t.Errorf("after InTx: %d rows, want %d", n, tt.wantRows)
				}
			})
		}
		// After a rollback and a panic the pool is still usable for writes.
		if err := d.InTx(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO items (name) VALUES (?)", "after")
			return err
		}); err != nil {
			t.Fatalf("InTx after rollbacks: %v", err)
		}
	})
}

// logCounter counts "migration applied" lines of the migrate log.
type logCounter struct{ buf bytes.Buffer }

func (l *logCounter) logger() *slog.Logger { return slog.New(slog.NewTextHandler(&l.buf, nil)) }
func (l *logCounter) applied() int         { return strings.Count(l.buf.String(), "migration applied") }

func TestMigrate_AppliesOnceAndSecondRunIsNoOp(t *testing.T) {
	dbtest.Each(t, nil, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		m := testMigrations(t)

		var first logCounter
		if err := d.Migrate(ctx, first.logger(), m); err != nil {
			t.Fatalf("first Migrate: %v", err)
		}
		if got := first.applied(); got != 2 {
			t.Errorf("first Migrate applied %d migrations, want 2\n%s", got, first.buf.String())
		}
		if !strings.Contains(first.buf.String(), "part=dbtest") {
			t.Errorf("migrate log does not name the part:\n%s", first.buf.String())
		}

		var second logCounter
		if err := d.Migrate(ctx, second.logger(), m); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if got := second.applied(); got != 0 {
			t.Errorf("second Migrate applied %d migrations, want 0\n%s", got, second.buf.String())
		}

		// The schema is there and usable, with the part's own goose table.
		if _, err := d.ExecContext(ctx, "INSERT INTO items (name, created_ms) VALUES (?, ?)", "x", 1); err != nil {
			t.Fatal(err)
		}
		var version int64
		if err := d.QueryRowContext(ctx, "SELECT MAX(version_id) FROM goose_dbtest").Scan(&version); err != nil {
			t.Fatalf("goose_dbtest table: %v", err)
		}
		if version != 2 {
			t.Errorf("goose_dbtest version = %d, want 2", version)
		}
	})
}

// fstestMigration is a migration folder holding one Up statement.
func fstestMigration(stmt string) fs.FS {
	return fstest.MapFS{"00001_one.sql": {Data: []byte("-- +goose Up\n" + stmt + "\n")}}
}

func TestMigrate_ErrorNamesThePart(t *testing.T) {
	broken := db.Migrations{Part: "broken",
		SQLite:   fstestMigration("CREATE TABLE oops (;"),
		Postgres: fstestMigration("CREATE TABLE oops (;"),
	}
	dbtest.Each(t, nil, func(t *testing.T, d *db.DB) {
		err := d.Migrate(context.Background(), nil, broken)
		if err == nil {
			t.Fatal("a broken migration was accepted")
		}
		if !strings.Contains(err.Error(), "migrate broken") {
			t.Errorf("error %q does not name the part", err)
		}
	})
}

func TestMillisTime_RoundTrip(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*60*60)
	tests := []struct {
		name string
		in   time.Time
		want time.Time // what comes back
		ms   int64
	}{
		{"zero time is 0", time.Time{}, time.Time{}, 0},
		{"UTC to the millisecond", time.Date(2025, 4, 1, 9, 30, 0, 123_000_000, time.UTC),
			time.Date(2025, 4, 1, 9, 30, 0, 123_000_000, time.UTC), 1743499800123},
		{"sub-millisecond part is dropped", time.Date(2025, 4, 1, 9, 30, 0, 123_456_789, time.UTC),
			time.Date(2025, 4, 1, 9, 30, 0, 123_000_000, time.UTC), 1743499800123},
		{"other zones come back as UTC", time.Date(2025, 4, 1, 18, 30, 0, 0, tokyo),
			time.Date(2025, 4, 1, 9, 30, 0, 0, time.UTC), 1743499800000},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
			time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), -1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := db.Millis(tt.in)
			if ms != tt.ms {
				t.Errorf("Millis = %d, want %d", ms, tt.ms)
			}
			got := db.Time(ms)
			if !got.Equal(tt.want) || got.Location() != time.UTC && !got.IsZero() {
				t.Errorf("Time(Millis(%v)) = %v, want %v in UTC", tt.in, got, tt.want)
			}
			n := db.NullMillis(tt.in)
			if n.Valid == tt.in.IsZero() {
				t.Errorf("NullMillis(%v).Valid = %v", tt.in, n.Valid)
			}
			if got := db.NullTime(n); !got.Equal(tt.want) {
				t.Errorf("NullTime(NullMillis(%v)) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestMillisTime_RoundTripThroughDatabase(t *testing.T) {
	when := time.Date(2025, 4, 1, 9, 30, 0, 123_000_000, time.UTC)
	dbtest.Each(t, []db.Migrations{testMigrations(t)}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.ExecContext(ctx, "INSERT INTO items (name, created_ms) VALUES (?, ?)", "t", db.Millis(when)); err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := d.QueryRowContext(ctx, "SELECT id FROM items WHERE name = ?", "t").Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ExecContext(ctx, "INSERT INTO tags (item_id, tag, seen_ms) VALUES (?, ?, ?), (?, ?, ?)",
			id, "seen", db.NullMillis(when), id, "never", db.NullMillis(time.Time{})); err != nil {
			t.Fatal(err)
		}
		var created int64
		if err := d.QueryRowContext(ctx, "SELECT created_ms FROM items WHERE id = ?", id).Scan(&created); err != nil {
			t.Fatal(err)
		}
		if got := db.Time(created); !got.Equal(when) || got.Location() != time.UTC {
			t.Errorf("created = %v, want %v UTC", got, when)
		}
		for tag, want := range map[string]time.Time{"seen": when, "never": {}} {
			var n sql.NullInt64
			if err := d.QueryRowContext(ctx, "SELECT seen_ms FROM tags WHERE tag = ?", tag).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if got := db.NullTime(n); !got.Equal(want) {
				t.Errorf("%s: seen = %v, want %v", tag, got, want)
			}
		}
	})
}

func TestIsUniqueViolation_BothDialects(t *testing.T) {
	dbtest.Each(t, []db.Migrations{testMigrations(t)}, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.ExecContext(ctx, "INSERT INTO items (name) VALUES (?)", "dup"); err != nil {
			t.Fatal(err)
		}
		_, dupErr := d.ExecContext(ctx, "INSERT INTO items (name) VALUES (?)", "dup")
		var id int64
		if err := d.QueryRowContext(ctx, "SELECT id FROM items WHERE name = ?", "dup").Scan(&id); err != nil {
			t.Fatal(err)
		}
		_, pkErr := d.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (?, ?)", id, "other")
		_, notNullErr := d.ExecContext(ctx, "INSERT INTO items (name) VALUES (NULL)")
		_, fkErr := d.ExecContext(ctx, "INSERT INTO tags (item_id, tag) VALUES (?, ?)", id+1000, "x")
		_, syntaxErr := d.ExecContext(ctx, "INSERT INTO nowhere VALUES (?)", 1)
		noRows := d.QueryRowContext(ctx, "SELECT id FROM items WHERE name = ?", "absent").Scan(&id)

		var txErr error
		_ = d.InTx(ctx, func(tx *db.Tx) error {
			_, txErr = tx.ExecContext(ctx, "INSERT INTO items (name) VALUES (?)", "dup")
			return txErr
		})

		tests := []struct {
			name string
			err  error
			want bool
		}{
			{"duplicate unique column", dupErr, true},
			{"duplicate primary key", pkErr, true},
			{"duplicate inside a transaction", txErr, true},
			{"wrapped duplicate", errors.Join(errors.New("create item"), dupErr), true},
			{"not null violation", notNullErr, false},
			{"foreign key violation", fkErr, false},
			{"unknown table", syntaxErr, false},
			{"no rows", noRows, false},
			{"nil", nil, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.want && tt.err == nil {
					t.Fatal("the statement did not fail")
				}
				if got := db.IsUniqueViolation(tt.err); got != tt.want {
					t.Errorf("IsUniqueViolation(%v) = %v, want %v", tt.err, got, tt.want)
				}
			})
		}
		if !errors.Is(db.NotFound(noRows), db.ErrNotFound) {
			t.Errorf("NotFound(%v) is not ErrNotFound", noRows)
		}
		if got := db.NotFound(syntaxErr); got != syntaxErr {
			t.Errorf("NotFound changed an unrelated error: %v", got)
		}
	})
}
