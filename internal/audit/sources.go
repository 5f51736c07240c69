package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// The systems that send events (送信元システム): when each was last heard
// from, how far its clock was off, how many events it sent. The search
// index keeps these facts in audit_sources as it takes events; the
// dashboard and the sources page read them here.

// DefaultSourceSilence is how long a source may send nothing before it is
// shown as silent (anzen policy; audit.source_silence).
const DefaultSourceSilence = time.Hour

// DefaultCheckpointInterval is how often a checkpoint is signed while new
// events arrive (audit.checkpoint_interval); the log uses it to say when
// the next one is due.
const DefaultCheckpointInterval = time.Minute

// IndexBehindWarning is how many events the search index may be behind the
// log before the dashboard says so: searches then wait for it (Sync) and
// may answer without the newest events.
const IndexBehindWarning = 5000

// readSettings are the options of the reading side of the log.
type readSettings struct {
	silence            time.Duration
	checkpointInterval time.Duration
	verifyEvery        time.Duration // integrity.go
}

// WithSourceSilence sets how long a source may send nothing before the
// dashboard warns that it is silent (audit.source_silence).
func WithSourceSilence(d time.Duration) Option { return func(l *Log) { l.read.silence = d } }

// WithCheckpointInterval tells the log how often the checkpoint job signs
// (audit.checkpoint_interval), so that it can say when the next checkpoint
// is due.
func WithCheckpointInterval(d time.Duration) Option {
	return func(l *Log) { l.read.checkpointInterval = d }
}

// SourceSilence is how long a source may send nothing before it is shown
// as silent.
func (l *Log) SourceSilence() time.Duration {
	if l.read.silence <= 0 {
		return DefaultSourceSilence
	}
	return l.read.silence
}

// ClockTolerance is how far a source's clock may be from anzen's before
// its events are flagged.
func (l *Log) ClockTolerance() time.Duration { return l.tolerance }

// NextCheckpointDue is when the next checkpoint will be signed at the
// latest, as far as this process knows: the checkpoint interval after the
// newest checkpoint, or after now when there is none or it is overdue.
// (The job also signs sooner, once audit.checkpoint_events events have
// arrived.)
func (l *Log) NextCheckpointDue(ctx context.Context) (time.Time, error) {
	every := l.read.checkpointInterval
	if every <= 0 {
		every = DefaultCheckpointInterval
	}
	now := l.clock.Now()
	cp, err := l.LatestCheckpoint(ctx)
	if errors.Is(err, db.ErrNotFound) {
		return now.Add(every), nil
	}
	if err != nil {
		return time.Time{}, err
	}
	due := cp.SignedAt.Add(every)
	if due.Before(now) {
		due = now.Add(every)
	}
	return due, nil
}

// SourceStatus is what anzen knows of one source system in one facility.
type SourceStatus struct {
	Facility      int64
	Source        string
	FirstReceived time.Time     // the first event received
	LastReceived  time.Time     // the newest event received, by anzen's clock
	LastAt        time.Time     // the time that event gave, by the source's clock
	LastSkew      time.Duration // how far the source's clock was ahead (negative: behind) at its last checked event
	Events        int64         // every event received
	Skewed        int64         // events flagged for clock skew
}

// Silent reports whether the source has sent nothing for longer than
// silence at now. anzen itself is never silent: its events are its own
// sign-ins and changes, which may rest for a night.
func (s SourceStatus) Silent(now time.Time, silence time.Duration) bool {
	return s.Source != SourceAnzen && now.Sub(s.LastReceived) > silence
}

// SkewTooLarge reports whether the source's clock was off by more than
// tolerance at its last event.
func (s SourceStatus) SkewTooLarge(tolerance time.Duration) bool {
	return s.LastSkew > tolerance || s.LastSkew < -tolerance
}

