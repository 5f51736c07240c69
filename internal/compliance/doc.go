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
)

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
