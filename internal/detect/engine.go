package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// The engine runs the rules over the audit log as it grows. It reads the
// log as a subscriber (audit.Subscription): each batch of events is
// analysed, and its alerts and the move of the cursor past the batch are
// written in one transaction. The correlation rules' open windows are
// written with a batch every few seconds (WithStateEvery), as of that
// batch's last event: after a restart, or when another instance handled
// batches meanwhile, the engine restores them and reads the events from
// there to the cursor again through the correlation rules. An alert's
// dedup key makes raising it again harmless, so no event goes
// unanalysed and no alert is raised twice.

// readerName is the engine's cursor in the audit log.
const readerName = "detect"

// AuditLog is what the engine needs of the audit log: its events in
// order, handed over inside the transaction that moves the cursor, and
// read again after a position.
type AuditLog interface {
	Subscribe(name string, batch int) *audit.Subscription
	ReadAfter(ctx context.Context, after int64, limit int) ([]audit.Event, error)
	Cursor(ctx context.Context, q db.Querier, name string) (int64, error)
}

// Engine analyses the audit log's events with a set of rules.
type Engine struct {
	db     *db.DB
	log    AuditLog
	sub    *audit.Subscription
	clock  clock.Clock
	logger *slog.Logger

	rules   []*sigma.Rule
	corrs   []*sigma.Correlation
	index   *sigma.Index
	corr    *sigma.Correlator
	alone   map[*sigma.Rule]bool
	ruleSum string // identifies the rule set in the stored state

	// The rules and settings that may change while it runs (engine_rules.go):
	// base are the files loaded at start, gen the generation of the stored
	// rules and settings last read (-1: none yet); mu guards the rule set
	// for the pages, which read it from other goroutines.
	base RuleFiles
	gen  int64
	mu   sync.RWMutex

	// seq is the last event the correlator in memory has seen; synced
	// whether it has seen all up to the cursor and no more (false after
	// a failed batch, whose observations were not kept).
	seq     int64
	synced  bool
	matched []*sigma.Rule

	stateEvery time.Duration
	saved      time.Time // when the state was last written
	batch      int
	notify     *Notify // notify.go; nil: none
	tables     *Tables // the reference tables events are enriched with; nil: none
	// open are the open alerts the engine wrote or joined, while the
	// correlator is in step with the stored state (cleared with it).
	open map[openKey]*openAlert
	// suppress are the suppressions in force (suppress_engine.go).
	suppress suppressions
}

// EngineOption configures NewEngine.
type EngineOption func(*Engine)

// WithBatch takes at most n events from the log at a time (EngineBatch
// unless given).
func WithBatch(n int) EngineOption {
	return func(en *Engine) { en.batch = n }
}

// WithTables enriches the events with the reference tables of t
// (tables_store.go).
func WithTables(t *Tables) EngineOption {
	return func(en *Engine) { en.tables = t }
}

// WithStateEvery writes the correlation rules' windows with a batch at
// most this often (0: with every batch). The longer, the less each batch
// costs, and the more events a restart reads again.
func WithStateEvery(d time.Duration) EngineOption {
	return func(en *Engine) { en.stateEvery = d }
}

// DefaultStateEvery is how often the windows are written unless
// WithStateEvery says otherwise.
const DefaultStateEvery = 5 * time.Second

// EngineBatch is how many events the engine takes from the log at a
// time. Each batch is one transaction (its alerts and the cursor's move),
// so larger batches commit less often: 4,000 analysed 137–173k events/s
// on SQLite and 104–123k on PostgreSQL at 1,000, 174–175k and 164–188k
// at 4,000 (docs/benchmarks.md), while holding SQLite's write lock about
// 25 ms a batch at full speed.
const EngineBatch = 4000

// NewEngine prepares the rules of the loaded files to run over log.
func NewEngine(d *db.DB, log AuditLog, files RuleFiles, clk clock.Clock, logger *slog.Logger, opts ...EngineOption) (*Engine, error) {
	en := &Engine{db: d, log: log, clock: clk, logger: logger,
		seq: -1, stateEvery: DefaultStateEvery, batch: EngineBatch, open: map[openKey]*openAlert{}}
	for _, o := range opts {
		o(en)
	}
	en.sub = log.Subscribe(readerName, en.batch)
	en.base, en.gen = files, -1
	if err := en.install(buildCatalog(files, nil, nil)); err != nil {
		return nil, err
	}
	return en, nil
}

// Run analyses the log until ctx ends: at once after each append of this
// process, and every poll for the appends of others.
func (en *Engine) Run(ctx context.Context, poll time.Duration) {
	en.sub.Run(ctx, poll, en.Handle)
}

// Process analyses the next batch of events, if any, and returns how many.
func (en *Engine) Process(ctx context.Context) (int, error) {
	return en.sub.Process(ctx, en.Handle)
}

// Handle analyses events (the next after the cursor) and writes the
// alerts, and every so often the correlator's state, in tx.
func (en *Engine) Handle(ctx context.Context, tx *db.Tx, events []audit.Event) error {
	if err := en.refreshRules(ctx, tx); err != nil {
		return err
	}
	if err := en.sync(ctx, tx); err != nil {
		return err
	}
	if err := en.tables.Refresh(ctx, en.clock.Now()); err != nil {
		en.logger.Warn("the reference tables cannot be read: events are enriched as before", "err", err)
	}
	// A failed batch leaves the correlator ahead of what is stored.
	en.synced = false
	alerts := en.analyse(events, true)
	now := en.clock.Now()
	if err := en.writeAlerts(ctx, tx, alerts, now); err != nil {
		return err
	}
	last := events[len(events)-1].Seq
	if en.saved.IsZero() || now.Sub(en.saved) >= en.stateEvery {
		if err := en.saveState(ctx, tx, last, now); err != nil {
			return err
		}
		en.saved = now
	}
	en.seq, en.synced = last, true
	return nil
}

