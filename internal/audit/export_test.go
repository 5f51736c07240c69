package audit

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// SetSummaryMax lowers the most events a Summary counts, for a test; the
// function returned puts it back.
func SetSummaryMax(n int) func() {
	old := summaryMax
	summaryMax = n
	return func() { summaryMax = old }
}

// SetEventExportMax lowers the most events an access-log export holds, for
// a test; the function returned puts it back.
func SetEventExportMax(n int) func() {
	old := eventExportMax
	eventExportMax = n
	return func() { eventExportMax = old }
}

// QueryPlan returns SQLite's plan of the search of a page of q, one step a
// line.
func QueryPlan(t testing.TB, l *Log, q EventQuery) string {
	t.Helper()
	if l.db.Dialect() != db.SQLite {
		t.Fatal("QueryPlan reads SQLite's plans")
	}
	query, args, none := l.searchSQL(q, DefaultLimit)
	if none {
		t.Fatalf("query %+v matches nothing", q)
	}
	rows, err := l.db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, detail)
	}
	return b.String()
}
