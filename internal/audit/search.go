package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Searching the access log: every event of every source (the EHR's
// accesses and anzen's own security events alike), found through the search
// index (audit_index, kept by index.go) and read from the log itself, so
// that what a search shows is exactly what the tree holds and a proof can
// show.

// EventQuery selects events of the log. Empty fields match everything,
// except the facility scope: a query that names no facility and is not
// AllFacilities matches nothing.
type EventQuery struct {
	From time.Time // events at or after From, by the source's clock
	To   time.Time // events before To, by the source's clock

	Actor   string // exact user id at the source
	Patient string // exact patient id at the source
	// Action is exact, or a prefix when it ends in "*" (the star is not
	// part of it) or in "." (as the security events' "login."; the dot is).
	Action  string
	Source  string // exact source system
	Outcome string // OutcomeSuccess, OutcomeFailure or OutcomeUnknown
	// Text is looked for, byte for byte, in the stored entry: the original
	// record as received and the fields anzen read from it. It is
	// case-sensitive (「山田」 finds 山田, "Yamada" does not find "YAMADA"),
	// and, since it reads every candidate entry, slower than the other
	// criteria on a large log unless they narrow the search first.
	Text string

	// The facility scope, as authz.Principal.Facilities returns it.
	// Events of no facility (0) match only AllFacilities.
	AllFacilities bool
	Facilities    []int64

	Before int64 // only events with a sequence number below Before (keyset paging); 0 for the newest
	Limit  int   // DefaultLimit when 0 or less; at most MaxLimit
}

// EventPage is one page of a search: the events, newest first, the value
// of Before for the next (older) page, 0 when there is none, and how many
// events the search index had still to take when the search ran (0 almost
// always; see Sync).
type EventPage struct {
	Events []Event
	Next   int64
	Behind int64
}

// SearchEvents returns the events q selects, newest first. It first brings
// the search index up to date (Sync), for a bounded time; EventPage.Behind
// says when it could not.
func (l *Log) SearchEvents(ctx context.Context, q EventQuery) (EventPage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	page := EventPage{Events: []Event{}}
	behind, err := l.Sync(ctx)
	if err != nil {
		return page, fmt.Errorf("search the audit log: %w", err)
	}
	page.Behind = behind
	query, args, none := l.searchSQL(q, limit)
	if none {
		return page, nil
	}
	events, err := l.readEntries(ctx, query, args...)
	if err != nil {
		return page, fmt.Errorf("search the audit log: %w", err)
	}
	if len(events) > limit {
		events = events[:limit]
		page.Next = events[limit-1].Seq
	}
	page.Events = events
	return page, nil
}

// searchSQL is the query of a page of q of limit events (and one more,
// which tells whether a next page exists); none reports a scope that can
// match nothing.
func (l *Log) searchSQL(q EventQuery, limit int) (query string, args []any, none bool) {
	where, args, none := l.eventConditions(q)
	if none {
		return "", nil, true
	}
	if q.Before > 0 {
		where, args = append(where, "i.seq < ?"), append(args, q.Before)
	}
	args = append(args, limit+1)
	if q.Text != "" {
		// The text is in the log's entries: the join comes first.
		return "SELECT i.seq, l.entry FROM audit_index i JOIN audit_log l ON l.seq = i.seq WHERE " +
			strings.Join(where, " AND ") + " ORDER BY i.seq DESC LIMIT ?", args, false
	}
	// The page's positions from the index alone, then their entries: a
	// database that sorts (a time range) then sorts positions, not entries.
	return "SELECT p.seq, l.entry FROM (SELECT i.seq FROM audit_index i WHERE " + strings.Join(where, " AND ") +
		" ORDER BY i.seq DESC LIMIT ?) p JOIN audit_log l ON l.seq = p.seq ORDER BY p.seq DESC", args, false
}

// CountEvents counts the events q selects (Before and Limit are ignored),
// stopping at upTo: more reports that there are more than n. A count of a
// text search reads every candidate entry; the bound keeps a page that
// shows the count from reading the whole log.
func (l *Log) CountEvents(ctx context.Context, q EventQuery, upTo int) (n int, more bool, err error) {
	if _, err := l.Sync(ctx); err != nil {
		return 0, false, fmt.Errorf("count audit events: %w", err)
	}
	q.Before = 0
	where, args, none := l.eventConditions(q)
	if none {
		return 0, false, nil
	}
	from := "audit_index i"
	if q.Text != "" {
		from += " JOIN audit_log l ON l.seq = i.seq"
	}
	query := "SELECT COUNT(*) FROM (SELECT 1 FROM " + from + " WHERE " + strings.Join(where, " AND ") +
		" LIMIT ?) AS c"
	if err := l.db.QueryRowContext(ctx, query, append(args, upTo+1)...).Scan(&n); err != nil {
		return 0, false, fmt.Errorf("count audit events: %w", err)
	}
	if n > upTo {
		return upTo, true, nil
	}
	return n, false, nil
}

// ReadEvent returns the event at seq from the log itself (not the index),
// db.ErrNotFound when the log has no such position, or ErrArchived when
// retention has moved it to an archive segment.
func (l *Log) ReadEvent(ctx context.Context, seq int64) (Event, error) {
	if seq < 0 {
		return Event{}, fmt.Errorf("event %d: %w", seq, db.ErrNotFound)
	}
	var entry []byte
	err := db.NotFound(l.db.QueryRowContext(ctx, `SELECT entry FROM audit_log WHERE seq = ?`, seq).Scan(&entry))
	if errors.Is(err, db.ErrNotFound) {
		size, serr := l.Size(ctx)
		if serr != nil {
			return Event{}, serr
		}
		if seq < size {
			return Event{}, fmt.Errorf("event %d: %w", seq, ErrArchived)
		}
		return Event{}, fmt.Errorf("event %d: %w", seq, db.ErrNotFound)
	}
	if err != nil {
		return Event{}, fmt.Errorf("read event %d: %w", seq, err)
	}
	e, err := DecodeEntry(entry)
	if err != nil {
		return Event{}, fmt.Errorf("event %d: %w (run anzen audit verify)", seq, err)
	}
	e.Seq = seq
	return e, nil
}

// InScope reports whether an event of facility f is within the scope of
// q: every facility, or one of q's (an event of no facility only for
// every facility).
func (q EventQuery) InScope(f int64) bool {
	return q.AllFacilities || (f > 0 && slices.Contains(q.Facilities, f))
}

// readEntries runs query, which selects a sequence number and an entry,
// and decodes the entries.
func (l *Log) readEntries(ctx context.Context, query string, args ...any) ([]Event, error) {
	return queryEntries(ctx, l.db, 0, query, args...)
}

// queryEntries runs query, which selects seq and entry of the log, and
// decodes the events; capHint is how many rows are expected at most.
func queryEntries(ctx context.Context, q db.Querier, capHint int, query string, args ...any) ([]Event, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// entry is the driver's bytes, valid until the next row: the event
	// copies what it keeps into the arena.
	var (
		entry sql.RawBytes
		arena entryArena
	)
	var out []Event
	if capHint > 0 {
		out = make([]Event, 0, capHint)
	}
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq, &entry); err != nil {
			return nil, err
		}
		e, err := decodeEntry(entry, &arena)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w (run anzen audit verify)", seq, err)
		}
		e.Seq = seq
		out = append(out, e)
	}
	return out, rows.Err()
}

