package compliance

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// The stored records of the checks' runs, the controls' settings and the
// daily scores, on SQLite and PostgreSQL alike. Attestations, answers and
// snapshots keep theirs in their own files.

type scanner interface{ Scan(dest ...any) error }

// insertRun stores a run of a check and makes it the check's latest for
// the facility.
func insertRun(ctx context.Context, q db.Querier, r CheckRun) (int64, error) {
	data, err := json.Marshal(r.Data)
	if err != nil {
		return 0, fmt.Errorf("encode the data of %s: %w", r.CheckID, err)
	}
	if r.Data == nil {
		data = []byte("{}")
	}
	links, err := json.Marshal(r.Links)
	if err != nil || r.Links == nil {
		links = []byte("[]")
	}
	var id int64
	if err := q.QueryRowContext(ctx, `INSERT INTO compliance_check_runs (facility, check_id, status, detail_id, data, links,
		error, ran_at, took_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, r.Facility, r.CheckID, string(r.Status),
		r.DetailID, string(data), string(links), r.Error, db.Millis(r.RanAt), int64(r.Took)).Scan(&id); err != nil {
		return 0, fmt.Errorf("store the run of %s: %w", r.CheckID, err)
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO compliance_check_latest (facility, check_id, run_id, ran_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (facility, check_id) DO UPDATE SET run_id = excluded.run_id, ran_at = excluded.ran_at`,
		r.Facility, r.CheckID, id, db.Millis(r.RanAt)); err != nil {
		return 0, fmt.Errorf("note the latest run of %s: %w", r.CheckID, err)
	}
	return id, nil
}

const runColumns = `r.check_id, r.facility, r.status, r.detail_id, r.data, r.links, r.error, r.ran_at, r.took_ns`

func scanRun(row scanner) (CheckRun, error) {
	var (
		r           CheckRun
		status      string
		data, links string
		ran, took   int64
	)
	if err := row.Scan(&r.CheckID, &r.Facility, &status, &r.DetailID, &data, &links, &r.Error, &ran, &took); err != nil {
		return r, err
	}
	r.Status, r.RanAt, r.Took = check.Status(status), db.Time(ran), time.Duration(took)
	if data != "" && data != "{}" && data != "null" {
		_ = json.Unmarshal([]byte(data), &r.Data)
	}
	if links != "" && links != "[]" && links != "null" {
		_ = json.Unmarshal([]byte(links), &r.Links)
	}
	return r, nil
}

// LatestRuns returns the latest run of each check that has run for the
// facility, by check id: one query.
func LatestRuns(ctx context.Context, q db.Querier, facility int64) (map[string]*CheckRun, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+runColumns+` FROM compliance_check_latest l
		JOIN compliance_check_runs r ON r.id = l.run_id WHERE l.facility = ?`, facility)
	if err != nil {
		return nil, fmt.Errorf("read the latest check runs: %w", err)
	}
	defer rows.Close()
	out := map[string]*CheckRun{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("read the latest check runs: %w", err)
		}
		out[r.CheckID] = &r
	}
	return out, rows.Err()
}

// lastRun is when a check last ran for a facility and whether it passed
// (pass or not applicable, without an error).
type lastRun struct {
	At     time.Time
	Passed bool
}

// lastRunTimes returns when each check last ran for the facility, and
// whether it passed.
func lastRunTimes(ctx context.Context, q db.Querier, facility int64) (map[string]lastRun, error) {
	rows, err := q.QueryContext(ctx, `SELECT l.check_id, l.ran_at, r.status, r.error
		FROM compliance_check_latest l JOIN compliance_check_runs r ON r.id = l.run_id WHERE l.facility = ?`, facility)
	if err != nil {
		return nil, fmt.Errorf("read when the checks last ran: %w", err)
	}
	defer rows.Close()
	out := map[string]lastRun{}
	for rows.Next() {
		var (
			id, status, errText string
			at                  int64
		)
		if err := rows.Scan(&id, &at, &status, &errText); err != nil {
			return nil, err
		}
		passed := errText == "" && (status == string(check.Pass) || status == string(check.NotApplicable))
		out[id] = lastRun{At: db.Time(at), Passed: passed}
	}
	return out, rows.Err()
}