// Sources lists the source systems of the facilities in scope (all, or
// the ids; a source of no facility only with all), by name and facility.
func (l *Log) Sources(ctx context.Context, all bool, ids []int64) ([]SourceStatus, error) {
	where, args, none := facilityScope("facility_id", all, ids)
	if none {
		return []SourceStatus{}, nil
	}
	rows, err := l.db.QueryContext(ctx, `SELECT facility_id, source, first_received, last_received, last_at,
		last_skew_ms, events, skewed FROM audit_sources WHERE `+where+` ORDER BY source, facility_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read the source systems: %w", err)
	}
	defer rows.Close()
	out := []SourceStatus{}
	for rows.Next() {
		var s SourceStatus
		var first, last, at, skew int64
		if err := rows.Scan(&s.Facility, &s.Source, &first, &last, &at, &skew, &s.Events, &s.Skewed); err != nil {
			return nil, fmt.Errorf("read the source systems: %w", err)
		}
		s.FirstReceived, s.LastReceived, s.LastAt = db.Time(first), db.Time(last), db.Time(at)
		s.LastSkew = time.Duration(skew) * time.Millisecond
		out = append(out, s)
	}
	return out, rows.Err()
}

// SourceKey names one source system in one facility.
type SourceKey struct {
	Facility int64
	Source   string
}

// hourMillis is an hour in milliseconds: audit_source_hours counts by
// received / hourMillis.
const hourMillis = int64(time.Hour / time.Millisecond)

// updateSourceHours adds the events of a batch of the index to the counts
// per source and hour of receipt.
func updateSourceHours(ctx context.Context, tx *db.Tx, events []Event) error {
	type key struct {
		f    int64
		s    string
		hour int64
	}
	counts := map[key]int64{}
	for i := range events {
		e := &events[i]
		counts[key{e.Facility, e.Source, e.Received.UnixMilli() / hourMillis}]++
	}
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	// A fixed order keeps two writers from locking rows in opposite orders.
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.f, b.f); c != 0 {
			return c
		}
		if c := cmp.Compare(a.s, b.s); c != 0 {
			return c
		}
		return cmp.Compare(a.hour, b.hour)
	})
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_source_hours (facility_id, source, hour, events) VALUES (?, ?, ?, ?)
			ON CONFLICT (facility_id, source, hour) DO UPDATE SET events = audit_source_hours.events + excluded.events`,
			k.f, k.s, k.hour, counts[k]); err != nil {
			return fmt.Errorf("count events of %s per hour: %w", k.s, err)
		}
	}
	return nil
}

// SourceActivity counts the events each source of the facilities in scope
// sent, by the hour anzen received them: hours buckets of one hour from
// the hour that holds start (hours of UTC, which are Japan's hours too),
// oldest first. It reads the counts the search index keeps, not the events.
func (l *Log) SourceActivity(ctx context.Context, all bool, ids []int64, start time.Time, hours int) (map[SourceKey][]int64, error) {
	out := map[SourceKey][]int64{}
	where, args, none := facilityScope("facility_id", all, ids)
	if none || hours <= 0 {
		return out, nil
	}
	first := start.UnixMilli() / hourMillis
	rows, err := l.db.QueryContext(ctx, `SELECT facility_id, source, hour, events FROM audit_source_hours
		WHERE hour >= ? AND hour < ? AND `+where, append([]any{first, first + int64(hours)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("read the source activity: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k SourceKey
		var hour, n int64
		if err := rows.Scan(&k.Facility, &k.Source, &hour, &n); err != nil {
			return nil, fmt.Errorf("read the source activity: %w", err)
		}
		if out[k] == nil {
			out[k] = make([]int64, hours)
		}
		out[k][hour-first] += n
	}
	return out, rows.Err()
}

// facilityScope is the SQL condition on column for a facility scope, and
// its arguments; none reports a scope that can match nothing.
func facilityScope(column string, all bool, ids []int64) (where string, args []any, none bool) {
	if all {
		return "1 = 1", nil, false
	}
	ids = slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { return id <= 0 })
	if len(ids) == 0 {
		return "", nil, true
	}
	for _, id := range ids {
		args = append(args, id)
	}
	return column + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + ")", args, false
}
