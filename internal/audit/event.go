package audit

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is one access to a medical information system, normalised from
// whatever the system sent: who (Actor) did what (Action) to which patient's
// record (Patient, Object), when (Time, at the source), from where, with
// what outcome and for what purpose. Original keeps the record exactly as it
// was received, so that nothing a system sent is lost in the mapping.
//
// anzen's own security events are Events too, of source "anzen".
type Event struct {
	// Seq is the event's position in the log (its Merkle leaf index, from
	// 0); assigned by the log, -1 before.
	Seq int64 `json:"seq"`

	Time     time.Time `json:"time"`     // when it happened, by the source's clock
	Received time.Time `json:"received"` // when anzen received it, by anzen's clock
	Facility int64     `json:"facility"` // the facility (施設) it belongs to; 0 for none
	Source   string    `json:"source"`   // the system that reported it, such as "ehr-main"

	Actor   Actor   `json:"actor"`
	Action  string  `json:"action"`
	Patient Patient `json:"patient"`
	Object  Object  `json:"object"`
	Outcome string  `json:"outcome"` // OutcomeSuccess, OutcomeFailure or OutcomeUnknown
	Purpose string  `json:"purpose"` // purpose of use, such as "treatment"
	Session string  `json:"session"` // the session id at the source

	Flags Flags `json:"flags"`

	// Format names the form of Original: FormatJSON, FormatSyslog5424, ...
	Format string `json:"format"`
	// Original is the record exactly as received (a JSON line, a syslog
	// message, a FHIR resource, a CSV row ...).
	Original []byte `json:"-"`
}

// Actor is who acted, as the source system knows them.
type Actor struct {
	ID         string `json:"id"`         // user id at the source
	Name       string `json:"name"`       // display name
	Profession string `json:"profession"` // 職種, such as doctor or nurse
	Department string `json:"department"` // 診療科・部署
	Terminal   string `json:"terminal"`   // the terminal (端末) used
	Address    string `json:"address"`    // the client network address
}

// Patient is whose record was handled.
type Patient struct {
	ID   string `json:"id"`   // the patient id at the source
	Name string `json:"name"` // only when the source sent it
}

// Object is which record was handled.
type Object struct {
	Type string `json:"type"` // such as "order", "record", "image"
	ID   string `json:"id"`
}

// Outcomes of an event.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeUnknown = "unknown"
)

// Flags mark what anzen noticed about an event when it arrived.
type Flags uint32

// The flags.
const (
	// FlagClockSkew: the source's time differed from anzen's by more than
	// the configured tolerance (audit.clock_tolerance).
	FlagClockSkew Flags = 1 << iota
	// FlagImported: the event came from a file import, long after it
	// happened, so its clock was not checked.
	FlagImported
	// FlagNoSourceTime: the source sent no time; Time is when anzen
	// received the event.
	FlagNoSourceTime
)

// Has reports whether all of f2 are set in f.
func (f Flags) Has(f2 Flags) bool { return f&f2 == f2 }

// Formats of the original record.
const (
	FormatAnzen      = "anzen"       // anzen's own security event (JSON)
	FormatJSON       = "json"        // the JSON wire form (HTTP, NDJSON import)
	FormatSyslog5424 = "syslog-5424" // an RFC 5424 syslog message
	FormatSyslog3164 = "syslog-3164" // an RFC 3164 (BSD) syslog message
	FormatFHIR       = "fhir"        // a FHIR R4 AuditEvent resource (JSON)
	FormatCSV        = "csv"         // one CSV row, re-encoded as CSV
)

// Actions known to anzen, with page labels "audit.event_action.<action>".
// Sources may send others; they are stored and shown as they are.
var KnownActions = []string{
	"login", "logout", "login_failed", "view", "create", "update", "delete", "print",
	"export", "search", "emergency_access", "admin", "execute",
}

// SourceAnzen is the source of anzen's own security events.
const SourceAnzen = "anzen"

