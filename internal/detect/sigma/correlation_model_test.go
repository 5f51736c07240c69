package sigma

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// corrModel is a plain model of a sliding event_count or value_count
// correlation: it keeps every event since the last Match.
type corrModel struct {
	ts, need int64
	distinct bool
	groups   map[string]*corrModelGroup
}

type corrModelGroup struct {
	evs   []corrModelEvent
	fired bool
	quiet int64
}

type corrModelEvent struct {
	at, ref int64
	value   string
}

func (m *corrModel) observe(user, value string, at, ref int64) (refs []int64, ok bool) {
	g := m.groups[user]
	if g == nil {
		g = &corrModelGroup{}
		m.groups[user] = g
	}
	g.evs = append(g.evs, corrModelEvent{at, ref, value})
	// What is in the window, newest first, one per value for value_count.
	var in []corrModelEvent
	values := map[string]bool{}
	for i := len(g.evs) - 1; i >= 0; i-- {
		e := g.evs[i]
		if e.at < at-m.ts || m.distinct && values[e.value] {
			continue
		}
		values[e.value] = true
		in = append(in, e)
	}
	if int64(len(in)) < m.need || g.fired && at <= g.quiet {
		return nil, false
	}
	in = in[:m.need]
	for i := len(in) - 1; i >= 0; i-- {
		refs = append(refs, in[i].ref)
	}
	if m.distinct {
		slices.Sort(refs)
	}
	g.evs, g.fired, g.quiet = nil, true, at+m.ts
	return refs, true
}

func TestCorrelation_SlidingAgreesWithAPlainModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 200 {
		need := int64(1 + rng.IntN(5))
		ts := 1 + rng.IntN(20)
		distinct := round%2 == 1
		typ, field, op, bound := "event_count", "", "gte", need
		if distinct {
			typ, field = "value_count", "field: v, "
		}
		if rng.IntN(2) == 0 {
			op, bound = "gt", need-1
		}
		r := corrRule("r", "r")
		k := mustCorrelation(t, fmt.Sprintf("title: t\nid: k\ncorrelation: {type: %s, rules: [r], group-by: [user], timespan: %ds, condition: {%s%s: %d}}", typ, ts, field, op, bound))
		c := mustCorrelator(t, []*Rule{r}, []*Correlation{k})
		model := &corrModel{ts: int64(ts) * int64(time.Second), need: need, distinct: distinct, groups: map[string]*corrModelGroup{}}
		sec := 0
		for i := range 300 {
			sec += rng.IntN(3)
			if distinct && i > 0 {
				sec++ // no two values at one time: which of them is older would be arbitrary
			}
			user := fmt.Sprint("u", rng.IntN(3))
			value := fmt.Sprint("v", rng.IntN(6))
			got := c.Observe(r, corrEvent{"user": user, "v": value}, corrAt(sec), int64(i))
			wantRefs, want := model.observe(user, value, corrAt(sec).Sub(corrT0).Nanoseconds(), int64(i))
			if want != (len(got) == 1) || len(got) > 1 || want && !slices.Equal(got[0].Refs, wantRefs) {
				t.Fatalf("round %d (%s %s %d in %ds), event %d of %s at %ds: got %v, want match %v refs %v",
					round, typ, op, bound, ts, i, user, sec, got, want, wantRefs)
			}
		}
	}
}
