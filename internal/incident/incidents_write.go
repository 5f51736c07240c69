package incident

import (
	"context"
	"encoding/json"
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

// Writing incidents: opening one (by hand, from a member of staff's
// report, or escalated from an alert), changing its facts and moving it
// through its states. Every change writes an entry in the incident's
// timeline (auto, with the values before and after) and a record in the
// audit log, in the same transaction as the change.

// Actions of the audit log for incidents.
const (
	ActionCreate = "incident.create"
	ActionUpdate = "incident.update"
	ActionState  = "incident.state"
	ActionNote   = "incident.note"
)

// Limits of what people write.
const (
	maxTitle   = 200
	maxText    = 10000 // summary, notes, descriptions
	maxShort   = 1000  // affected systems and data, comments
	maxLogin   = 100
	maxPeople  = 1_000_000_000
	futureSlip = 5 * time.Minute // a time "now" on a clock a little ahead
)

// Actor is who changes an incident: a signed-in person, a program's
// token, or the command line.
type Actor struct {
	UserID int64
	Login  string
	Client string
	Lang   string // ja or en: the language of the tasks a playbook seeds
}

// Error is a change refused for what was asked: Field names the field
// that is wrong and MsgID its message. Conflict is true when the request
// was well formed but the incident's state does not allow it.
type Error struct {
	Field, MsgID string
	Conflict     bool
}

func (e *Error) Error() string { return "incident: " + e.Field + ": " + e.MsgID }

func invalid(field, msgID string) error { return &Error{Field: field, MsgID: msgID} }

// NewIncident is what opens an incident.
type NewIncident struct {
	Facility        int64     `json:"facility"`
	Kind            Kind      `json:"kind"`
	Severity        Severity  `json:"severity,omitempty"`
	Title           string    `json:"title"`
	Summary         string    `json:"summary,omitempty"`
	AwareAt         time.Time `json:"aware_at,omitzero"`
	OccurredAt      time.Time `json:"occurred_at,omitzero"`
	Commander       string    `json:"commander,omitempty"`
	AffectedSystems string    `json:"affected_systems,omitempty"`
	AffectedData    string    `json:"affected_data,omitempty"`
	People          int64     `json:"people,omitempty"`
	MedicalData     bool      `json:"medical_data,omitempty"`
	Leak            Leak      `json:"leak,omitempty"`
	Malicious       bool      `json:"malicious,omitempty"`
	Crime           bool      `json:"crime,omitempty"`
	Cyberattack     bool      `json:"cyberattack,omitempty"`
	CareImpact      bool      `json:"care_impact,omitempty"`
	Encrypted       bool      `json:"encrypted,omitempty"`
	// SourceAlert is the alert escalated (escalate.go); not in the API.
	SourceAlert int64 `json:"-"`
}

// text checks a free text of at most max characters; required refuses
// an empty one.
func text(s *string, field string, max int, required bool) error {
	*s = strings.TrimSpace(*s)
	if !utf8.ValidString(*s) || utf8.RuneCountInString(*s) > max || strings.ContainsRune(*s, 0) || (required && *s == "") {
		return invalid(field, "incident.error."+field)
	}
	return nil
}

// checkLogin checks a login named as commander or owner.
func checkLogin(s *string, field string) error {
	*s = strings.TrimSpace(*s)
	if len(*s) > maxLogin || !utf8.ValidString(*s) || strings.ContainsAny(*s, " \t\r\n\x00") {
		return invalid(field, "incident.error.login")
	}
	return nil
}

func (n *NewIncident) validate(now time.Time) error {
	var err error
	if n.Kind, err = ParseKind(string(n.Kind)); err != nil {
		return invalid("kind", "incident.error.kind")
	}
	if n.Severity == "" {
		n.Severity = Medium
	}
	if n.Severity, err = ParseSeverity(string(n.Severity)); err != nil {
		return invalid("severity", "incident.error.severity")
	}
	if n.Leak == "" {
		n.Leak = LeakNone
	}
	if n.Leak, err = ParseLeak(string(n.Leak)); err != nil {
		return invalid("leak", "incident.error.leak")
	}
	for _, c := range []struct {
		s        *string
		field    string
		max      int
		required bool
	}{{&n.Title, "title", maxTitle, true}, {&n.Summary, "summary", maxText, false},
		{&n.AffectedSystems, "affected_systems", maxShort, false}, {&n.AffectedData, "affected_data", maxShort, false}} {
		if err := text(c.s, c.field, c.max, c.required); err != nil {
			return err
		}
	}
	if err := checkLogin(&n.Commander, "commander"); err != nil {
		return err
	}
	if n.People < 0 || n.People > maxPeople {
		return invalid("people", "incident.error.people")
	}
	if n.AwareAt.IsZero() {
		n.AwareAt = now
	}
	if err := checkTimes(n.AwareAt, n.OccurredAt, now); err != nil {
		return err
	}
	n.AwareAt, n.OccurredAt = n.AwareAt.UTC().Truncate(time.Millisecond), n.OccurredAt.UTC().Truncate(time.Millisecond)
	return nil
}

// checkTimes refuses a time of awareness or of occurrence in the future,
// or an occurrence after the awareness.
func checkTimes(aware, occurred, now time.Time) error {
	if aware.After(now.Add(futureSlip)) || aware.Year() < 2000 {
		return invalid("aware_at", "incident.error.aware_at")
	}
	if !occurred.IsZero() && (occurred.After(aware) || occurred.Year() < 2000) {
		return invalid("occurred_at", "incident.error.occurred_at")
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Create opens an incident in a facility of scope (where by may manage
// incidents), seeds its tasks from the playbook of its kind, links the
// alert it was escalated from, and records it all. An incident escalated
// from an alert that already has one answers that one instead.
func Create(ctx context.Context, d *db.DB, rec selfaudit.Recorder, scope Scope, by Actor, n NewIncident, now time.Time) (Incident, error) {
	if err := n.validate(now); err != nil {
		return Incident{}, err
	}
	if n.Facility <= 0 || !scope.Has(n.Facility) {
		return Incident{}, invalid("facility", "incident.error.facility")
	}
	var out Incident
	err := d.InTx(ctx, func(tx *db.Tx) error {
		if n.SourceAlert != 0 {
			if i, err := bySourceAlert(ctx, tx, n.SourceAlert); err == nil {
				out = i
				return nil
			} else if !errors.Is(err, db.ErrNotFound) {
				return err
			}
		}
		var source any
		if n.SourceAlert != 0 {
			source = n.SourceAlert
		}
		ms := now.UnixMilli()
		var id int64
		err := tx.QueryRowContext(ctx, `INSERT INTO incident_incidents (facility, kind, severity, state, title, summary,
			aware_at, occurred_at, created, created_by, updated, commander, affected_systems, affected_data, people,
			medical_data, leak, malicious, crime, cyberattack, care_impact, encrypted, source_alert)
			VALUES (?, ?, ?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			n.Facility, string(n.Kind), string(n.Severity), n.Title, n.Summary, n.AwareAt.UnixMilli(), db.Millis(n.OccurredAt),
			ms, by.Login, ms, n.Commander, n.AffectedSystems, n.AffectedData, n.People, boolInt(n.MedicalData), string(n.Leak),
			boolInt(n.Malicious), boolInt(n.Crime), boolInt(n.Cyberattack), boolInt(n.CareImpact), boolInt(n.Encrypted),
			source).Scan(&id)
		if err != nil {
			return fmt.Errorf("write an incident: %w", err)
		}
		if out, err = Get(ctx, tx, Scope{All: true}, id); err != nil {
			return err
		}
		detail := map[string]any{"kind": out.Kind, "severity": out.Severity, "title": out.Title}
		if n.SourceAlert != 0 {
			detail["alert"] = n.SourceAlert
		}
		if err := autoEntry(ctx, tx, id, by, "create", "", detail, now); err != nil {
			return err
		}
		if err := seedTasks(ctx, tx, out, by, now); err != nil {
			return err
		}
		if n.SourceAlert != 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO incident_links (incident_id, kind, target, note, at, by_login)
				VALUES (?, 'alert', ?, '', ?, ?)`, id, n.SourceAlert, ms, by.Login); err != nil {
				return fmt.Errorf("link the alert: %w", err)
			}
		}
		audit := map[string]string{"ref": out.Ref(), "kind": string(out.Kind), "severity": string(out.Severity)}
		if n.SourceAlert != 0 {
			audit["alert"] = strconv.FormatInt(n.SourceAlert, 10)
		}
		return record(ctx, tx, rec, out, by, ActionCreate, audit, now)
	})
	return out, err
}

// bySourceAlert returns the incident escalated from alert.
func bySourceAlert(ctx context.Context, q db.Querier, alert int64) (Incident, error) {
	i, err := scanIncident(q.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incident_incidents WHERE source_alert = ?`, alert))
	if err != nil {
		return i, db.NotFound(err)
	}
	return i, nil
}

// seedTasks adds the tasks of the playbook of i's kind, in by's language,
// due from the time of awareness.
func seedTasks(ctx context.Context, tx *db.Tx, i Incident, by Actor, now time.Time) error {
	tmpls, err := playbookTasks(ctx, tx, i.Facility, i.Kind)
	if err != nil {
		return fmt.Errorf("read the playbook of %s: %w", i.Kind, err)
	}
	for pos, t := range tmpls {
		title, desc := t.TitleJA, t.DescJA
		if by.Lang == "en" && t.TitleEN != "" {
			title, desc = t.TitleEN, t.DescEN
		}
		var due int64
		if t.DueAfter > 0 {
			due = i.AwareAt.Add(t.DueAfter).UnixMilli()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_tasks (facility, incident_id, phase, title, description, owner,
			due, source, position, created) VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?)`, i.Facility, i.ID, string(t.Phase),
			title, desc, due, "playbook:"+string(i.Kind), pos+1, now.UnixMilli()); err != nil {
			return fmt.Errorf("seed a task: %w", err)
		}
	}
	if len(tmpls) > 0 {
		return autoEntry(ctx, tx, i.ID, by, "task.seed", "", map[string]any{"playbook": i.Kind, "tasks": len(tmpls)}, now)
	}
	return nil
}

// autoEntry writes anzen's timeline entry of a change.
func autoEntry(ctx context.Context, tx *db.Tx, id int64, by Actor, action, text string, detail map[string]any, now time.Time) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO incident_timeline (incident_id, at, actor, auto, action, text, detail)
		VALUES (?, ?, ?, 1, ?, ?, ?)`, id, now.UnixMilli(), by.Login, action, text, string(b)); err != nil {
		return fmt.Errorf("write the timeline: %w", err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE incident_incidents SET updated = ? WHERE id = ?`, now.UnixMilli(), id)
	return err
}

