package ingest

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// wireDecoder reads the JSON wire form into a WireEvent in one pass,
// written by hand because HTTP ingestion spends most of its time here:
// encoding/json scans each record twice (validity, then values) and finds
// every field by reflection. It takes what encoding/json.Unmarshal takes
// and refuses what it refuses, with the same field names (matched without
// regard to case, as encoding/json does), the last of duplicate names
// winning, null leaving a field as it is, and a syntax error anywhere
// taking precedence over a value of the wrong type; FuzzWireDecoder checks
// this against encoding/json. The record is known to be UTF-8.
type wireDecoder struct {
	b       []byte
	pos     int
	depth   int
	typeErr *RecordError // the first value of the wrong type
	scratch []byte
}

// maxDepth is encoding/json's limit of nesting.
const maxDepth = 10000

// syntaxError stops decoding: the record is not JSON.
type syntaxError struct{ msg string }

// decodeWire decodes record (which begins with '{') into w.
func decodeWire(record []byte, w *WireEvent) *RecordError {
	d := wireDecoder{b: record}
	if err := d.top(w); err != nil {
		detail := fmt.Sprintf("invalid JSON at byte %d: %s", min(d.pos, len(d.b)), err.msg)
		return reject(RejectInvalidJSON, "", detail, map[string]any{"Detail": detail})
	}
	return d.typeErr
}

func (d *wireDecoder) fail(format string, args ...any) *syntaxError {
	return &syntaxError{fmt.Sprintf(format, args...)}
}

func (d *wireDecoder) ws() {
	for d.pos < len(d.b) {
		switch d.b[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (d *wireDecoder) peek() byte {
	d.ws()
	if d.pos >= len(d.b) {
		return 0
	}
	return d.b[d.pos]
}

func (d *wireDecoder) top(w *WireEvent) *syntaxError {
	err := d.object(func(key []byte) *syntaxError {
		switch {
		case keyIs(key, "TIME"):
			return d.str(&w.Time, "time")
		case keyIs(key, "SOURCE"):
			return d.str(&w.Source, "source")
		case keyIs(key, "FACILITY"):
			return d.int64Ptr(&w.Facility, "facility")
		case keyIs(key, "ACTOR"):
			return d.sub("actor", func(key []byte) *syntaxError {
				a := &w.Actor
				switch {
				case keyIs(key, "ID"):
					return d.str(&a.ID, "actor.id")
				case keyIs(key, "NAME"):
					return d.str(&a.Name, "actor.name")
				case keyIs(key, "PROFESSION"):
					return d.str(&a.Profession, "actor.profession")
				case keyIs(key, "DEPARTMENT"):
					return d.str(&a.Department, "actor.department")
				case keyIs(key, "TERMINAL"):
					return d.str(&a.Terminal, "actor.terminal")
				case keyIs(key, "ADDRESS"):
					return d.str(&a.Address, "actor.address")
				}
				return d.skip()
			})
		case keyIs(key, "ACTION"):
			return d.str(&w.Action, "action")
		case keyIs(key, "PATIENT"):
			return d.sub("patient", func(key []byte) *syntaxError {
				switch {
				case keyIs(key, "ID"):
					return d.str(&w.Patient.ID, "patient.id")
				case keyIs(key, "NAME"):
					return d.str(&w.Patient.Name, "patient.name")
				}
				return d.skip()
			})
		case keyIs(key, "OBJECT"):
			return d.sub("object", func(key []byte) *syntaxError {
				switch {
				case keyIs(key, "TYPE"):
					return d.str(&w.Object.Type, "object.type")
				case keyIs(key, "ID"):
					return d.str(&w.Object.ID, "object.id")
				}
				return d.skip()
			})
		case keyIs(key, "OUTCOME"):
			return d.str(&w.Outcome, "outcome")
		case keyIs(key, "PURPOSE"):
			return d.str(&w.Purpose, "purpose")
		case keyIs(key, "SESSION"):
			return d.str(&w.Session, "session")
		}
		return d.skip()
	})
	if err != nil {
		return err
	}
	if d.ws(); d.pos < len(d.b) {
		return d.fail("invalid character %q after top-level value", d.b[d.pos])
	}
	return nil
}

// object reads an object, calling member for each name with the position
// at its value, which member must read.
func (d *wireDecoder) object(member func(key []byte) *syntaxError) *syntaxError {
	if d.peek() != '{' {
		return d.fail("expected an object")
	}
	if d.depth++; d.depth > maxDepth {
		return d.fail("exceeded max depth")
	}
	d.pos++
	if d.peek() == '}' {
		d.pos++
		d.depth--
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.fail("expected a member name")
		}
		key, err := d.stringBytes()
		if err != nil {
			return err
		}
		if d.peek() != ':' {
			return d.fail("expected a colon after a member name")
		}
		d.pos++
		if err := member(key); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			d.depth--
			return nil
		default:
			return d.fail("expected a comma or the end of the object")
		}
	}
}

// wrongType notes a value of the wrong type at field (the first one
// counts) and skips it.
func (d *wireDecoder) wrongType(field, expected string) *syntaxError {
	got := map[byte]string{'"': "string", '{': "object", '[': "array", 't': "bool", 'f': "bool"}[d.peek()]
	if got == "" {
		got = "number"
	}
	if d.typeErr == nil {
		d.typeErr = reject(RejectWrongType, field, fmt.Sprintf("%s: expected %s, got %s", field, expected, got),
			map[string]any{"Expected": expected, "Got": got})
	}
	return d.skip()
}

// str reads a string into dst; null leaves it as it is.
func (d *wireDecoder) str(dst *string, field string) *syntaxError {
	switch d.peek() {
	case '"':
		b, err := d.stringBytes()
		if err != nil {
			return err
		}
		*dst = string(b)
		return nil
	case 'n':
		return d.literal("null")
	}
	return d.wrongType(field, "string")
}

// sub reads an object of known members; null leaves them as they are.
func (d *wireDecoder) sub(field string, member func(key []byte) *syntaxError) *syntaxError {
	switch d.peek() {
	case '{':
		return d.object(member)
	case 'n':
		return d.literal("null")
	}
	return d.wrongType(field, "object")
}

// int64Ptr reads an integer; null sets dst to nil.
func (d *wireDecoder) int64Ptr(dst **int64, field string) *syntaxError {
	switch c := d.peek(); {
	case c == 'n':
		*dst = nil
		return d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		start := d.pos
		if err := d.number(); err != nil {
			return err
		}
		n, err := strconv.ParseInt(string(d.b[start:d.pos]), 10, 64)
		if err != nil {
			if d.typeErr == nil {
				d.typeErr = reject(RejectWrongType, field,
					fmt.Sprintf("%s: expected integer, got number %s", field, clip(string(d.b[start:d.pos]), 40)),
					map[string]any{"Expected": "integer", "Got": "number " + clip(string(d.b[start:d.pos]), 40)})
			}
			return nil
		}
		*dst = &n
		return nil
	}
	return d.wrongType(field, "integer")
}

// skip reads any value.
func (d *wireDecoder) skip() *syntaxError {
	switch c := d.peek(); {
	case c == '"':
		_, err := d.stringBytes()
		return err
	case c == '{':
		return d.object(func([]byte) *syntaxError { return d.skip() })
	case c == '[':
		return d.array()
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 0 && d.pos >= len(d.b):
		return d.fail("unexpected end of JSON input")
	}
	return d.fail("invalid character %q looking for beginning of value", d.b[d.pos])
}

func (d *wireDecoder) array() *syntaxError {
	if d.depth++; d.depth > maxDepth {
		return d.fail("exceeded max depth")
	}
	d.pos++ // '['
	if d.peek() == ']' {
		d.pos++
		d.depth--
		return nil
	}
	for {
		if err := d.skip(); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.depth--
			return nil
		default:
			return d.fail("expected a comma or the end of the array")
		}
	}
}

