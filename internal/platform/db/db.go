// Package db opens anzen's database and runs each part's migrations.
//
// anzen stores everything in one SQL database: SQLite (modernc.org/sqlite,
// pure Go, WAL mode) in the data directory by default, or PostgreSQL (pgx)
// when the DSN starts with postgres://. Parts write their queries once with
// '?' placeholders; DB and Tx rewrite them to $1, $2, ... for PostgreSQL.
// Times are stored as BIGINT Unix milliseconds in both dialects, so that a
// query and its scan code are the same on either database.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialect names the SQL database in use.
type Dialect string

// The dialects anzen supports.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Querier is what DB and Tx have in common; store code takes it so that a
// function works inside or outside a transaction.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	Dialect() Dialect
}

// DB is an open anzen database.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	dsn     string
}

// Open opens the database named by dsn. An empty dsn means the SQLite file
// anzen.db inside dataDir. A dsn starting with postgres:// or postgresql://
// selects PostgreSQL; anything else is taken as a SQLite file path.
func Open(ctx context.Context, dsn, dataDir string) (*DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn)
	}
	path := dsn
	if path == "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory %s: %w", dataDir, err)
		}
		path = filepath.Join(dataDir, "anzen.db")
	}
	return openSQLite(ctx, path)
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	// Create the file readable by anzen's user only; SQLite gives its WAL
	// and shared-memory files the same mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	// _txlock=immediate takes the write lock at BEGIN, so that two writers
	// wait for each other (busy_timeout) instead of failing on upgrade.
	// synchronous=FULL makes a commit durable (fsync of the WAL) before it
	// returns: the audit log acknowledges events only after that, and the
	// security events written in a caller's transaction are only as safe
	// as its commit. mmap_size and cache_size serve reads and large
	// transactions from memory; temp_store=MEMORY keeps the statement
	// journals of multi-row inserts off the disk; wal_autocheckpoint copies
	// the WAL into the database every 10 MiB rather than every 4 MiB, so
	// that pages written again and again (indexes) are copied less often,
	// but not every 40 MiB: every page read looks the WAL up first, and a
	// long WAL made appends a quarter slower (docs/benchmarks.md).
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(ON)&_pragma=mmap_size(1073741824)&_pragma=cache_size(-32768)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(2500)"
	s, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s.SetMaxOpenConns(8)
	s.SetMaxIdleConns(8)
	s.SetConnMaxIdleTime(0)
	if err := s.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{sql: s, dialect: SQLite, dsn: path}, nil
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	s, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s.SetMaxOpenConns(20)
	s.SetMaxIdleConns(10)
	s.SetConnMaxIdleTime(5 * time.Minute)
	if err := s.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return &DB{sql: s, dialect: Postgres, dsn: dsn}, nil
}

// Dialect reports which database this is.
func (d *DB) Dialect() Dialect { return d.dialect }

// SQL returns the underlying handle, for migrations and tests.
func (d *DB) SQL() *sql.DB { return d.sql }

// Close closes the database.
func (d *DB) Close() error { return d.sql.Close() }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.sql.PingContext(ctx) }

// ExecContext runs a statement written with '?' placeholders.
func (d *DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.sql.ExecContext(ctx, Rebind(d.dialect, q), args...)
}

// QueryContext runs a query written with '?' placeholders.
func (d *DB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.sql.QueryContext(ctx, Rebind(d.dialect, q), args...)
}

// QueryRowContext runs a query written with '?' placeholders.
func (d *DB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return d.sql.QueryRowContext(ctx, Rebind(d.dialect, q), args...)
}

// Tx is a transaction; its methods take '?' placeholders like DB's.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
}

// Dialect reports which database this is.
func (t *Tx) Dialect() Dialect { return t.dialect }

// ExecContext runs a statement in the transaction.
func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, Rebind(t.dialect, q), args...)
}

// QueryContext runs a query in the transaction.
func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, Rebind(t.dialect, q), args...)
}

