package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// forge replaces the whole stored log in d (entries, leaves, tree, head)
// with one of events, recomputed correctly, as an attacker who controls
// the database and knows the format could; only the checkpoints, signed
// with a key the attacker does not hold, stay as they were.
func forge(t *testing.T, d *db.DB, events []audit.Event) {
	t.Helper()
	ctx := context.Background()
	scratch := dbtest.SQLite(t, parts...)
	appendAll(t, audit.New(scratch, nil), events)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.ExecContext(ctx, `DELETE FROM audit_log`))
	must(d.ExecContext(ctx, `DELETE FROM audit_tree`))
	copyRows(t, scratch, d, `SELECT seq, received, leaf, entry FROM audit_log`, `INSERT INTO audit_log (seq, received, leaf, entry) VALUES (?, ?, ?, ?)`)
	copyRows(t, scratch, d, `SELECT level, idx, hash FROM audit_tree`, `INSERT INTO audit_tree (level, idx, hash) VALUES (?, ?, ?)`)
	var size int64
	var root []byte
	if err := scratch.QueryRowContext(ctx, `SELECT size, root FROM audit_head`).Scan(&size, &root); err != nil {
		t.Fatal(err)
	}
	must(d.ExecContext(ctx, `UPDATE audit_head SET size = ?, root = ?`, size, root))
}

func copyRows(t *testing.T, from, to *db.DB, query, insert string) {
	t.Helper()
	ctx := context.Background()
	rows, err := from.QueryContext(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		if _, err := to.ExecContext(ctx, insert, vals...); err != nil {
			t.Fatal(err)
		}
	}
}