// eventConditions turns q into SQL conditions on the index (alias i) and
// the log (alias l, only for Text) and their arguments; none reports a
// scope that can match nothing.
func (l *Log) eventConditions(q EventQuery) (where []string, args []any, none bool) {
	scope, args, none := facilityScope("i.facility_id", q.AllFacilities, q.Facilities)
	if none {
		return nil, nil, true
	}
	if !q.AllFacilities {
		if q.Patient != "" || q.Actor != "" || !q.From.IsZero() || !q.To.IsZero() {
			// A patient, an actor or a time range should pick the index,
			// not the facility: without statistics SQLite takes the
			// facility's index, which also gives the order, and walks all
			// of a facility's events from the newest back. The unary plus,
			// valid on both databases, keeps that index out of the choice.
			scope = "+" + scope
		}
		where = append(where, scope)
	}
	add := func(cond string, arg any) {
		where, args = append(where, cond), append(args, arg)
	}
	if !q.From.IsZero() {
		add("i.at >= ?", db.Millis(q.From))
	}
	if !q.To.IsZero() {
		add("i.at < ?", db.Millis(q.To))
	}
	if q.Actor != "" {
		add("i.actor_id = ?", q.Actor)
	}
	if q.Patient != "" {
		add("i.patient_id = ?", q.Patient)
	}
	if q.Source != "" {
		add("i.source = ?", q.Source)
	}
	if q.Outcome != "" {
		add("i.outcome = ?", q.Outcome)
	}
	if prefix, ok := actionPrefix(q.Action); ok {
		// substr counts characters on both databases, as RuneCount does;
		// a range (>=, <) would depend on PostgreSQL's collation.
		where = append(where, "substr(i.action, 1, ?) = ?")
		args = append(args, utf8.RuneCountInString(prefix), prefix)
	} else if q.Action != "" {
		add("i.action = ?", q.Action)
	}
	if q.Text != "" {
		// Bytes, not text: the entry is binary, and a byte match is what
		// both databases do alike.
		if l.db.Dialect() == db.Postgres {
			add("position(CAST(? AS bytea) IN l.entry) > 0", []byte(q.Text))
		} else {
			add("instr(l.entry, ?) > 0", []byte(q.Text))
		}
	}
	if len(where) == 0 {
		where = []string{"1 = 1"}
	}
	return where, args, false
}

// actionPrefix reports whether action asks for a prefix, and which.
func actionPrefix(action string) (string, bool) {
	switch {
	case strings.HasSuffix(action, "*") && len(action) > 1:
		return strings.TrimSuffix(action, "*"), true
	case strings.HasSuffix(action, ".") && len(action) > 1:
		return action, true
	}
	return "", false
}

// Names names the flags set in f, as the API and the CSV write them:
// clock_skew, imported, no_source_time; an unknown bit as flag_<n>.
func (f Flags) Names() []string {
	out := []string{}
	for bit := range 32 {
		fl := Flags(1) << bit
		if !f.Has(fl) {
			continue
		}
		switch fl {
		case FlagClockSkew:
			out = append(out, "clock_skew")
		case FlagImported:
			out = append(out, "imported")
		case FlagNoSourceTime:
			out = append(out, "no_source_time")
		default:
			out = append(out, fmt.Sprintf("flag_%d", bit))
		}
	}
	return out
}
