package detect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// The engine runs the rules over the audit log as it grows. It reads the
// log as a subscriber (audit.Subscription): each batch of events is
// analysed, and its alerts, the correlation rules' open windows and the
// move of the cursor past the batch are written in one transaction. After
// a crash the engine resumes from the stored cursor and windows, so no
// event goes unanalysed and no alert is raised twice; an alert's dedup
// key makes writing it again harmless.

// readerName is the engine's cursor in the audit log.
const readerName = "detect"

// AuditLog is what the engine needs of the audit log: its events in
// order, handed over inside the transaction that moves the cursor.
type AuditLog interface {
	Subscribe(name string, batch int) *audit.Subscription
}

// Engine analyses the audit log's events with a set of rules.
type Engine struct {
	db     *db.DB
	sub    *audit.Subscription
	clock  clock.Clock
	logger *slog.Logger

	rules   []*sigma.Rule
	corrs   []*sigma.Correlation
	index   *sigma.Index
	corr    *sigma.Correlator
	alone   map[*sigma.Rule]bool
	ruleSum string // identifies the rule set in the stored state

	// seq is the last event the correlator in memory has seen; synced
	// whether that is also what the stored state says (false after a
	// failed batch, whose observations were not kept).
	seq     int64
	synced  bool
	matched []*sigma.Rule
}

// EngineBatch is how many events the engine takes from the log at a
// time.
const EngineBatch = 1000

// NewEngine prepares the rules of the loaded files to run over log.
func NewEngine(d *db.DB, log AuditLog, files RuleFiles, clk clock.Clock, logger *slog.Logger) (*Engine, error) {
	en := &Engine{db: d, sub: log.Subscribe(readerName, EngineBatch), clock: clk, logger: logger,
		rules: files.Rules(), corrs: files.Correlations(), seq: -1}
	corr, err := sigma.NewCorrelator(en.rules, en.corrs)
	if err != nil {
		return nil, err
	}
	en.corr, en.index = corr, sigma.NewIndex(en.rules)
	en.alone = make(map[*sigma.Rule]bool, len(en.rules))
	h := sha256.New()
	for _, r := range en.rules {
		en.alone[r] = corr.Generates(r)
		h.Write(r.Doc)
	}
	for _, c := range en.corrs {
		h.Write(c.Doc)
	}
	en.ruleSum = hex.EncodeToString(h.Sum(nil)[:8])
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
// alerts and the correlator's state in tx.
func (en *Engine) Handle(ctx context.Context, tx *db.Tx, events []audit.Event) error {
	if err := en.sync(ctx, tx); err != nil {
		return err
	}
	// A failed batch leaves the correlator ahead of what is stored.
	en.synced = false
	var alerts []Alert
	facility := map[int64]int64{}
	for i := range events {
		ev := &events[i]
		facility[ev.Seq] = ev.Facility
		ae := accessEvent{ev}
		en.matched = en.index.Match(ae, en.matched[:0])
		for _, r := range en.matched {
			if en.alone[r] {
				alerts = append(alerts, ruleAlert(r, ev))
			}
			for _, m := range en.corr.Observe(r, ae, ev.Time, ev.Seq) {
				if en.corr.GeneratesCorrelation(m.Correlation) {
					alerts = append(alerts, correlationAlert(m, facility))
				}
			}
		}
	}
	last := events[len(events)-1]
	for _, m := range en.corr.Advance(last.Time) {
		if en.corr.GeneratesCorrelation(m.Correlation) {
			alerts = append(alerts, correlationAlert(m, facility))
		}
	}
	now := en.clock.Now()
	for i := range alerts {
		if err := insertAlert(ctx, tx, &alerts[i], now); err != nil {
			return err
		}
	}
	state, err := en.corr.Save()
	if err != nil {
		return fmt.Errorf("save the correlation state: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO detect_state (name, seq, rules, state, updated) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, rules = excluded.rules, state = excluded.state, updated = excluded.updated`,
		readerName, last.Seq, en.ruleSum, state, now.UnixMilli()); err != nil {
		return fmt.Errorf("save the correlation state: %w", err)
	}
	en.seq, en.synced = last.Seq, true
	return nil
}

// sync makes the correlator in memory the stored one, unless it is
// already: after a start, a failed batch, or batches another process
// handled.
func (en *Engine) sync(ctx context.Context, tx *db.Tx) error {
	var seq int64
	var state []byte
	err := tx.QueryRowContext(ctx, `SELECT seq, state FROM detect_state WHERE name = ?`, readerName).Scan(&seq, &state)
	if errors.Is(db.NotFound(err), db.ErrNotFound) {
		seq, state, err = -1, nil, nil
	}
	if err != nil {
		return fmt.Errorf("read the correlation state: %w", err)
	}
	if en.synced && seq == en.seq {
		return nil
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
	en.corr, en.seq, en.synced = corr, seq, true
	return nil
}
