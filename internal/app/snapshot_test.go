package app_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// storeSnapshot is every row of every table of anzen's database, as text,
// by table. Events of the audit log that record a refusal (outcome
// failure) or a search of the log are left out: refusing bad input may
// record that it did, and nothing else. The log's derived tables (tree
// nodes, head, checkpoints, search index, sources and their hours, cursors) are left out
// too: they follow the log, and anzen audit verify checks them against it.
type storeSnapshot map[string][]string

// takeSnapshot reads the whole database. It lists the tables itself, so
// that a table a part adds tomorrow is compared too.
func takeSnapshot(t *testing.T, e *apptest.Env) storeSnapshot {
	t.Helper()
	ctx := context.Background()
	d := e.App.DB
	list := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if d.Dialect() == db.Postgres {
		list = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()
			AND table_type = 'BASE TABLE'`
	}
	rows, err := d.QueryContext(ctx, list)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 5 {
		t.Fatalf("only %d tables found: %v", len(tables), tables)
	}
	// anzen's own events wait in an outbox until they move onto the log;
	// move them now, so that a move between two snapshots is no change.
	if err := e.App.Audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	snap := storeSnapshot{}
	for _, table := range tables {
		if logDerived[table] {
			continue
		}
		snap[table] = tableRows(t, d, table)
	}
	return snap
}

// logDerived are the audit log's tables that follow from its entries.
var logDerived = map[string]bool{"audit_tree": true, "audit_head": true, "audit_checkpoints": true,
	"audit_index": true, "audit_sources": true, "audit_source_hours": true, "audit_cursors": true}

func tableRows(t *testing.T, d *db.DB, table string) []string {
	t.Helper()
	rows, err := d.QueryContext(context.Background(), `SELECT * FROM `+table)
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		fields := make([]string, len(cols))
		byName := map[string]string{}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			fields[i] = fmt.Sprintf("%s=%v", cols[i], v)
			byName[cols[i]] = fmt.Sprint(v)
		}
		if table == "audit_log" || table == "audit_outbox" {
			ev, err := audit.DecodeEntry([]byte(byName["entry"]))
			if err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			if ev.Outcome == audit.OutcomeFailure || ev.Action == audit.ActionSearch {
				continue
			}
			out = append(out, fmt.Sprintf("seq=%s source=%s action=%s actor=%s object=%s original=%s",
				byName["seq"], ev.Source, ev.Action, ev.Actor.ID, ev.Object.ID, ev.Original))
			continue
		}
		out = append(out, strings.Join(fields, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// diff describes how after differs from s, or "" when it does not.
func (s storeSnapshot) diff(after storeSnapshot) string {
	var b strings.Builder
	tables := map[string]bool{}
	for k := range s {
		tables[k] = true
	}
	for k := range after {
		tables[k] = true
	}
	for _, table := range slices.Sorted(maps.Keys(tables)) {
		before, now := s[table], after[table]
		for _, r := range now {
			if !slices.Contains(before, r) {
				fmt.Fprintf(&b, "\n  %s: new or changed row %s", table, r)
			}
		}
		for _, r := range before {
			if !slices.Contains(now, r) {
				fmt.Fprintf(&b, "\n  %s: row gone or changed %s", table, r)
			}
		}
	}
	return b.String()
}
