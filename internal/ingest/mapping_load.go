package ingest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/anzen-health/anzen/internal/audit"
)

// A mapping file (TOML; docs/ingest.md has the reference):
//
//	time_zone = "Asia/Tokyo"                    # of times without an offset
//	time_layouts = ["2006/01/02 15:04:05"]      # Go layouts, rfc3339, unix, unixms
//
//	[fields]                                    # the record's key for each field
//	time = { join = ["日付", "時刻"], sep = " " } # values joined
//	actor.id = ["利用者ID", "職員番号"]           # the first present wins
//	action = "操作区分"
//	outcome = { key = "結果", default = "success" }
//
//	[constants]
//	source = "ehr-main"
//
//	[values.action]                             # translation of a field's values
//	REF = "view"
//	"*" = "unknown"                             # any other value

// maxMappingFile is the largest mapping file read.
const maxMappingFile = 1 << 20

// MappingError is one mistake in a mapping file, at a line.
type MappingError struct {
	File string
	Line int    // from 1; 0 when unknown
	Key  string // the key, such as fields.actor.id; empty for the file as a whole
	Msg  string
}

// Error returns "file:line: key: message".
func (e *MappingError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// LoadMapping reads the mapping file at path (see ParseMapping).
func LoadMapping(path string) (*Mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMappingFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxMappingFile {
		return nil, &MappingError{File: path, Msg: fmt.Sprintf("larger than %d bytes", maxMappingFile)}
	}
	return ParseMapping(path, b)
}

// ParseMapping reads a mapping file named name (for messages). Every
// mistake is reported, one per line, each with its line and key: unknown
// keys and fields, keys that are not text, a field set twice, a time
// layout that cannot read a date, a translation into an action or outcome
// the log would refuse.
func ParseMapping(name string, data []byte) (*Mapping, error) {
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &MappingError{File: name, Line: pe.Position.Line, Msg: "not valid TOML: " + pe.Message}
		}
		return nil, &MappingError{File: name, Msg: "not valid TOML: " + err.Error()}
	}
	l := &loader{name: name, md: &md, m: &Mapping{name: name}}
	l.m.zone, _ = time.LoadLocation("Asia/Tokyo")
	layouts := defaultLayouts
	var values []entry
	for _, e := range l.entries("", top) {
		switch e.key {
		case "time_zone":
			s, ok := l.text(e)
			if !ok {
				continue
			}
			loc, err := time.LoadLocation(s)
			if err != nil || s == "" || strings.EqualFold(s, "local") {
				l.fail(e, "unknown time zone %q (such as Asia/Tokyo or UTC)", s)
				continue
			}
			l.m.zone = loc
		case "time_layouts":
			layouts = l.texts(e)
			if len(layouts) == 0 {
				layouts = defaultLayouts
			}
			l.layoutsLine = e.line
		case "fields":
			if es, ok := l.table(e); ok {
				l.fields("", es, false)
			}
		case "constants":
			if es, ok := l.table(e); ok {
				l.fields("", es, true)
			}
		case "values":
			if es, ok := l.table(e); ok {
				values = es
			}
		default:
			l.fail(e, "unknown key; a mapping file has time_zone, time_layouts, [fields], [constants] and [values]")
		}
	}
	for _, s := range layouts {
		tl, err := parseLayout(s)
		if err != nil {
			l.errs = append(l.errs, &MappingError{File: name, Line: l.layoutsLine, Key: "time_layouts", Msg: err.Error()})
			continue
		}
		l.m.layouts = append(l.m.layouts, tl)
	}
	l.values("", values)
	if len(l.errs) > 0 {
		slices.SortStableFunc(l.errs, func(a, b *MappingError) int { return a.Line - b.Line })
		errs := make([]error, len(l.errs))
		for i, e := range l.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	l.m.index()
	return l.m, nil
}

// loader reads one mapping file.
type loader struct {
	name        string
	md          *toml.MetaData
	m           *Mapping
	errs        []*MappingError
	set         [numFields]int // the line where each field was given, 0 when not yet
	layoutsLine int
}

