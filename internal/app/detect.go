package app

import (
	"context"
	"fmt"
	"time"

	"github.com/anzen-health/anzen/internal/detect"
)

// The detection engine runs the built-in rule pack over the audit log as
// it grows (internal/detect). Its alerts are kept in the database; the
// pages to review them come with the rest of detection (issue 5).

// detectPoll is how often the engine looks for events other instances
// appended; this instance's own appends wake it at once.
const detectPoll = 2 * time.Second

// setupDetect loads the built-in rules and makes the engine.
func (a *App) setupDetect() error {
	files, err := detect.LoadRuleFiles(detect.BuiltinPacks())
	if err != nil {
		return fmt.Errorf("detection rules: %w", err)
	}
	for _, f := range files {
		if !f.Loaded() {
			return fmt.Errorf("detection rules: %s: %w", f.Path, f.Err)
		}
	}
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
