package app

import (
	"context"
	"fmt"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/pdf"
)

// The incident part's emergency organisation, wired to the rest of anzen:
// the facilities' names for the contact diagram, the roster as the
// detection part's on-call (critical alerts go to whoever is on call,
// else to detect.notify.oncall), the audit log's search as the finder of
// emergency-account uses, the background check that flags used accounts,
// and the contact diagram's PDF for `anzen incident contacts`.

// incidentFacilities names the facilities for the incident part.
func (a *App) incidentFacilities(ctx context.Context) ([]incident.Facility, error) {
	fs, err := a.Identity.Facilities(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]incident.Facility, 0, len(fs))
	for _, f := range fs {
		out = append(out, incident.Facility{ID: f.ID, Code: f.Code, NameJA: f.NameJA, NameEN: f.NameEN})
	}
	return out, nil
}

// incidentOnCall is who is on call for critical alerts: the roster of
// the incident part, falling back on the addresses of
// detect.notify.oncall when no member with a mail address is on call.
func (a *App) incidentOnCall(fallback []string) incident.OnCall {
	return incident.OnCall{DB: a.DB, Fallback: fallback}
}

// accountUses finds the uses of an emergency account with the audit
// log's search: the events whose actor is the account, of its source,
// in its facility, since the time asked.
type accountUses struct{ log *audit.Log }

// AccountUses returns the uses q asks for, newest first.
func (u accountUses) AccountUses(ctx context.Context, q incident.AccountUseQuery) ([]incident.AccountUse, error) {
	page, err := u.log.SearchEvents(ctx, audit.EventQuery{From: q.Since, Actor: q.Account, Source: q.Source,
		Facilities: []int64{q.Facility}, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]incident.AccountUse, 0, len(page.Events))
	for _, e := range page.Events {
		out = append(out, incident.AccountUse{Seq: e.Seq, Time: e.Time, Source: e.Source, Action: e.Action})
	}
	return out, nil
}

// CheckEmergencyAccounts looks once for uses of the emergency accounts
// and flags those used; it returns how many it flagged.
func (a *App) CheckEmergencyAccounts(ctx context.Context) (int, error) {
	return incident.CheckEmergencyAccounts(ctx, a.DB, a.Audit, accountUses{a.Audit}, a.Clock.Now())
}

// emergencyAccountCheck is how often the background job looks for uses
// of emergency accounts.
const emergencyAccountCheck = time.Minute

// RunEmergencyAccountCheck checks the emergency accounts every minute
// until ctx ends. Serve runs it in its job group.
func (a *App) RunEmergencyAccountCheck(ctx context.Context) {
	t := time.NewTicker(emergencyAccountCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := a.CheckEmergencyAccounts(ctx); err != nil {
				a.Log.Error("check emergency accounts", "err", err)
			} else if n > 0 {
				a.Log.Warn("emergency accounts were used; they must be changed after recovery", "accounts", n)
			}
		}
	}
}

// ContactsPDF prints the contact diagram of facility id in lang (ja or
// en) as PDF with the Chromium of pdf.chromium; pdf.ErrNoChromium when
// there is none.
func (a *App) ContactsPDF(ctx context.Context, id int64, lang string) ([]byte, error) {
	if lang != "ja" && lang != "en" {
		return nil, fmt.Errorf("language %q: ja or en", lang)
	}
	r, err := pdf.Find(a.Cfg.Incident.Chromium)
	if err != nil {
		return nil, err
	}
	fs, err := a.incidentFacilities(ctx)
	if err != nil {
		return nil, err
	}
	f := incident.Facility{ID: id}
	for _, x := range fs {
		if x.ID == id {
			f = x
		}
	}
	o, err := incident.LoadOrg(ctx, a.DB, f, a.Clock.Now())
	if err != nil {
		return nil, err
	}
	tr := func(msg string, data map[string]any) string { return a.Catalog.T(lang, msg, data) }
	doc, err := incident.ContactsDocument(o, tr, lang, a.Cfg.Location())
	if err != nil {
		return nil, err
	}
	return r.Render(ctx, doc)
}