// entry is one key of a table in the file.
type entry struct {
	key  string // the key within its table
	path string // the whole key, such as fields.actor.id
	line int
	p    toml.Primitive
	v    any // the value: string, int64, float64, bool, time, []any, map[string]any
}

func (l *loader) fail(e entry, format string, a ...any) {
	l.errs = append(l.errs, &MappingError{File: l.name, Line: e.line, Key: e.path, Msg: fmt.Sprintf(format, a...)})
}

// entries returns the keys of a table in the order of their lines.
func (l *loader) entries(prefix string, t map[string]toml.Primitive) []entry {
	out := make([]entry, 0, len(t))
	for k, p := range t {
		e := entry{key: k, path: prefix + k, p: p, line: l.lineOf(p)}
		_ = l.md.PrimitiveDecode(p, &e.v)
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b entry) int {
		if a.line != b.line {
			return a.line - b.line
		}
		return strings.Compare(a.key, b.key)
	})
	return out
}

// table returns the entries of e, which must be a table.
func (l *loader) table(e entry) ([]entry, bool) {
	if _, ok := e.v.(map[string]any); !ok {
		l.fail(e, "expected a table, got %s", tomlType(e.v))
		return nil, false
	}
	var t map[string]toml.Primitive
	if err := l.md.PrimitiveDecode(e.p, &t); err != nil {
		l.fail(e, "%v", err)
		return nil, false
	}
	return l.entries(e.path+".", t), true
}

// text returns e's value, which must be a string.
func (l *loader) text(e entry) (string, bool) {
	s, ok := e.v.(string)
	if !ok {
		l.fail(e, "expected text in quotes, got %s", tomlType(e.v))
	}
	return s, ok
}

// texts returns e's value, a string or an array of strings.
func (l *loader) texts(e entry) []string {
	switch v := e.v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				l.fail(e, "expected a list of text in quotes, found %s", tomlType(x))
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	l.fail(e, "expected text or a list of text, got %s", tomlType(e.v))
	return nil
}

// lineProbe finds the line of a key: decoding into it fails, and the
// TOML decoder's error says where.
type lineProbe struct{}

var errLineProbe = errors.New("line probe")

func (*lineProbe) UnmarshalTOML(any) error { return errLineProbe }

func (l *loader) lineOf(p toml.Primitive) int {
	var pe toml.ParseError
	if errors.As(l.md.PrimitiveDecode(p, &lineProbe{}), &pe) {
		return pe.Line
	}
	return 0
}

// namespaces are the tables of fields with a dotted name.
var namespaces = []string{"actor", "patient", "object"}

// fields reads [fields] (or [constants]) and their sub-tables actor,
// patient and object.
func (l *loader) fields(prefix string, es []entry, constants bool) {
	for _, e := range es {
		name := prefix + e.key
		if f, ok := fieldByName(name); ok {
			if first := l.set[f]; first > 0 {
				l.fail(e, "%s is given twice (also at line %d)", name, first)
				continue
			}
			l.set[f] = max(e.line, 1)
			if constants {
				l.constant(f, e)
			} else {
				l.spec(f, e)
			}
			continue
		}
		if _, isTable := e.v.(map[string]any); isTable && prefix == "" && slices.Contains(namespaces, e.key) {
			if sub, ok := l.table(e); ok {
				l.fields(e.key+".", sub, constants)
			}
			continue
		}
		l.fail(e, "unknown field; the fields are %s", strings.Join(fieldNames[:], ", "))
	}
}

// constant reads a constant of [constants].
func (l *loader) constant(f field, e entry) {
	s, ok := l.text(e)
	if !ok {
		return
	}
	if f == fTime {
		l.fail(e, "time cannot be a constant")
		return
	}
	if err := checkValue(f, s); err != nil {
		l.fail(e, "%v", err)
		return
	}
	l.m.specs[f] = fieldSpec{constant: s, hasConstant: true}
}

