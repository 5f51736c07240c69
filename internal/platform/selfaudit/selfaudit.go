// Package selfaudit is how every part of anzen records its own security
// events (logins, changes of users, keys, settings ...) in the audit log.
//
// A part writes the event through a Recorder in the same transaction as the
// change it records, so that a change without its record, or a record of a
// change that was rolled back, cannot exist. The audit part implements
// Recorder; internal/app passes it to the other parts.
package selfaudit

import (
	"context"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Outcomes of an event.
const (
	Success = "success"
	Failure = "failure"
)

// Event is one security event of anzen itself.
type Event struct {
	Time       time.Time
	Facility   int64  // the facility the target belongs to; 0 when none
	ActorID    int64  // the user who acted; 0 for the system or an anonymous caller
	ActorLogin string // the login name, or "system", or what an anonymous caller typed
	Action     string // a stable dotted name such as "login.failure" or "user.create"
	Target     string // what was acted on, such as "user:nurse01"
	Outcome    string // Success or Failure
	ClientAddr string
	Detail     map[string]string // extra facts; never a password, token or key
}

// Recorder writes an event in the caller's transaction (or directly when
// q is the database).
type Recorder interface {
	Record(ctx context.Context, q db.Querier, e Event) error
}
