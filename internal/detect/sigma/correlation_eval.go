package sigma

import (
	"strings"
	"sync"
	"time"
)

// Correlator runs correlation rules over the matches of base rules.
//
// The caller hands it, in time order, each event that matched a base
// rule (Observe); it answers with the correlations whose condition holds.
// Time is the events' own (the at of Observe, the now of Advance), never
// the wall clock. A time earlier than one already seen is taken as the
// latest seen, so windows never run backwards.
//
// Groups. Each correlation keeps one window per group: the values of its
// group-by fields, read from the event with Event.Field after the
// correlation's aliases for the rule that matched. A missing field, or
// one that is null, is the empty string; numbers are formatted as JSON
// writes them, lists and objects as JSON.
//
// When a correlation matches. Two ways, chosen from the condition:
//
//   - Sliding (event_count, value_count, temporal and temporal_ordered
//     with only a lower bound: gt or gte). The window is [at-timespan,
//     at] at each event, both ends included. The correlation matches as
//     soon as an event makes the condition hold. The group's window is
//     then emptied, and the group stays quiet (it counts, but matches
//     nothing) until the events that made it match have left the window:
//     until an event later than the Match plus the timespan. A burst
//     shorter than the timespan thus gives one Match, a burst that goes
//     on one Match per timespan, and no event is counted in two Matches.
//   - At window end (any condition with an upper bound, lt, lte or eq,
//     and every metric: value_sum, value_avg, value_min, value_max). The
//     group's window opens at its first event t0 and covers [t0,
//     t0+timespan]; it closes at the first Observe or Advance whose time
//     is past t0+timespan, and the condition is decided then, on
//     everything the window received. The next event of the group opens
//     a new window. "lt: 5" thus reports the groups that saw between 1
//     and 4 events in a window: a group that saw none has no window.
//
// Chains. A Match is itself an observation for the correlations that
// refer to its correlation, taken at the time it is decided. Its fields
// are its group values, and else those of the event that made it match
// (so an outer correlation may group by a field the inner one does not;
// a Match decided at window end has no such event), read through the
// outer correlation's aliases for the inner one. Chained Matches come
// after the Match they follow in what Observe and Advance return.
//
// Values. value_count skips an event whose Field is missing or null; the
// metrics skip one whose Field is not a number (a string that holds one
// is taken).
//
// Memory. A window keeps only what its type needs: sliding event_count
// the time and ref of the newest events in the window, no more than the
// least count that satisfies the condition (a lower bound holds exactly
// when the newest that many are in the window), in a slice compacted
// when half of it has left the window, so at most about twice as many
// entries are allocated; sliding value_count the newest distinct values,
// as many, each with the time and ref of its last event; temporal types
// one slot per rule; at-window-end windows a count, sum, minimum and
// maximum and the first 100 refs, and value_count its distinct values
// until they pass the upper bound (from then on the condition cannot
// hold, and they are dropped). Strings kept are copied, so a group never
// holds on to the buffer of the event it came from. WithMaxGroups bounds
// the groups of each correlation: the group touched least recently is
// dropped for a new one, and Stats counts it.
//
// A Correlator is safe for concurrent use, but Observe must receive
// events in time order for its answers to mean anything.
type Correlator struct {
	mu        sync.Mutex
	corrs     []*corrState
	byKey     map[string]*corrState // by Correlation.Key, for Restore
	byRule    map[*Rule][]corrConsumer
	generate  map[any]bool // rules and correlations referred to, and whether one of those correlations generates them
	maxGroups int
	clock     int64 // the latest time seen, in Unix nanoseconds
	started   bool
	one       [1]int64 // the ref of the event being observed
	scratch   []string // group values being read; a new group copies them
}

// Match is one correlation whose condition held for one group.
type Match struct {
	Correlation *Correlation
	// Group holds the group-by fields and their values, in the order of
	// the correlation's GroupBy.
	Group []GroupValue
	// Value is what the condition was decided on: the number of events
	// (event_count), of distinct values (value_count), of distinct rules
	// (temporal types), or the metric. In a sliding window it is the
	// least count that satisfies the condition, as no more are kept.
	Value float64
	// First and Last are the times of the first and last observation
	// counted.
	First, Last time.Time
	// Refs are the refs of the events counted, the first 100 by time
	// (value_count: the last event of each distinct value, in ref order).
	// An observation that is itself a Match of a chained correlation
	// contributes the refs of that Match.
	Refs []int64
	// Total is the number of refs there would be without the bound of
	// 100.
	Total int
}

// GroupValue is one group-by field of a Match and its value.
type GroupValue struct {
	Field, Value string
}

// CorrelatorOption configures NewCorrelator.
type CorrelatorOption func(*Correlator)

// DefaultMaxGroups is the number of groups a correlation keeps unless
// WithMaxGroups says otherwise.
const DefaultMaxGroups = 100_000

// corrMaxRefs bounds the refs a window keeps and a Match carries.
const corrMaxRefs = 100

// WithMaxGroups bounds the groups each correlation keeps at n (at least
// 1): a new group beyond it drops the group touched least recently (for a
// condition decided at window end, the window opened first, which is then
// not decided). Stats counts the groups dropped.
func WithMaxGroups(n int) CorrelatorOption {
	return func(c *Correlator) {
		if n < 1 {
			n = 1
		}
		c.maxGroups = n
	}
}

