package compliance

import (
	"context"
	"log/slog"
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/mail"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Config is what the compliance part needs from the rest of anzen; the
// composition root (internal/app) fills it.
type Config struct {
	DB       *db.DB
	Recorder selfaudit.Recorder
	Clock    clock.Clock
	Log      *slog.Logger
	// Checks are every part's checks (internal/platform/check).
	Checks []check.Check
	// Translator gives the parts' messages (the checks' titles and
	// details) in a language: the i18n catalog.
	Translator Translator
	// Facilities lists the facilities, with their names.
	Facilities func(ctx context.Context) ([]Facility, error)
	// Mailer sends evidence renewal reminders; nil: none is sent.
	Mailer Mailer
	// Addressees says whom to remind of a facility's evidence; nil: none
	// is sent.
	Addressees func(ctx context.Context, facility int64) ([]string, error)
	// PDF renders the reports; nil: the pages offer their print view only.
	PDF PDF
	// AuditProof states the audit log's integrity, for the inspection pack.
	AuditProof AuditProof
	// PublicURL is anzen's address, for links in mail and reports.
	PublicURL string
	// Location is where the hospital is, for dates on pages and reports.
	Location *time.Location
}

// Facility is one hospital or clinic of the group.
type Facility struct {
	ID   int64
	Code string
	Name Text
}

// Translator gives messages in a language (i18n.Catalog).
type Translator interface {
	T(lang, id string, data any) string
}

// Mailer sends one message (platform/mail).
type Mailer interface {
	Send(ctx context.Context, msg mail.Message) error
}

// PDF renders a page of HTML as a PDF (platform/pdf).
type PDF interface {
	Render(ctx context.Context, html []byte) ([]byte, error)
}

// AuditProof is what the audit part proves about its log, for the
// inspection pack: the tree's size and root, the newest signed
// checkpoint, and the last full verification.
type AuditProof interface {
	IntegrityProof(ctx context.Context) (IntegrityProof, error)
}

// IntegrityProof is the audit log's integrity at one moment.
type IntegrityProof struct {
	TreeSize       uint64    `json:"tree_size"`
	RootHash       string    `json:"root_hash"`       // hex
	Checkpoint     string    `json:"checkpoint"`      // the signed note, as stored
	CheckpointSize uint64    `json:"checkpoint_size"` // the tree size the checkpoint signs
	CheckpointAt   time.Time `json:"checkpoint_at"`
	VerifiedAt     time.Time `json:"verified_at"` // zero: never verified
	VerifiedOK     bool      `json:"verified_ok"`
	VerifiedEvents uint64    `json:"verified_events"`
	VerifyDetail   string    `json:"verify_detail,omitempty"`
}
