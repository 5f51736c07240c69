// Package audit keeps anzen's log of security events: who signed in or
// failed to, who changed which user, role, key or setting, and who read the
// log itself (MHLW guideline 5.1, 6.5 (3) and chapter 7).
//
// Every part records its events through selfaudit.Recorder, which Log
// implements, in the same transaction as the change it records; a change
// rolled back leaves no record, and a record cannot exist without its
// change. CISOs, CSIRT members and auditors search the log through the JSON
// API, a page and a CSV export, each scoped to the facilities where they
// hold PermRead. Events of no facility (system-wide ones, such as a failed
// login of an unknown name) are shown only to holders of PermRead in every
// facility.
//
// This is the first, plain form of the log: one append-only table. It is
// meant to become a tamper-evident Merkle-tree log with signed checkpoints,
// so entries are written once and never changed, and Record stores the
// detail in a canonical form (JSON with sorted keys).
package audit

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// PermRead lets a caller search and export the security events of the
// facilities where it is held.
var PermRead = authz.Define(authz.Spec{
	Name:   "audit.security_events.read",
	Kind:   authz.Read,
	Roles:  []authz.Role{authz.Admin, authz.CISO, authz.CSIRT, authz.Auditor},
	Scopes: []string{"read"},
})

// ActionSearch is the action recorded whenever someone searches or exports
// the security events.
const ActionSearch = "audit.search"

// MaxFieldLen is the length, in characters, beyond which Record cuts a text
// field or a detail key or value.
const MaxFieldLen = 1000

// Limits of one Search.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// ErrInvalid is returned (wrapped) by Record for an event that cannot be
// stored as it is.
var ErrInvalid = errors.New("invalid security event")

//go:embed migrations
var migrationsFS embed.FS

//go:embed locales/*.toml
var localesFS embed.FS

// Migrations returns the schema of the audit part for both dialects.
func Migrations() db.Migrations {
	lite, err := fs.Sub(migrationsFS, "migrations/sqlite")
	if err != nil {
		panic(err)
	}
	pg, err := fs.Sub(migrationsFS, "migrations/postgres")
	if err != nil {
		panic(err)
	}
	return db.Migrations{Part: "audit", SQLite: lite, Postgres: pg}
}

// Locales returns the audit part's message catalog files (ja, en).
func Locales() fs.FS {
	sub, err := fs.Sub(localesFS, "locales")
	if err != nil {
		panic(err)
	}
	return sub
}

// Entry is one stored security event.
type Entry struct {
	ID         int64             `json:"id"`
	Time       time.Time         `json:"time"`
	Facility   int64             `json:"facility"`
	ActorID    int64             `json:"actor_id"`
	ActorLogin string            `json:"actor_login"`
	Action     string            `json:"action"`
	Target     string            `json:"target"`
	Outcome    string            `json:"outcome"`
	ClientAddr string            `json:"client_addr"`
	Detail     map[string]string `json:"detail"`
}

// Filter selects security events. Empty fields match everything, except
// the facility scope: a filter that names no facility and is not
// AllFacilities matches nothing.
type Filter struct {
	From time.Time // events at or after From
	To   time.Time // events before To

	ActorLogin string // exact login name
	Action     string // exact action, or, ending in ".", a prefix such as "login."
	Outcome    string // selfaudit.Success or selfaudit.Failure
	Target     string // part of the target (case-sensitive)
	ClientAddr string // exact client address

	// The facility scope, as authz.Principal.Facilities returns it.
	// Events of no facility (0) match only AllFacilities.
	AllFacilities bool
	Facilities    []int64

	Before int64 // only events with an id below Before (keyset paging); 0 for the newest
	Limit  int   // DefaultLimit when 0 or less; at most MaxLimit
}

// Log is the security-event log. It implements selfaudit.Recorder.
type Log struct {
	db    *db.DB
	clock clock.Clock
}

var _ selfaudit.Recorder = (*Log)(nil)

// New returns the log stored in d; events without a time get c's.
func New(d *db.DB, c clock.Clock) *Log {
	if c == nil {
		c = clock.Real{}
	}
	return &Log{db: d, clock: c}
}

