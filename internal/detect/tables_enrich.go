package detect

import (
	"encoding/json"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect/sigma"
)

// Enrichment: the fields the reference tables add to the events the
// rules see (patient.flags, actor.own_record, actor.status, care.relation
// ...; tables_snapshot.go computes them). Nothing is computed ahead: a
// field is looked up when a rule asks for it, so that an event costs
// nothing more when no rule asks, and a nil check when no table is
// loaded.

// eventField is an enriched field of an audit log's event.
func (s *Snapshot) eventField(e *audit.Event, name string) (any, bool) {
	if s == nil {
		return nil, false
	}
	k := eventKeys{facility: e.Facility, actor: e.Actor.ID, patient: e.Patient.ID, actorDepartment: e.Actor.Department, at: e.Time}
	return s.field(&k, name)
}

// enrichedEvent is another kind of event (a hunt's JSON line) with the
// fields of the tables: what it says itself comes first.
type enrichedEvent struct {
	sigma.Event
	snap *Snapshot
	keys eventKeys
}

// enrich wraps e (whose time is at) with the snapshot's fields, reading
// its facility, user, department and patient by their anzen names.
func (s *Snapshot) enrich(e sigma.Event, at time.Time) sigma.Event {
	if s == nil {
		return e
	}
	str := func(name string) string {
		v, _ := e.Field(name)
		s, _ := v.(string)
		return s
	}
	k := eventKeys{actor: str("actor.id"), patient: str("patient.id"), actorDepartment: str("actor.department"), at: at}
	switch f, _ := e.Field("facility"); f := f.(type) {
	case float64:
		k.facility = int64(f)
	case json.Number:
		k.facility, _ = f.Int64()
	}
	return &enrichedEvent{Event: e, snap: s, keys: k}
}

func (e *enrichedEvent) Field(name string) (any, bool) {
	if v, ok := e.Event.Field(name); ok {
		return v, ok
	}
	return e.snap.field(&e.keys, name)
}
