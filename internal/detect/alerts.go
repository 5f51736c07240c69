package detect

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// Alert is what a rule or a correlation rule found in the audit log.
type Alert struct {
	ID       int64
	Facility int64 // of the event that raised it; 0 when its events were not at hand
	RuleID   string
	Title    string
	Level    sigma.Level
	// For correlation rules: the type, the group's values and the count
	// (of events, of distinct values, or of rules for the temporal types).
	Correlation string
	Group       []sigma.GroupValue
	Value       float64
	// The events, by their positions in the audit log: the first 100,
	// and how many there were.
	Seqs      []int64
	Total     int
	FirstSeq  int64
	LastSeq   int64
	FirstTime time.Time
	LastTime  time.Time
	Created   time.Time
	State     string // new (the states of review come with the alert pages)
	dedup     string
}

func ruleAlert(r *sigma.Rule, e *audit.Event) Alert {
	return Alert{Facility: e.Facility, RuleID: r.Key(), Title: r.Title, Level: r.Level,
		Seqs: []int64{e.Seq}, Total: 1, FirstSeq: e.Seq, LastSeq: e.Seq, FirstTime: e.Time, LastTime: e.Time,
		dedup: fmt.Sprintf("r|%s|%d", r.Key(), e.Seq)}
}

// correlationAlert makes an alert of a correlation's match. facility
// holds the facilities of the events of the batch.
func correlationAlert(m sigma.Match, facility map[int64]int64) Alert {
	c := m.Correlation
	a := Alert{RuleID: c.Key(), Title: c.Title, Level: c.Level, Correlation: c.Type.String(), Group: m.Group,
		Value: m.Value, Seqs: m.Refs, Total: m.Total, FirstTime: m.First, LastTime: m.Last}
	if len(m.Refs) > 0 {
		a.FirstSeq, a.LastSeq = m.Refs[0], m.Refs[0]
		for _, s := range m.Refs {
			a.FirstSeq, a.LastSeq = min(a.FirstSeq, s), max(a.LastSeq, s)
		}
		a.Facility = facility[a.LastSeq]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "c|%s|%d", c.Key(), a.FirstSeq)
	for _, g := range m.Group {
		fmt.Fprintf(&b, "|%s=%s", g.Field, g.Value)
	}
	a.dedup = b.String()
	return a
}

// insertAlert writes an alert unless one with its dedup key is there.
func insertAlert(ctx context.Context, tx *db.Tx, a *Alert, now time.Time) error {
	seqs, _ := json.Marshal(a.Seqs)
	group, _ := json.Marshal(a.Group)
	if len(a.Group) == 0 {
		group = nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO detect_alerts (dedup, facility, rule_id, title, level, correlation, grp, value,
		first_seq, last_seq, seqs, total, first_time, last_time, created, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new') ON CONFLICT (dedup) DO NOTHING`,
		a.dedup, a.Facility, a.RuleID, a.Title, int(a.Level), a.Correlation, string(group), a.Value,
		a.FirstSeq, a.LastSeq, string(seqs), a.Total, a.FirstTime.UnixMilli(), a.LastTime.UnixMilli(), now.UnixMilli())
	if err != nil {
		return fmt.Errorf("write alert %s: %w", a.RuleID, err)
	}
	return nil
}

// Alerts returns the newest alerts first, at most limit.
func Alerts(ctx context.Context, q db.Querier, limit int) ([]Alert, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, dedup, facility, rule_id, title, level, correlation, grp, value,
		first_seq, last_seq, seqs, total, first_time, last_time, created, state
		FROM detect_alerts ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var a Alert
		var level int
		var group, seqs string
		var first, last, created int64
		if err := rows.Scan(&a.ID, &a.dedup, &a.Facility, &a.RuleID, &a.Title, &level, &a.Correlation, &group, &a.Value,
			&a.FirstSeq, &a.LastSeq, &seqs, &a.Total, &first, &last, &created, &a.State); err != nil {
			return nil, fmt.Errorf("read alerts: %w", err)
		}
		a.Level = sigma.Level(level)
		if group != "" {
			if err := json.Unmarshal([]byte(group), &a.Group); err != nil {
				return nil, fmt.Errorf("alert %d: group: %w", a.ID, err)
			}
		}
		if err := json.Unmarshal([]byte(seqs), &a.Seqs); err != nil {
			return nil, fmt.Errorf("alert %d: events: %w", a.ID, err)
		}
		a.FirstTime, a.LastTime, a.Created = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC(), time.UnixMilli(created).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}
