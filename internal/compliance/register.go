package compliance

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The part's pages (templates at the root of templates/; the dashboard
// and the reports register theirs from their own folders) and its JSON
// API, on the server every part shares.

//go:embed templates/*.html
var templatesFS embed.FS

type handlers struct {
	srv *web.Server
	s   *Service
}

// Register adds the compliance part's pages, API routes and navigation
// entry to srv, and makes its dashboard anzen's home page ("/"), which
// every caller holding dashboard may open (the compliance panels show to
// those who hold PermRead; the other parts' cards to everyone).
func Register(srv *web.Server, s *Service, dashboard authz.Permission) error {
	pages, err := fs.Sub(templatesFS, "templates")
	if err != nil {
		return err
	}
	if err := srv.AddPages("compliance", pages); err != nil {
		return fmt.Errorf("compliance pages: %w", err)
	}
	h := &handlers{srv: srv, s: s}
	srv.AddNav(web.NavItem{Path: "/compliance/catalog", LabelID: "compliance.nav", Access: web.Perm(PermRead), Order: 5})
	h.registerPages()                               // ui.go, ui_controls.go
	h.registerChecklistPages()                      // ui_checklist.go
	h.registerSnapshotPages()                       // ui_snapshots.go
	h.registerAPI()                                 // api*.go
	if err := registerReports(srv, s); err != nil { // report_http.go
		return err
	}
	return registerHome(srv, s, dashboard) // home.go

}
