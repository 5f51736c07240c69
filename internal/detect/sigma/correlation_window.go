package sigma

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// corrObs is one observation given to a correlation: an event of a base
// rule, or a Match of a correlation it refers to.
type corrObs struct {
	src   int     // which of the correlation's rules
	at    int64   // Unix nanoseconds
	refs  []int64 // the event's ref, or the refs of the Match
	total int     // len(refs) but for the bound of 100
	value string  // value_count: the field's value
	num   float64 // metrics: the field's value
}

// lastRef is the ref of the observation's last event.
func (o *corrObs) lastRef() int64 {
	if len(o.refs) == 0 {
		return 0
	}
	return o.refs[len(o.refs)-1]
}

// corrEntry is one event counted by a sliding event_count window.
type corrEntry struct{ at, ref int64 }

// corrSeen is the last event of one distinct value of value_count.
type corrSeen struct{ at, ref int64 }

// corrSlot is what a temporal window knows of one rule: when it matched
// (temporal), or the chain that ends with it (temporal_ordered: start is
// when the chain's first rule matched).
type corrSlot struct {
	start, at int64
	refs      []int64
	total     int
}

// corrGroup is the window of one group of one correlation. Which fields are
// used depends on the type and on whether the condition is decided at
// window end.
type corrGroup struct {
	key        string
	vals       []string
	prev, next *corrGroup
	t0, last   int64 // first and last observation of the window, Unix nanoseconds
	// After a sliding Match the group is quiet, matching nothing, until
	// the events that made it match have left the window: while at <=
	// quiet (the time of the Match plus the timespan).
	quiet int64
	fired bool

	ents   []corrEntry // sliding event_count: ents[head:] are in the window
	head   int
	values map[string]corrSeen // value_count
	slots  []corrSlot          // temporal types

	*corrEndWindow // when decided at window end; nil for sliding windows
}

// corrEndWindow is what a window decided at its end adds: the count
// (event_count, metrics), whether the upper bound is already exceeded,
// the first refs and their total, and the metrics' running figures.
type corrEndWindow struct {
	n             int
	dead          bool
	refs          []int64
	total         int
	sum, min, max float64
}

// push adds g as the newest group of cs.
func (cs *corrState) push(g *corrGroup) {
	g.prev, g.next = cs.newest, nil
	if cs.newest != nil {
		cs.newest.next = g
	} else {
		cs.oldest = g
	}
	cs.newest = g
}

// unlink takes g out of the list of cs.
func (cs *corrState) unlink(g *corrGroup) {
	if g.prev != nil {
		g.prev.next = g.next
	} else {
		cs.oldest = g.next
	}
	if g.next != nil {
		g.next.prev = g.prev
	} else {
		cs.newest = g.prev
	}
	g.prev, g.next = nil, nil
}

// remove forgets g.
func (cs *corrState) remove(g *corrGroup) {
	cs.unlink(g)
	delete(cs.groups, g.key)
}

// corrExceeded reports whether v is past the condition's upper bound: in a
// window decided at its end, where counts only grow, the condition can
// then no longer hold.
func corrExceeded(c CorrelationCondition, v float64) bool {
	return c.Lt != nil && v >= *c.Lt || c.Lte != nil && v > *c.Lte || c.Eq != nil && v > *c.Eq
}

// corrAppendRefs appends refs to dst, keeping at most corrMaxRefs.
func corrAppendRefs(dst, refs []int64) []int64 {
	if room := corrMaxRefs - len(dst); room < len(refs) {
		refs = refs[:max(room, 0)]
	}
	return append(dst, refs...)
}

// see records the value of o in a value_count window, copying it when it
// is new: it may be a slice of a large event buffer.
func (g *corrGroup) see(o *corrObs) {
	if _, ok := g.values[o.value]; ok {
		g.values[o.value] = corrSeen{at: o.at, ref: o.lastRef()}
		return
	}
	g.values[strings.Clone(o.value)] = corrSeen{at: o.at, ref: o.lastRef()}
}

// add counts o in the window g of cs and returns the Match when a
// sliding condition now holds.
func (cs *corrState) add(g *corrGroup, o *corrObs) *Match {
	g.last = o.at
	if cs.atEnd {
		cs.addAtEnd(g, o)
		return nil
	}
	m := cs.addSliding(g, o, g.fired && o.at <= g.quiet)
	if m != nil {
		g.fired, g.quiet = true, o.at+int64(cs.c.Timespan)
	}
	return m
}