func (d *wireDecoder) literal(word string) *syntaxError {
	if len(d.b)-d.pos < len(word) || string(d.b[d.pos:d.pos+len(word)]) != word {
		return d.fail("invalid literal, expected %s", word)
	}
	d.pos += len(word)
	return nil
}

// number reads a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *wireDecoder) number() *syntaxError {
	b, i := d.b, d.pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		d.pos = i
		return d.fail("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.pos = i
			return d.fail("invalid number: digits expected after the decimal point")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.pos = i
			return d.fail("invalid number: digits expected in the exponent")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.pos = i
	return nil
}

// stringBytes reads a string and returns its value, which is valid until
// the next call (it may be the decoder's scratch buffer).
func (d *wireDecoder) stringBytes() ([]byte, *syntaxError) {
	d.pos++ // the opening quote
	start := d.pos
	b := d.b
	for i := start; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			d.pos = i + 1
			return b[start:i], nil
		case c == '\\':
			return d.escaped(start, i)
		case c < 0x20:
			d.pos = i
			return nil, d.fail("invalid control character in a string")
		}
	}
	d.pos = len(b)
	return nil, d.fail("unexpected end of JSON input in a string")
}

// escaped reads the rest of a string that has an escape at i.
func (d *wireDecoder) escaped(start, i int) ([]byte, *syntaxError) {
	b := d.b
	out := append(d.scratch[:0], b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			d.pos, d.scratch = i+1, out
			return out, nil
		case c < 0x20:
			d.pos = i
			return nil, d.fail("invalid control character in a string")
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			break
		}
		i++
		switch b[i] {
		case '"', '\\', '/':
			out = append(out, b[i])
			i++
		case 'b':
			out, i = append(out, '\b'), i+1
		case 'f':
			out, i = append(out, '\f'), i+1
		case 'n':
			out, i = append(out, '\n'), i+1
		case 'r':
			out, i = append(out, '\r'), i+1
		case 't':
			out, i = append(out, '\t'), i+1
		case 'u':
			r, ok := hex4(b, i+1)
			if !ok {
				d.pos = i
				return nil, d.fail("invalid \\u escape")
			}
			i += 5
			if utf16.IsSurrogate(r) {
				// A pair makes one character; a lone half is U+FFFD, as
				// encoding/json has it.
				r2, ok := rune(0), false
				if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					r2, ok = hex4(b, i+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != unicode.ReplacementChar {
					r = dec
					i += 6
				} else {
					r = unicode.ReplacementChar
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			d.pos = i
			return nil, d.fail("invalid escape \\%c", b[i])
		}
	}
	d.pos = len(b)
	return nil, d.fail("unexpected end of JSON input in a string")
}

// hex4 reads four hexadecimal digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// keyIs reports whether a member name is the field name upper (upper-case
// ASCII) as encoding/json matches them: exactly, or under simple case
// folding (bytes.EqualFold), so that "ſ" is "S" and the Kelvin sign "K".
func keyIs(key []byte, upper string) bool {
	i := 0
	for _, c := range []byte(upper) {
		if i >= len(key) {
			return false
		}
		k := key[i]
		if k < utf8.RuneSelf {
			if 'a' <= k && k <= 'z' {
				k -= 'a' - 'A'
			}
			if k != c {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(key[i:])
		if foldRune(r) != rune(c) {
			return false
		}
		i += n
	}
	return i == len(key)
}

// foldRune returns the smallest rune of r's case-folding orbit, as
// encoding/json folds names.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
