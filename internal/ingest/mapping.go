package ingest

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
)

// A Mapping says how a Record of another system becomes an audit.Event:
// which key of the record gives each field of the event (with fallbacks:
// the first key present with a value wins), constants (source = "pacs"),
// tables that translate a system's codes (REF → view, 0 → success), and
// how to read its times (layouts and the time zone of times written
// without an offset). syslog listeners and `anzen audit import --map` read
// the same file format (docs/ingest.md, "mapping file"); without a
// file, DefaultMapping applies.
type Mapping struct {
	name    string
	specs   [numFields]fieldSpec
	byKey   map[string][]keyRef // see index
	scopes  map[string]bool     // what comes before a dot in a key, ASCII lower case
	zone    *time.Location
	layouts []timeLayout
}

// field is one field of an event that a mapping can fill.
type field int

// The fields, in the order of fieldNames.
const (
	fTime field = iota
	fSource
	fActorID
	fActorName
	fActorProfession
	fActorDepartment
	fActorTerminal
	fActorAddress
	fAction
	fPatientID
	fPatientName
	fObjectType
	fObjectID
	fOutcome
	fPurpose
	fSession
	numFields
)

// fieldNames are the names of the fields in a mapping file, those of the
// JSON wire form.
var fieldNames = [numFields]string{"time", "source", "actor.id", "actor.name", "actor.profession",
	"actor.department", "actor.terminal", "actor.address", "action", "patient.id", "patient.name",
	"object.type", "object.id", "outcome", "purpose", "session"}

// fieldByName returns the field named name.
func fieldByName(name string) (field, bool) {
	for f, n := range fieldNames {
		if n == name {
			return field(f), true
		}
	}
	return 0, false
}

// fieldSpec is how one field is found in a record.
type fieldSpec struct {
	keys []string // the first of these present with a value wins
	join []string // or: these values joined with sep, when all are present
	sep  string

	constant    string // the value when no key gives one (or the only value, with no keys)
	hasConstant bool

	values  map[string]string // translation of values, exact
	folded  map[string]string // the same, keys in ASCII lower case
	other   string            // the translation of any other value ("*")
	hasElse bool
}

// set reports whether the spec gives the field any value.
func (s *fieldSpec) set() bool { return len(s.keys) > 0 || len(s.join) > 0 || s.hasConstant }

// translate returns v as the spec's table translates it.
func (s *fieldSpec) translate(v string) string {
	if s.values == nil && !s.hasElse {
		return v
	}
	if t, ok := s.values[v]; ok {
		return t
	}
	if t, ok := s.folded[asciiLower(v)]; ok {
		return t
	}
	if s.hasElse {
		return s.other
	}
	return v
}

// joined returns the values of the spec's join keys joined, when all are
// present with a value.
func (s *fieldSpec) joined(rec *Record) (string, bool) {
	var b strings.Builder
	for i, k := range s.join {
		v, ok := rec.Get(k)
		if v = strings.TrimSpace(v); !ok || v == "" {
			return "", false
		}
		if i > 0 {
			b.WriteString(s.sep)
		}
		b.WriteString(v)
	}
	return b.String(), true
}

// keyRef is where a key of a record may go: field f, as the rank-th of its
// fallbacks (0 first).
type keyRef struct {
	f    field
	rank int
}

// index builds m.byKey, the fields of each key in ASCII lower case, so
// that Map looks at each pair of a record once instead of looking every
// key of the mapping up in the record.
func (m *Mapping) index() {
	m.byKey, m.scopes = map[string][]keyRef{}, map[string]bool{}
	for f := range m.specs {
		s := &m.specs[f]
		for rank, k := range s.keys {
			lk := asciiLower(k)
			m.byKey[lk] = append(m.byKey[lk], keyRef{field(f), rank})
		}
		for _, k := range append(s.keys[:len(s.keys):len(s.keys)], s.join...) {
			if i := strings.LastIndexByte(k, '.'); i > 0 {
				m.scopes[asciiLower(k[:i])] = true
			}
		}
	}
}

// Name returns the name of the mapping: its file, or "default".
func (m *Mapping) Name() string { return m.name }

