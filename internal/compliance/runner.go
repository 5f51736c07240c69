package compliance

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// The runner: every part's checks run on their schedule for every
// facility (the app's job loop calls RunDue), or all at once when someone
// presses "run now" (RunChecks). Each run is stored, whatever it found; a
// check that returns an error, panics, overruns its time or answers an
// unknown status is stored as a run with Error, which keeps its control
// from being ready. After the runs, the facility's score of the day is
// written for the trend.

// checkTimeout bounds one run of a check.
const checkTimeout = 2 * time.Minute

// runOne runs check c for the facility and returns what it found.
func (s *Service) runOne(ctx context.Context, c check.Check, facility int64) (run CheckRun) {
	start := time.Now()
	run = CheckRun{CheckID: c.ID, Facility: facility, RanAt: s.cfg.Clock.Now().UTC().Truncate(time.Millisecond)}
	defer func() {
		if p := recover(); p != nil {
			run.Status, run.Error = check.Fail, fmt.Sprintf("the check panicked: %v", p)
			s.cfg.Log.Error("compliance check panicked", "check", c.ID, "facility", facility, "panic", p)
		}
		run.Took = time.Since(start)
	}()
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	res, err := c.Run(cctx, facility)
	switch {
	case err != nil:
		run.Status, run.Error = check.Fail, err.Error()
		s.cfg.Log.Warn("compliance check could not run", "check", c.ID, "facility", facility, "err", err)
	case !res.Status.Valid():
		run.Status, run.Error = check.Fail, fmt.Sprintf("the check answered an unknown status %q", res.Status)
	default:
		run.Status, run.DetailID, run.Data, run.Links = res.Status, res.DetailID, res.Data, res.Links
	}
	if len(run.Error) > 1000 {
		run.Error = run.Error[:1000]
	}
	return run
}

// RecheckAfter is how soon a check that did not pass (it failed, warned
// or could not run) runs again, when its interval is longer: a problem
// put right — or a job that had not yet run when anzen started, such as
// the audit log's first verification — shows within minutes, not a day.
const RecheckAfter = 15 * time.Minute

// RunDue runs, for every facility, the checks whose last run is older
// than their interval (RecheckAfter for one that did not pass) or that
// never ran, then records each facility's score of the day. It returns how
// many checks ran.
func (s *Service) RunDue(ctx context.Context, now time.Time) (int, error) {
	fs, err := s.Facilities(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	var errs []error
	for _, f := range fs {
		last, err := lastRunTimes(ctx, s.cfg.DB, f.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var due []check.Check
		for _, id := range s.order {
			c := s.checks[id]
			every := c.Interval()
			l, ok := last[id]
			if ok && !l.Passed {
				every = min(every, RecheckAfter)
			}
			if !ok || now.Sub(l.At) >= every {
				due = append(due, c)
			}
		}
		runs, err := s.runAndStore(ctx, Actor{Login: "system"}, f.ID, due, "compliance.checks.due")
		total += len(runs)
		if err != nil {
			errs = append(errs, err)
		}
		if err := s.recordScore(ctx, f.ID); err != nil {
			errs = append(errs, err)
		}
		if err := s.pruneRuns(ctx, f.ID, now); err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return total, errors.Join(errs...)
}

// RunChecks runs every check for the facility now (the "run now"
// button), stores the runs, records the request in the audit log and
// updates the day's score.
func (s *Service) RunChecks(ctx context.Context, a Actor, facility int64) ([]CheckRun, error) {
	runs, err := s.runAndStore(ctx, a, facility, s.Checks(), "compliance.checks.run")
	if err != nil {
		return runs, err
	}
	return runs, s.recordScore(ctx, facility)
}

// runAndStore runs the checks one after the other (a check may be
// heavy; the machine is shared) and stores their runs in one transaction
// with one audit event, unless none ran.
func (s *Service) runAndStore(ctx context.Context, a Actor, facility int64, cs []check.Check, action string) ([]CheckRun, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	runs := make([]CheckRun, 0, len(cs))
	failed := 0
	for _, c := range cs {
		if ctx.Err() != nil {
			break
		}
		r := s.runOne(ctx, c, facility)
		if r.Status == check.Fail || r.Error != "" {
			failed++
		}
		runs = append(runs, r)
	}
	now := s.cfg.Clock.Now()
	err := s.cfg.DB.InTx(ctx, func(tx *db.Tx) error {
		for _, r := range runs {
			if _, err := insertRun(ctx, tx, r); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, a, facility, action, "facility:"+strconv.FormatInt(facility, 10), map[string]string{
			"checks": strconv.Itoa(len(runs)), "failed": strconv.Itoa(failed)}, now)
	})
	if err != nil {
		return nil, fmt.Errorf("store the checks' runs of facility %d: %w", facility, err)
	}
	return runs, nil
}

// recordScore writes the facility's score of today from its state now.
func (s *Service) recordScore(ctx context.Context, facility int64) error {
	st, err := s.State(ctx, facility)
	if err != nil {
		return err
	}
	return putDayScore(ctx, s.cfg.DB, facility, st.Score(s.Today(st.At)))
}

// RunRetention is how long the runs of checks are kept: two fiscal years
// and more, for comparing this year with the last. A check's latest run
// is kept however old it is; a fiscal year's snapshot keeps its whole
// state for good.
const RunRetention = 800 * 24 * time.Hour

// pruneRuns deletes the facility's runs older than RunRetention, except
// each check's latest, and records how many in the audit log.
func (s *Service) pruneRuns(ctx context.Context, facility int64, now time.Time) error {
	cut := db.Millis(now.Add(-RunRetention))
	return s.cfg.DB.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM compliance_check_runs WHERE facility = ? AND ran_at < ?
			AND id NOT IN (SELECT run_id FROM compliance_check_latest WHERE facility = ?)`, facility, cut, facility)
		if err != nil {
			return fmt.Errorf("delete the old runs of facility %d: %w", facility, err)
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		return s.record(ctx, tx, Actor{}, facility, "compliance.runs.prune", "facility:"+strconv.FormatInt(facility, 10),
			map[string]string{"runs": strconv.FormatInt(n, 10), "before": now.Add(-RunRetention).UTC().Format(time.RFC3339)}, now)
	})
}
