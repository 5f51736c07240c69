package incident

import (
	"context"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// The duties' clocks: for each report an incident owes (Duties), where
// it stands at a moment — time left, due soon, overdue, or met (on time
// or late) by its first submission, or judged not required — as the
// incident's page (the "incident-duties" partial, templates/_duties.html),
// the reports page, the API and the dashboard show it.

// The statuses of a duty's clock.
const (
	DutyPending     = "pending"      // time left
	DutyDueSoon     = "due_soon"     // less than the reminder time left
	DutyOverdue     = "overdue"      // past due, not submitted
	DutyOptional    = "optional"     // past anzen's target for a report "as needed": not overdue
	DutyOnTime      = "submitted"    // first submitted by the due time
	DutyLate        = "late"         // first submitted after it
	DutyNotRequired = "not_required" // judged not required, with a reason
)

// Clock is one duty as it stands.
type Clock struct {
	Duty
	Status string
	// Left is the time until Due (negative when past).
	Left time.Duration
	// SubmittedAt is when the first submission was made; zero if none.
	SubmittedAt time.Time
	// Submissions are the duty's submissions and judgements, oldest first.
	Submissions []Submission
}

// Open reports whether the duty is still to be met.
func (c Clock) Open() bool {
	return c.Status == DutyPending || c.Status == DutyDueSoon || c.Status == DutyOverdue || c.Status == DutyOptional
}

// Span is a duration as pages write it: days, hours and minutes.
type Span struct{ Days, Hours, Minutes int }

// SpanOf splits the absolute value of d, rounded up to the minute.
func SpanOf(d time.Duration) Span {
	if d < 0 {
		d = -d
	}
	m := int((d + time.Minute - 1) / time.Minute)
	return Span{Days: m / (24 * 60), Hours: m / 60 % 24, Minutes: m % 60}
}

// Span is the time left (or past due) as days, hours and minutes.
func (c Clock) Span() Span { return SpanOf(c.Left) }

// Board is an incident's duties as they stand at Now.
type Board struct {
	Incident Incident
	Ref      string
	Now      time.Time
	Clocks   []Clock
	// Other are submissions to a recipient no duty names (a report made
	// though anzen does not require it, such as to the police before a
	// crime was suspected).
	Other []Submission
}

// Overdue counts the clocks past due.
func (b Board) Overdue() int {
	n := 0
	for _, c := range b.Clocks {
		if c.Status == DutyOverdue {
			n++
		}
	}
	return n
}

// Clock returns the clock of recipient to, if the incident owes it.
func (b Board) Clock(to Recipient) (Clock, bool) {
	for _, c := range b.Clocks {
		if c.To == to {
			return c, true
		}
	}
	return Clock{}, false
}

// ClockOf returns the status of duty d at now given its submissions
// (those to d.To, oldest first); soon is how long before Due it is due
// soon (incident.reminder_before).
func ClockOf(d Duty, subs []Submission, now time.Time, soon time.Duration) Clock {
	c := Clock{Duty: d, Left: d.Due.Sub(now), Submissions: subs}
	for _, s := range subs {
		if s.Status == Submitted && c.SubmittedAt.IsZero() {
			c.SubmittedAt = s.At
		}
	}
	last := Submission{}
	if len(subs) > 0 {
		last = subs[len(subs)-1]
	}
	switch {
	case !c.SubmittedAt.IsZero() && c.SubmittedAt.After(d.Due):
		c.Status = DutyLate
	case !c.SubmittedAt.IsZero():
		c.Status = DutyOnTime
	case last.Status == NotRequired:
		c.Status = DutyNotRequired
	case c.Left < 0 && !d.Required:
		c.Status = DutyOptional
	case c.Left < 0:
		c.Status = DutyOverdue
	case c.Left < soon:
		c.Status = DutyDueSoon
	default:
		c.Status = DutyPending
	}
	return c
}

// BoardOf is the board of inc given its submissions.
func BoardOf(inc Incident, subs []Submission, now time.Time, soon time.Duration) Board {
	b := Board{Incident: inc, Ref: inc.Ref(), Now: now}
	by := map[Recipient][]Submission{}
	for _, s := range subs {
		by[s.To] = append(by[s.To], s)
	}
	owed := map[Recipient]bool{}
	for _, d := range Duties(inc) {
		owed[d.To] = true
		b.Clocks = append(b.Clocks, ClockOf(d, by[d.To], now, soon))
	}
	for _, s := range subs {
		if !owed[s.To] {
			b.Other = append(b.Other, s)
		}
	}
	return b
}

// DutyBoard reads the submissions of inc and returns its duties as they
// stand at now; soon is how long before a deadline a duty is due soon
// (Config.ReminderBefore).
func DutyBoard(ctx context.Context, q db.Querier, inc Incident, now time.Time, soon time.Duration) (Board, error) {
	subs, err := Submissions(ctx, q, inc.ID)
	if err != nil {
		return Board{}, err
	}
	return BoardOf(inc, subs, now, soon), nil
}

// OverdueDuty is a duty past due and not submitted.
type OverdueDuty struct {
	Incident Incident
	Clock    Clock
}

// OverdueDuties returns the duties past due of the incidents in the scope
// (open or closed: a report owed is owed after closure too), the most
// overdue first: the dashboard's figure.
func OverdueDuties(ctx context.Context, q db.Querier, s Scope, now time.Time) ([]OverdueDuty, error) {
	boards, err := boardsIn(ctx, q, s, now, 0)
	if err != nil {
		return nil, err
	}
	var out []OverdueDuty
	for _, b := range boards {
		for _, c := range b.Clocks {
			if c.Status == DutyOverdue {
				out = append(out, OverdueDuty{Incident: b.Incident, Clock: c})
			}
		}
	}
	for i := 1; i < len(out); i++ { // few: insertion sort by due time
		for j := i; j > 0 && out[j].Clock.Due.Before(out[j-1].Clock.Due); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// boardsIn returns the boards of the incidents in the scope that owe a
// duty, newest first (at most the 1,000 newest incidents).
func boardsIn(ctx context.Context, q db.Querier, s Scope, now time.Time, soon time.Duration) ([]Board, error) {
	incs, err := List(ctx, q, ListQuery{Scope: s, Limit: 1000})
	if err != nil {
		return nil, err
	}
	var owing []Incident
	var ids []int64
	for _, inc := range incs {
		if len(Duties(inc)) > 0 {
			owing, ids = append(owing, inc), append(ids, inc.ID)
		}
	}
	subs, err := submissionsOf(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Board, 0, len(owing))
	for _, inc := range owing {
		out = append(out, BoardOf(inc, subs[inc.ID], now, soon))
	}
	return out, nil
}