// Zone returns the time zone of times written without an offset (also of
// RFC 3164 syslog timestamps).
func (m *Mapping) Zone() *time.Location { return m.zone }

// HasSource reports whether the mapping gives events a source (a key or a
// constant); without one, syslog names the source by APP-NAME or host.
func (m *Mapping) HasSource() bool { return m.specs[fSource].set() }

// SetSource makes name the source of every event the mapping maps,
// whatever the record says (anzen audit import --source).
func (m *Mapping) SetSource(name string) *Mapping {
	c := *m
	c.specs[fSource] = fieldSpec{constant: name, hasConstant: true}
	c.index()
	return &c
}

// ErrMapping is returned (wrapped) when a record cannot be mapped: a
// time that matches none of the mapping's layouts.
var ErrMapping = errors.New("cannot map the record")

// Map sets the fields of e that the mapping finds in rec, leaving the
// others as they are (a syslog listener sets the header's time and source
// first, so that the record's win). Values are trimmed of spaces and
// translated by the mapping's tables; e is checked later, by the log's
// Prepare.
func (m *Mapping) Map(rec *Record, e *audit.Event) error {
	// The best key found so far for each field: its rank + 1, and value.
	var rank [numFields]int
	var found [numFields]string
	var lower [64]byte
	for i := range rec.vals {
		k := rec.keys[i]
		var refs []keyRef
		if len(k) <= len(lower) {
			refs = m.byKey[string(appendLower(lower[:0], k))] // no allocation
		} else {
			refs = m.byKey[asciiLower(k)]
		}
		if len(refs) == 0 {
			continue
		}
		v := strings.TrimSpace(rec.vals[i])
		if v == "" {
			continue
		}
		for _, r := range refs {
			if rank[r.f] == 0 || r.rank+1 < rank[r.f] {
				rank[r.f], found[r.f] = r.rank+1, v
			}
		}
	}
	for f := field(0); f < numFields; f++ {
		s := &m.specs[f]
		v, ok := found[f], rank[f] > 0
		switch {
		case ok:
		case len(s.join) > 0:
			v, ok = s.joined(rec)
		}
		if !ok {
			if !s.hasConstant {
				continue
			}
			v = s.constant
		}
		v = s.translate(v)
		if f == fTime {
			t, err := m.parseTime(v)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrMapping, err)
			}
			e.Time = t
			continue
		}
		*m.target(e, f) = v
	}
	return nil
}

// target returns the text field f of e.
func (m *Mapping) target(e *audit.Event, f field) *string {
	switch f {
	case fSource:
		return &e.Source
	case fActorID:
		return &e.Actor.ID
	case fActorName:
		return &e.Actor.Name
	case fActorProfession:
		return &e.Actor.Profession
	case fActorDepartment:
		return &e.Actor.Department
	case fActorTerminal:
		return &e.Actor.Terminal
	case fActorAddress:
		return &e.Actor.Address
	case fAction:
		return &e.Action
	case fPatientID:
		return &e.Patient.ID
	case fPatientName:
		return &e.Patient.Name
	case fObjectType:
		return &e.Object.Type
	case fObjectID:
		return &e.Object.ID
	case fOutcome:
		return &e.Outcome
	case fPurpose:
		return &e.Purpose
	}
	return &e.Session
}

// appendLower appends s with A–Z in lower case to b.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

//go:embed mapping_default.toml
var defaultMappingFile []byte

var defaultMapping = func() *Mapping {
	m, err := ParseMapping("default", defaultMappingFile)
	if err != nil {
		panic("ingest: the built-in mapping: " + err.Error())
	}
	return m
}()

// DefaultMapping returns the mapping used without a mapping file
// (mapping_default.toml): the wire form's field names, as JSON payloads
// and the JSON wire form use them, and the key names systems commonly
// write in key=value messages and CSV headers, English and Japanese.
func DefaultMapping() *Mapping { return defaultMapping }

// DefaultMappingFile returns the built-in mapping as a mapping file, a
// start for one's own.
func DefaultMappingFile() []byte { return append([]byte(nil), defaultMappingFile...) }
