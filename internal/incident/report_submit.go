package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Submissions: the record of when and how a report was made to whom (a
// web form, mail, a phone call, a fax, in person), by whom, with the
// authority's reference or receipt number. A duty may be met by several
// submissions (MHLW's first contact, then an update); the first one is
// what the clock measures. A duty may also be judged not required, with
// the reason written down (the PPC: the data was under advanced
// encryption); that judgement is a record too and stops its clock.

// Actions of the audit log for reports.
const (
	ActionReportSubmit = "incident.report.submit"
	ActionReportDraft  = "incident.report.draft"
)

// The statuses of a submission.
const (
	Submitted   = "submitted"
	NotRequired = "not_required"
)

// Channels lists how a report may be submitted, in the order forms show
// them.
var Channels = []string{"web", "mail", "phone", "fax", "in_person"}

// The longest texts a submission keeps, in characters.
const (
	maxReference = 200
	maxNote      = 2000
)

// Submission is one report made (or judged not required).
type Submission struct {
	ID         int64
	IncidentID int64
	Facility   int64
	To         Recipient
	Status     string // Submitted or NotRequired
	At         time.Time
	Channel    string // one of Channels; "" for NotRequired
	Reference  string
	Note       string
	By         string
	Created    time.Time
}

// NewSubmission is what the CSIRT says of a report it made.
type NewSubmission struct {
	To        Recipient
	Status    string // "" means Submitted
	At        time.Time
	Channel   string
	Reference string
	Note      string
}

// ReportError is input about a report that cannot be accepted: Field
// names what is wrong and MsgID the message that says so.
type ReportError struct {
	Field, MsgID string
}

func (e *ReportError) Error() string { return e.Field + ": " + e.MsgID }

// ParseRecipient checks that s names a recipient.
func ParseRecipient(s string) (Recipient, error) {
	if r := Recipient(s); slices.Contains(Recipients, r) {
		return r, nil
	}
	return "", &ReportError{"recipient", "incident.report.error.recipient"}
}

// validate checks ns against now (a report cannot be made in the future;
// a minute of clock skew is allowed).
func (ns *NewSubmission) validate(now time.Time) error {
	if _, err := ParseRecipient(string(ns.To)); err != nil {
		return err
	}
	if ns.Status == "" {
		ns.Status = Submitted
	}
	ns.Reference, ns.Note, ns.Channel = strings.TrimSpace(ns.Reference), strings.TrimSpace(ns.Note), strings.TrimSpace(ns.Channel)
	switch {
	case ns.Status != Submitted && ns.Status != NotRequired:
		return &ReportError{"status", "incident.report.error.status"}
	case ns.At.IsZero() || ns.At.After(now.Add(time.Minute)) || ns.At.Year() < 2000:
		return &ReportError{"at", "incident.report.error.at"}
	case ns.Status == Submitted && !slices.Contains(Channels, ns.Channel):
		return &ReportError{"channel", "incident.report.error.channel"}
	case ns.Status == NotRequired && ns.Channel != "":
		return &ReportError{"channel", "incident.report.error.channel_not_required"}
	case !utf8.ValidString(ns.Reference) || utf8.RuneCountInString(ns.Reference) > maxReference:
		return &ReportError{"reference", "incident.report.error.reference"}
	case !utf8.ValidString(ns.Note) || utf8.RuneCountInString(ns.Note) > maxNote:
		return &ReportError{"note", "incident.report.error.note"}
	case ns.Status == NotRequired && ns.Note == "":
		return &ReportError{"note", "incident.report.error.reason"}
	}
	return nil
}

// RecordSubmission records that the incident id, within scope, was
// reported (or judged not to need reporting) as ns says, with its record
// in the audit log in the same transaction. db.ErrNotFound when the
// incident is not in the scope; a *ReportError for input it refuses.
func RecordSubmission(ctx context.Context, d *db.DB, rec selfaudit.Recorder, s Scope, id int64, by Actor, ns NewSubmission, now time.Time) (Submission, error) {
	if err := ns.validate(now); err != nil {
		return Submission{}, err
	}
	var sub Submission
	err := d.InTx(ctx, func(tx *db.Tx) error {
		inc, err := Get(ctx, tx, s, id)
		if err != nil {
			return err
		}
		sub = Submission{IncidentID: inc.ID, Facility: inc.Facility, To: ns.To, Status: ns.Status, At: ns.At.UTC(),
			Channel: ns.Channel, Reference: ns.Reference, Note: ns.Note, By: by.Login, Created: now}
		if err := tx.QueryRowContext(ctx, `INSERT INTO incident_submissions (incident_id, facility, recipient, status, at,
			channel, reference, note, by_login, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			sub.IncidentID, sub.Facility, string(sub.To), sub.Status, db.Millis(sub.At), sub.Channel, sub.Reference, sub.Note,
			sub.By, db.Millis(now)).Scan(&sub.ID); err != nil {
			return fmt.Errorf("record a submission of incident %d: %w", inc.ID, err)
		}
		// The note may name people or details of the leak: the audit
		// log keeps only that there is one.
		detail := map[string]string{"incident": inc.Ref(), "recipient": string(sub.To), "status": sub.Status,
			"at": sub.At.Format(time.RFC3339), "channel": sub.Channel, "reference": sub.Reference,
			"note": strconv.FormatBool(sub.Note != "")}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: inc.Facility, ActorID: by.UserID,
			ActorLogin: by.Login, Action: ActionReportSubmit, Target: "incident:" + strconv.FormatInt(inc.ID, 10),
			Outcome: selfaudit.Success, ClientAddr: by.Client, Detail: detail})
	})
	return sub, err
}

// Submissions returns the submissions of incident id (which the caller
// has read within its scope), by recipient and time.
func Submissions(ctx context.Context, q db.Querier, id int64) ([]Submission, error) {
	by, err := submissionsOf(ctx, q, []int64{id})
	return by[id], err
}

// submissionsOf returns the submissions of the incidents ids, by incident,
// each incident's in the order of their times; one query per 500
// incidents.
func submissionsOf(ctx context.Context, q db.Querier, ids []int64) (map[int64][]Submission, error) {
	out := map[int64][]Submission{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := q.QueryContext(ctx, `SELECT id, incident_id, facility, recipient, status, at, channel, reference, note,
			by_login, created FROM incident_submissions WHERE incident_id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")+`)
			ORDER BY incident_id, at, id`, args...)
		if err != nil {
			return nil, fmt.Errorf("read submissions: %w", err)
		}
		for rows.Next() {
			var (
				s           Submission
				to          string
				at, created int64
			)
			if err := rows.Scan(&s.ID, &s.IncidentID, &s.Facility, &to, &s.Status, &at, &s.Channel, &s.Reference, &s.Note,
				&s.By, &created); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read submissions: %w", err)
			}
			s.To, s.At, s.Created = Recipient(to), db.Time(at), db.Time(created)
			out[s.IncidentID] = append(out[s.IncidentID], s)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read submissions: %w", err)
		}
	}
	return out, nil
}

// AsReportError reports whether err is input refused, and returns it.
func AsReportError(err error) (*ReportError, bool) {
	var fe *ReportError
	ok := errors.As(err, &fe)
	return fe, ok
}
