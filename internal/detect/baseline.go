package detect

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// Behaviour baselines (guideline 6.5 (3) B): rules see one event at a
// time; insider misuse is often ordinary actions in unusual amounts — a
// nurse who opens 84 patients' records on a day she usually opens 12–20.
// Baselines reads the audit log as a second subscriber, with its own
// cursor (baselineReader): it counts what each user does each Japan day
// (baseline_day.go), learns from the days before what is usual for the
// user and for the user's profession (baseline_model.go), and raises an
// alert when a user's day goes beyond it, with an explanation in plain
// words (baseline_alert.go, baseline_explain.go).

// baselineReader is the baselines' cursor in the audit log.
const baselineReader = "detect-baseline"

// BaselineConfig are the baselines' settings (detect.baseline.*).
type BaselineConfig struct {
	// WarmupDays is how many active days of history a user needs before
	// their own baseline is used; until then the peers' is.
	WarmupDays int
	// HistoryDays is how many days before today the baselines learn from.
	HistoryDays int
	// Sensitivity is low, normal or high (Sensitivities).
	Sensitivity string
	// MinPeers is how many users of a profession in a facility make a
	// peer group (MinPeers unless given).
	MinPeers int
}

// Defaults of BaselineConfig.
const (
	DefaultWarmupDays  = 14
	DefaultHistoryDays = 28
	MinPeers           = 3
)

// PatientDepartments tells the ward or department (病棟・診療科) a patient
// belongs to in a facility; false when it is not known. The hospital's
// reference tables provide it; without it the outside-department metric
// is not computed.
type PatientDepartments interface {
	PatientDepartment(facility int64, patient string) (string, bool)
}

// Baselines learns each user's usual behaviour from the audit log and
// raises alerts on days beyond it.
type Baselines struct {
	db     *db.DB
	log    AuditLog
	sub    *audit.Subscription
	clock  clock.Clock
	logger *slog.Logger
	cfg    BaselineConfig
	depts  PatientDepartments // nil: none
	notify *Notify            // nil: none

	days   map[dayKey]*dayAgg // the days being counted
	dirty  []*dayAgg
	models *models // the baselines of the newest day seen; nil before
	// seq is the last event counted in memory; synced whether the days in
	// memory are those stored as of the cursor.
	seq    int64
	synced bool
}

// BaselineOption configures NewBaselines.
type BaselineOption func(*Baselines)

// WithPatientDepartments gives the baselines the patients' departments.
func WithPatientDepartments(p PatientDepartments) BaselineOption {
	return func(b *Baselines) { b.depts = p }
}

// WithBaselineNotify makes the baselines queue notifications of their
// alerts, which the engine's notifier sends (Engine.RunNotify).
func WithBaselineNotify(n Notify) BaselineOption {
	return func(b *Baselines) { b.notify = &n }
}

// NewBaselines prepares the baselines to read log.
func NewBaselines(d *db.DB, log AuditLog, cfg BaselineConfig, clk clock.Clock, logger *slog.Logger, opts ...BaselineOption) (*Baselines, error) {
	if cfg.WarmupDays == 0 {
		cfg.WarmupDays = DefaultWarmupDays
	}
	if cfg.HistoryDays == 0 {
		cfg.HistoryDays = DefaultHistoryDays
	}
	if cfg.Sensitivity == "" {
		cfg.Sensitivity = "normal"
	}
	if cfg.MinPeers == 0 {
		cfg.MinPeers = MinPeers
	}
	if _, ok := Sensitivities[cfg.Sensitivity]; !ok {
		return nil, fmt.Errorf("baselines: sensitivity %q: use low, normal or high", cfg.Sensitivity)
	}
	if cfg.WarmupDays < 1 || cfg.HistoryDays < cfg.WarmupDays {
		return nil, fmt.Errorf("baselines: %d warm-up days in %d days of history: the history must hold the warm-up", cfg.WarmupDays, cfg.HistoryDays)
	}
	b := &Baselines{db: d, log: log, clock: clk, logger: logger, cfg: cfg, days: map[dayKey]*dayAgg{}, seq: -1}
	for _, o := range opts {
		o(b)
	}
	b.sub = log.Subscribe(baselineReader, EngineBatch)
	return b, nil
}

