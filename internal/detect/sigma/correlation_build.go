package sigma

import (
	"fmt"
	"math"
	"strings"
)

// corrState is one correlation as the Correlator runs it.
type corrState struct {
	c        *Correlation
	cond     CorrelationCondition // c's, with the defaults applied
	sources  []corrSource         // the resolved Rules, in order
	fields   [][]string           // per source: the fields to read for GroupBy, after aliases
	value    []string             // per source: the field to read for Field, after aliases
	atEnd    bool                 // decided at window end
	need     int                  // sliding: the least count for which the lower bound holds
	groups   map[string]*corrGroup
	oldest   *corrGroup // the list of groups, least recently touched first
	newest   *corrGroup
	users    []corrConsumer // correlations that refer to this one
	evicted  uint64
	matches  uint64
	typeName string
}

// corrSource is one entry of a correlation's rules: a rule or a
// correlation.
type corrSource struct {
	rule *Rule
	corr *corrState
}

func (s corrSource) key() string {
	if s.rule != nil {
		return s.rule.Key()
	}
	return s.corr.c.Key()
}

// corrConsumer is a correlation that refers to a rule or correlation, as
// its source number src.
type corrConsumer struct {
	cs  *corrState
	src int
}

// NewCorrelator prepares corrs to run over the matches of rules. It
// resolves each entry of a correlation's rules to a rule (by ID, then
// Name) or to another correlation (by ID or Name), and each rule named in
// its aliases likewise. A reference to nothing, to several things, to
// the same thing twice, and a cycle of correlations are errors naming
// them.
func NewCorrelator(rules []*Rule, corrs []*Correlation, opts ...CorrelatorOption) (*Correlator, error) {
	c := &Correlator{
		byKey:     make(map[string]*corrState),
		byRule:    make(map[*Rule][]corrConsumer),
		generate:  make(map[any]bool),
		maxGroups: DefaultMaxGroups,
	}
	for _, o := range opts {
		o(c)
	}
	names := make(map[string][]any)
	addName := func(n string, x any) {
		if n == "" {
			return
		}
		for _, y := range names[n] {
			if y == x {
				return
			}
		}
		names[n] = append(names[n], x)
	}
	for _, r := range rules {
		if r == nil {
			return nil, fmt.Errorf("sigma: NewCorrelator: a rule is nil")
		}
		addName(r.ID, r)
		addName(r.Name, r)
	}
	for _, k := range corrs {
		if k == nil {
			return nil, fmt.Errorf("sigma: NewCorrelator: a correlation is nil")
		}
		cond, _, err := k.check()
		if err != nil {
			return nil, fmt.Errorf("sigma: correlation %s: %v", k.Key(), err)
		}
		if _, dup := c.byKey[k.Key()]; dup {
			return nil, fmt.Errorf("sigma: two correlations are named %s", k.Key())
		}
		cs := &corrState{c: k, cond: cond, groups: make(map[string]*corrGroup), typeName: k.Type.String()}
		cs.atEnd = k.Type.metric() || cond.upper()
		cs.need = 1
		if g := cond.Gte; g != nil {
			cs.need = max(1, int(math.Ceil(*g)))
		}
		if g := cond.Gt; g != nil {
			cs.need = max(1, int(math.Floor(*g))+1)
		}
		c.byKey[k.Key()] = cs
		c.corrs = append(c.corrs, cs)
		addName(k.ID, cs)
		addName(k.Name, cs)
	}
	resolve := func(cs *corrState, ref string) (corrSource, error) {
		xs := names[ref]
		switch {
		case len(xs) == 0:
			return corrSource{}, fmt.Errorf("sigma: correlation %s refers to %s, which is no rule or correlation", cs.c.Key(), ref)
		case len(xs) > 1:
			return corrSource{}, fmt.Errorf("sigma: correlation %s refers to %s, which names more than one rule or correlation", cs.c.Key(), ref)
		}
		if r, ok := xs[0].(*Rule); ok {
			return corrSource{rule: r}, nil
		}
		return corrSource{corr: xs[0].(*corrState)}, nil
	}
	for _, cs := range c.corrs {
		done := make(map[any]bool)
		for _, ref := range cs.c.Rules {
			s, err := resolve(cs, ref)
			if err != nil {
				return nil, err
			}
			var x any = s.rule
			if s.rule == nil {
				x = s.corr
			}
			if s.corr == cs {
				return nil, fmt.Errorf("sigma: correlation %s refers to itself", cs.c.Key())
			}
			if done[x] {
				return nil, fmt.Errorf("sigma: correlation %s refers to %s twice", cs.c.Key(), s.key())
			}
			done[x] = true
			cs.sources = append(cs.sources, s)
			c.generate[x] = c.generate[x] || cs.c.Generate
		}
		if err := c.bindFields(cs, resolve); err != nil {
			return nil, err
		}
		for i, s := range cs.sources {
			if s.rule != nil {
				c.byRule[s.rule] = append(c.byRule[s.rule], corrConsumer{cs: cs, src: i})
			} else {
				s.corr.users = append(s.corr.users, corrConsumer{cs: cs, src: i})
			}
		}
	}
	if err := c.checkCycles(); err != nil {
		return nil, err
	}
	return c, nil
}

