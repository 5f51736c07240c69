package detect

import (
	"context"
	"fmt"
	"slices"
)

// Assigning an alert to someone else: besides taking an alert, a
// reviewer may give it to another person who may review the alerts of
// its facility. Who that is, the detection part does not know: it asks
// People, which internal/app fills in from the identity part. The
// assignment is a review like the others (review.go): kept in the
// alert's history and recorded in the audit log; the list of alerts
// shows those assigned to the caller (assignee=me).

// Person is someone an alert can be assigned to.
type Person struct {
	Login string
	Name  string
}

// People lists who may review alerts.
type People interface {
	// AlertReviewers returns, by login, the people whose accounts are in
	// use who may review the alerts of facility (0: the alerts of no
	// facility, which need the right in every facility).
	AlertReviewers(ctx context.Context, facility int64) ([]Person, error)
}

// WithPeople lets reviewers assign alerts to the people p lists; without
// it an alert can only be taken.
func WithPeople(p People) RegisterOption {
	return func(h *handlers) { h.people = p }
}

// assignable checks that login may be given the alerts of facility.
func (rv Review) assignable(ctx context.Context, facility int64) error {
	if rv.People == nil {
		return &ReviewError{"assignee", "detect.assign.error.person"}
	}
	people, err := rv.People.AlertReviewers(ctx, facility)
	if err != nil {
		return fmt.Errorf("who may review alerts: %w", err)
	}
	if !slices.ContainsFunc(people, func(p Person) bool { return p.Login == rv.Assign }) {
		return &ReviewError{"assignee", "detect.assign.error.person"}
	}
	return nil
}

// reviewersOf returns the people the alert a may be assigned to; none
// without People or when they cannot be read (logged).
func (h *handlers) reviewersOf(ctx context.Context, a Alert) []Person {
	if h.people == nil {
		return nil
	}
	people, err := h.people.AlertReviewers(ctx, a.Facility)
	if err != nil {
		h.srv.Log().Error("read who may review alerts", "err", err)
	}
	return people
}