// analyse runs the rules over events and returns the alerts; with rules
// false, only the correlation rules (when reading events again).
func (en *Engine) analyse(events []audit.Event, rules bool) []Alert {
	var alerts []Alert
	facility := make(map[int64]int64, len(events))
	tables := en.tables.Snapshot()
	for i := range events {
		ev := &events[i]
		facility[ev.Seq] = ev.Facility
		ae := accessEvent{ev, tables}
		en.matched = en.index.Match(ae, en.matched[:0])
		for _, r := range en.matched {
			if rules && en.alone[r] {
				alerts = append(alerts, ruleAlert(r, ev))
			}
			for _, m := range en.corr.Observe(r, ae, ev.Time, ev.Seq) {
				if en.corr.GeneratesCorrelation(m.Correlation) {
					alerts = append(alerts, correlationAlert(m, facility))
				}
			}
		}
	}
	if len(events) > 0 {
		for _, m := range en.corr.Advance(events[len(events)-1].Time) {
			if en.corr.GeneratesCorrelation(m.Correlation) {
				alerts = append(alerts, correlationAlert(m, facility))
			}
		}
	}
	return alerts
}

// maxOpenRemembered bounds the open alerts the engine remembers.
const maxOpenRemembered = 10000

// writeAlerts writes the alerts not written before, with their
// notifications.
func (en *Engine) writeAlerts(ctx context.Context, tx *db.Tx, alerts []Alert, now time.Time) error {
	if len(en.open) > maxOpenRemembered {
		clear(en.open)
	}
	alerts, err := en.withoutSuppressed(ctx, tx, alerts, now) // suppress_engine.go
	if err != nil {
		return err
	}
	alerts = coalesce(alerts)
	for i := range alerts {
		if alerts[i].Correlation == "" {
			joined, err := joinOpenAlert(ctx, tx, en.open, &alerts[i])
			if err != nil {
				return err
			}
			if joined {
				continue
			}
		}
		inserted, err := insertAlert(ctx, tx, &alerts[i], now)
		if err != nil {
			return err
		}
		if key, ok := alerts[i].openKey(); ok && inserted {
			en.open[key] = &openAlert{id: alerts[i].ID, seqs: alerts[i].Seqs}
		}
		if inserted && en.notify != nil {
			if err := en.enqueue(ctx, tx, &alerts[i], now); err != nil { // notify_routes.go
				return err
			}
		}
	}
	return nil
}

func (en *Engine) saveState(ctx context.Context, tx *db.Tx, seq int64, now time.Time) error {
	state, err := en.corr.Save()
	if err != nil {
		return fmt.Errorf("save the correlation state: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO detect_state (name, seq, rules, state, updated) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, rules = excluded.rules, state = excluded.state, updated = excluded.updated`,
		readerName, seq, en.ruleSum, state, now.UnixMilli()); err != nil {
		return fmt.Errorf("save the correlation state: %w", err)
	}
	return nil
}

// sync makes the correlator in memory the one that has seen every event
// up to the cursor, unless it is already: after a start, a failed batch,
// or batches another process handled, it restores the stored windows and
// reads the events from there to the cursor again.
func (en *Engine) sync(ctx context.Context, tx *db.Tx) error {
	cursor, err := en.log.Cursor(ctx, tx, readerName)
	if err != nil {
		return err
	}
	if en.synced && en.seq == cursor {
		return nil
	}
	var seq int64
	var state []byte
	err = tx.QueryRowContext(ctx, `SELECT seq, state FROM detect_state WHERE name = ?`, readerName).Scan(&seq, &state)
	if errors.Is(db.NotFound(err), db.ErrNotFound) {
		seq, state, err = -1, nil, nil
	}
	if err != nil {
		return fmt.Errorf("read the correlation state: %w", err)
	}
	corr, err := sigma.NewCorrelator(en.rules, en.corrs)
	if err != nil {
		return err
	}
	if state != nil {
		if err := corr.Restore(state); err != nil {
			// Windows that cannot be read are lost, not the analysis.
			en.logger.Warn("the stored correlation state cannot be read: correlation rules start over", "err", err)
		}
	}
	en.corr, en.synced = corr, false
	// What was remembered of open alerts may hold a rolled-back batch.
	clear(en.open)
	// The correlation rules see again the events after the stored state;
	// the alerts they raise were written already, and are not again.
	now := en.clock.Now()
	replayed := 0
	for seq < cursor {
		events, err := en.log.ReadAfter(ctx, seq, en.batch)
		if err != nil {
			return err
		}
		for len(events) > 0 && events[len(events)-1].Seq > cursor {
			events = events[:len(events)-1]
		}
		if len(events) == 0 {
			break
		}
		if err := en.writeAlerts(ctx, tx, en.analyse(events, false), now); err != nil {
			return err
		}
		seq, replayed = events[len(events)-1].Seq, replayed+len(events)
	}
	if replayed > 0 {
		en.logger.Info("correlation rules caught up with the audit log", "events", replayed, "cursor", cursor)
	}
	en.seq, en.synced = cursor, true
	return nil
}
