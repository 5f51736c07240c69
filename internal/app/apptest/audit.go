package apptest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
)

// AccessEvents appends n access events of a fictional hospital's EHR
// (audittest.Event) to the audit log, in the first facility, one second
// apart, the last a second before the clock's now, so that the access-log
// pages have something to show. It returns them with their positions.
func (e *Env) AccessEvents(t testing.TB, n int) []audit.Event {
	t.Helper()
	now := e.Clock.Now()
	events := audittest.Events(0, n)
	for i := range events {
		at := now.Add(-time.Duration(n-i) * time.Second)
		// The original says the time the EHR sent, as the fields do.
		events[i].Original = bytes.Replace(events[i].Original, []byte(events[i].Time.Format(time.RFC3339Nano)),
			[]byte(at.Format(time.RFC3339Nano)), 1)
		events[i].Time, events[i].Received, events[i].Facility = at, at.Add(40*time.Millisecond), e.Facility
	}
	if _, err := e.App.Audit.Append(context.Background(), events); err != nil {
		t.Fatalf("apptest: append access events: %v", err)
	}
	return events
}