// RunHistory returns the runs of a check for the facility, newest first,
// at most limit.
func RunHistory(ctx context.Context, q db.Querier, facility int64, checkID string, limit int) ([]CheckRun, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := q.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM compliance_check_runs r WHERE r.facility = ? AND r.check_id = ?
		ORDER BY r.id DESC LIMIT %d`, runColumns, limit), facility, checkID)
	if err != nil {
		return nil, fmt.Errorf("read the runs of %s: %w", checkID, err)
	}
	defer rows.Close()
	var out []CheckRun
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ControlSetting is what a facility says of a control: who owns it, how
// far it is implemented, and a note.
type ControlSetting struct {
	Owner     string    `json:"owner"`
	Impl      string    `json:"implementation"`
	Note      string    `json:"note"`
	Updated   time.Time `json:"updated,omitzero"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

// controlSettings returns the facility's settings of its controls, by
// control id; a control not in the map is not started and has no owner.
func controlSettings(ctx context.Context, q db.Querier, facility int64) (map[string]ControlSetting, error) {
	rows, err := q.QueryContext(ctx, `SELECT control_id, owner, impl, note, updated, updated_by FROM compliance_controls
		WHERE facility = ?`, facility)
	if err != nil {
		return nil, fmt.Errorf("read the controls' settings: %w", err)
	}
	defer rows.Close()
	out := map[string]ControlSetting{}
	for rows.Next() {
		var (
			id string
			c  ControlSetting
			at int64
		)
		if err := rows.Scan(&id, &c.Owner, &c.Impl, &c.Note, &at, &c.UpdatedBy); err != nil {
			return nil, err
		}
		c.Updated = db.Time(at)
		out[id] = c
	}
	return out, rows.Err()
}

// putControlSetting writes the facility's setting of a control.
func putControlSetting(ctx context.Context, q db.Querier, facility int64, id string, c ControlSetting) error {
	_, err := q.ExecContext(ctx, `INSERT INTO compliance_controls (facility, control_id, owner, impl, note, updated, updated_by)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (facility, control_id) DO UPDATE SET owner = excluded.owner,
		impl = excluded.impl, note = excluded.note, updated = excluded.updated, updated_by = excluded.updated_by`,
		facility, id, c.Owner, c.Impl, c.Note, db.Millis(c.Updated), c.UpdatedBy)
	if err != nil {
		return fmt.Errorf("store the setting of control %s: %w", id, err)
	}
	return nil
}

// putDayScore upserts the facility's score of a day.
func putDayScore(ctx context.Context, q db.Querier, facility int64, d DayScore) error {
	counts, err := json.Marshal(d.Counts)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO compliance_day_scores (facility, day, counts, total) VALUES (?, ?, ?, ?)
		ON CONFLICT (facility, day) DO UPDATE SET counts = excluded.counts, total = excluded.total`,
		facility, db.Millis(d.Day), string(counts), d.Total)
	if err != nil {
		return fmt.Errorf("store the score of %s: %w", d.Day.Format(time.DateOnly), err)
	}
	return nil
}

// dayScores returns the facility's scores from day from on, oldest first.
func dayScores(ctx context.Context, q db.Querier, facility int64, from time.Time) ([]DayScore, error) {
	rows, err := q.QueryContext(ctx, `SELECT day, counts, total FROM compliance_day_scores WHERE facility = ? AND day >= ?
		ORDER BY day`, facility, db.Millis(from))
	if err != nil {
		return nil, fmt.Errorf("read the scores: %w", err)
	}
	defer rows.Close()
	out := []DayScore{}
	for rows.Next() {
		var (
			d      DayScore
			day    int64
			counts string
		)
		if err := rows.Scan(&day, &counts, &d.Total); err != nil {
			return nil, err
		}
		d.Day = db.Time(day)
		if err := json.Unmarshal([]byte(counts), &d.Counts); err != nil {
			return nil, fmt.Errorf("the score of %s: %w", d.Day.Format(time.DateOnly), err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Trend returns the facility's daily scores of the last days days (today
// included), oldest first, one per day that has a score.
func (s *Service) Trend(ctx context.Context, facility int64, days int) ([]DayScore, error) {
	if days <= 0 {
		days = 90
	}
	from := s.Today(s.cfg.Clock.Now()).AddDate(0, 0, -(days - 1))
	return dayScores(ctx, s.cfg.DB, facility, from)
}