// addSliding counts o in the sliding window g; while quiet it keeps
// counting, but no more than the condition needs, and matches nothing.
func (cs *corrState) addSliding(g *corrGroup, o *corrObs, quiet bool) *Match {
	cond := cs.cond
	cutoff := o.at - int64(cs.c.Timespan)
	switch cs.c.Type {
	case EventCount:
		for g.head < len(g.ents) && g.ents[g.head].at < cutoff {
			g.head++
		}
		if g.head > 0 && 2*g.head >= len(g.ents) {
			g.ents = g.ents[:copy(g.ents, g.ents[g.head:])]
			g.head = 0
		}
		g.ents = append(g.ents, corrEntry{at: o.at, ref: o.lastRef()})
		if n := len(g.ents) - g.head; n > cs.need {
			// A lower bound holds when the newest events it needs are in
			// the window: older ones make no difference.
			g.head += n - cs.need
		}
		live := g.ents[g.head:]
		if quiet || !cond.Holds(float64(len(live))) {
			return nil
		}
		m := cs.match(g, float64(len(live)), live[0].at, o.at)
		for _, e := range live[:min(len(live), corrMaxRefs)] {
			m.Refs = append(m.Refs, e.ref)
		}
		m.Total = len(live)
		g.ents, g.head = g.ents[:0], 0
		return m
	case ValueCount:
		if g.values == nil {
			g.values = make(map[string]corrSeen)
		}
		g.see(o)
		if len(g.values) > cs.need {
			// The oldest goes; of equally old ones, the least ref, so
			// that the outcome does not depend on the map's order.
			oldest, at, ref := "", int64(math.MaxInt64), int64(math.MaxInt64)
			for v, s := range g.values {
				if s.at < at || s.at == at && s.ref < ref {
					oldest, at, ref = v, s.at, s.ref
				}
			}
			delete(g.values, oldest)
		}
		if quiet || !cond.Holds(float64(len(g.values))) {
			return nil
		}
		// Only now is it worth forgetting the values that left the window.
		for v, s := range g.values {
			if s.at < cutoff {
				delete(g.values, v)
			}
		}
		if !cond.Holds(float64(len(g.values))) {
			return nil
		}
		m := cs.valueMatch(g)
		g.values = nil
		return m
	case Temporal:
		if g.slots == nil {
			g.slots = make([]corrSlot, len(cs.sources))
		}
		// The slot's refs are only ever copied out, so they can be reused.
		g.slots[o.src] = corrSlot{start: o.at, at: o.at, refs: corrAppendRefs(g.slots[o.src].refs[:0], o.refs), total: o.total}
		n := 0
		for _, s := range g.slots {
			if s.total > 0 && s.at >= cutoff {
				n++
			}
		}
		if quiet || !cond.Holds(float64(n)) {
			return nil
		}
		m := cs.slotsMatch(g, float64(n), cutoff, g.slots)
		g.slots = nil
		return m
	case TemporalOrdered:
		if g.slots == nil {
			g.slots = make([]corrSlot, len(cs.sources))
		}
		k := o.src
		var cand corrSlot
		if k == 0 {
			cand = corrSlot{start: o.at, at: o.at, refs: corrAppendRefs(nil, o.refs), total: o.total}
		} else {
			prev := g.slots[k-1]
			if prev.total == 0 || prev.start < cutoff {
				return nil
			}
			cand = corrSlot{start: prev.start, at: o.at, refs: corrAppendRefs(slices.Clip(prev.refs), o.refs), total: prev.total + o.total}
		}
		// The chain that started latest leaves the most room for what
		// follows.
		if cur := g.slots[k]; cur.total == 0 || cur.start < cutoff || cand.start >= cur.start {
			g.slots[k] = cand
		}
		last := len(g.slots) - 1
		if quiet || k != last || g.slots[last].start < cutoff {
			return nil
		}
		s := g.slots[last]
		m := cs.match(g, float64(len(g.slots)), s.start, o.at)
		m.Refs, m.Total = s.refs, s.total
		g.slots = nil
		return m
	}
	return nil
}

