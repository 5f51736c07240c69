package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
)

// Record is one record of another system as key–value pairs, the input of
// a Mapping: the structured data and the key=value or JSON payload of a
// syslog message, one CSV row by its header, one JSON line. Keys match
// regardless of ASCII case ("UserID" finds "userid"); when a key occurs
// twice, the first value wins.
type Record struct {
	keys []string
	vals []string
	// index maps a key in ASCII lower case to its first position; built
	// once a record has more than indexFrom pairs, or shared by every row
	// of a CSV file.
	index  map[string]int
	shared bool // keys and index belong to the file, not to this record
}

// indexFrom is the number of pairs beyond which Get looks a key up in a map
// instead of comparing it with every key.
const indexFrom = 16

// Reset empties r for reuse.
func (r *Record) Reset() {
	if r.shared {
		*r = Record{}
		return
	}
	r.keys, r.vals = r.keys[:0], r.vals[:0]
	clear(r.index)
}

// Add appends a pair.
func (r *Record) Add(key, value string) {
	if r.shared {
		// A row record with its file's keys gains a pair: it gets keys of
		// its own first.
		r.keys, r.index, r.shared = append([]string(nil), r.keys[:len(r.vals)]...), nil, false
	}
	if r.index != nil {
		if _, ok := r.index[asciiLower(key)]; !ok {
			r.index[asciiLower(key)] = len(r.keys)
		}
	}
	r.keys = append(r.keys, key)
	r.vals = append(r.vals, value)
}

// Len returns the number of pairs.
func (r *Record) Len() int { return len(r.vals) }

// Pair returns the i-th pair.
func (r *Record) Pair(i int) (key, value string) { return r.keys[i], r.vals[i] }

// Get returns the value of the first pair whose key is key, ignoring ASCII
// case.
func (r *Record) Get(key string) (string, bool) {
	n := len(r.vals)
	if n > indexFrom && r.index == nil {
		r.index = make(map[string]int, n)
		for i := n - 1; i >= 0; i-- {
			r.index[asciiLower(r.keys[i])] = i
		}
	}
	if r.index != nil {
		i, ok := r.index[asciiLower(key)]
		if !ok || i >= n {
			return "", false
		}
		return r.vals[i], true
	}
	for i := 0; i < n; i++ {
		if equalFoldASCII(r.keys[i], key) {
			return r.vals[i], true
		}
	}
	return "", false
}

// Header is the first row of a CSV file: the keys of every row record,
// looked up once for all of them.
type Header struct {
	keys  []string
	index map[string]int
}

// NewHeader returns the header of keys.
func NewHeader(keys []string) *Header {
	h := &Header{keys: keys, index: make(map[string]int, len(keys))}
	for i := len(keys) - 1; i >= 0; i-- {
		h.index[asciiLower(keys[i])] = i
	}
	return h
}

// Row sets r to the row values under h's keys (values beyond the header are
// ignored, missing ones are absent). r keeps values, not a copy.
func (h *Header) Row(r *Record, values []string) {
	if len(values) > len(h.keys) {
		values = values[:len(h.keys)]
	}
	*r = Record{keys: h.keys, vals: values, index: h.index, shared: true}
}

// asciiLower returns s with A–Z in lower case, without copying when there
// is none.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// equalFoldASCII reports whether a and b are equal ignoring ASCII case.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// AddKeyValues adds the key=value pairs found in text, a message such as
//
//	EHR access user=u0123 name="山田 花子" action=REF patient=P0001234
//
// Pairs are separated by ASCII white space; a value is either quoted with "
// or ' (a backslash escapes the quote and itself; the quoted value may hold
// spaces) or runs to the next white space, without a trailing comma or
// semicolon. A key is any run of characters other than white space, = and
// quotes. Words that are not key=value are skipped: they stay in the
// original record. Ideographic spaces (U+3000) are part of a value, as in
// "山田　花子".
func (r *Record) AddKeyValues(text string) {
	i := 0
	for i < len(text) {
		// Skip white space.
		for i < len(text) && isSpace(text[i]) {
			i++
		}
		start := i
		for i < len(text) && !isSpace(text[i]) && text[i] != '=' && text[i] != '"' && text[i] != '\'' {
			i++
		}
		if i == len(text) || text[i] != '=' || i == start {
			// Not a key=value word: skip to its end, past any quoted part.
			i = skipWord(text, i)
			continue
		}
		key := text[start:i]
		i++ // '='
		if i < len(text) && (text[i] == '"' || text[i] == '\'') {
			v, next, ok := unquote(text, i)
			if ok {
				r.Add(key, v)
			}
			i = next
			continue
		}
		vstart := i
		for i < len(text) && !isSpace(text[i]) {
			i++
		}
		v := text[vstart:i]
		for len(v) > 0 && (v[len(v)-1] == ',' || v[len(v)-1] == ';') {
			v = v[:len(v)-1]
		}
		r.Add(key, v)
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// skipWord returns the end of the word at i, past quoted parts.
func skipWord(text string, i int) int {
	for i < len(text) && !isSpace(text[i]) {
		if text[i] == '"' || text[i] == '\'' {
			_, next, _ := unquote(text, i)
			i = next
			continue
		}
		i++
	}
	return i
}

// unquote reads the quoted value starting at text[i] (a quote) and returns
// it, the position after it, and whether the quote was closed. An unclosed
// quote runs to the end of the text.
func unquote(text string, i int) (string, int, bool) {
	q := text[i]
	i++
	start := i
	escaped := false
	for j := i; j < len(text); j++ {
		switch text[j] {
		case '\\':
			escaped = true
			j++
		case q:
			if !escaped {
				return text[start:j], j + 1, true
			}
			return unescape(text[start:j], q), j + 1, true
		}
	}
	return "", len(text), false
}

// unescape removes the backslashes before q and before a backslash.
func unescape(s string, q byte) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == q || s[i+1] == '\\') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// errNotJSONObject is returned by AddJSON for a payload that is not a JSON
// object.
var errNotJSONObject = errors.New("expected a JSON object")

// AddJSON adds the fields of a JSON object, nested objects by dotted path:
// {"actor": {"id": "u1"}} gives the pair actor.id=u1. Numbers are kept as
// written, booleans as true or false, arrays as their JSON text; null
// values are skipped.
func (r *Record) AddJSON(payload []byte) error {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || payload[0] != '{' {
		return errNotJSONObject
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return errors.New(jsonError(err, "").English)
	}
	if d.More() {
		return errors.New("not valid JSON: more than one value")
	}
	r.addJSON("", m, 0)
	return nil
}

// maxJSONDepth is how deep AddJSON follows nested objects; deeper ones are
// kept as JSON text.
const maxJSONDepth = 8

func (r *Record) addJSON(prefix string, m map[string]any, depth int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// A fixed order, so that a record maps the same way every time.
	slices.Sort(keys)
	for _, k := range keys {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch v := m[k].(type) {
		case nil:
		case string:
			r.Add(key, v)
		case json.Number:
			r.Add(key, v.String())
		case bool:
			if v {
				r.Add(key, "true")
			} else {
				r.Add(key, "false")
			}
		case map[string]any:
			if depth < maxJSONDepth {
				r.addJSON(key, v, depth+1)
				continue
			}
			b, _ := json.Marshal(v)
			r.Add(key, string(b))
		default:
			b, _ := json.Marshal(v)
			r.Add(key, string(b))
		}
	}
}

// trimBOM removes a UTF-8 byte order mark.
func trimBOM(b []byte) []byte { return bytes.TrimPrefix(b, []byte("\uFEFF")) }