// Run reads the log until ctx ends: at once after each append of this
// process, and every poll for the appends of others.
func (b *Baselines) Run(ctx context.Context, poll time.Duration) {
	b.sub.Run(ctx, poll, b.Handle)
}

// Process reads the next batch of events, if any, and returns how many.
func (b *Baselines) Process(ctx context.Context) (int, error) {
	return b.sub.Process(ctx, b.Handle)
}

// Handle counts events (the next after the cursor) into their days and
// writes the days and the alerts in tx.
func (b *Baselines) Handle(ctx context.Context, tx *db.Tx, events []audit.Event) error {
	cursor, err := b.log.Cursor(ctx, tx, baselineReader)
	if err != nil {
		return err
	}
	if !b.synced || b.seq != cursor {
		// After a start, a failed batch, or batches another instance
		// handled: the stored days are the truth.
		clear(b.days)
		b.dirty, b.models = b.dirty[:0], nil
	}
	b.synced = false
	today, _ := japanDayHour(b.clock.Now())
	for i := range events {
		e := &events[i]
		if e.Actor.ID == "" {
			continue
		}
		day, hour := japanDayHour(e.Time)
		// A new day: score the old one as it ended, then learn anew. An
		// event dated ahead of anzen's clock does not move the day.
		if day <= today && (b.models == nil || day > b.models.day) {
			if err := b.score(ctx, tx); err != nil {
				return err
			}
			if err := b.flush(ctx, tx); err != nil {
				return err
			}
			if b.models, err = b.recompute(ctx, tx, day, allFacilities); err != nil {
				return err
			}
			if err := b.prune(ctx, tx, day); err != nil {
				return err
			}
			b.evict(day)
		}
		if !b.count(e, day, hour) {
			k := dayKey{e.Facility, e.Actor.ID, day}
			a, err := loadDay(ctx, tx, k)
			if err != nil {
				return err
			}
			b.days[k] = a
			b.count(e, day, hour)
		}
	}
	if err := b.score(ctx, tx); err != nil {
		return err
	}
	if err := b.flush(ctx, tx); err != nil {
		return err
	}
	b.seq, b.synced = events[len(events)-1].Seq, true
	return nil
}

// count adds an event to its user's day in memory; false when the day is
// not in memory and must be read first. This is the per-event cost.
func (b *Baselines) count(e *audit.Event, day int32, hour int) bool {
	a := b.days[dayKey{e.Facility, e.Actor.ID, day}]
	if a == nil {
		return false
	}
	if !a.dirty {
		b.dirty = append(b.dirty, a)
	}
	a.observe(e, hour, b.depts)
	return true
}

// flush writes the days counted since the last flush.
func (b *Baselines) flush(ctx context.Context, tx *db.Tx) error {
	for _, a := range b.dirty {
		if err := a.save(ctx, tx); err != nil {
			return err
		}
	}
	b.dirty = b.dirty[:0]
	return nil
}

// keepDays is how many days beyond the history the days are kept: a
// week, for a late event of a day just out of the history.
const keepDays = 7

// prune deletes the days no baseline learns from any more (the audit log
// keeps the events they were counted from).
func (b *Baselines) prune(ctx context.Context, tx *db.Tx, day int32) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM detect_baseline_days WHERE day < ?`,
		day-int32(b.cfg.HistoryDays+keepDays)); err != nil {
		return fmt.Errorf("delete the days before the history: %w", err)
	}
	return nil
}

// evict forgets the days before yesterday (they are stored): memory holds
// about two days of each active user.
func (b *Baselines) evict(day int32) {
	for k, a := range b.days {
		if k.day < day-1 && !a.dirty {
			delete(b.days, k)
		}
	}
}
