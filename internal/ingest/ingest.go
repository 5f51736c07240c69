// Package ingest turns other systems' access logs into events of the
// tamper-evident audit log (guideline 6.5 (3)): the JSON wire form over
// HTTP, FHIR R4 AuditEvent resources, syslog (RFC 5424 and RFC 3164, over
// UDP, TCP and TLS) and the daily files of systems that can only export
// them. Each adapter maps what a system sends onto audit.Event, keeps the
// record exactly as received, and hands the events to a Sink, which
// answers only once they are durably stored.
package ingest

import (
	"context"
	"embed"
	"io/fs"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// PermIngest lets a program write events to the audit log. Only API
// tokens carry it (scope "ingest"): systems send events, people do not.
var PermIngest = authz.Define(authz.Spec{
	Name:   "audit.events.ingest",
	Kind:   authz.Write,
	Scopes: []string{"ingest"},
})

// Sink is where ingested events go: the audit log, which internal/app
// passes in.
type Sink interface {
	// Prepare checks and normalises one event, so that an adapter can
	// report a bad one by itself and keep the good ones.
	Prepare(e *audit.Event) error
	// Append stores events durably and returns the sequence number of the
	// first.
	Append(ctx context.Context, events []audit.Event) (first int64, err error)
}

var _ Sink = (*audit.Log)(nil)

//go:embed locales/*.toml
var localesFS embed.FS

// Locales returns the ingestion message catalog files (ja, en).
func Locales() fs.FS {
	sub, err := fs.Sub(localesFS, "locales")
	if err != nil {
		panic(err)
	}
	return sub
}
