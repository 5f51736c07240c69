package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
)

// The JSON wire form of one event, as integrators write it (docs/ingest.md):
//
//	{"time": "2026-04-01T09:15:00+09:00", "source": "ehr-main",
//	 "actor": {"id": "u0123", "name": "山田 花子", "profession": "nurse",
//	           "department": "内科", "terminal": "WS-012", "address": "10.1.2.3"},
//	 "action": "view", "patient": {"id": "P0001234", "name": "..."},
//	 "object": {"type": "record", "id": "R42"}, "outcome": "success",
//	 "purpose": "treatment", "session": "s-99"}
//
// time, source and action are required. Fields anzen does not know are
// not refused: they stay in the original record, which is kept as sent.

// WireEvent is the JSON wire form of one event.
type WireEvent struct {
	Time     string    `json:"time"`
	Source   string    `json:"source"`
	Facility *int64    `json:"facility,omitempty"` // only for tokens of every facility
	Actor    WireActor `json:"actor"`
	Action   string    `json:"action"`
	Patient  struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"patient"`
	Object struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"object"`
	Outcome string `json:"outcome"`
	Purpose string `json:"purpose"`
	Session string `json:"session"`
}

// WireActor is who acted, in the wire form.
type WireActor struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Profession string `json:"profession"`
	Department string `json:"department"`
	Terminal   string `json:"terminal"`
	Address    string `json:"address"`
}

// ErrWire is returned (wrapped) for a record that is not a valid event in
// the wire form; the message says which field and why.
var ErrWire = errors.New("not a valid event")

// DecodeWire reads one event in the JSON wire form. The record is kept as
// the event's original (format json). It returns the facility the record
// names, if any, for the caller to check against what the sender may
// write.
func DecodeWire(record []byte) (audit.Event, *int64, error) {
	record = bytes.TrimSpace(record)
	if len(record) == 0 || record[0] != '{' {
		return audit.Event{}, nil, fmt.Errorf("%w: expected a JSON object", ErrWire)
	}
	var w WireEvent
	if err := json.Unmarshal(record, &w); err != nil {
		return audit.Event{}, nil, fmt.Errorf("%w: %s", ErrWire, jsonReason(err))
	}
	if strings.TrimSpace(w.Time) == "" {
		return audit.Event{}, nil, fmt.Errorf("%w: time is required (RFC 3339, such as 2026-04-01T09:15:00+09:00)", ErrWire)
	}
	at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(w.Time))
	if err != nil {
		return audit.Event{}, nil, fmt.Errorf("%w: time %q is not an RFC 3339 time (such as 2026-04-01T09:15:00+09:00)", ErrWire, clip(w.Time, 40))
	}
	e := audit.Event{
		Seq:    -1,
		Time:   at,
		Source: w.Source,
		Actor: audit.Actor{ID: w.Actor.ID, Name: w.Actor.Name, Profession: w.Actor.Profession,
			Department: w.Actor.Department, Terminal: w.Actor.Terminal, Address: w.Actor.Address},
		Action:   w.Action,
		Patient:  audit.Patient{ID: w.Patient.ID, Name: w.Patient.Name},
		Object:   audit.Object{Type: w.Object.Type, ID: w.Object.ID},
		Outcome:  w.Outcome,
		Purpose:  w.Purpose,
		Session:  w.Session,
		Format:   audit.FormatJSON,
		Original: append([]byte(nil), record...),
	}
	return e, w.Facility, nil
}

// jsonReason says in a line what is wrong with a JSON record.
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "the record"
		}
		return fmt.Sprintf("%s: expected %s, got %s", field, te.Type.Kind(), te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	return "invalid JSON: " + err.Error()
}

// clip cuts s to at most n bytes for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
