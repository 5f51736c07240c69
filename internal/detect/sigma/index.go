package sigma

import (
	"slices"
	"sort"
	"strconv"
	"sync"
)

// fieldReq is something a rule needs to match: the field's value, or
// an element of it, is one of keys (lower-case ASCII text, numbers as
// JSON writes them). It is read from the rule's exact values.
type fieldReq struct {
	field string
	keys  []string
}

// itemReq is the requirement of one field condition, if it has one:
// every value an exact text or a plain number.
func itemReq(it *item) (fieldReq, bool) {
	if it.keyword || it.neq || it.null || it.exists != 0 || it.all || len(it.values) == 0 {
		return fieldReq{}, false
	}
	r := fieldReq{field: it.field}
	for _, v := range it.values {
		switch m := v.(type) {
		case *strScalar:
			for _, a := range m.alts {
				if a.shape != shExact || !a.ascii {
					return fieldReq{}, false
				}
				r.keys = append(r.keys, lowerASCIIString(a.lit))
			}
		case *numScalar:
			r.keys = append(r.keys, numberKey(m.f))
		default:
			return fieldReq{}, false
		}
	}
	return r, true
}

func lowerASCIIString(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
	return string(b)
}

func numberKey(f float64) string {
	if f == 0 {
		f = 0 // -0 is 0
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// common keeps the fields every one of the alternatives requires, with
// the union of their keys: what an OR requires.
func common(alts [][]fieldReq) []fieldReq {
	if len(alts) == 0 {
		return nil
	}
	var out []fieldReq
	for _, r := range alts[0] {
		u := fieldReq{field: r.field, keys: slices.Clone(r.keys)}
		ok := true
		for _, other := range alts[1:] {
			found := false
			for _, o := range other {
				if o.field == r.field {
					u.keys = append(u.keys, o.keys...)
					found = true
					break
				}
			}
			if !found {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, u)
		}
	}
	return out
}

func searchReqs(s *search) []fieldReq {
	alts := make([][]fieldReq, len(s.maps))
	for i, m := range s.maps {
		for _, it := range m {
			if r, ok := itemReq(it); ok {
				alts[i] = append(alts[i], r)
			}
		}
	}
	return common(alts)
}

// condReqs is what a condition requires: any requirement of a part of an
// AND, the common ones of an OR, none of a NOT.
func condReqs(c *cond, searches map[string]*search) []fieldReq {
	switch c.kind {
	case cRef:
		return searchReqs(searches[c.name])
	case cAnd:
		var out []fieldReq
		for _, s := range c.subs {
			out = append(out, condReqs(s, searches)...)
		}
		return out
	case cOr:
		alts := make([][]fieldReq, len(c.subs))
		for i, s := range c.subs {
			alts[i] = condReqs(s, searches)
		}
		return common(alts)
	}
	return nil
}

// Index runs many rules over each event, trying only the rules the
// event can match: a rule that requires a field to have one of some
// exact values (action: export, EventID: 4688) is filed under those
// values, and an event only tries the rules filed under its own. Rules
// with no such field are tried on every event. An Index is safe for
// concurrent use.
type Index struct {
	rules  []*Rule
	always []int32 // rules tried on every event, in order
	fields []indexedField
}

var memoEvents = sync.Pool{New: func() any { return &memoEvent{} }}

type indexedField struct {
	name    string
	buckets map[string][]int32
	all     []int32 // every rule filed under this field, for text the keys cannot hold
}

// NewIndex files the rules. Their order is kept: Match returns matches
// in it.
func NewIndex(rules []*Rule) *Index {
	ix := &Index{rules: rules}
	count := map[string]int{}
	for _, r := range rules {
		seen := map[string]bool{}
		for _, q := range r.reqs {
			if !seen[q.field] {
				count[q.field]++
				seen[q.field] = true
			}
		}
	}
	byName := map[string]*indexedField{}
	for i, r := range rules {
		best := -1
		for j, q := range r.reqs {
			if best < 0 || count[q.field] > count[r.reqs[best].field] ||
				(count[q.field] == count[r.reqs[best].field] && len(q.keys) < len(r.reqs[best].keys)) {
				best = j
			}
		}
		if best < 0 {
			ix.always = append(ix.always, int32(i))
			continue
		}
		q := r.reqs[best]
		f := byName[q.field]
		if f == nil {
			f = &indexedField{name: q.field, buckets: map[string][]int32{}}
			byName[q.field] = f
		}
		f.all = append(f.all, int32(i))
		for _, k := range q.keys {
			b := f.buckets[k]
			if len(b) == 0 || b[len(b)-1] != int32(i) {
				f.buckets[k] = append(b, int32(i))
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Slice(names, func(a, b int) bool { return len(byName[names[a]].all) > len(byName[names[b]].all) })
	for _, n := range names {
		ix.fields = append(ix.fields, *byName[n])
	}
	return ix
}

// Filed reports how many rules the index files by a field's value, and
// how many it tries on every event.
func (ix *Index) Filed() (filed, always int) {
	return len(ix.rules) - len(ix.always), len(ix.always)
}

// Match appends to dst the rules whose detection matches e, in the
// order given to NewIndex. It does not look at logsources (see
// FieldMap.Applies).
func (ix *Index) Match(e Event, dst []*Rule) []*Rule {
	// The rules share the fields looked up and one gathering of the
	// event's texts.
	te := memoEvents.Get().(*memoEvent)
	te.Event = e
	defer func() {
		te.reset()
		memoEvents.Put(te)
	}()
	e = te
	var stack [128]int32
	cand := stack[:0]
	var buf [64]byte
	for i := range ix.fields {
		f := &ix.fields[i]
		v, ok := e.Field(f.name)
		if !ok || v == nil {
			continue
		}
		cand = f.candidates(v, cand, buf[:0])
	}
	if len(cand) == 0 && len(ix.always) == 0 {
		return dst
	}
	if len(cand) > 1 {
		slices.Sort(cand)
		cand = slices.Compact(cand)
	}
	// Merge the candidates with the rules tried always, in order.
	a, c := 0, 0
	for a < len(ix.always) || c < len(cand) {
		var i int32
		switch {
		case c >= len(cand) || (a < len(ix.always) && ix.always[a] < cand[c]):
			i = ix.always[a]
			a++
		default:
			i = cand[c]
			c++
		}
		if r := ix.rules[i]; r.Match(e) {
			dst = append(dst, r)
		}
	}
	return dst
}

func (f *indexedField) candidates(v any, cand []int32, buf []byte) []int32 {
	switch x := v.(type) {
	case string:
		if len(x) > cap(buf) || !isASCII(x) {
			// A key is short ASCII; text that is not may still fold to
			// one (the Kelvin sign is a k), so try them all.
			return append(cand, f.all...)
		}
		buf = buf[:0]
		for i := 0; i < len(x); i++ {
			buf = append(buf, lowerASCII(x[i]))
		}
		return append(cand, f.buckets[string(buf)]...)
	case []any:
		for _, el := range x {
			if el != nil {
				cand = f.candidates(el, cand, buf)
			}
		}
		return cand
	case bool:
		if x {
			return append(cand, f.buckets["true"]...)
		}
		return append(cand, f.buckets["false"]...)
	case map[string]any:
		return cand
	}
	// Numbers: as written (json.Number "4688.0"), and as a number.
	if t, ok := toString(v); ok && len(t) <= cap(buf) {
		buf = buf[:0]
		for i := 0; i < len(t); i++ {
			buf = append(buf, lowerASCII(t[i]))
		}
		cand = append(cand, f.buckets[string(buf)]...)
	}
	n, ok := toNumber(v)
	if !ok {
		return cand
	}
	if n == 0 {
		n = 0
	}
	buf = strconv.AppendFloat(buf[:0], n, 'f', -1, 64)
	return append(cand, f.buckets[string(buf)]...)
}
