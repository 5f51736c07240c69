// Package detect is anzen's log analysis (guideline 6.5 (3) and (5)): it
// runs Sigma rules, and correlation rules over them, on access events and
// on other systems' logs, and says which events match.
//
// The rule language and its engine are in the sigma package below; this
// package loads rule files as a hospital keeps them (files and folders,
// each loaded whole or rejected with the reason) and hunts offline through
// exported logs in JSON Lines (Hunt), which `anzen detect check` and
// `anzen detect eval` expose. Beside the rules, the behaviour baselines
// (baseline*.go) learn each user's usual day from the audit log and alert
// on a day beyond it, with an explanation in plain words. The hospital's
// reference tables (staff roster, patient attributes, flagged patients,
// care teams, vendors' maintenance windows; tables*.go) add to the events
// what the access log does not say, for the rules that need it.
package detect

import (
	"embed"
	"io/fs"

	"github.com/anzen-health/anzen/internal/platform/db"
)

//go:embed migrations
var migrationsFS embed.FS

// Migrations returns the detection part's schema: alerts, the
// correlation rules' state and the baselines' days.
func Migrations() db.Migrations {
	lite, err := fs.Sub(migrationsFS, "migrations/sqlite")
	if err != nil {
		panic(err)
	}
	pg, err := fs.Sub(migrationsFS, "migrations/postgres")
	if err != nil {
		panic(err)
	}
	return db.Migrations{Part: "detect", SQLite: lite, Postgres: pg}
}