// record writes the audit log's record of a change of i.
func record(ctx context.Context, tx *db.Tx, rec selfaudit.Recorder, i Incident, by Actor, action string, detail map[string]string, now time.Time) error {
	return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: i.Facility, ActorID: by.UserID, ActorLogin: by.Login,
		Action: action, Target: "incident:" + strconv.FormatInt(i.ID, 10), Outcome: selfaudit.Success,
		ClientAddr: by.Client, Detail: detail})
}

// Patch is a change of an incident's facts: nil fields stay as they are.
type Patch struct {
	Title           *string    `json:"title,omitempty"`
	Summary         *string    `json:"summary,omitempty"`
	Kind            *Kind      `json:"kind,omitempty"`
	Severity        *Severity  `json:"severity,omitempty"`
	Commander       *string    `json:"commander,omitempty"`
	AffectedSystems *string    `json:"affected_systems,omitempty"`
	AffectedData    *string    `json:"affected_data,omitempty"`
	People          *int64     `json:"people,omitempty"`
	MedicalData     *bool      `json:"medical_data,omitempty"`
	Leak            *Leak      `json:"leak,omitempty"`
	Malicious       *bool      `json:"malicious,omitempty"`
	Crime           *bool      `json:"crime,omitempty"`
	Cyberattack     *bool      `json:"cyberattack,omitempty"`
	CareImpact      *bool      `json:"care_impact,omitempty"`
	Encrypted       *bool      `json:"encrypted,omitempty"`
	AwareAt         *time.Time `json:"aware_at,omitempty"`
	OccurredAt      *time.Time `json:"occurred_at,omitempty"`
}

