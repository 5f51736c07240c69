package incident

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
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

	// Facilities names the facilities, for the contact diagram (helper B:
	// the organisation); nil: facilities are shown by number.
	Facilities func(ctx context.Context) ([]Facility, error)
}

type handlers struct {
	srv *web.Server
	cfg Config
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
	h := &handlers{srv: srv, cfg: cfg}
	h.registerOrg() // the emergency organisation, contacts, emergency rules and accounts (org_ui.go)
	_ = h
	_ = http.MethodGet
	return nil
}
