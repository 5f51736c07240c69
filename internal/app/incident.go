package app

import (
	"context"
	"errors"
	"time"

	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/pdf"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The incident part (internal/incident): the CSIRT's workplace. It prints
// its reports, the contact diagram and the BCP with the Chromium of
// pdf.chromium; without one, its pages offer the print view only.

// pdfRenderer returns the PDF renderer of pdf.chromium, or nil (with a
// note in the log, once) when there is no Chromium.
func (a *App) pdfRenderer() *pdf.Renderer {
	a.pdfOnce.Do(func() { a.pdf = a.findPDFRenderer() })
	return a.pdf
}

func (a *App) findPDFRenderer() *pdf.Renderer {
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
	c := a.incidentBase()
	if r := a.pdfRenderer(); r != nil {
		c.PDF = r
	}
	return c
}

// incidentBase is the incident part's configuration without the PDF
// renderer (which the reminders do not need).
func (a *App) incidentBase() incident.Config {
	c := incident.Config{DB: a.DB, Recorder: a.Audit, Clock: a.Clock, Log: a.Log.With("part", "incident"),
		PublicURL: a.Cfg.BaseURL(), Location: a.Cfg.Location(), ReminderBefore: a.Cfg.Incident.ReminderBefore,
		Facilities: a.incidentFacilities, // the facilities' names (incident_org.go)
		// Reminders go to the roster's CSIRT, else to detect.notify.oncall.
		Addressees: incident.RosterMail{DB: a.DB, Fallback: a.Cfg.Detect.NotifyOnCall}}
	if a.Mail.Enabled() {
		c.Mailer = a.Mail
	}
	return c
}

// reminderPoll is how often the incident part's reminders are looked for.
const reminderPoll = time.Minute

// runIncident mails the reminders of reporting duties and tasks every
// minute until ctx ends.
func (a *App) runIncident(ctx context.Context) {
	rm := a.incidentReminder()
	t := time.NewTicker(reminderPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := rm.SendReminders(ctx, a.Clock.Now()); err != nil {
				a.Log.Error("incident reminders", "err", err, "sent", n)
			} else if n > 0 {
				a.Log.Info("sent incident reminders", "count", n)
			}
		}
	}
}

// incidentReminder is what mails the incident part's reminders.
func (a *App) incidentReminder() *incident.Reminder {
	return incident.NewReminder(a.incidentBase(), a.Catalog)
}

// SendIncidentReminders mails the reminders due now once; Serve does it
// every minute.
func (a *App) SendIncidentReminders(ctx context.Context) (int, error) {
	return a.incidentReminder().SendReminders(ctx, a.Clock.Now())
}

// registerIncident adds the incident part's pages and API.
func (a *App) registerIncident(srv *web.Server) error {
	return incident.Register(srv, a.incidentConfig())
}

// incidentEscalator opens incidents of alerts for the detection part;
// the kind is guessed from the tags of the alert's rule.
func (a *App) incidentEscalator() *incident.Escalator {
	return &incident.Escalator{DB: a.DB, Recorder: a.Audit, Clock: a.Clock, Tags: a.Detect.RuleTags,
		Facilities: a.facilityIDs}
}

// IncidentFacilityNames names facilities on the incident part's reports
// (for the CLI, which prints them straight off the database).
func (a *App) IncidentFacilityNames() incident.FacilityNames {
	return incident.Facilities(a.incidentFacilities)
}
