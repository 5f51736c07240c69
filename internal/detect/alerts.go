package detect

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	State     string // StateNew, StateAcknowledged, StateTrue or StateFalse (review.go)
	Assignee  string // the login of who took it; "" for no one
	// For the behaviour baselines' alerts (baseline*.go): why, as a
	// message and its numbers, and how far beyond the usual (1 at the
	// edge of the band).
	Explanation *Explanation
	Score       float64
	dedup       string
	event       *audit.Event // a rule's alert's event, while the engine writes it (suppressions)
}

// ruleAlert makes an alert of one event a rule matched. Its group is the
// event's user, by which alerts of the same rule are grouped (GroupWindow).
func ruleAlert(r *sigma.Rule, e *audit.Event) Alert {
	a := Alert{Facility: e.Facility, RuleID: r.Key(), Title: r.Title, Level: r.Level,
		Seqs: []int64{e.Seq}, Total: 1, FirstSeq: e.Seq, LastSeq: e.Seq, FirstTime: e.Time, LastTime: e.Time,
		dedup: fmt.Sprintf("r|%s|%d", r.Key(), e.Seq)}
	a.event = e
	if e.Actor.ID != "" {
		a.Group = []sigma.GroupValue{{Field: "user", Value: e.Actor.ID}}
	}
	return a
}

// GroupWindow is how long after an alert's last event a rule's match of
// the same user in the same facility joins that alert, while it is open,
// instead of raising another: a clerk who opens ten records at night is
// one alert of ten events, not ten alerts.
const GroupWindow = time.Hour

// maxSeqs is how many event positions an alert lists.
const maxSeqs = 100

// openKey names the open alert a rule's matches of one user join.
type openKey struct {
	rule, group string
	facility    int64
}

// openAlert is what the engine remembers of an open alert it wrote or
// joined, so that the next match of the same user costs one UPDATE.
type openAlert struct {
	id   int64
	seqs []int64
}

// joinOpenAlert adds a rule's match to an open alert of the same rule,
// group and facility whose last event is within GroupWindow, and reports
// whether there was one. The UPDATE checks again that the alert is open
// and in the window, since a reviewer may have closed it meanwhile.
func joinOpenAlert(ctx context.Context, tx *db.Tx, open map[openKey]*openAlert, a *Alert) (bool, error) {
	key, ok := a.openKey()
	if !ok {
		return false, nil
	}
	since := a.FirstTime.Add(-GroupWindow).UnixMilli()
	if o := open[key]; o != nil {
		joined, err := addToAlert(ctx, tx, o, a, since)
		if err != nil || joined {
			return joined, err
		}
		delete(open, key)
	}
	o := &openAlert{}
	var seqs string
	err := tx.QueryRowContext(ctx, `SELECT id, seqs FROM detect_alerts WHERE rule_id = ? AND grp = ? AND facility = ?
		AND correlation = '' AND state IN ('new', 'acknowledged') AND last_time >= ? ORDER BY last_time DESC LIMIT 1`,
		key.rule, key.group, key.facility, since).Scan(&o.id, &seqs)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find an open alert of %s: %w", a.RuleID, err)
	}
	if err := json.Unmarshal([]byte(seqs), &o.seqs); err != nil {
		return false, fmt.Errorf("alert %d: events: %w", o.id, err)
	}
	joined, err := addToAlert(ctx, tx, o, a, since)
	if joined {
		open[key] = o
	}
	return joined, err
}

// coalesce joins the rule alerts of one batch that one open alert would
// take (the same rule, user and facility, each within GroupWindow of the
// one before), so that a batch writes each of them once rather than once
// a match. It reuses the array of alerts.
func coalesce(alerts []Alert) []Alert {
	out := alerts[:0]
	last := map[openKey]int{} // the alert in out that a key's matches join
	for _, a := range alerts {
		key, ok := a.openKey()
		if ok {
			if j, seen := last[key]; seen && a.FirstTime.Sub(out[j].LastTime) <= GroupWindow {
				m := &out[j]
				if n := maxSeqs - len(m.Seqs); n > 0 {
					m.Seqs = append(m.Seqs[:len(m.Seqs):len(m.Seqs)], a.Seqs[:min(n, len(a.Seqs))]...)
				}
				m.Total += a.Total
				m.LastSeq = max(m.LastSeq, a.LastSeq)
				if a.LastTime.After(m.LastTime) {
					m.LastTime = a.LastTime
				}
				continue
			}
			last[key] = len(out)
		}
		out = append(out, a)
	}
	return out
}

