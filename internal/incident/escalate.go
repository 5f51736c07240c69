package incident

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Escalating an alert into an incident: the detection part declares
// detect.Escalator, and Escalator implements it; internal/app wires it.
// An alert opens one incident (incident_incidents.source_alert is
// unique): asked again, Escalate answers the one it opened. The kind is
// guessed from the rule's tags and title (a login attack is unauthorised
// access, reading or taking records is insider misuse), the severity from
// the rule's level; the handlers correct both in triage.

// Escalator opens incidents of alerts.
type Escalator struct {
	DB       *db.DB
	Recorder selfaudit.Recorder
	Clock    clock.Clock
	// Tags returns the tags of a rule by its key; nil: guessed from the
	// title alone.
	Tags func(ruleID string) []string
	// Facilities lists the facilities, for an alert whose facility is
	// unknown (0): the first is the incident's.
	Facilities func(ctx context.Context) ([]int64, error)
}

var _ detect.Escalator = (*Escalator)(nil)

// Escalate opens an incident of the alert a for by, or answers the one
// opened before.
func (e *Escalator) Escalate(ctx context.Context, a detect.Alert, by detect.Reviewer, comment string) (detect.Incident, error) {
	now := e.Clock.Now()
	var tags []string
	if e.Tags != nil {
		tags = e.Tags(a.RuleID)
	}
	facility := a.Facility
	if facility == 0 && e.Facilities != nil {
		fs, err := e.Facilities(ctx)
		if err != nil {
			return detect.Incident{}, err
		}
		if len(fs) > 0 {
			facility = fs[0]
		}
	}
	title := strings.TrimSpace(a.Title)
	if title == "" {
		title = a.RuleID
	}
	if r := []rune(title); len(r) > maxTitle {
		title = string(r[:maxTitle])
	}
	summary := comment
	if r := []rune(summary); len(r) > maxText {
		summary = string(r[:maxText])
	}
	n := NewIncident{Facility: facility, Kind: GuessKind(a.RuleID, a.Title, tags), Severity: SeverityOf(a.Level),
		Title: title, Summary: summary, AwareAt: now, OccurredAt: a.FirstTime, SourceAlert: a.ID}
	if n.OccurredAt.After(now) {
		n.OccurredAt = time.Time{}
	}
	i, err := Create(ctx, e.DB, e.Recorder, Scope{All: true}, Actor{UserID: by.UserID, Login: by.Login, Client: by.Client}, n, now)
	if db.IsUniqueViolation(err) {
		// Escalated meanwhile by someone else: theirs stands.
		i, err = bySourceAlert(ctx, e.DB, a.ID)
	}
	var ie *Error
	if errors.As(err, &ie) {
		return detect.Incident{}, fmt.Errorf("open an incident of alert %d: %s", a.ID, ie.Error())
	}
	if err != nil {
		return detect.Incident{}, err
	}
	return detect.Incident{Ref: i.Ref(), URL: "/incidents/" + strconv.FormatInt(i.ID, 10)}, nil
}

// GuessKind guesses the kind of incident of an alert of a rule by its
// tags (MITRE ATT&CK) and words.
func GuessKind(ruleID, title string, tags []string) Kind {
	has := func(prefixes ...string) bool {
		for _, t := range tags {
			t = strings.ToLower(t)
			for _, p := range prefixes {
				if strings.HasPrefix(t, p) {
					return true
				}
			}
		}
		return false
	}
	words := strings.ToLower(ruleID + " " + title)
	contains := func(ws ...string) bool {
		for _, w := range ws {
			if strings.Contains(words, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("attack.credential-access", "attack.credential_access", "attack.t1110", "attack.initial_access",
		"attack.initial-access", "attack.t1078") || contains("login", "logon", "spray", "brute", "password"):
		return UnauthorisedAccess
	case has("attack.collection", "attack.exfiltration", "insider") || contains("insider", "baseline", "patient", "record",
		"export", "print"):
		return InsiderMisuse
	case has("attack.impact") || contains("ransom"):
		return Ransomware
	}
	return Other
}

// SeverityOf is the severity of an incident opened of an alert of level l.
func SeverityOf(l sigma.Level) Severity {
	switch l {
	case sigma.LevelCritical:
		return Critical
	case sigma.LevelHigh:
		return High
	case sigma.LevelMedium:
		return Medium
	}
	return Low
}