// apply applies p to a copy of i, checks it, and returns it with the
// fields changed, each with its value before and after.
func (p *Patch) apply(i Incident, now time.Time) (Incident, map[string]any, error) {
	n := NewIncident{Facility: i.Facility, Kind: i.Kind, Severity: i.Severity, Title: i.Title, Summary: i.Summary,
		AwareAt: i.AwareAt, OccurredAt: i.OccurredAt, Commander: i.Commander, AffectedSystems: i.AffectedSystems,
		AffectedData: i.AffectedData, People: i.People, MedicalData: i.MedicalData, Leak: i.Leak, Malicious: i.Malicious,
		Crime: i.Crime, Cyberattack: i.Cyberattack, CareImpact: i.CareImpact, Encrypted: i.Encrypted}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	setB := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	set(&n.Title, p.Title)
	set(&n.Summary, p.Summary)
	set(&n.Commander, p.Commander)
	set(&n.AffectedSystems, p.AffectedSystems)
	set(&n.AffectedData, p.AffectedData)
	if p.Kind != nil {
		n.Kind = *p.Kind
	}
	if p.Severity != nil {
		if *p.Severity == "" {
			return i, nil, invalid("severity", "incident.error.severity")
		}
		n.Severity = *p.Severity
	}
	if p.Leak != nil {
		if *p.Leak == "" {
			return i, nil, invalid("leak", "incident.error.leak")
		}
		n.Leak = *p.Leak
	}
	if p.People != nil {
		n.People = *p.People
	}
	setB(&n.MedicalData, p.MedicalData)
	setB(&n.Malicious, p.Malicious)
	setB(&n.Crime, p.Crime)
	setB(&n.Cyberattack, p.Cyberattack)
	setB(&n.CareImpact, p.CareImpact)
	setB(&n.Encrypted, p.Encrypted)
	if p.AwareAt != nil {
		if p.AwareAt.IsZero() {
			return i, nil, invalid("aware_at", "incident.error.aware_at")
		}
		n.AwareAt = *p.AwareAt
	}
	if p.OccurredAt != nil {
		n.OccurredAt = *p.OccurredAt
	}
	if err := n.validate(now); err != nil {
		return i, nil, err
	}
	out := i
	out.Kind, out.Severity, out.Title, out.Summary, out.AwareAt, out.OccurredAt = n.Kind, n.Severity, n.Title, n.Summary, n.AwareAt, n.OccurredAt
	out.Commander, out.AffectedSystems, out.AffectedData, out.People = n.Commander, n.AffectedSystems, n.AffectedData, n.People
	out.MedicalData, out.Leak, out.Malicious, out.Crime = n.MedicalData, n.Leak, n.Malicious, n.Crime
	out.Cyberattack, out.CareImpact, out.Encrypted = n.Cyberattack, n.CareImpact, n.Encrypted
	changed := map[string]any{}
	diff := func(field string, before, after any) {
		if before != after {
			changed[field] = map[string]any{"old": before, "new": after}
		}
	}
	diff("title", i.Title, out.Title)
	diff("summary", i.Summary, out.Summary)
	diff("kind", string(i.Kind), string(out.Kind))
	diff("severity", string(i.Severity), string(out.Severity))
	diff("commander", i.Commander, out.Commander)
	diff("affected_systems", i.AffectedSystems, out.AffectedSystems)
	diff("affected_data", i.AffectedData, out.AffectedData)
	diff("people", i.People, out.People)
	diff("medical_data", i.MedicalData, out.MedicalData)
	diff("leak", string(i.Leak), string(out.Leak))
	diff("malicious", i.Malicious, out.Malicious)
	diff("crime", i.Crime, out.Crime)
	diff("cyberattack", i.Cyberattack, out.Cyberattack)
	diff("care_impact", i.CareImpact, out.CareImpact)
	diff("encrypted", i.Encrypted, out.Encrypted)
	diff("aware_at", rfc(i.AwareAt), rfc(out.AwareAt))
	diff("occurred_at", rfc(i.OccurredAt), rfc(out.OccurredAt))
	return out, changed, nil
}