// addAtEnd counts o in a window decided at its end.
func (cs *corrState) addAtEnd(g *corrGroup, o *corrObs) {
	if g.dead {
		return
	}
	cond := cs.cond
	switch {
	case cs.c.Type == ValueCount:
		if g.values == nil {
			g.values = make(map[string]corrSeen)
		}
		g.see(o)
		if corrExceeded(cond, float64(len(g.values))) {
			g.dead, g.values = true, nil
		}
		return
	case cs.c.Type.metric():
		if g.n == 0 || o.num < g.min {
			g.min = o.num
		}
		if g.n == 0 || o.num > g.max {
			g.max = o.num
		}
		g.sum += o.num
	}
	g.n++
	g.refs = corrAppendRefs(g.refs, o.refs)
	g.total += o.total
	if cs.c.Type == EventCount && corrExceeded(cond, float64(g.n)) {
		g.dead, g.refs = true, nil
	}
}

// close decides the condition of a window at its end.
func (cs *corrState) close(g *corrGroup) *Match {
	if g.dead {
		return nil
	}
	var v float64
	switch cs.c.Type {
	case EventCount:
		v = float64(g.n)
	case ValueCount:
		v = float64(len(g.values))
	case ValueSum:
		v = g.sum
	case ValueAvg:
		v = g.sum / float64(g.n)
	case ValueMin:
		v = g.min
	case ValueMax:
		v = g.max
	}
	if math.IsNaN(v) || !cs.cond.Holds(v) {
		return nil
	}
	if cs.c.Type == ValueCount {
		m := cs.valueMatch(g)
		m.First = time.Unix(0, g.t0).UTC()
		return m
	}
	m := cs.match(g, v, g.t0, g.last)
	m.Refs, m.Total = g.refs, g.total
	return m
}

// match makes a Match of g without its refs.
func (cs *corrState) match(g *corrGroup, v float64, first, last int64) *Match {
	m := &Match{
		Correlation: cs.c,
		Value:       v,
		First:       time.Unix(0, first).UTC(),
		Last:        time.Unix(0, last).UTC(),
	}
	if len(cs.c.GroupBy) > 0 {
		m.Group = make([]GroupValue, len(cs.c.GroupBy))
		for i, f := range cs.c.GroupBy {
			m.Group[i] = GroupValue{Field: f, Value: g.vals[i]}
		}
	}
	return m
}

// valueMatch makes the Match of a value_count window: its refs are the
// last event of each distinct value, in ref order.
func (cs *corrState) valueMatch(g *corrGroup) *Match {
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	refs := make([]int64, 0, len(g.values))
	for _, s := range g.values {
		first, last = min(first, s.at), max(last, s.at)
		refs = append(refs, s.ref)
	}
	slices.Sort(refs)
	m := cs.match(g, float64(len(g.values)), first, last)
	m.Refs, m.Total = refs[:min(len(refs), corrMaxRefs)], len(refs)
	return m
}

// slotsMatch makes the Match of a temporal window from the slots still
// in it, in the order of the correlation's rules.
func (cs *corrState) slotsMatch(g *corrGroup, v float64, cutoff int64, slots []corrSlot) *Match {
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	var refs []int64
	total := 0
	for _, s := range slots {
		if s.total == 0 || s.at < cutoff {
			continue
		}
		first, last = min(first, s.at), max(last, s.at)
		refs = corrAppendRefs(refs, s.refs)
		total += s.total
	}
	m := cs.match(g, v, first, last)
	m.Refs, m.Total = refs, total
	return m
}

// corrGroupKey joins the values of a group unambiguously.
func corrGroupKey(vals []string) string {
	if len(vals) == 1 {
		return vals[0]
	}
	var b strings.Builder
	for _, v := range vals {
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	return b.String()
}

// corrFieldString formats a field's value for a group or a distinct value.
func corrFieldString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// corrFieldNumber reads a field's value as a number for the metrics: a
// number, or a string that holds one.
func corrFieldNumber(v any) (float64, bool) {
	var x float64
	switch t := v.(type) {
	case float64:
		x = t
	case int:
		x = float64(t)
	case int64:
		x = float64(t)
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return 0, false
		}
		x = f
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil {
			return 0, false
		}
		x = f
	default:
		return 0, false
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

// corrMatchEvent shows a Match to the correlations that refer to its
// correlation: its fields are its group values, and else those of the
// event that made it match, if there was one.
type corrMatchEvent struct {
	m    *Match
	last Event
}

func (e corrMatchEvent) Field(name string) (any, bool) {
	for _, g := range e.m.Group {
		if g.Field == name {
			return g.Value, true
		}
	}
	if e.last != nil {
		return e.last.Field(name)
	}
	return nil, false
}

func (e corrMatchEvent) Keywords(fn func(string) bool) bool {
	for _, g := range e.m.Group {
		if fn(g.Value) {
			return true
		}
	}
	return e.last != nil && e.last.Keywords(fn)
}
