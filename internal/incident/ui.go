package incident

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/mail"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

//go:embed templates/*.html
var templatesFS embed.FS

// Mailer sends mail (platform/mail).
type Mailer interface {
	Send(ctx context.Context, msg mail.Message) error
}

// PDF renders a page of HTML as a PDF (platform/pdf).
type PDF interface {
	Render(ctx context.Context, html []byte) ([]byte, error)
}

// Config is what the incident part needs from the rest of anzen.
type Config struct {
	DB       *db.DB
	Recorder selfaudit.Recorder
	Clock    clock.Clock
	Log      *slog.Logger
	// Mailer sends reminders before deadlines; nil: no mail is sent.
	Mailer Mailer
	// PDF renders reports, the contact diagram and the BCP; nil: the
	// pages offer their print view only.
	PDF PDF
	// PublicURL is anzen's address, for links in mail.
	PublicURL string
	// Location is where the hospital is, for dates on pages and reports.
	Location *time.Location

	// Reports (report*.go, duty_clocks.go, remind.go).
	// ReminderBefore is how long before a deadline its owners are mailed
	// (incident.reminder_before); a duty is due soon from then.
	ReminderBefore time.Duration
	// Addressees says whom reminders go to; nil: no reminder is sent.
	Addressees Addressees
	// Facilities names the facilities, for the contact diagram; nil: facilities are shown by number.
	Facilities Facilities
}

type handlers struct {
	srv *web.Server
	cfg Config
	// hooks fill the other rooms' sections of an incident's page
	// (ui_incident.go).
	hooks map[string]DetailHook
}

// Register adds the incident part's pages, API routes, navigation entries
// and dashboard card to srv.
func Register(srv *web.Server, cfg Config) error {
	pages, err := fs.Sub(templatesFS, "templates")
	if err != nil {
		return err
	}
	if err := srv.AddPages("incident", pages); err != nil {
		return fmt.Errorf("incident pages: %w", err)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	h := &handlers{srv: srv, cfg: cfg}
	// One line per room of the part.
	h.registerPages()   // ui_incidents.go, ui_incident.go
	h.registerAPI()     // api.go, api_parts.go
	h.registerRaise()   // raise.go
	h.registerReports() // report*.go
	h.registerPrepare() // bcp_register.go: playbooks, BCP, backups, drills
	h.registerOrg()     // org_ui.go: the emergency organisation, contacts, emergency rules and accounts
	return nil
}