func rfc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Update applies p to the incident id in scope: one timeline entry per
// field changed and one audit record naming the fields (not their
// values, which may hold personal data). A patch that changes nothing
// writes nothing.
func Update(ctx context.Context, d *db.DB, rec selfaudit.Recorder, scope Scope, id int64, by Actor, p Patch, now time.Time) (Incident, error) {
	var out Incident
	err := d.InTx(ctx, func(tx *db.Tx) error {
		i, err := Get(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		var changed map[string]any
		if out, changed, err = p.apply(i, now); err != nil {
			return err
		}
		if len(changed) == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incident_incidents SET kind = ?, severity = ?, title = ?, summary = ?,
			aware_at = ?, occurred_at = ?, commander = ?, affected_systems = ?, affected_data = ?, people = ?, medical_data = ?,
			leak = ?, malicious = ?, crime = ?, cyberattack = ?, care_impact = ?, encrypted = ?, updated = ? WHERE id = ?`,
			string(out.Kind), string(out.Severity), out.Title, out.Summary, out.AwareAt.UnixMilli(), db.Millis(out.OccurredAt),
			out.Commander, out.AffectedSystems, out.AffectedData, out.People, boolInt(out.MedicalData), string(out.Leak),
			boolInt(out.Malicious), boolInt(out.Crime), boolInt(out.Cyberattack), boolInt(out.CareImpact),
			boolInt(out.Encrypted), now.UnixMilli(), id); err != nil {
			return fmt.Errorf("update incident %d: %w", id, err)
		}
		fields := make([]string, 0, len(changed))
		for f := range changed {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		for _, f := range fields {
			if err := autoEntry(ctx, tx, id, by, f, "", changed[f].(map[string]any), now); err != nil {
				return err
			}
		}
		out.Updated = now
		return record(ctx, tx, rec, out, by, ActionUpdate, map[string]string{"ref": out.Ref(), "fields": strings.Join(fields, ",")}, now)
	})
	return out, err
}

// Transition is a move of an incident to another state.
type Transition struct {
	To         State  `json:"to"`
	Comment    string `json:"comment,omitempty"`
	Resolution string `json:"resolution,omitempty"`
}

func stateIndex(s State) int { return slices.Index(States, s) }

// check says whether an incident in state from may take t: forward by
// one or more steps; back only with a comment; closing with a
// resolution; reopening (from closed) with a comment.
func (t *Transition) check(from State) error {
	var err error
	if t.To, err = ParseState(string(t.To)); err != nil {
		return invalid("to", "incident.error.state")
	}
	if err := text(&t.Comment, "comment", maxShort, false); err != nil {
		return err
	}
	t.Resolution = strings.TrimSpace(t.Resolution)
	switch {
	case t.To == from:
		return &Error{Field: "to", MsgID: "incident.error.same_state", Conflict: true}
	case t.To == Closed && !slices.Contains(Resolutions, t.Resolution):
		return invalid("resolution", "incident.error.resolution")
	case t.To != Closed && t.Resolution != "":
		return invalid("resolution", "incident.error.resolution_open")
	case stateIndex(t.To) < stateIndex(from) && t.Comment == "":
		return invalid("comment", "incident.error.back_comment")
	}
	return nil
}

// ChangeState moves the incident id in scope to t.To.
func ChangeState(ctx context.Context, d *db.DB, rec selfaudit.Recorder, scope Scope, id int64, by Actor, t Transition, now time.Time) (Incident, error) {
	var out Incident
	err := d.InTx(ctx, func(tx *db.Tx) error {
		i, err := Get(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		if err := t.check(i.State); err != nil {
			return err
		}
		closed, resolution := int64(0), ""
		if t.To == Closed {
			closed, resolution = now.UnixMilli(), t.Resolution
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incident_incidents SET state = ?, closed = ?, resolution = ?, updated = ?
			WHERE id = ?`, string(t.To), closed, resolution, now.UnixMilli(), id); err != nil {
			return fmt.Errorf("change the state of incident %d: %w", id, err)
		}
		detail := map[string]any{"old": i.State, "new": t.To}
		if resolution != "" {
			detail["resolution"] = resolution
		}
		if err := autoEntry(ctx, tx, id, by, "state", t.Comment, detail, now); err != nil {
			return err
		}
		out = i
		out.State, out.Closed, out.Resolution, out.Updated = t.To, db.Time(closed), resolution, now
		audit := map[string]string{"ref": out.Ref(), "from": string(i.State), "to": string(t.To)}
		if resolution != "" {
			audit["resolution"] = resolution
		}
		return record(ctx, tx, rec, out, by, ActionState, audit, now)
	})
	return out, err
}

// NextStates returns the states an incident in state s may be moved to
// without a comment (forward), and those that need one (back).
func NextStates(s State) (forward, back []State) {
	at := stateIndex(s)
	for i, st := range States {
		switch {
		case i > at:
			forward = append(forward, st)
		case i < at:
			back = append(back, st)
		}
	}
	return forward, back
}
