// Package sigma runs Sigma rules (SigmaHQ specification v2: rules,
// correlation rules and the modifiers of the appendix v2.1) over JSON
// events.
//
// It is written here because no maintained Go implementation covers the
// specification: bradleyjkemp/sigma-go has no keyword searches, no
// windash, base64offset, utf16, exists, fieldref, time modifiers or regular
// expression flags, and parses correlation rules without evaluating them;
// markuskont/go-sigma-rule-engine has no correlations. A rule this package
// cannot run is rejected when it is loaded, with a message naming the
// construct: never skipped, never half-run.
//
// The pieces:
//
//   - Parse reads one YAML file (one or several documents separated by
//     ---) into a Set of detection rules and correlation rules.
//   - A Rule is compiled once into matchers: Rule.Match answers whether
//     one Event matches its detection.
//   - A Correlator (correlation_eval.go) receives the matches of the base rules
//     in time order and reports when a correlation's condition holds for a
//     group within its timespan. Its state can be saved and restored, so
//     a consumer that restarts neither misses nor repeats a correlation.
//   - An Event is one JSON object seen through a FieldMap, which resolves
//     Sigma field names (CommandLine, user, ...) to paths in the object.
//     The built-in maps (FieldMapNamed) read anzen's access events and
//     Windows event logs; FieldMap.Applies says whether a rule's
//     logsource covers an event.
//   - An Index runs many rules over each event, trying only the rules
//     the event can match: those filed under an exact value they require
//     (action: export, EventID: 4688) and those it cannot file.
//
// Where the specification leaves a choice, matching does what pySigma's
// backends and Hayabusa do:
//
//   - Text is compared case-insensitively (Unicode simple folding)
//     unless |cased; the output of |base64 and |base64offset is compared
//     as written, since base64 of other letters is other text.
//   - A number in a rule equals the same number in the event, or the
//     same digits as text; text in a rule is compared with a number's
//     JSON form.
//   - A field whose value is a list matches when one element does.
//   - null matches an absent field or a JSON null; ” only an empty
//     string.
//   - |neq negates the whole value list (the field is none of the
//     values), and holds for an absent field.
//   - |re is Go's RE2: constructs it lacks (lookaround, backreferences,
//     atomic groups, possessive quantifiers) are rejected when the rule
//     is loaded.
//   - The time modifiers read RFC 3339 text or Unix seconds and take
//     the component in UTC; |week is the ISO week.
package sigma

import (
	"fmt"
	"time"
)

// Event is one event as the rules see it. Field names are Sigma's, after
// the FieldMap: an implementation resolves them to its own layout.
type Event interface {
	// Field returns the value of the named field and whether it is
	// present. Values are what encoding/json decodes into an any: string,
	// float64 (or json.Number), bool, nil, []any and map[string]any. A
	// field present with the JSON value null returns (nil, true).
	Field(name string) (any, bool)
	// Keywords calls fn with every string value anywhere in the event
	// (numbers and booleans formatted as JSON writes them) until fn
	// returns true, and reports whether it did. Keyword searches (a
	// detection that is a list of plain values) use it.
	Keywords(fn func(s string) bool) bool
}

// Level is a rule's level, from informational to critical.
type Level int

// The levels of the specification, in increasing order.
const (
	LevelInformational Level = iota
	LevelLow
	LevelMedium
	LevelHigh
	LevelCritical
)

var levelNames = [...]string{"informational", "low", "medium", "high", "critical"}

// String returns the level as written in rules.
func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel reads a level as written in rules.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if n == s {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("unknown level %q: use informational, low, medium, high or critical", s)
}

// LogSource is a rule's logsource: which events it is written for.
type LogSource struct {
	Category, Product, Service string
}

// Set is what one file holds: detection rules and correlation rules, in
// the order written.
type Set struct {
	Rules        []*Rule
	Correlations []*Correlation
}

// Error is a rule that cannot be loaded. It names the file's document
// (from 1), the line where known (0 when not), the rule's id or title,
// and the construct that is wrong or not supported.
type Error struct {
	Doc  int
	Line int
	Rule string
	Msg  string
}

// Error returns the message as operators read it: where, which rule,
// what.
func (e *Error) Error() string {
	where := fmt.Sprintf("document %d", e.Doc)
	if e.Line > 0 {
		where = fmt.Sprintf("line %d", e.Line)
	}
	if e.Rule != "" {
		return fmt.Sprintf("%s (%s): %s", where, e.Rule, e.Msg)
	}
	return fmt.Sprintf("%s: %s", where, e.Msg)
}

// Timespan is a correlation's window.
type Timespan = time.Duration

// Rule is one detection rule, compiled. Parse makes them; Match runs them.
type Rule struct {
	ID             string // the rule's id (a UUID in SigmaHQ rules); may be empty
	Name           string // the rule's name, by which correlation rules may refer to it
	Title          string
	Description    string
	Status         string
	Author         string
	Date, Modified string
	References     []string
	Level          Level // medium when the rule gives none
	Tags           []string
	LogSource      LogSource
	FalsePositives []string
	Fields         []string
	License        string        // an SPDX identifier
	Taxonomy       string        // "sigma" when empty
	Scope          []string      // such as server
	Related        []RelatedRule // rules this one derives from, obsoletes, ...
	// Custom holds the top-level attributes the specification does not
	// name (such as description_ja), as written.
	Custom map[string]any
	// Doc is the rule's YAML document as it was read, for export.
	Doc []byte

	match func(Event) bool // the compiled detection
	reqs  []fieldReq       // exact values an event needs to match (for Index)
	// keywords is whether the detection has a keyword search.
	keywords bool
}

// Match reports whether the event matches the rule's detection. It does
// not look at the logsource (see FieldMap.Applies).
func (r *Rule) Match(e Event) bool { return r.match(e) }

// Key is how the rule is named in messages: its id, else its name, else
// its title.
func (r *Rule) Key() string {
	switch {
	case r.ID != "":
		return r.ID
	case r.Name != "":
		return r.Name
	}
	return r.Title
}