// openKey returns the key of a rule alert's group; false for alerts that
// do not group.
func (a *Alert) openKey() (openKey, bool) {
	if a.Correlation != "" || len(a.Group) == 0 {
		return openKey{}, false
	}
	group, _ := json.Marshal(a.Group)
	return openKey{a.RuleID, string(group), a.Facility}, true
}

// addToAlert adds a's event to the open alert o if it is still open and
// its last event is since or later.
func addToAlert(ctx context.Context, tx *db.Tx, o *openAlert, a *Alert, since int64) (bool, error) {
	seqs := o.seqs
	if n := maxSeqs - len(seqs); n > 0 {
		seqs = append(seqs[:len(seqs):len(seqs)], a.Seqs[:min(n, len(a.Seqs))]...)
	}
	b, _ := json.Marshal(seqs)
	res, err := tx.ExecContext(ctx, `UPDATE detect_alerts SET seqs = ?, total = total + ?, last_seq = ?,
		last_time = CASE WHEN last_time > ? THEN last_time ELSE ? END
		WHERE id = ? AND state IN ('new', 'acknowledged') AND last_time >= ?`,
		string(b), a.Total, a.LastSeq, a.LastTime.UnixMilli(), a.LastTime.UnixMilli(), o.id, since)
	if err != nil {
		return false, fmt.Errorf("add to alert %d: %w", o.id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	o.seqs, a.ID = seqs, o.id
	return true, nil
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

// insertAlert writes an alert unless one with its dedup key is there, and
// reports whether it did (setting a.ID).
func insertAlert(ctx context.Context, tx *db.Tx, a *Alert, now time.Time) (bool, error) {
	seqs, _ := json.Marshal(a.Seqs)
	group, _ := json.Marshal(a.Group)
	if len(a.Group) == 0 {
		group = nil
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO detect_alerts (dedup, facility, rule_id, title, level, correlation, grp, value,
		first_seq, last_seq, seqs, total, first_time, last_time, created, state, explanation, score)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?) ON CONFLICT (dedup) DO NOTHING RETURNING id`,
		a.dedup, a.Facility, a.RuleID, a.Title, int(a.Level), a.Correlation, string(group), a.Value,
		a.FirstSeq, a.LastSeq, string(seqs), a.Total, a.FirstTime.UnixMilli(), a.LastTime.UnixMilli(), now.UnixMilli(),
		a.Explanation.encode(), a.Score).Scan(&a.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("write alert %s: %w", a.RuleID, err)
	}
	a.Created = now
	return true, nil
}

// AlertQuery selects alerts: a facility scope (as authz.Principal.
// Facilities returns it; alerts of no facility only for every facility),
// newest first, older than Before (an alert id; 0 for the newest).
type AlertQuery struct {
	AllFacilities bool
	Facilities    []int64
	States        []string // only these states; all when empty
	Assignee      string   // only the alerts assigned to this login; all when empty
	GivenUp       bool     // only the alerts with a notification given up
	Before        int64
	Limit         int
}

// OpenStates are the states of alerts still to be dealt with.
var OpenStates = []string{StateNew, StateAcknowledged}

// StatesOf reads the state filter of the pages and the API: open (the
// default), all, or one state.
func StatesOf(s string) ([]string, bool) {
	switch {
	case s == "" || s == "open":
		return OpenStates, true
	case s == "all":
		return nil, true
	case slices.Contains(States, s):
		return []string{s}, true
	}
	return nil, false
}

const alertColumns = `id, dedup, facility, rule_id, title, level, correlation, grp, value,
	first_seq, last_seq, seqs, total, first_time, last_time, created, state, assignee, explanation, score`

// scope returns the WHERE clause and its arguments of q's facilities; none
// when q can see nothing.
func (q AlertQuery) scope() (where string, args []any, none bool) {
	if q.AllFacilities {
		return "1 = 1", nil, false
	}
	if len(q.Facilities) == 0 {
		return "", nil, true
	}
	marks := strings.Repeat("?, ", len(q.Facilities))
	for _, f := range q.Facilities {
		args = append(args, f)
	}
	return "facility IN (" + marks[:len(marks)-2] + ")", args, false
}

// ListAlerts returns the alerts q selects.
func ListAlerts(ctx context.Context, d db.Querier, q AlertQuery) ([]Alert, error) {
	where, args, none := q.scope()
	if none {
		return nil, nil
	}
	if q.Before > 0 {
		where += " AND id < ?"
		args = append(args, q.Before)
	}
	if q.Assignee != "" {
		where += " AND assignee = ?"
		args = append(args, q.Assignee)
	}
	if q.GivenUp {
		where += " AND id IN (SELECT alert_id FROM detect_notifications WHERE sent < 0)"
	}
	if len(q.States) > 0 {
		where += " AND state IN (?" + strings.Repeat(", ?", len(q.States)-1) + ")"
		for _, st := range q.States {
			args = append(args, st)
		}
	}
	args = append(args, max(q.Limit, 1))
	rows, err := d.QueryContext(ctx, `SELECT `+alertColumns+` FROM detect_alerts WHERE `+where+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Alerts returns the newest alerts of every facility, at most limit.
func Alerts(ctx context.Context, d db.Querier, limit int) ([]Alert, error) {
	return ListAlerts(ctx, d, AlertQuery{AllFacilities: true, Limit: limit})
}

// AlertByID returns one alert, db.ErrNotFound when there is none within
// q's facilities.
func AlertByID(ctx context.Context, d db.Querier, q AlertQuery, id int64) (Alert, error) {
	where, args, none := q.scope()
	if none {
		return Alert{}, db.ErrNotFound
	}
	a, err := scanAlert(d.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM detect_alerts WHERE id = ? AND `+where,
		append([]any{id}, args...)...))
	return a, db.NotFound(err)
}

// CountNew counts the alerts in state new created since, by level.
func CountNew(ctx context.Context, d db.Querier, q AlertQuery, since time.Time) (map[sigma.Level]int, error) {
	where, args, none := q.scope()
	out := map[sigma.Level]int{}
	if none {
		return out, nil
	}
	rows, err := d.QueryContext(ctx, `SELECT level, COUNT(*) FROM detect_alerts WHERE `+where+
		` AND state = 'new' AND created >= ? GROUP BY level`, append(args, since.UnixMilli())...)
	if err != nil {
		return nil, fmt.Errorf("count alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var level, n int
		if err := rows.Scan(&level, &n); err != nil {
			return nil, fmt.Errorf("count alerts: %w", err)
		}
		out[sigma.Level(level)] = n
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scanAlert(row scanner) (Alert, error) {
	var a Alert
	var level int
	var group, seqs, explanation string
	var first, last, created int64
	if err := row.Scan(&a.ID, &a.dedup, &a.Facility, &a.RuleID, &a.Title, &level, &a.Correlation, &group, &a.Value,
		&a.FirstSeq, &a.LastSeq, &seqs, &a.Total, &first, &last, &created, &a.State, &a.Assignee, &explanation, &a.Score); err != nil {
		return a, err
	}
	if explanation != "" {
		a.Explanation = new(Explanation)
		if err := json.Unmarshal([]byte(explanation), a.Explanation); err != nil {
			return a, fmt.Errorf("alert %d: explanation: %w", a.ID, err)
		}
	}
	a.Level = sigma.Level(level)
	if group != "" {
		if err := json.Unmarshal([]byte(group), &a.Group); err != nil {
			return a, fmt.Errorf("alert %d: group: %w", a.ID, err)
		}
	}
	if err := json.Unmarshal([]byte(seqs), &a.Seqs); err != nil {
		return a, fmt.Errorf("alert %d: events: %w", a.ID, err)
	}
	a.FirstTime, a.LastTime, a.Created = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC(), time.UnixMilli(created).UTC()
	return a, nil
}