const insertEvent = `INSERT INTO audit_security_events
	(at, facility_id, actor_id, actor_login, action, target, outcome, client_addr, detail)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// Record stores e through q, so that it is part of the caller's
// transaction; a nil q writes directly to the log's database. A zero Time
// becomes the clock's now. Action and Outcome are required and Outcome must
// be selfaudit.Success or selfaudit.Failure; text longer than MaxFieldLen
// characters is cut, and text that is not valid UTF-8 is repaired, so that
// what an anonymous caller typed can always be recorded.
func (l *Log) Record(ctx context.Context, q db.Querier, e selfaudit.Event) error {
	if err := validate(e); err != nil {
		return err
	}
	if q == nil {
		q = l.db
	}
	if e.Time.IsZero() {
		e.Time = l.clock.Now()
	}
	detail := make(map[string]string, len(e.Detail))
	for k, v := range e.Detail {
		detail[clean(k)] = clean(v)
	}
	dj, err := json.Marshal(detail) // sorted keys: one canonical form
	if err != nil {
		return fmt.Errorf("record %s: encode detail: %w", e.Action, err)
	}
	_, err = q.ExecContext(ctx, insertEvent, db.Millis(e.Time), e.Facility, e.ActorID,
		clean(e.ActorLogin), clean(e.Action), clean(e.Target), e.Outcome, clean(e.ClientAddr), string(dj))
	if err != nil {
		return fmt.Errorf("record %s: %w", e.Action, err)
	}
	return nil
}

func validate(e selfaudit.Event) error {
	switch {
	case strings.TrimSpace(e.Action) == "":
		return fmt.Errorf("%w: action is required", ErrInvalid)
	case e.Outcome == "":
		return fmt.Errorf("%w: outcome is required (action %s)", ErrInvalid, e.Action)
	case e.Outcome != selfaudit.Success && e.Outcome != selfaudit.Failure:
		return fmt.Errorf("%w: outcome %q is neither %q nor %q (action %s)", ErrInvalid,
			e.Outcome, selfaudit.Success, selfaudit.Failure, e.Action)
	case e.Facility < 0:
		return fmt.Errorf("%w: facility %d is negative (action %s)", ErrInvalid, e.Facility, e.Action)
	case e.ActorID < 0:
		return fmt.Errorf("%w: actor id %d is negative (action %s)", ErrInvalid, e.ActorID, e.Action)
	}
	return nil
}

// clean makes s storable on both databases: valid UTF-8 without NUL
// (PostgreSQL refuses either), at most MaxFieldLen characters.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	if utf8.RuneCountInString(s) > MaxFieldLen {
		n := 0
		for i := range s {
			if n == MaxFieldLen {
				return s[:i]
			}
			n++
		}
	}
	return s
}

const selectEvents = `SELECT id, at, facility_id, actor_id, actor_login, action, target, outcome, client_addr, detail
	FROM audit_security_events`

// Search returns the events f selects, newest first, and the cursor of the
// next page: the value for f.Before that continues after the last entry
// returned, or 0 when there is nothing more.
func (l *Log) Search(ctx context.Context, f Filter) (entries []Entry, next int64, err error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)

	where, args, none := l.conditions(f)
	if none {
		return []Entry{}, 0, nil
	}
	if f.Before > 0 {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}

	q := selectEvents
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit+1) // one more tells whether a next page exists

	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("search security events: %w", err)
	}
	defer rows.Close()
	entries = make([]Entry, 0, min(limit, 64))
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("search security events: %w", err)
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("search security events: %w", err)
	}
	if len(entries) > limit {
		entries = entries[:limit]
		next = entries[limit-1].ID
	}
	return entries, next, nil
}

func scanEntry(rows *sql.Rows) (Entry, error) {
	var e Entry
	var at int64
	var detail string
	if err := rows.Scan(&e.ID, &at, &e.Facility, &e.ActorID, &e.ActorLogin, &e.Action, &e.Target,
		&e.Outcome, &e.ClientAddr, &detail); err != nil {
		return Entry{}, err
	}
	e.Time = db.Time(at)
	e.Detail = map[string]string{}
	if detail != "" {
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			return Entry{}, fmt.Errorf("event %d: detail: %w", e.ID, err)
		}
	}
	return e, nil
}

// conditions turns a filter into SQL conditions and their arguments; none
// reports a scope that can match nothing.
func (l *Log) conditions(f Filter) (where []string, args []any, none bool) {
	if !f.AllFacilities {
		// Facility 0 means "no facility"; it is never a scope of its own.
		ids := slices.DeleteFunc(slices.Clone(f.Facilities), func(id int64) bool { return id <= 0 })
		if len(ids) == 0 {
			return nil, nil, true
		}
		where = append(where, "facility_id IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")+")")
		for _, id := range ids {
			args = append(args, id)
		}
	}
	if !f.From.IsZero() {
		where, args = append(where, "at >= ?"), append(args, db.Millis(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "at < ?"), append(args, db.Millis(f.To))
	}
	if f.ActorLogin != "" {
		where, args = append(where, "actor_login = ?"), append(args, f.ActorLogin)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			// substr counts characters on both databases, as RuneCount does.
			where = append(where, "substr(action, 1, ?) = ?")
			args = append(args, utf8.RuneCountInString(f.Action), f.Action)
		} else {
			where, args = append(where, "action = ?"), append(args, f.Action)
		}
	}
	if f.Outcome != "" {
		where, args = append(where, "outcome = ?"), append(args, f.Outcome)
	}
	if f.Target != "" {
		if l.db.Dialect() == db.Postgres {
			where = append(where, "strpos(target, ?) > 0")
		} else {
			where = append(where, "instr(target, ?) > 0")
		}
		args = append(args, f.Target)
	}
	if f.ClientAddr != "" {
		where, args = append(where, "client_addr = ?"), append(args, f.ClientAddr)
	}
	return where, args, false
}

// Count returns how many events f selects (Before and Limit are ignored).
func (l *Log) Count(ctx context.Context, f Filter) (int, error) {
	f.Before = 0
	where, args, none := l.conditions(f)
	if none {
		return 0, nil
	}
	q := "SELECT COUNT(*) FROM audit_security_events"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	var n int
	if err := l.db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count security events: %w", err)
	}
	return n, nil
}
