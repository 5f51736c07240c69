package app

import (
	"context"
	"fmt"
	"time"

	"github.com/anzen-health/anzen/internal/detect"
)

// The detection engine runs the built-in rule pack and the hospital's
// rules (detect.rules) over the audit log as it grows (internal/detect);
// its alerts are on /alerts, in the API and on the dashboard.

// detectPoll is how often the engine looks for events other instances
// appended; this instance's own appends wake it at once.
const detectPoll = 2 * time.Second

// setupDetect loads the built-in rules and the hospital's (detect.rules)
// and makes the engine. A hospital's file that cannot be run is left out
// and named in the log: a mistake in one rule must not stop anzen, nor
// the other rules; `anzen detect check` finds it before.
func (a *App) setupDetect() error {
	files, err := detect.LoadRuleFiles(append(detect.BuiltinPacks(), a.Cfg.Detect.Rules...))
	if err != nil {
		return fmt.Errorf("detection rules (detect.rules): %w", err)
	}
	for _, f := range files {
		if !f.Loaded() {
			a.Log.Error("a detection rule file cannot be run and is left out", "file", f.Path, "reason", f.Err.Error())
		}
	}
	loaded, rejected := files.Counts()
	a.Log.Info("detection rules loaded", "files", loaded, "rejected", rejected, "rules", len(files.Rules()),
		"correlations", len(files.Correlations()))
	a.Detect, err = detect.NewEngine(a.DB, a.Audit, files, a.Clock, a.Log.With("part", "detect"))
	if err != nil {
		return fmt.Errorf("detection rules: %w", err)
	}
	return nil
}

// runDetect analyses the audit log until ctx ends.
func (a *App) runDetect(ctx context.Context) {
	a.Detect.Run(ctx, detectPoll)
}