// spec reads one field of [fields]: a key, a list of keys, or a table.
func (l *loader) spec(f field, e entry) {
	s := &l.m.specs[f]
	switch e.v.(type) {
	case string, []any:
		s.keys = l.keys(e)
		return
	case map[string]any:
	default:
		l.fail(e, "expected a key in quotes, a list of keys or a table, got %s", tomlType(e.v))
		return
	}
	es, ok := l.table(e)
	if !ok {
		return
	}
	var hasSep bool
	for _, x := range es {
		switch x.key {
		case "key", "keys":
			if s.keys != nil {
				l.fail(x, "give key or keys, once")
				continue
			}
			s.keys = l.keys(x)
		case "join":
			s.join = l.keys(x)
			if len(s.join) == 1 {
				l.fail(x, "join needs two keys or more (use key for one)")
			}
		case "sep":
			s.sep, hasSep = l.text(x)
		case "default":
			v, ok := l.text(x)
			if !ok {
				continue
			}
			if f == fTime {
				l.fail(x, "time cannot have a default")
				continue
			}
			if err := checkValue(f, v); err != nil {
				l.fail(x, "%v", err)
				continue
			}
			s.constant, s.hasConstant = v, true
		default:
			l.fail(x, "unknown key; a field's table has key, keys, join, sep and default")
		}
	}
	switch {
	case len(s.keys) > 0 && len(s.join) > 0:
		l.fail(e, "give either key(s) or join, not both")
	case len(s.keys) == 0 && len(s.join) == 0:
		l.fail(e, "give key, keys or join")
	case hasSep && len(s.join) == 0:
		l.fail(e, "sep goes with join")
	case len(s.join) > 0 && !hasSep:
		s.sep = " "
	}
}

// keys reads a key or a list of keys of a record.
func (l *loader) keys(e entry) []string {
	ks := l.texts(e)
	if ks == nil {
		return nil
	}
	if len(ks) == 0 {
		l.fail(e, "the list of keys is empty")
		return nil
	}
	for _, k := range ks {
		if strings.TrimSpace(k) == "" {
			l.fail(e, "a key is empty")
			return nil
		}
	}
	return ks
}

// values reads [values]: a translation table per field.
func (l *loader) values(prefix string, es []entry) {
	for _, e := range es {
		name := prefix + e.key
		f, isField := fieldByName(name)
		if !isField {
			if _, isTable := e.v.(map[string]any); isTable && prefix == "" && slices.Contains(namespaces, e.key) {
				if sub, ok := l.table(e); ok {
					l.values(e.key+".", sub)
				}
				continue
			}
			l.fail(e, "unknown field; the fields are %s", strings.Join(fieldNames[1:], ", "))
			continue
		}
		switch {
		case f == fTime:
			l.fail(e, "times are read with time_layouts, not translated")
			continue
		case l.set[f] == 0:
			l.fail(e, "%s has no key in [fields] or value in [constants] to translate", name)
			continue
		}
		rows, ok := l.table(e)
		if !ok {
			continue
		}
		s := &l.m.specs[f]
		s.values, s.folded = make(map[string]string, len(rows)), make(map[string]string, len(rows))
		for _, r := range rows {
			to, ok := l.text(r)
			if !ok {
				continue
			}
			if err := checkValue(f, to); err != nil {
				l.fail(r, "%v", err)
				continue
			}
			if r.key == "*" {
				s.other, s.hasElse = to, true
				continue
			}
			s.values[r.key] = to
			if k := asciiLower(r.key); !hasKey(s.folded, k) {
				s.folded[k] = to
			}
		}
	}
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// checkValue checks a value the mapping itself gives a field (a constant,
// a default, a translation) the way the log will, so that a mistake is
// found when the file is read and not at every event.
func checkValue(f field, v string) error {
	e := audit.Event{Source: "check", Action: "check", Time: time.Unix(0, 0)}
	switch f {
	case fSource:
		e.Source = v
	case fAction:
		e.Action = v
	case fOutcome:
		e.Outcome = v
	default:
		return nil
	}
	if err := e.Normalize(); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), audit.ErrInvalid.Error()+": "))
	}
	return nil
}

// tomlType names the type of a TOML value for a message.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "text"
	case int64:
		return "a number (put it in quotes)"
	case float64:
		return "a decimal number (put it in quotes)"
	case bool:
		return "true or false (put it in quotes)"
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date or time (put it in quotes)"
	}
	return fmt.Sprintf("%T", v)
}
