// Package incident is the CSIRT's workplace (guideline 6.10): the
// emergency organisation (the CISO, the security manager, the CSIRT's
// members and roles, the on-call schedule and the external contacts, drawn
// as the contact diagram, 連絡体制図), the emergency rules and the
// emergency (break-glass) accounts, incidents from an alert or a phone
// call to closure (timeline, tasks, observables, evidence with its chain
// of custody), the playbooks that seed an incident's tasks, the reports
// the authorities require with their deadlines (the system vendor and
// MHLW under the 2018 notice, the Personal Information Protection
// Commission, the police), and the information-system BCP with its
// drills and backup attestations.
//
// The part knows alerts only as the detection part hands them over
// (detect.Escalator, implemented here and wired by internal/app), and
// users only by login. Its PDFs (reports, the contact diagram, the BCP)
// are rendered from its own HTML by internal/platform/pdf.
package incident

import (
	"embed"
	"io/fs"

	"github.com/anzen-health/anzen/internal/platform/db"
)

//go:embed migrations
var migrationsFS embed.FS

// Migrations returns the incident part's schema.
func Migrations() db.Migrations {
	lite, err := fs.Sub(migrationsFS, "migrations/sqlite")
	if err != nil {
		panic(err)
	}
	pg, err := fs.Sub(migrationsFS, "migrations/postgres")
	if err != nil {
		panic(err)
	}
	return db.Migrations{Part: "incident", SQLite: lite, Postgres: pg}
}

//go:embed locales/*.toml
var localesFS embed.FS

// Locales returns the incident part's message catalog files (ja, en).
func Locales() fs.FS {
	sub, err := fs.Sub(localesFS, "locales")
	if err != nil {
		panic(err)
	}
	return sub
}

// The part documents its API in several files, one per room
// (openapi.json for incidents, openapi_<room>.json for the others).
//
//go:embed openapi*.json
var openAPIFS embed.FS

// OpenAPI returns the incident part's pieces of the OpenAPI 3.1 document,
// each a file's bytes, in the order of their names.
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
