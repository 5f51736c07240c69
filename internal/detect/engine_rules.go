package detect

import (
	"context"
	"fmt"
	"strings"

	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// Changing the rules under a running engine. Each batch first reads the
// rules' generation (one row): when the stored rules or the settings
// changed, here or on another instance, the engine builds the new set
// (rules_catalog.go) and swaps it in before it analyses the batch. The
// cursor does not move back. The correlation rules' open windows move
// over to the new correlator (Save, Restore): those of a correlation rule
// that still runs go on, so it neither misses nor repeats a match; those
// of one that no longer runs are dropped, and one that starts running
// starts with no window. When the correlator in memory is not in step
// with the stored state, sync (engine.go) restores that state into the
// new correlator, which keeps what still runs in the same way.

// install makes cat's running set the engine's.
func (en *Engine) install(cat *RuleCatalog) error {
	rules, corrs := cat.running()
	corr, err := sigma.NewCorrelator(rules, corrs)
	if err != nil {
		return fmt.Errorf("detection rules: %w", err)
	}
	if en.corr != nil && en.synced {
		if err := moveWindows(en.corr, corr); err != nil {
			// sync restores the stored windows instead.
			en.logger.Warn("the correlation windows cannot move to the new rules: they are read again", "err", err)
			en.synced = false
		}
	}
	alone := make(map[*sigma.Rule]bool, len(rules))
	for _, r := range rules {
		alone[r] = cat.alone[r]
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	en.rules, en.corrs, en.corr, en.index, en.alone = rules, corrs, corr, sigma.NewIndex(rules), alone
	en.ruleSum = cat.sum()
	return nil
}

// moveWindows gives to the correlator to the open windows of from.
func moveWindows(from, to *sigma.Correlator) error {
	state, err := from.Save()
	if err != nil {
		return err
	}
	return to.Restore(state)
}

// refreshRules swaps in the stored rules and settings when they changed
// since the engine last read them. A set that cannot be built leaves the
// running one in place, and says so in the log.
func (en *Engine) refreshRules(ctx context.Context, q db.Querier) error {
	gen, err := ruleGeneration(ctx, q)
	if err != nil {
		return err
	}
	if gen == en.gen {
		return nil
	}
	cat, err := ReadRuleCatalog(ctx, q, en.base)
	if err != nil {
		return err
	}
	en.gen = gen
	if cat.sum() == en.ruleSum {
		return nil
	}
	if err := en.install(cat); err != nil {
		en.logger.Error("the changed rules cannot be run: the engine keeps the rules it runs", "err", err)
		return nil
	}
	for _, f := range cat.Rejected {
		if strings.HasPrefix(f.Path, SourceStored+":") {
			en.logger.Error("stored detection rules cannot be run and are left out", "rules", f.Path, "reason", f.Err.Error())
		}
	}
	rules, corrs := cat.running()
	en.logger.Info("detection rules changed", "generation", gen, "rules", len(rules), "correlations", len(corrs))
	return nil
}

// BaseRules returns the rule files loaded at start (the built-in packs
// and detect.rules), with those rejected.
func (en *Engine) BaseRules() RuleFiles { return en.base }

// Catalog reads the rule catalog as the database holds it now.
func (en *Engine) Catalog(ctx context.Context, q db.Querier) (*RuleCatalog, error) {
	return ReadRuleCatalog(ctx, q, en.base)
}
