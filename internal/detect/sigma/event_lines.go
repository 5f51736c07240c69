package sigma

import (
	"errors"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// A LineParser turns lines of JSON into Events without decoding what no
// rule reads: it parses each line into valyala/fastjson's reusable tree
// (no allocation once warm) and converts a field to a Go value only when a
// rule asks for it. Decoding whole lines into maps with encoding/json took
// two thirds of the time of hunting through a file with 100 rules.
//
// The Event a LineParser returns is valid until its next Parse; the values
// it gives out are copies and stay valid. A LineParser is for one
// goroutine.
type LineParser struct {
	p  fastjson.Parser
	ev lineEvent
}

// NewLineParser returns a parser whose events resolve Sigma field names
// through m (nil: each name is its own path), as NewJSONEvent does.
func NewLineParser(m *FieldMap) *LineParser {
	if m == nil {
		m = identityMap
	}
	return &LineParser{ev: lineEvent{m: m}}
}

// ErrNotObject is Parse's error for a line that is JSON but not an
// object.
var ErrNotObject = errors.New("not a JSON object")

// Parse parses one line, which must hold a JSON object.
func (lp *LineParser) Parse(line []byte) (Event, error) {
	v, err := lp.p.ParseBytes(line)
	if err != nil {
		return nil, err
	}
	if v.Type() != fastjson.TypeObject {
		return nil, ErrNotObject
	}
	lp.ev.v = v
	return &lp.ev, nil
}

// lineEvent is one parsed line seen as an Event, with JSONEvent's rules:
// a path a.b.c is first the literal key "a.b.c", then the nested objects
// a, b, c; an object with a "#text" key reads as that text.
type lineEvent struct {
	v *fastjson.Value
	m *FieldMap
}

func (e *lineEvent) Field(name string) (any, bool) {
	for _, p := range e.m.resolve(name) {
		v := e.v.Get(p.full)
		if v == nil && len(p.segs) > 1 {
			v = e.v.Get(p.segs...)
		}
		if v == nil {
			continue
		}
		if v.Type() == fastjson.TypeObject {
			if t := v.Get("#text"); t != nil {
				v = t
			}
		}
		return goValue(v), true
	}
	return nil, false
}

func (e *lineEvent) Keywords(fn func(s string) bool) bool {
	return lineKeywords(e.v, fn)
}

func lineKeywords(v *fastjson.Value, fn func(s string) bool) bool {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		found := false
		o.Visit(func(_ []byte, el *fastjson.Value) {
			if !found {
				found = lineKeywords(el, fn)
			}
		})
		return found
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, el := range a {
			if lineKeywords(el, fn) {
				return true
			}
		}
		return false
	case fastjson.TypeNull:
		return false
	}
	return keywords(goValue(v), fn)
}

// goValue converts a parsed value to what encoding/json would have made
// of it.
func goValue(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return validString(b)
	case fastjson.TypeNumber:
		f, _ := v.Float64()
		return f
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	case fastjson.TypeArray:
		a, _ := v.Array()
		out := make([]any, len(a))
		for i, el := range a {
			out[i] = goValue(el)
		}
		return out
	case fastjson.TypeObject:
		o, _ := v.Object()
		out := make(map[string]any, o.Len())
		o.Visit(func(k []byte, el *fastjson.Value) { out[validString(k)] = goValue(el) })
		return out
	}
	return nil
}

// validString is b as a string with each byte that is not UTF-8 replaced
// by U+FFFD, as encoding/json does.
func validString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]rune, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		out = append(out, r) // RuneError for a bad byte, which is U+FFFD
		b = b[n:]
	}
	return string(out)
}

// appendJoined appends each text of the event (what Keywords gives),
// each after a NUL, without making strings of them.
func (e *lineEvent) appendJoined(dst []byte) []byte {
	return appendLineTexts(dst, e.v)
}

func appendLineTexts(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		o.Visit(func(_ []byte, el *fastjson.Value) { dst = appendLineTexts(dst, el) })
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, el := range a {
			dst = appendLineTexts(dst, el)
		}
	case fastjson.TypeNull:
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		dst = append(dst, 0)
		if utf8.Valid(b) {
			return append(dst, b...)
		}
		return append(dst, validString(b)...)
	default:
		if s, ok := toString(goValue(v)); ok {
			dst = append(dst, 0)
			dst = append(dst, s...)
		}
	}
	return dst
}