// CorrelationStats is what a Correlator reports about one correlation.
type CorrelationStats struct {
	Correlation *Correlation
	Groups      int    // groups with an open window now
	Evicted     uint64 // groups dropped because of WithMaxGroups
	Matches     uint64 // Matches reported
}

// Observe takes one event e that matched the base rule r at time at; ref
// is the caller's id for the event (anzen passes the audit log's
// sequence number). r is one of the rules given to NewCorrelator, the
// same pointer; another rule concerns no correlation. Observe first
// closes the windows that at has passed, as Advance does, then updates
// every correlation that refers to r, and returns the Matches of both,
// chained Matches included. Whether a Match of a correlation that others
// refer to should also be reported alone is GeneratesCorrelation's
// answer.
func (c *Correlator) Observe(r *Rule, e Event, at time.Time, ref int64) []Match {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.tick(at)
	out := c.advance(now, nil)
	c.one[0] = ref
	refs := c.one[:] // windows copy what they keep
	for _, u := range c.byRule[r] {
		out = c.feed(u, e, now, refs, 1, out)
	}
	return out
}

// Advance moves time to now without an event: it closes the windows now
// has passed, deciding the conditions taken at window end (lt, lte, eq
// and the metrics), and forgets the groups whose events have all left
// their window. Call it when no event has come for a while (anzen calls
// it after each batch read from the audit log), so that those conditions
// are decided without waiting for the next event.
func (c *Correlator) Advance(now time.Time) []Match {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.advance(c.tick(now), nil)
}

// Stats reports, per correlation in the order given to NewCorrelator,
// its open groups, evictions and Matches.
func (c *Correlator) Stats() []CorrelationStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CorrelationStats, len(c.corrs))
	for i, cs := range c.corrs {
		out[i] = CorrelationStats{Correlation: cs.c, Groups: len(cs.groups), Evicted: cs.evicted, Matches: cs.matches}
	}
	return out
}

// tick turns t into the correlator's time: never earlier than the latest
// seen.
func (c *Correlator) tick(t time.Time) int64 {
	n := t.UnixNano()
	if !c.started || n > c.clock {
		c.clock, c.started = n, true
	}
	return c.clock
}

// advance closes and forgets the windows that now has passed, in every
// correlation, and appends the resulting Matches to out.
func (c *Correlator) advance(now int64, out []Match) []Match {
	for _, cs := range c.corrs {
		ts := int64(cs.c.Timespan)
		for g := cs.oldest; g != nil; g = cs.oldest {
			if cs.atEnd {
				if g.t0 >= now-ts {
					break
				}
				cs.remove(g)
				if m := cs.close(g); m != nil {
					out = c.emit(cs, m, nil, now, out)
				}
				continue
			}
			if g.last >= now-ts {
				break
			}
			cs.remove(g)
		}
	}
	return out
}

// emit appends m to out and feeds it to the correlations that refer to
// its correlation; last is the event that made it match, nil when it was
// decided at window end.
func (c *Correlator) emit(cs *corrState, m *Match, last Event, now int64, out []Match) []Match {
	cs.matches++
	out = append(out, *m)
	if len(cs.users) == 0 {
		return out
	}
	e := corrMatchEvent{m: m, last: last}
	for _, u := range cs.users {
		out = c.feed(u, e, now, m.Refs, m.Total, out)
	}
	return out
}

// feed gives the observation of e (a base rule's event, or a Match) to
// the correlation u.cs as its source u.src.
func (c *Correlator) feed(u corrConsumer, e Event, now int64, refs []int64, total int, out []Match) []Match {
	cs := u.cs
	o := corrObs{src: u.src, at: now, refs: refs, total: total}
	switch {
	case cs.c.Type == ValueCount:
		v, ok := e.Field(cs.value[u.src])
		if !ok || v == nil {
			return out
		}
		o.value = corrFieldString(v)
	case cs.c.Type.metric():
		v, ok := e.Field(cs.value[u.src])
		if !ok {
			return out
		}
		if o.num, ok = corrFieldNumber(v); !ok {
			return out
		}
	}
	fields := cs.fields[u.src]
	vals := c.scratch[:0]
	for _, f := range fields {
		s := ""
		if v, ok := e.Field(f); ok && v != nil {
			s = corrFieldString(v)
		}
		vals = append(vals, s)
	}
	c.scratch = vals
	// vals is not used past this point, so a chained feed may reuse it.
	g := c.groupFor(cs, vals, now)
	if m := cs.add(g, &o); m != nil {
		out = c.emit(cs, m, e, now, out)
	}
	return out
}

// groupFor finds or makes the group of vals in cs, dropping the least
// recently touched group when cs is full, and marks it touched.
func (c *Correlator) groupFor(cs *corrState, vals []string, now int64) *corrGroup {
	key := corrGroupKey(vals)
	g := cs.groups[key]
	if g == nil {
		if len(cs.groups) >= c.maxGroups {
			cs.remove(cs.oldest)
			cs.evicted++
		}
		// Copied: the values may be slices of a large event buffer.
		kept := make([]string, len(vals))
		for i, v := range vals {
			kept[i] = strings.Clone(v)
		}
		g = &corrGroup{key: corrGroupKey(kept), vals: kept, t0: now}
		if cs.atEnd {
			g.corrEndWindow = &corrEndWindow{}
		}
		cs.groups[key] = g
		cs.push(g)
		return g
	}
	if !cs.atEnd {
		// Sliding windows expire from their last event: keep the list in
		// that order. At-window-end groups stay in the order they opened.
		cs.unlink(g)
		cs.push(g)
	}
	return g
}
