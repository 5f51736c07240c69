package incident

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/mail"
)

// Reminders: the app's job loop calls Reminder.SendReminders every minute.
// A required duty not yet met is reminded of once when less than
// Config.ReminderBefore is left and once when it is overdue; an open task
// of an incident with a due time likewise. The mail goes to the
// incident's commander and the facility's CSIRT, as Addressees knows
// their addresses (the identity part keeps none), in Japanese and then
// English. A row per (subject, kind of reminder, deadline) in
// incident_reminders is claimed before the mail goes, so that each is sent
// once, by one instance, also after a restart; a mail the server refuses
// gives its claim back to be tried the next minute. (A crash between the
// claim and the sending loses that one reminder rather than sending it
// twice.) The mail names the incident by its reference and links to it;
// it carries no title, people or data, which stay in anzen.

// Addressees says whom to mail about a facility's incidents.
type Addressees interface {
	// IncidentMail returns the addresses to mail about an incident of
	// facility: its CSIRT's, and those of logins (the commander, a
	// task's owner) that it knows.
	IncidentMail(ctx context.Context, facility int64, logins []string) ([]string, error)
}

// AddressList is an Addressees of fixed addresses, for every facility
// and person (detect.notify.oncall until the organisation's roster says).
type AddressList []string

// IncidentMail returns the list.
func (l AddressList) IncidentMail(context.Context, int64, []string) ([]string, error) { return l, nil }

// The kinds of reminder.
const (
	remindBefore  = "before"
	remindOverdue = "overdue"
)

// Reminder mails the reminders of duties and tasks.
type Reminder struct {
	cfg Config
	t   Translator
}

// NewReminder returns the reminder of cfg (its DB, Mailer, Addressees,
// ReminderBefore, PublicURL and Location), writing with t's messages.
func NewReminder(cfg Config, t Translator) *Reminder {
	if cfg.Location == nil {
		cfg.Location = japan
	}
	return &Reminder{cfg: cfg, t: t}
}

// reminder is one mail to send.
type reminder struct {
	subject  string
	kind     string
	due      time.Time
	facility int64
	logins   []string
	ref      string
	incident int64
	what     map[string]string // by language: what is due
	task     int64
}

// SendReminders sends the reminders due at now and returns how many it
// sent. Without a Mailer or Addressees it sends none.
func (rm *Reminder) SendReminders(ctx context.Context, now time.Time) (int, error) {
	if rm.cfg.Mailer == nil || rm.cfg.Addressees == nil {
		return 0, nil
	}
	due, err := rm.dutyReminders(ctx, now)
	if err != nil {
		return 0, err
	}
	tasks, err := rm.taskReminders(ctx, now)
	if err != nil {
		return 0, err
	}
	sent := 0
	var errs []error
	for _, r := range append(due, tasks...) {
		ok, err := rm.send(ctx, r, now)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			sent++
		}
	}
	return sent, errors.Join(errs...)
}

// kindAt is the reminder due at now for a deadline, if any.
func (rm *Reminder) kindAt(due, now time.Time) string {
	switch {
	case !now.Before(due):
		return remindOverdue
	case due.Sub(now) <= rm.cfg.ReminderBefore:
		return remindBefore
	}
	return ""
}

func (rm *Reminder) dutyReminders(ctx context.Context, now time.Time) ([]reminder, error) {
	boards, err := boardsIn(ctx, rm.cfg.DB, Scope{All: true}, now, rm.cfg.ReminderBefore)
	if err != nil {
		return nil, err
	}
	var out []reminder
	for _, b := range boards {
		for _, c := range b.Clocks {
			if !c.Required || (c.Status != DutyDueSoon && c.Status != DutyOverdue && c.Status != DutyPending) {
				continue
			}
			kind := rm.kindAt(c.Due, now)
			if kind == "" {
				continue
			}
			what := map[string]string{}
			for _, lang := range []string{"ja", "en"} {
				what[lang] = rm.t.T(lang, "incident.duty.mail.duty", map[string]any{"To": rm.t.T(lang, "incident.duty.to."+string(c.To), nil)})
			}
			out = append(out, reminder{subject: "duty:" + strconv.FormatInt(b.Incident.ID, 10) + ":" + string(c.To),
				kind: kind, due: c.Due, facility: b.Incident.Facility, logins: nonEmpty(b.Incident.Commander),
				ref: b.Ref, incident: b.Incident.ID, what: what})
		}
	}
	return out, nil
}

