package sigma

import (
	"encoding/json"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A scalar matches one value of an event's field: never a list (the
// caller tries each element) and never null (the caller handles null).
type scalar interface {
	match(v any, e Event) bool
}

// toString gives a value's text as JSON writes it; ok is false for
// values that have none (objects).
func toString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case json.Number:
		return string(x), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	}
	return "", false
}

// toNumber gives a value as a number: numbers, and strings that read as
// one.
func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f)
	}
	return 0, false
}

// strScalar matches the value's text against any of its patterns (a
// value that windash or base64offset turned into several).
type strScalar struct {
	alts []*strMatcher
	// joinable is whether every alternative is a case-insensitive ASCII
	// substring without NUL, which a search over joined texts can find;
	// ks whether one has a k or s (see hasFoldToASCII).
	joinable, ks bool
}

func newStrScalar(alts []*strMatcher) *strScalar {
	s := &strScalar{alts: alts, joinable: true}
	for _, a := range alts {
		if a.shape != shContains || !a.fold || !a.ascii || strings.IndexByte(a.lit, 0) >= 0 {
			s.joinable = false
		}
		s.ks = s.ks || a.ks
		a.litBytes = []byte(a.lit)
		a.rare = rareByte(a.litBytes)
	}
	return s
}

func (m *strScalar) match(v any, _ Event) bool {
	s, ok := v.(string)
	if !ok {
		if s, ok = toString(v); !ok {
			return false
		}
	}
	return m.matchText(s)
}

// textMatcher matches text; keyword searches use it.
type textMatcher interface {
	matchText(s string) bool
}

func (m *strScalar) matchText(s string) bool {
	for _, a := range m.alts {
		if a.match(s) {
			return true
		}
	}
	return false
}

// numScalar is a plain number in a rule: equal to a number in the
// event, or to a string written the same way.
type numScalar struct {
	f   float64
	str *strMatcher
}

func (m *numScalar) match(v any, _ Event) bool {
	switch x := v.(type) {
	case float64:
		return x == m.f
	case string:
		return m.str.match(x)
	case bool, map[string]any:
		return false
	}
	f, ok := toNumber(v)
	return ok && f == m.f
}

// boolScalar is a plain boolean in a rule.
type boolScalar struct{ b bool }

func (m *boolScalar) match(v any, _ Event) bool {
	switch x := v.(type) {
	case bool:
		return x == m.b
	case string:
		if m.b {
			return strings.EqualFold(x, "true")
		}
		return strings.EqualFold(x, "false")
	}
	return false
}

// reScalar is a value with |re.
type reScalar struct{ re *regexp.Regexp }

func (m *reScalar) match(v any, _ Event) bool {
	s, ok := v.(string)
	if !ok {
		if s, ok = toString(v); !ok {
			return false
		}
	}
	return m.re.MatchString(s)
}

func (m *reScalar) matchText(s string) bool { return m.re.MatchString(s) }

// cidrScalar is a value with |cidr.
type cidrScalar struct{ p netip.Prefix }

func (m *cidrScalar) match(v any, _ Event) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return false
	}
	return m.p.Contains(a.Unmap()) || m.p.Contains(a)
}

type cmpOp uint8

const (
	opEq cmpOp = iota
	opLt
	opLte
	opGt
	opGte
)

func (op cmpOp) holds(a, b float64) bool {
	switch op {
	case opLt:
		return a < b
	case opLte:
		return a <= b
	case opGt:
		return a > b
	case opGte:
		return a >= b
	}
	return a == b
}

// timePart is which component a time modifier takes.
type timePart uint8

const (
	tNone timePart = iota
	tMinute
	tHour
	tDay
	tWeek
	tMonth
	tYear
)

// cmpScalar compares a number (|lt, |gte, ...) or a component of a time
// (|hour, |hour|gte, ...) with the rule's number.
type cmpScalar struct {
	op   cmpOp
	part timePart
	f    float64
}

func (m *cmpScalar) match(v any, _ Event) bool {
	var x float64
	if m.part == tNone {
		f, ok := toNumber(v)
		if !ok {
			return false
		}
		x = f
	} else {
		t, ok := toTime(v)
		if !ok {
			return false
		}
		x = float64(component(t, m.part))
	}
	return m.op.holds(x, m.f)
}

// toTime reads a timestamp: RFC 3339 text or Unix seconds.
func toTime(v any) (time.Time, bool) {
	if s, ok := v.(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s)); err == nil {
			return t.UTC(), true
		}
	}
	f, ok := toNumber(v)
	if !ok || math.IsInf(f, 0) || math.Abs(f) > 1e15 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

func component(t time.Time, p timePart) int {
	switch p {
	case tMinute:
		return t.Minute()
	case tHour:
		return t.Hour()
	case tDay:
		return t.Day()
	case tWeek:
		_, w := t.ISOWeek()
		return w
	case tMonth:
		return int(t.Month())
	}
	return t.Year()
}

// fieldrefScalar compares the value with another field of the same
// event (|fieldref), whole or as its start, end or a part.
type fieldrefScalar struct {
	ref   string
	shape shape // shExact, shPrefix, shSuffix or shContains
	cased bool
}

func (m *fieldrefScalar) match(v any, e Event) bool {
	s, ok := toString(v)
	if !ok {
		return false
	}
	rv, ok := e.Field(m.ref)
	if !ok || rv == nil {
		return false
	}
	if list, isList := rv.([]any); isList {
		for _, el := range list {
			if m.against(s, el) {
				return true
			}
		}
		return false
	}
	return m.against(s, rv)
}

func (m *fieldrefScalar) against(s string, rv any) bool {
	r, ok := toString(rv)
	if !ok {
		return false
	}
	switch m.shape {
	case shPrefix:
		if m.cased {
			return strings.HasPrefix(s, r)
		}
		_, ok := prefixFold(s, r)
		return ok
	case shSuffix:
		if m.cased {
			return strings.HasSuffix(s, r)
		}
		return suffixFold(s, r)
	case shContains:
		if m.cased {
			return strings.Contains(s, r)
		}
		return containsFold(s, r)
	}
	if m.cased {
		return s == r
	}
	return strings.EqualFold(s, r)
}
