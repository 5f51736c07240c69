package compliance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/mail"
)

// Renewal reminders of evidence: the app's job loop calls SendReminders.
// The approved attestation that keeps a control's evidence in date (the
// one expiring last of its spec, so a renewed one stops the reminders) is
// reminded of once when NearExpiryDays or fewer are left and once on its
// expiry date, to the facility's Addressees, unless the facility has
// marked the control not applicable. A row per (attestation, kind)
// is claimed before the mail goes, so that each goes once, by one
// instance, also after a restart; a mail the server refuses gives its
// claim back. The mail names the control and links to it; no file or
// content goes out.

// The kinds of renewal reminder.
const (
	remindNear    = NearExpiry
	remindExpired = Expired
)

type renewal struct {
	att  Attestation
	kind string
}

// SendReminders sends the renewal reminders due at now and returns how
// many it sent. Without a Mailer, Addressees or Translator it sends none.
func (s *Service) SendReminders(ctx context.Context, now time.Time) (int, error) {
	if s.cfg.Mailer == nil || s.cfg.Addressees == nil || s.cfg.Translator == nil {
		return 0, nil
	}
	today := s.Today(now)
	horizon := today.AddDate(0, 0, NearExpiryDays)
	atts, err := listAttestations(ctx, s.cfg.DB, "state = ? AND expires_on > 0", []any{AttestApproved})
	if err != nil {
		return 0, err
	}
	// The attestation that counts for each (facility, control, spec).
	best := map[string]*Attestation{}
	for i := range atts {
		a := &atts[i]
		k := fmt.Sprint(a.Facility, "/", a.ControlID, "/", a.EvidenceID)
		if b := best[k]; b == nil || a.ExpiresOn.After(*b.ExpiresOn) {
			best[k] = a
		}
	}
	// A control the facility marked not applicable needs no renewal.
	settings := map[int64]map[string]ControlSetting{}
	var due []renewal
	for _, a := range best {
		if a.ExpiresOn.After(horizon) {
			continue
		}
		if _, ok := settings[a.Facility]; !ok {
			if settings[a.Facility], err = controlSettings(ctx, s.cfg.DB, a.Facility); err != nil {
				return 0, err
			}
		}
		if settings[a.Facility][a.ControlID].Impl == ImplNotApplicable {
			continue
		}
		kind := remindNear
		if !today.Before(*a.ExpiresOn) {
			kind = remindExpired
		}
		due = append(due, renewal{att: *a, kind: kind})
	}
	sent := 0
	var errs []error
	for _, r := range due {
		ok, err := s.remind(ctx, r, now)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			sent++
		}
	}
	return sent, errors.Join(errs...)
}

// remind claims r and mails it; false when it was claimed before or no
// one can be mailed.
func (s *Service) remind(ctx context.Context, r renewal, now time.Time) (bool, error) {
	to, err := s.cfg.Addressees(ctx, r.att.Facility)
	if err != nil {
		return false, fmt.Errorf("whom to remind of attestation %d: %w", r.att.ID, err)
	}
	if len(to) == 0 {
		return false, nil // claimed once someone can be mailed
	}
	res, err := s.cfg.DB.ExecContext(ctx, `INSERT INTO compliance_reminders (attestation_id, kind, sent) VALUES (?, ?, ?)
		ON CONFLICT (attestation_id, kind) DO NOTHING`, r.att.ID, r.kind, db.Millis(now))
	if err != nil {
		return false, fmt.Errorf("claim the reminder of attestation %d: %w", r.att.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	if err := s.cfg.Mailer.Send(ctx, s.reminderMail(r, to)); err != nil {
		if _, derr := s.cfg.DB.ExecContext(context.WithoutCancel(ctx), `DELETE FROM compliance_reminders
			WHERE attestation_id = ? AND kind = ?`, r.att.ID, r.kind); derr != nil {
			err = errors.Join(err, derr)
		}
		return false, fmt.Errorf("mail the reminder of attestation %d: %w", r.att.ID, err)
	}
	return true, nil
}

// reminderMail writes the mail of r: Japanese first, then English.
func (s *Service) reminderMail(r renewal, to []string) mail.Message {
	link := strings.TrimRight(s.cfg.PublicURL, "/") + "/compliance/controls/" + r.att.ControlID + "?facility=" +
		fmt.Sprint(r.att.Facility)
	var subject []string
	var body strings.Builder
	for _, lang := range []string{"ja", "en"} {
		control := r.att.ControlID
		if c := s.lib.Control(r.att.ControlID); c != nil {
			control = c.Title.In(lang)
		}
		data := map[string]any{"Control": control, "Title": r.att.Title, "Expires": r.att.ExpiresOn.Format(time.DateOnly),
			"Link": link}
		subject = append(subject, s.cfg.Translator.T(lang, "compliance.remind.subject_"+r.kind, data))
		body.WriteString(s.cfg.Translator.T(lang, "compliance.remind.body_"+r.kind, data))
		body.WriteString("\n\n")
	}
	body.WriteString("-- \nanzen\n")
	return mail.Message{To: to, Subject: strings.Join(subject, " / "), Text: body.String()}
}
