package keys

import "github.com/anzen-health/anzen/internal/platform/web"

// handlers serves the key service's API and pages.
type handlers struct {
	srv *web.Server
	svc *Service
}

// registrations are added by the files that define routes (api.go, ui.go,
// certificates, backups ...), so that each file owns its routes.
var registrations []func(h *handlers) error

// Register adds the key service's API, pages, navigation and dashboard
// card to srv.
func Register(srv *web.Server, s *Service) error {
	h := &handlers{srv: srv, svc: s}
	for _, add := range registrations {
		if err := add(h); err != nil {
			return err
		}
	}
	return nil
}
