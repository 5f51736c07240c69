package app

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/compliance"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// The compliance part (internal/compliance), wired to the rest of anzen:
// every part's checks, the facilities' names, the audit log's integrity
// proof for the inspection pack, the reminders of evidence to renew (to
// the facility's CSIRT on the roster, else detect.notify.oncall), and the
// background job that runs the checks when they are due.

// complianceChecks gathers the checks every part declares.
func (a *App) complianceChecks() []check.Check {
	var cs []check.Check
	cs = append(cs, a.Identity.Checks()...)
	cs = append(cs, a.Keys.Checks()...)
	cs = append(cs, a.Audit.Checks()...)
	cs = append(cs, a.Detect.Checks()...)
	cs = append(cs, incident.Checks(a.incidentBase())...)
	return cs
}

// complianceFacilities lists the facilities with their names.
func (a *App) complianceFacilities(ctx context.Context) ([]compliance.Facility, error) {
	fs, err := a.Identity.Facilities(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]compliance.Facility, 0, len(fs))
	for _, f := range fs {
		out = append(out, compliance.Facility{ID: f.ID, Code: f.Code, Name: compliance.Text{JA: f.NameJA, EN: f.NameEN}})
	}
	return out, nil
}

// complianceMail is whom to remind of a facility's evidence to renew.
func (a *App) complianceMail(ctx context.Context, facility int64) ([]string, error) {
	return incident.RosterMail{DB: a.DB, Fallback: a.Cfg.Detect.NotifyOnCall}.IncidentMail(ctx, facility, nil)
}

// auditProof states the audit log's integrity for the inspection pack.
type auditProof struct{ log *audit.Log }

// IntegrityProof returns the log's size, its newest signed checkpoint and
// its last full verification.
func (p auditProof) IntegrityProof(ctx context.Context) (compliance.IntegrityProof, error) {
	var out compliance.IntegrityProof
	size, err := p.log.Size(ctx)
	if err != nil {
		return out, err
	}
	out.TreeSize = uint64(size)
	// A new log has no checkpoint and no verification yet: the proof says
	// so by leaving them empty.
	cp, err := p.log.LatestCheckpoint(ctx)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return out, err
	}
	if err == nil {
		out.RootHash = hex.EncodeToString(cp.Root)
		out.Checkpoint = cp.Note
		out.CheckpointAt = cp.SignedAt
		out.CheckpointSize = uint64(cp.Size)
	}
	v, err := p.log.LatestVerification(ctx)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return out, err
	}
	if err == nil && v.Result != nil {
		out.VerifiedAt = v.Finished
		out.VerifiedOK = v.Result.OK
		out.VerifiedEvents = uint64(v.Result.Size)
		if !v.Result.OK {
			out.VerifyDetail = v.Result.Problem
		}
	}
	return out, nil
}

// complianceConfig is what the compliance part needs from the rest of
// anzen.
func (a *App) complianceConfig() compliance.Config {
	c := compliance.Config{DB: a.DB, Recorder: a.Audit, Clock: a.Clock, Log: a.Log.With("part", "compliance"),
		Checks: a.complianceChecks(), Translator: a.Catalog, Facilities: a.complianceFacilities,
		Addressees: a.complianceMail, AuditProof: auditProof{a.Audit}, PublicURL: a.Cfg.BaseURL(),
		Location: a.Cfg.Location()}
	if a.Mail.Enabled() {
		c.Mailer = a.Mail
	}
	if r := a.pdfRenderer(); r != nil {
		c.PDF = r
	}
	return c
}

// complianceTick is how often the background job looks for checks due
// and evidence to remind of.
const complianceTick = 5 * time.Minute

// complianceFirstRun is how long after start the job first runs: the
// other parts' start-up work (the audit log's first verification and
// checkpoint, the search index catching up) is done by then, so the
// checks see it, and a short-lived anzen (a command, a test) runs none.
const complianceFirstRun = time.Minute

// runCompliance runs the checks that are due and sends evidence
// reminders, complianceFirstRun after start and then every
// complianceTick, until ctx ends.
func (a *App) runCompliance(ctx context.Context) {
	first := time.NewTimer(complianceFirstRun)
	defer first.Stop()
	select {
	case <-ctx.Done():
		return
	case <-first.C:
	}
	t := time.NewTicker(complianceTick)
	defer t.Stop()
	for {
		if n, err := a.Compliance.RunDue(ctx, a.Clock.Now()); err != nil {
			a.Log.Error("compliance checks", "err", err, "ran", n)
		} else if n > 0 {
			a.Log.Debug("ran compliance checks", "count", n)
		}
		if n, err := a.Compliance.SendReminders(ctx, a.Clock.Now()); err != nil {
			a.Log.Error("evidence reminders", "err", err, "sent", n)
		} else if n > 0 {
			a.Log.Info("sent evidence reminders", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
