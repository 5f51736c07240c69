package app

import (
	"errors"

	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/pdf"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The incident part (internal/incident): the CSIRT's workplace. It prints
// its reports, the contact diagram and the BCP with the Chromium of
// pdf.chromium; without one, its pages offer the print view only.

// pdfRenderer returns the PDF renderer of pdf.chromium, or nil (with a
// note in the log) when there is no Chromium.
func (a *App) pdfRenderer() incident.PDF {
	r, err := pdf.Find(a.Cfg.Incident.Chromium)
	if errors.Is(err, pdf.ErrNoChromium) && a.Cfg.Incident.Chromium == "" {
		a.Log.Info("no Chromium on PATH: reports and the contact diagram are offered as print views, not PDF files")
		return nil
	}
	if err != nil {
		a.Log.Warn("pdf.chromium cannot be used: reports and the contact diagram are offered as print views, not PDF files", "err", err)
		return nil
	}
	return r
}

// incidentConfig is what the incident part needs from the rest of anzen.
func (a *App) incidentConfig() incident.Config {
	c := incident.Config{DB: a.DB, Recorder: a.Audit, Clock: a.Clock, Log: a.Log.With("part", "incident"),
		PublicURL: a.Cfg.BaseURL(), Location: a.Cfg.Location()}
	c.Facilities = a.incidentFacilities // the contact diagram's facility names (incident_org.go)
	if a.Mail.Enabled() {
		c.Mailer = a.Mail
	}
	if r := a.pdfRenderer(); r != nil {
		c.PDF = r
	}
	return c
}

// registerIncident adds the incident part's pages and API.
func (a *App) registerIncident(srv *web.Server) error {
	return incident.Register(srv, a.incidentConfig())
}
