package incident

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// The list of incidents as the CSIRT reads it: filtered by state, kind
// and severity, open ones first; and the figures of the dashboard's card.

// Filter narrows a list of incidents; zero fields do not.
type Filter struct {
	State    State
	Kind     Kind
	Severity Severity
}

// ListFiltered returns the incidents q and f select: open ones first,
// each group newest first.
func ListFiltered(ctx context.Context, d db.Querier, q ListQuery, f Filter) ([]Incident, error) {
	if f == (Filter{}) {
		list, err := List(ctx, d, q)
		sortOpenFirst(list)
		return list, err
	}
	// The filters are few and the lists short: read wider and keep those
	// that match, up to the limit.
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	wide := q
	wide.Limit = 1000
	list, err := List(ctx, d, wide)
	if err != nil {
		return nil, err
	}
	out := list[:0]
	for _, i := range list {
		if (f.State == "" || i.State == f.State) && (f.Kind == "" || i.Kind == f.Kind) &&
			(f.Severity == "" || i.Severity == f.Severity) {
			out = append(out, i)
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	sortOpenFirst(out)
	return out, nil
}

func sortOpenFirst(list []Incident) {
	slices.SortStableFunc(list, func(a, b Incident) int {
		switch {
		case a.Open() == b.Open():
			return 0
		case a.Open():
			return -1
		}
		return 1
	})
}

// Counts are the dashboard card's figures.
type Counts struct {
	OpenBySeverity map[Severity]int
	OverdueTasks   int
}

// CountOpen counts the open incidents in scope by severity and their
// overdue tasks at now.
func CountOpen(ctx context.Context, q db.Querier, s Scope, now time.Time) (Counts, error) {
	c := Counts{OpenBySeverity: map[Severity]int{}}
	cond, args, none := s.where("facility")
	if none {
		return c, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT severity, COUNT(*) FROM incident_incidents WHERE state <> 'closed' AND `+cond+
		` GROUP BY severity`, args...)
	if err != nil {
		return c, fmt.Errorf("count incidents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			sev string
			n   int
		)
		if err := rows.Scan(&sev, &n); err != nil {
			return c, err
		}
		c.OpenBySeverity[Severity(sev)] = n
	}
	if err := rows.Err(); err != nil {
		return c, err
	}
	cond, args, _ = s.where("t.facility")
	err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM incident_tasks t JOIN incident_incidents i ON i.id = t.incident_id
		WHERE t.state = 'open' AND t.due > 0 AND t.due < ? AND i.state <> 'closed' AND `+cond,
		append([]any{now.UnixMilli()}, args...)...).Scan(&c.OverdueTasks)
	return c, err
}