// Limits of one event.
const (
	// MaxFieldLen is the length, in characters, beyond which a text field
	// is cut.
	MaxFieldLen = 1000
	// MaxOriginal is the largest original record kept, in bytes. DICOM
	// audit messages over syslog may be up to 32 KiB (DICOM PS3.15 A.6).
	MaxOriginal = 64 << 10
)

// ErrInvalid is returned (wrapped) for an event that cannot be stored as
// it is; the message says why.
var ErrInvalid = errors.New("invalid event")

// validAction reports whether s is an action name: a lower-case letter,
// then at most 63 of a-z 0-9 _ . : - (checked by hand rather than by a
// regular expression: every event passes here, often twice).
func validAction(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// validSource reports whether s is a source name: a letter or digit, then
// at most 99 of letters, digits and _ . : @ / -.
func validSource(s string) bool {
	if len(s) == 0 || len(s) > 100 || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(alnum(c) || c == '_' || c == '.' || c == ':' || c == '@' || c == '/' || c == '-') {
			return false
		}
	}
	return true
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

// Normalize checks e and puts it into the stored form: text fields valid
// UTF-8 without NUL and at most MaxFieldLen characters, action in lower
// case, an empty outcome as OutcomeUnknown, times in UTC truncated to the
// millisecond. It refuses (ErrInvalid) an event without source, action or
// time, with an action or source name of the wrong form, an unknown
// outcome, or an original larger than MaxOriginal.
func (e *Event) Normalize() error {
	e.Source = strings.TrimSpace(e.Source)
	e.Action = strings.ToLower(strings.TrimSpace(e.Action))
	switch {
	case e.Source == "":
		return fmt.Errorf("%w: source is required", ErrInvalid)
	case !validSource(e.Source):
		return fmt.Errorf("%w: source %q: use letters, digits and . _ - : @ / (at most 100)", ErrInvalid, clip(e.Source, 40))
	case e.Action == "":
		return fmt.Errorf("%w: action is required", ErrInvalid)
	case !validAction(e.Action):
		return fmt.Errorf("%w: action %q: use lower-case letters, digits and . _ - : (at most 64)", ErrInvalid, clip(e.Action, 40))
	case e.Time.IsZero():
		return fmt.Errorf("%w: time is required", ErrInvalid)
	case e.Facility < 0:
		return fmt.Errorf("%w: facility %d is negative", ErrInvalid, e.Facility)
	case len(e.Original) > MaxOriginal:
		return fmt.Errorf("%w: the record is %d bytes, more than %d", ErrInvalid, len(e.Original), MaxOriginal)
	}
	if y := e.Time.Year(); y < 1970 || y > 9999 {
		return fmt.Errorf("%w: time %s is out of range", ErrInvalid, e.Time.Format(time.RFC3339))
	}
	switch e.Outcome = strings.ToLower(strings.TrimSpace(e.Outcome)); e.Outcome {
	case "":
		e.Outcome = OutcomeUnknown
	case OutcomeSuccess, OutcomeFailure, OutcomeUnknown:
	default:
		return fmt.Errorf("%w: outcome %q is none of success, failure, unknown", ErrInvalid, clip(e.Outcome, 40))
	}
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	e.Received = e.Received.UTC().Truncate(time.Millisecond)
	for _, p := range e.texts() {
		*p = Clean(*p)
	}
	e.Format = Clean(e.Format)
	return nil
}

// texts returns the text fields of e that Normalize cleans.
func (e *Event) texts() []*string {
	return []*string{&e.Actor.ID, &e.Actor.Name, &e.Actor.Profession, &e.Actor.Department,
		&e.Actor.Terminal, &e.Actor.Address, &e.Patient.ID, &e.Patient.Name, &e.Object.Type,
		&e.Object.ID, &e.Purpose, &e.Session}
}

// Skew is how far the source's clock was ahead of anzen's (negative when
// behind) when the event arrived.
func (e *Event) Skew() time.Duration { return e.Time.Sub(e.Received) }

// Clean makes s storable on both databases: valid UTF-8 without NUL
// (PostgreSQL refuses either), at most MaxFieldLen characters.
func Clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return clip(s, MaxFieldLen)
}

// clip cuts s to at most n characters.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
