package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

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

// ErrWire is returned (wrapped, as a *RecordError) for a record that is not
// a valid event; the message says which field and why.
var ErrWire = errors.New("not a valid event")

// DecodeWire reads one event in the JSON wire form. The record is kept as
// the event's original (format json). It returns the facility the record
// names, if any, for the caller to check against what the sender may
// write. Errors are *RecordError.
func DecodeWire(record []byte) (audit.Event, *int64, error) {
	record = bytes.TrimSpace(record)
	if err := checkRecord(record); err != nil {
		return audit.Event{}, nil, err
	}
	if record[0] != '{' {
		return audit.Event{}, nil, notObjectOrJSON(record)
	}
	var w WireEvent
	if err := decodeWire(record, &w); err != nil {
		return audit.Event{}, nil, err
	}
	if strings.TrimSpace(w.Time) == "" {
		return audit.Event{}, nil, reject(RejectMissing, "time",
			"time is required (RFC 3339, such as 2026-04-01T09:15:00+09:00)", nil)
	}
	at, err := parseTime(w.Time)
	if err != nil {
		return audit.Event{}, nil, badTime("time", w.Time)
	}
	for _, f := range []struct{ name, v string }{{"source", w.Source}, {"action", w.Action}} {
		if strings.TrimSpace(f.v) == "" {
			return audit.Event{}, nil, reject(RejectMissing, f.name, f.name+" is required", nil)
		}
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

// checkRecord refuses a record that is empty, larger than the log keeps
// or not UTF-8, before anything parses it.
func checkRecord(record []byte) *RecordError {
	switch {
	case len(record) == 0:
		return notObject()
	case len(record) > audit.MaxOriginal:
		return tooLong()
	case !utf8.Valid(record):
		return reject(RejectInvalidUTF8, "", "the record is not valid UTF-8", nil)
	}
	return nil
}

// notObjectOrJSON refuses a record that does not begin with '{': JSON of
// another kind, or not JSON at all.
func notObjectOrJSON(record []byte) *RecordError {
	if !json.Valid(record) {
		return reject(RejectInvalidJSON, "", "not JSON", map[string]any{"Detail": "not JSON"})
	}
	return notObject()
}

func notObject() *RecordError {
	return reject(RejectNotObject, "", "expected a JSON object", nil)
}

func tooLong() *RecordError {
	return reject(RejectTooLong, "", fmt.Sprintf("the record is longer than %d bytes", audit.MaxOriginal),
		map[string]any{"Max": audit.MaxOriginal})
}

// parseTime reads an RFC 3339 time, with or without fractions of a second.
func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
}

func badTime(field, v string) *RecordError {
	v = clip(v, 40)
	return reject(RejectInvalidTime, field,
		fmt.Sprintf("%s %q is not an RFC 3339 time (such as 2026-04-01T09:15:00+09:00)", field, v),
		map[string]any{"Value": v})
}

// jsonError says in a line what is wrong with a JSON record; prefix is
// put before the name of a field of the wrong type (such as
// "AuditEvent.").
func jsonError(err error, prefix string) *RecordError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field == "" {
			return notObject()
		}
		field := prefix + te.Field
		expected := jsonKind(te.Type)
		return reject(RejectWrongType, field, fmt.Sprintf("%s: expected %s, got %s", field, expected, te.Value),
			map[string]any{"Expected": expected, "Got": te.Value})
	case errors.As(err, &se):
		detail := fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
		return reject(RejectInvalidJSON, "", detail, map[string]any{"Detail": detail})
	}
	detail := "invalid JSON: " + err.Error()
	return reject(RejectInvalidJSON, "", detail, map[string]any{"Detail": detail})
}

// jsonKind names t's JSON type for a message.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return "string"
}

// clip cuts s to at most n bytes for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return strings.ToValidUTF8(s, "")
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
