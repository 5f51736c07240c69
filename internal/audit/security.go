package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// anzen's own security events, as the security-events page, its API and
// its CSV export show them: the events of source "anzen", read from the
// search index and the log, each with the record anzen made of it.

// ActionSearch is the action recorded whenever someone searches or exports
// the security events.
const ActionSearch = "audit.search"

// Limits of one Search.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

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

// Search returns the security events f selects, newest first, and the
// cursor of the next page: the value for f.Before that continues after the
// last entry returned, or 0 when there is nothing more. Events recorded
// before the call are found (it brings the index up to date first).
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
	if _, err := l.Sync(ctx); err != nil {
		return nil, 0, fmt.Errorf("search security events: %w", err)
	}
	if f.Before > 0 {
		where, args = append(where, "i.seq < ?"), append(args, f.Before)
	}
	q := "SELECT i.seq, l.entry FROM audit_index i JOIN audit_log l ON l.seq = i.seq WHERE " +
		strings.Join(where, " AND ") + " ORDER BY i.seq DESC LIMIT ?"
	args = append(args, limit+1) // one more tells whether a next page exists

	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("search security events: %w", err)
	}
	defer rows.Close()
	entries = make([]Entry, 0, min(limit, 64))
	for rows.Next() {
		var seq int64
		var raw []byte
		if err := rows.Scan(&seq, &raw); err != nil {
			return nil, 0, fmt.Errorf("search security events: %w", err)
		}
		e, err := securityEntry(seq, raw)
		if err != nil {
			return nil, 0, err
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

// securityEntry reads a security event back from its log entry.
func securityEntry(seq int64, raw []byte) (Entry, error) {
	ev, err := DecodeEntry(raw)
	if err != nil {
		return Entry{}, fmt.Errorf("security event %d: %w (run anzen audit verify)", seq, err)
	}
	var rec securityRecord
	if err := json.Unmarshal(ev.Original, &rec); err != nil {
		return Entry{}, fmt.Errorf("security event %d: record: %w", seq, err)
	}
	e := Entry{ID: seq, Time: ev.Time, Facility: ev.Facility, ActorID: rec.ActorID, ActorLogin: ev.Actor.ID,
		Action: ev.Action, Target: rec.Target, Outcome: ev.Outcome, ClientAddr: ev.Actor.Address, Detail: rec.Detail}
	if e.Detail == nil {
		e.Detail = map[string]string{}
	}
	return e, nil
}

// conditions turns a filter into SQL conditions on the index (alias i) and
// their arguments; none reports a scope that can match nothing.
func (l *Log) conditions(f Filter) (where []string, args []any, none bool) {
	where, args = []string{"i.source = ?"}, []any{SourceAnzen}
	if !f.AllFacilities {
		// Facility 0 means "no facility"; it is never a scope of its own.
		ids := slices.DeleteFunc(slices.Clone(f.Facilities), func(id int64) bool { return id <= 0 })
		if len(ids) == 0 {
			return nil, nil, true
		}
		where = append(where, "i.facility_id IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")+")")
		for _, id := range ids {
			args = append(args, id)
		}
	}
	if !f.From.IsZero() {
		where, args = append(where, "i.at >= ?"), append(args, db.Millis(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "i.at < ?"), append(args, db.Millis(f.To))
	}
	if f.ActorLogin != "" {
		where, args = append(where, "i.actor_id = ?"), append(args, f.ActorLogin)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			// substr counts characters on both databases, as RuneCount does.
			where = append(where, "substr(i.action, 1, ?) = ?")
			args = append(args, utf8.RuneCountInString(f.Action), f.Action)
		} else {
			where, args = append(where, "i.action = ?"), append(args, f.Action)
		}
	}
	if f.Outcome != "" {
		where, args = append(where, "i.outcome = ?"), append(args, f.Outcome)
	}
	if f.Target != "" {
		where, args = append(where, contains(l.db.Dialect(), "i.object")), append(args, f.Target)
	}
	if f.ClientAddr != "" {
		where, args = append(where, "i.address = ?"), append(args, f.ClientAddr)
	}
	return where, args, false
}

// contains is the SQL test that column holds the next argument as a part.
func contains(d db.Dialect, column string) string {
	if d == db.Postgres {
		return "strpos(" + column + ", ?) > 0"
	}
	return "instr(" + column + ", ?) > 0"
}

// Count returns how many security events f selects (Before and Limit are
// ignored).
func (l *Log) Count(ctx context.Context, f Filter) (int, error) {
	if _, err := l.Sync(ctx); err != nil {
		return 0, fmt.Errorf("count security events: %w", err)
	}
	return l.countIndexed(ctx, f)
}

// countIndexed is Count of what the search index holds now, without
// bringing it up to date first.
func (l *Log) countIndexed(ctx context.Context, f Filter) (int, error) {
	f.Before = 0
	where, args, none := l.conditions(f)
	if none {
		return 0, nil
	}
	var n int
	if err := l.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_index i WHERE "+strings.Join(where, " AND "),
		args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count security events: %w", err)
	}
	return n, nil
}