// TestVerify_NamesTheFirstBadPosition tampers with a log of 100 events
// (checkpoints at 40 and 100, the index up to date) in every way the
// database allows, and checks that verification names where and how.
func TestVerify_NamesTheFirstBadPosition(t *testing.T) {
	type tamper struct {
		name     string
		sql      []string // run in order; ? is not used
		forge    func(events []audit.Event) []audit.Event
		kind     string
		firstBad int64
	}
	entryOf := func(i int) string { // a SQL literal of event i's entry, for copying rows around
		e := audittest.Event(i)
		return hexLiteral(audit.AppendEntry(nil, &e))
	}
	tampers := []tamper{
		{name: "update an entry", sql: []string{`UPDATE audit_log SET entry = ` + entryOf(500) + ` WHERE seq = 57`},
			kind: audit.ProblemAltered, firstBad: 57},
		{name: "update a leaf hash", sql: []string{`UPDATE audit_log SET leaf = ` + hexLiteral(make([]byte, 32)) + ` WHERE seq = 12`},
			kind: audit.ProblemAltered, firstBad: 12},
		{name: "delete an event", sql: []string{`DELETE FROM audit_log WHERE seq = 33`},
			kind: audit.ProblemMissing, firstBad: 33},
		{name: "delete the first event", sql: []string{`DELETE FROM audit_log WHERE seq = 0`},
			kind: audit.ProblemMissing, firstBad: 0},
		{name: "delete the last events", sql: []string{`DELETE FROM audit_log WHERE seq >= 98`},
			kind: audit.ProblemMissing, firstBad: 98},
		{name: "insert an event beyond the end", sql: []string{`INSERT INTO audit_log (seq, received, leaf, entry) SELECT 100, received, leaf, entry FROM audit_log WHERE seq = 5`},
			kind: audit.ProblemInserted, firstBad: 100},
		{name: "reorder two events", sql: []string{
			`UPDATE audit_log SET seq = -1 WHERE seq = 20`, `UPDATE audit_log SET seq = 20 WHERE seq = 23`, `UPDATE audit_log SET seq = 23 WHERE seq = -1`},
			kind: audit.ProblemMoved, firstBad: 20},
		{name: "insert in the middle, moving the rest up", sql: shiftUp(70, 99),
			kind: audit.ProblemMoved, firstBad: 70},
		{name: "delete in the middle, moving the rest down", sql: []string{`DELETE FROM audit_log WHERE seq = 44`, `UPDATE audit_log SET seq = seq - 1 WHERE seq > 44`},
			kind: audit.ProblemMoved, firstBad: 44},
		{name: "change an entry with a matching leaf hash", forge: func(ev []audit.Event) []audit.Event {
			ev[61].Patient.ID = "P-HIDDEN" // forge rewrites the whole log; keep only row 61 of it below
			return ev
		}, kind: audit.ProblemTree, firstBad: 48},
		{name: "rewrite the whole log", forge: func(ev []audit.Event) []audit.Event {
			ev[9].Actor.ID = "someone-else"
			return ev
		}, kind: audit.ProblemCheckpoint, firstBad: 0},
		{name: "rewrite the log after the first checkpoint", forge: func(ev []audit.Event) []audit.Event {
			ev[77].Action = "view"
			ev[77].Outcome = audit.OutcomeFailure
			return ev
		}, kind: audit.ProblemCheckpoint, firstBad: 40},
		{name: "delete a search index row", sql: []string{`DELETE FROM audit_index WHERE seq = 81`},
			kind: audit.ProblemIndex, firstBad: 81},
		{name: "change a patient in the search index", sql: []string{`UPDATE audit_index SET patient_id = 'P0000000' WHERE seq = 90`},
			kind: audit.ProblemIndex, firstBad: 90},
		{name: "forge a checkpoint", sql: []string{`UPDATE audit_checkpoints SET note = replace(note, 'test.example.jp', 'test.example.jq')`},
			kind: audit.ProblemCheckpoint, firstBad: 0},
		{name: "cut the end off behind a checkpoint", forge: func(ev []audit.Event) []audit.Event { return ev[:90] },
			kind: audit.ProblemCheckpoint, firstBad: 90},
	}
	for _, tc := range tampers {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
				ctx := context.Background()
				l := newLog(d, audittest.NewSigner())
				appendAll(t, l, audittest.Events(0, 40))
				mustSign(t, l)
				appendAll(t, l, audittest.Events(40, 60))
				mustSign(t, l)
				if _, err := l.Sync(ctx); err != nil {
					t.Fatal(err)
				}
				if res, err := l.Verify(ctx, audit.VerifyOptions{}); err != nil || !res.OK || res.Checkpoints != 2 {
					t.Fatalf("before tampering: %+v, %v", res, err)
				}
				for _, q := range tc.sql {
					if d.Dialect() == db.Postgres {
						q = strings.ReplaceAll(q, "X'", "'\\x")
					}
					if _, err := d.ExecContext(ctx, q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				if tc.forge != nil {
					events := tc.forge(audittest.Events(0, 100))
					if strings.HasPrefix(tc.name, "change an entry") {
						// Only that row, with its own correct leaf hash.
						e := events[61]
						entry := audit.AppendEntry(nil, &e)
						if _, err := d.ExecContext(ctx, `UPDATE audit_log SET entry = ?, leaf = ? WHERE seq = 61`,
							entry, audit.LeafHash(61, entry)); err != nil {
							t.Fatal(err)
						}
					} else {
						forge(t, d, events)
					}
				}
				res, err := l.Verify(ctx, audit.VerifyOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if res.OK || res.Kind != tc.kind || res.FirstBad != tc.firstBad || res.Problem == "" {
					t.Fatalf("verify = %+v\nwant kind %s at %d", res, tc.kind, tc.firstBad)
				}
			})
		})
	}
}

func mustSign(t *testing.T, l *audit.Log) {
	t.Helper()
	if _, err := l.SignCheckpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// shiftUp moves events from..last one position up (highest first, so no
// two rows share a position) and puts a copy of event 3 at from, with a
// leaf hash correct for its new position.
func shiftUp(from, last int) []string {
	var q []string
	for s := last; s >= from; s-- {
		q = append(q, "UPDATE audit_log SET seq = "+itoa(s+1)+" WHERE seq = "+itoa(s))
	}
	e := audittest.Event(3)
	entry := audit.AppendEntry(nil, &e)
	q = append(q, "INSERT INTO audit_log (seq, received, leaf, entry) VALUES ("+itoa(from)+", 0, "+
		hexLiteral(audit.LeafHash(int64(from), entry))+", "+hexLiteral(entry)+")")
	q = append(q, "UPDATE audit_head SET size = size + 1")
	return q
}

func itoa(n int) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{digits[n%10]}, b...)
	}
	return string(b)
}

// hexLiteral is b as a SQLite blob literal; the test turns it into
// PostgreSQL's bytea form.
func hexLiteral(b []byte) string {
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 0, 3+2*len(b))
	out = append(out, "X'"...)
	for _, c := range b {
		out = append(out, hexdigits[c>>4], hexdigits[c&15])
	}
	return string(append(out, '\''))
}
