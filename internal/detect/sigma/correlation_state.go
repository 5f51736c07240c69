package sigma

import (
	"encoding/json"
	"fmt"
	"maps"
)

// corrStateVersion is the version of the encoding of Save.
const corrStateVersion = 1

// corrSavedState is what Save writes: JSON, versioned.
type corrSavedState struct {
	Version      int         `json:"version"`
	Clock        int64       `json:"clock"` // the latest time seen, Unix nanoseconds
	Started      bool        `json:"started"`
	Correlations []corrSaved `json:"correlations"`
}

// corrSaved is the state of one correlation, named by its key and type:
// a correlation whose type or way of deciding changed starts afresh.
type corrSaved struct {
	Key     string           `json:"key"`
	Type    string           `json:"type"`
	AtEnd   bool             `json:"at_end"`
	Evicted uint64           `json:"evicted"`
	Matches uint64           `json:"matches"`
	Groups  []corrSavedGroup `json:"groups"` // least recently touched first
}

type corrSavedGroup struct {
	Vals  []string            `json:"vals"`
	T0    int64               `json:"t0"`
	Last  int64               `json:"last"`
	Fired bool                `json:"fired,omitempty"`
	Quiet int64               `json:"quiet,omitempty"`
	Ents  [][2]int64          `json:"ents,omitempty"` // time, ref
	Seen  map[string][2]int64 `json:"seen,omitempty"` // value → time, ref
	Slots []corrSavedSlot     `json:"slots,omitempty"`
	N     int                 `json:"n,omitempty"`
	Dead  bool                `json:"dead,omitempty"`
	Refs  []int64             `json:"refs,omitempty"`
	Total int                 `json:"total,omitempty"`
	Sum   float64             `json:"sum,omitempty"`
	Min   float64             `json:"min,omitempty"`
	Max   float64             `json:"max,omitempty"`
}

type corrSavedSlot struct {
	Start int64   `json:"start"`
	At    int64   `json:"at"`
	Refs  []int64 `json:"refs,omitempty"`
	Total int     `json:"total"`
}

// Save encodes every open window, so that a correlator built again from
// the same rules and given it with Restore goes on as if it had not
// stopped: it neither misses nor repeats a Match. The encoding is JSON
// with a version.
func (c *Correlator) Save() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := corrSavedState{Version: corrStateVersion, Clock: c.clock, Started: c.started}
	for _, cs := range c.corrs {
		sc := corrSaved{Key: cs.c.Key(), Type: cs.typeName, AtEnd: cs.atEnd, Evicted: cs.evicted, Matches: cs.matches}
		for g := cs.oldest; g != nil; g = g.next {
			sg := corrSavedGroup{Vals: g.vals, T0: g.t0, Last: g.last, Fired: g.fired, Quiet: g.quiet}
			if w := g.corrEndWindow; w != nil {
				sg.N, sg.Dead, sg.Refs, sg.Total, sg.Sum, sg.Min, sg.Max = w.n, w.dead, w.refs, w.total, w.sum, w.min, w.max
			}
			for _, e := range g.ents[g.head:] {
				sg.Ents = append(sg.Ents, [2]int64{e.at, e.ref})
			}
			if len(g.values) > 0 {
				sg.Seen = make(map[string][2]int64, len(g.values))
				for v, s := range g.values {
					sg.Seen[v] = [2]int64{s.at, s.ref}
				}
			}
			for _, s := range g.slots {
				sg.Slots = append(sg.Slots, corrSavedSlot{Start: s.start, At: s.at, Refs: s.refs, Total: s.total})
			}
			sc.Groups = append(sc.Groups, sg)
		}
		st.Correlations = append(st.Correlations, sc)
	}
	return json.Marshal(st)
}

// Restore replaces the correlator's state with what Save wrote. The state
// of a correlation that is no longer present, or whose type or way of
// deciding (sliding or at window end) changed, is ignored; so is a group
// whose number of group-by values no longer fits. Groups beyond
// WithMaxGroups are dropped, oldest first, and counted as evicted.
func (c *Correlator) Restore(b []byte) error {
	var st corrSavedState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("sigma: restoring the correlator: %w", err)
	}
	if st.Version != corrStateVersion {
		return fmt.Errorf("sigma: restoring the correlator: state version %d, this build reads %d", st.Version, corrStateVersion)
	}
	type restored struct {
		groups           []*corrGroup
		evicted, matches uint64
	}
	fresh := make(map[*corrState]*restored)
	for _, sc := range st.Correlations {
		cs := c.byKey[sc.Key]
		if cs == nil || cs.typeName != sc.Type || cs.atEnd != sc.AtEnd || fresh[cs] != nil {
			continue
		}
		groups, err := corrRestoreGroups(cs, sc.Groups)
		if err != nil {
			return fmt.Errorf("sigma: restoring correlation %s: %w", sc.Key, err)
		}
		fresh[cs] = &restored{groups: groups, evicted: sc.Evicted, matches: sc.Matches}
	}
	// The state is read in full before any of it replaces the current.
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cs := range c.corrs {
		cs.groups = make(map[string]*corrGroup)
		cs.oldest, cs.newest = nil, nil
		cs.evicted, cs.matches = 0, 0
		r := fresh[cs]
		if r == nil {
			continue
		}
		cs.evicted, cs.matches = r.evicted, r.matches
		for _, g := range r.groups {
			if old := cs.groups[g.key]; old != nil {
				cs.remove(old)
			}
			if len(cs.groups) >= c.maxGroups {
				cs.remove(cs.oldest)
				cs.evicted++
			}
			cs.groups[g.key] = g
			cs.push(g)
		}
	}
	c.clock, c.started = st.Clock, st.Started
	return nil
}

// corrRestoreGroups turns saved groups back into windows of cs.
func corrRestoreGroups(cs *corrState, saved []corrSavedGroup) ([]*corrGroup, error) {
	out := make([]*corrGroup, 0, len(saved))
	for _, sg := range saved {
		if len(sg.Vals) != len(cs.c.GroupBy) {
			continue
		}
		if len(sg.Slots) > 0 && len(sg.Slots) != len(cs.sources) {
			continue
		}
		if len(sg.Refs) > corrMaxRefs {
			return nil, fmt.Errorf("a group holds %d refs, more than %d", len(sg.Refs), corrMaxRefs)
		}
		g := &corrGroup{key: corrGroupKey(sg.Vals), vals: sg.Vals, t0: sg.T0, last: sg.Last, fired: sg.Fired, quiet: sg.Quiet}
		if cs.atEnd {
			g.corrEndWindow = &corrEndWindow{n: sg.N, dead: sg.Dead, refs: sg.Refs, total: sg.Total, sum: sg.Sum, min: sg.Min, max: sg.Max}
		}
		for _, e := range sg.Ents {
			g.ents = append(g.ents, corrEntry{at: e[0], ref: e[1]})
		}
		if len(sg.Seen) > 0 {
			g.values = make(map[string]corrSeen, len(sg.Seen))
			for v, s := range maps.All(sg.Seen) {
				g.values[v] = corrSeen{at: s[0], ref: s[1]}
			}
		}
		for _, s := range sg.Slots {
			g.slots = append(g.slots, corrSlot{start: s.Start, at: s.At, refs: s.Refs, total: s.Total})
		}
		out = append(out, g)
	}
	return out, nil
}