// bindFields resolves the aliases of cs and works out, per source, which
// fields to read.
func (c *Correlator) bindFields(cs *corrState, resolve func(*corrState, string) (corrSource, error)) error {
	perSource := make([]map[string]string, len(cs.sources))
	for alias, m := range cs.c.Aliases {
		for ref, field := range m {
			s, err := resolve(cs, ref)
			if err != nil {
				return fmt.Errorf("sigma: correlation %s: alias %s names %s, which is no rule or correlation it refers to", cs.c.Key(), alias, ref)
			}
			i := -1
			for j, t := range cs.sources {
				if t == s {
					i = j
				}
			}
			if i < 0 {
				return fmt.Errorf("sigma: correlation %s: alias %s names %s, which is no rule or correlation it refers to", cs.c.Key(), alias, ref)
			}
			if perSource[i] == nil {
				perSource[i] = make(map[string]string)
			}
			perSource[i][alias] = field
		}
	}
	field := func(i int, name string) string {
		if f, ok := perSource[i][name]; ok {
			return f
		}
		return name
	}
	cs.fields = make([][]string, len(cs.sources))
	cs.value = make([]string, len(cs.sources))
	for i := range cs.sources {
		for _, g := range cs.c.GroupBy {
			cs.fields[i] = append(cs.fields[i], field(i, g))
		}
		if cs.c.Field != "" {
			cs.value[i] = field(i, cs.c.Field)
		}
	}
	return nil
}

// checkCycles rejects correlations that refer to themselves through
// others.
func (c *Correlator) checkCycles() error {
	const (
		unseen = iota
		open
		done
	)
	state := make(map[*corrState]int)
	var path []string
	var visit func(cs *corrState) error
	visit = func(cs *corrState) error {
		switch state[cs] {
		case open:
			i := 0
			for path[i] != cs.c.Key() {
				i++
			}
			return fmt.Errorf("sigma: correlations refer to each other in a cycle: %s → %s", strings.Join(path[i:], " → "), cs.c.Key())
		case done:
			return nil
		}
		state[cs] = open
		path = append(path, cs.c.Key())
		for _, s := range cs.sources {
			if s.corr != nil {
				if err := visit(s.corr); err != nil {
					return err
				}
			}
		}
		path = path[:len(path)-1]
		state[cs] = done
		return nil
	}
	for _, cs := range c.corrs {
		if err := visit(cs); err != nil {
			return err
		}
	}
	return nil
}

// Generates reports whether the matches of r should be reported alone:
// false when every correlation that refers to r has generate false (the
// default), true when r is referred to by none or by one with generate
// true.
func (c *Correlator) Generates(r *Rule) bool {
	g, referred := c.generate[r]
	return !referred || g
}

// GeneratesCorrelation is Generates for a correlation that other
// correlations refer to: whether its own Matches should be reported.
func (c *Correlator) GeneratesCorrelation(k *Correlation) bool {
	cs := c.byKey[k.Key()]
	if cs == nil || cs.c != k {
		return true
	}
	g, referred := c.generate[cs]
	return !referred || g
}
