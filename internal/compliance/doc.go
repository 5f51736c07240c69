// Package compliance shows, item by item, where a hospital stands against
// the MHLW Safety Management Guideline for Medical Information Systems and
// the MHLW cybersecurity checklist, with live evidence.
//
// The guideline (edition 5.1, items mapped to 6.0) and the checklist
// (FY2024, with FY2025's known items) are catalogs: data files embedded
// in the binary, so a new edition or another framework needs no code.
// Requirements, controls and evidence are kept apart: a catalog item is
// answered by controls (controls.yaml); a control has an owner, a state,
// automatic evidence (the checks every other part declares with
// internal/platform/check, run here on their schedule) and manual
// evidence (attestations: a file with its SHA-256, an effective date, an
// expiry and a second person's approval). A control is ready only when
// every check passes and every piece of evidence is approved and in date.
//
// The part holds the dashboard that is anzen's home page, the checklist
// as the form asks it, the fiscal year's snapshots, and the reports: the
// inspection pack and the management report (PDF and Excel), and OSCAL
// exports of the catalog and of the assessment results.
package compliance

import (
	"embed"
	"io/fs"

	"github.com/anzen-health/anzen/internal/platform/db"
)

//go:embed migrations
var migrationsFS embed.FS

// Migrations returns the compliance part's schema.
func Migrations() db.Migrations {
	lite, err := fs.Sub(migrationsFS, "migrations/sqlite")
	if err != nil {
		panic(err)
	}
	pg, err := fs.Sub(migrationsFS, "migrations/postgres")
	if err != nil {
		panic(err)
	}
	return db.Migrations{Part: "compliance", SQLite: lite, Postgres: pg}
}

//go:embed locales/*.toml
var localesFS embed.FS

// Locales returns the compliance part's message catalog files (ja, en).
func Locales() fs.FS {
	sub, err := fs.Sub(localesFS, "locales")
	if err != nil {
		panic(err)
	}
	return sub
}

// The part documents its API in several files, one per room
// (openapi.json for the state, catalogs, controls and evidence,
// openapi_<room>.json for the others).
//
//go:embed openapi*.json
var openAPIFS embed.FS

// OpenAPI returns the compliance part's pieces of the OpenAPI 3.1
// document, each a file's bytes, in the order of their names.
func OpenAPI() [][]byte {
	names, err := fs.Glob(openAPIFS, "openapi*.json")
	if err != nil {
		panic(err)
	}
	out := make([][]byte, 0, len(names))
	for _, n := range names {
		b, err := openAPIFS.ReadFile(n)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}
