package detect

import (
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect/sigma"
)

// accessEvent is an event of the audit log as the rules see it, with the
// names of the anzen field map (sigma's fieldmaps/anzen.yml): the JSON
// form's paths (actor.id, patient.id, ...) and their short names (user,
// patient, src_ip, ...). It reads the event's fields directly: the log's
// events need no JSON decoding. The reference tables' fields
// (patient.flags, actor.status, ...) come from x (tables_enrich.go).
type accessEvent struct {
	e *audit.Event
	x *Snapshot // nil: no tables
}

var _ sigma.Event = accessEvent{}

func (a accessEvent) Field(name string) (any, bool) {
	e := a.e
	switch name {
	case "seq":
		return float64(e.Seq), true
	case "time":
		return e.Time.UTC().Format(time.RFC3339Nano), true
	case "received":
		return e.Received.UTC().Format(time.RFC3339Nano), true
	case "facility":
		return float64(e.Facility), true
	case "source":
		return e.Source, true
	case "action":
		return e.Action, true
	case "outcome":
		return e.Outcome, true
	case "purpose":
		return e.Purpose, true
	case "session":
		return e.Session, true
	case "format":
		return e.Format, true
	case "flags":
		names := e.Flags.Names()
		out := make([]any, len(names))
		for i, n := range names {
			out[i] = n
		}
		return out, true
	case "user", "actor.id":
		return e.Actor.ID, true
	case "user_name", "actor.name":
		return e.Actor.Name, true
	case "profession", "actor.profession":
		return e.Actor.Profession, true
	case "department", "actor.department":
		return e.Actor.Department, true
	case "terminal", "actor.terminal":
		return e.Actor.Terminal, true
	case "src_ip", "actor.address":
		return e.Actor.Address, true
	case "patient", "patient_id", "patient.id":
		return present(e.Patient.ID)
	case "patient_name", "patient.name":
		return present(e.Patient.Name)
	case "object_type", "object.type":
		return present(e.Object.Type)
	case "object_id", "object.id":
		return present(e.Object.ID)
	}
	return a.x.eventField(e, name)
}

// present reads an optional part of the event: absent when empty, so that
// "patient|exists: true" means the event names a patient.
func present(s string) (any, bool) {
	return s, s != ""
}

// Keywords gives the event's texts and its original record as received,
// so that a keyword search finds what the source sent even where the
// mapping to the event left it out.
func (a accessEvent) Keywords(fn func(s string) bool) bool {
	e := a.e
	for _, s := range a.texts() {
		if s != "" && fn(s) {
			return true
		}
	}
	return len(e.Original) > 0 && fn(string(e.Original))
}

// AppendTexts appends what Keywords gives, each after a NUL, without
// making a string of the original record (sigma.TextAppender: the
// rules' keyword searches look through these bytes).
func (a accessEvent) AppendTexts(dst []byte) []byte {
	for _, s := range a.texts() {
		if s != "" {
			dst = append(append(dst, 0), s...)
		}
	}
	if len(a.e.Original) > 0 {
		dst = append(append(dst, 0), a.e.Original...)
	}
	return dst
}

func (a accessEvent) texts() [15]string {
	e := a.e
	return [...]string{e.Source, e.Action, e.Outcome, e.Purpose, e.Session, e.Actor.ID, e.Actor.Name,
		e.Actor.Profession, e.Actor.Department, e.Actor.Terminal, e.Actor.Address, e.Patient.ID, e.Patient.Name,
		e.Object.Type, e.Object.ID}
}