func (rm *Reminder) taskReminders(ctx context.Context, now time.Time) ([]reminder, error) {
	rows, err := rm.cfg.DB.QueryContext(ctx, `SELECT t.id, t.facility, t.owner, t.due, i.id, i.created, i.commander
		FROM incident_tasks t JOIN incident_incidents i ON i.id = t.incident_id
		WHERE t.state = 'open' AND t.due > 0 AND t.due <= ?`, db.Millis(now.Add(rm.cfg.ReminderBefore)))
	if err != nil {
		return nil, fmt.Errorf("read the tasks due: %w", err)
	}
	defer rows.Close()
	var out []reminder
	for rows.Next() {
		var (
			r                  reminder
			owner, commander   string
			taskDue, incCreate int64
		)
		if err := rows.Scan(&r.task, &r.facility, &owner, &taskDue, &r.incident, &incCreate, &commander); err != nil {
			return nil, fmt.Errorf("read the tasks due: %w", err)
		}
		r.due, r.ref = db.Time(taskDue), Ref(r.incident, db.Time(incCreate))
		if r.kind = rm.kindAt(r.due, now); r.kind == "" {
			continue
		}
		r.subject, r.logins = "task:"+strconv.FormatInt(r.task, 10), nonEmpty(owner, commander)
		r.what = map[string]string{}
		for _, lang := range []string{"ja", "en"} {
			r.what[lang] = rm.t.T(lang, "incident.duty.mail.task", map[string]any{"ID": r.task})
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// send claims r and mails it; false when it was claimed before or there is
// no one to mail.
func (rm *Reminder) send(ctx context.Context, r reminder, now time.Time) (bool, error) {
	to, err := rm.cfg.Addressees.IncidentMail(ctx, r.facility, r.logins)
	if err != nil {
		return false, fmt.Errorf("whom to remind of %s: %w", r.subject, err)
	}
	if len(to) == 0 {
		return false, nil // claimed once someone can be mailed
	}
	res, err := rm.cfg.DB.ExecContext(ctx, `INSERT INTO incident_reminders (subject, kind, due, facility, sent)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (subject, kind, due) DO NOTHING`, r.subject, r.kind, db.Millis(r.due), r.facility,
		db.Millis(now))
	if err != nil {
		return false, fmt.Errorf("claim the reminder of %s: %w", r.subject, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	if err := rm.cfg.Mailer.Send(ctx, rm.message(r, to, now)); err != nil {
		// Give the claim back: the next run tries again.
		if _, derr := rm.cfg.DB.ExecContext(context.WithoutCancel(ctx), `DELETE FROM incident_reminders
			WHERE subject = ? AND kind = ? AND due = ?`, r.subject, r.kind, db.Millis(r.due)); derr != nil {
			err = errors.Join(err, derr)
		}
		return false, fmt.Errorf("mail the reminder of %s: %w", r.subject, err)
	}
	if r.task != 0 {
		if _, err := rm.cfg.DB.ExecContext(ctx, `UPDATE incident_tasks SET reminded = ? WHERE id = ?`, db.Millis(now), r.task); err != nil {
			return true, fmt.Errorf("note the reminder of task %d: %w", r.task, err)
		}
	}
	return true, nil
}

// message writes the mail of r: Japanese first, then English.
func (rm *Reminder) message(r reminder, to []string, now time.Time) mail.Message {
	link := strings.TrimRight(rm.cfg.PublicURL, "/") + "/incidents/" + strconv.FormatInt(r.incident, 10) + "/reports"
	if r.task != 0 {
		link = strings.TrimRight(rm.cfg.PublicURL, "/") + "/incidents/" + strconv.FormatInt(r.incident, 10)
	}
	span := SpanOf(r.due.Sub(now))
	var subject []string
	var body strings.Builder
	for _, lang := range []string{"ja", "en"} {
		data := map[string]any{"Ref": r.ref, "What": r.what[lang], "Left": spanText(rm.t, lang, span),
			"Due": r.due.In(rm.cfg.Location).Format("2006-01-02 15:04 MST"), "Link": link}
		subject = append(subject, rm.t.T(lang, "incident.duty.mail.subject_"+r.kind, data))
		body.WriteString(rm.t.T(lang, "incident.duty.mail.body_"+r.kind, data))
		body.WriteString("\n\n")
	}
	body.WriteString("-- \nanzen\n")
	return mail.Message{To: to, Subject: strings.Join(subject, " / "), Text: body.String()}
}

// spanText writes a span in lang: days and hours, or hours and minutes.
func spanText(t Translator, lang string, s Span) string {
	if s.Days > 0 {
		return t.T(lang, "incident.duty.span_days", map[string]any{"Days": s.Days, "Hours": s.Hours})
	}
	return t.T(lang, "incident.duty.span_hours", map[string]any{"Hours": s.Hours, "Minutes": s.Minutes})
}
