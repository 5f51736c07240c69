package ingest

import (
	"errors"
	"strings"

	"github.com/anzen-health/anzen/internal/audit"
)

// RecordError says why one record (a line of NDJSON, an element of a JSON
// array, a FHIR resource) was not taken. It wraps ErrWire. Code is stable
// for programs; the sender reads the message in its language (Message),
// or in English (Error).
type RecordError struct {
	// Code is the kind of problem, one of the Reject* constants.
	Code string
	// Field is the field concerned, if any: a JSON name in the wire form
	// ("time", "actor.id"), a FHIRPath for FHIR ("AuditEvent.recorded").
	Field string
	// Args fill the message's blanks (Field, Value, Detail, Max, ...).
	Args map[string]any
	// English is the reason in English.
	English string
}

// Codes of RecordError. docs/ingest.md lists them; each has the message
// "ingest.reject.<code with _ for ->" in both catalogs.
const (
	RejectInvalidJSON       = "invalid-json"       // not JSON
	RejectNotObject         = "not-object"         // JSON, but not an object
	RejectWrongType         = "wrong-type"         // a field of the wrong JSON type
	RejectInvalidUTF8       = "invalid-utf8"       // bytes that are not UTF-8
	RejectTooLong           = "too-long"           // longer than audit.MaxOriginal
	RejectMissing           = "missing"            // a required field is absent or empty
	RejectInvalidTime       = "invalid-time"       // a time that is not RFC 3339
	RejectInvalidCode       = "invalid-code"       // a FHIR code outside its value set
	RejectInvalidEvent      = "invalid-event"      // refused by the log (audit.ErrInvalid)
	RejectFacilityForbidden = "facility-forbidden" // the token may not write that facility
	RejectFacilityUnknown   = "facility-unknown"   // no such facility
	RejectNotAuditEvent     = "not-auditevent"     // a FHIR resource other than AuditEvent
	RejectBundleEntry       = "bundle-entry"       // a Bundle entry that is not a POST of an AuditEvent
)

// RejectCodes lists every code, for the catalog test and the docs.
var RejectCodes = []string{RejectInvalidJSON, RejectNotObject, RejectWrongType, RejectInvalidUTF8, RejectTooLong,
	RejectMissing, RejectInvalidTime, RejectInvalidCode, RejectInvalidEvent, RejectFacilityForbidden,
	RejectFacilityUnknown, RejectNotAuditEvent, RejectBundleEntry}

func (e *RecordError) Error() string { return ErrWire.Error() + ": " + e.English }

// Unwrap makes errors.Is(err, ErrWire) hold.
func (e *RecordError) Unwrap() error { return ErrWire }

// MessageID is the catalog message that says what e says, for people.
func (e *RecordError) MessageID() string {
	return "ingest.reject." + strings.ReplaceAll(e.Code, "-", "_")
}

// rejectf returns a RecordError of code about field; args fill the
// message (Field is added).
func reject(code, field, english string, args map[string]any) *RecordError {
	if args == nil {
		args = map[string]any{}
	}
	if field != "" {
		args["Field"] = field
	}
	return &RecordError{Code: code, Field: field, Args: args, English: english}
}

// AsRecordError returns err as a RecordError: itself when it is one, an
// invalid-event for an event the log refused (audit.ErrInvalid), nil for
// anything else.
func AsRecordError(err error) *RecordError {
	var re *RecordError
	if errors.As(err, &re) {
		return re
	}
	if errors.Is(err, audit.ErrInvalid) {
		detail := strings.TrimPrefix(err.Error(), audit.ErrInvalid.Error()+": ")
		return reject(RejectInvalidEvent, "", detail, map[string]any{"Detail": detail})
	}
	return nil
}