// QueryRowContext runs a query in the transaction.
func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, Rebind(t.dialect, q), args...)
}

// PrepareContext prepares a statement written with '?' placeholders for
// use in the transaction; the caller closes it. Worth it for a statement
// run many times in one transaction.
func (t *Tx) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(ctx, Rebind(t.dialect, q))
}

// InTx runs fn in a transaction and commits it when fn returns nil; on an
// error or a panic it rolls back, so nothing fn wrote is kept.
func (d *DB) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	stx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = stx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = stx.Rollback()
		}
	}()
	if err = fn(&Tx{tx: stx, dialect: d.dialect}); err != nil {
		return err
	}
	if err = stx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Rebind rewrites '?' placeholders to PostgreSQL's $n form. Question marks
// inside single-quoted string literals, double-quoted identifiers and SQL
// comments are left alone, and so are quotes inside comments (an apostrophe
// in "-- the user's row" does not start a string).
func Rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		// end is the index of the last byte of a literal or comment that
		// starts at i, or -1 when there is none there.
		end := -1
		switch c := q[i]; {
		case c == '\'' || c == '"':
			// A doubled quote inside ends this literal and starts the next,
			// which gives the same result.
			if j := strings.IndexByte(q[i+1:], c); j >= 0 {
				end = i + 1 + j
			} else {
				end = len(q) - 1
			}
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			if j := strings.IndexByte(q[i:], '\n'); j >= 0 {
				end = i + j
			} else {
				end = len(q) - 1
			}
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			if j := strings.Index(q[i+2:], "*/"); j >= 0 {
				end = i + 2 + j + 1
			} else {
				end = len(q) - 1
			}
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		if end < 0 {
			b.WriteByte(q[i])
			continue
		}
		b.WriteString(q[i : end+1])
		i = end
	}
	return b.String()
}

// Migrations is one part's schema history: a folder of goose SQL files per
// dialect.
type Migrations struct {
	Part     string // the part's name; its goose table is goose_<part>
	SQLite   fs.FS
	Postgres fs.FS
}

// Migrate brings every part's schema up to date, in the order given.
// On PostgreSQL it holds an advisory lock so that several anzen instances
// starting together migrate once.
func (d *DB) Migrate(ctx context.Context, log *slog.Logger, parts ...Migrations) error {
	for _, p := range parts {
		if err := d.migrate(ctx, log, p); err != nil {
			return fmt.Errorf("migrate %s: %w", p.Part, err)
		}
	}
	return nil
}

func (d *DB) migrate(ctx context.Context, log *slog.Logger, p Migrations) error {
	fsys, dialect := p.SQLite, database.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if d.dialect == Postgres {
		fsys, dialect = p.Postgres, database.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	store, err := database.NewStore(dialect, "goose_"+p.Part)
	if err != nil {
		return err
	}
	opts = append(opts, goose.WithStore(store))
	prov, err := goose.NewProvider("", d.sql, fsys, opts...)
	if err != nil {
		return err
	}
	results, err := prov.Up(ctx)
	if err != nil {
		return err
	}
	for _, r := range results {
		if log != nil {
			log.Info("migration applied", "part", p.Part, "version", r.Source.Version, "file", r.Source.Path)
		}
	}
	return nil
}

// ErrNotFound is returned by stores when a looked-up record does not exist.
var ErrNotFound = errors.New("not found")

// NotFound maps sql.ErrNoRows to ErrNotFound and leaves other errors alone.
func NotFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// IsUniqueViolation reports whether err is a unique-constraint violation on
// either database.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505")
}

// Millis converts a time to the stored form (Unix milliseconds); the zero
// time becomes 0.
func Millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Time converts a stored Unix-millisecond value back to UTC; 0 becomes the
// zero time.
func Time(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// NullMillis is Millis for nullable columns: the zero time becomes NULL.
func NullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// NullTime is Time for nullable columns.
func NullTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return Time(n.Int64)
}
