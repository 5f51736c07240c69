package sigma

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// item is one field condition of a search identifier: a field, its
// values and how they are linked; or a keyword search.
type item struct {
	field   string
	keyword bool // a search over the event's text, not one field
	all     bool // the values are linked with AND
	neq     bool // the result is negated
	null    bool // one value is null: an absent or null field matches
	exists  int8 // 1: must exist, -1: must not, 0: not an exists test
	values  []scalar
	text    []textMatcher // keyword searches: the values
	cost    int           // for ordering the items of a map, cheapest first
}

func (it *item) eval(e Event) bool {
	r := it.eval0(e)
	if it.neq {
		return !r
	}
	return r
}

func (it *item) eval0(e Event) bool {
	if it.keyword {
		if it.all {
			for _, m := range it.text {
				if !searchText(e, m) {
					return false
				}
			}
			return true
		}
		return searchText(e, it)
	}
	v, ok := e.Field(it.field)
	if it.exists != 0 {
		return ok == (it.exists > 0)
	}
	if !ok || v == nil {
		return it.null
	}
	if it.all {
		for _, m := range it.values {
			if !matchValue(m, v, e) {
				return false
			}
		}
		return true
	}
	for _, m := range it.values {
		if matchValue(m, v, e) {
			return true
		}
	}
	return false
}

// matchText reports whether any of a keyword search's values matches s.
func (it *item) matchText(s string) bool {
	for _, m := range it.text {
		if m.matchText(s) {
			return true
		}
	}
	return false
}

// searchText reports whether m matches some text of the event. A
// JSONEvent is walked directly, which does not allocate; other events
// through Keywords.
func searchText(e Event, m textMatcher) bool {
	switch x := e.(type) {
	case *JSONEvent:
		return walkText(x.obj, m)
	case *memoEvent:
		if !x.done {
			x.collect()
		}
		if it, ok := m.(*item); ok {
			for _, sub := range it.text {
				if searchText(x, sub) {
					return true
				}
			}
			return false
		}
		if sm, ok := m.(*strScalar); ok && sm.joinable && (!sm.ks || !x.foldRisk) {
			for _, a := range sm.alts {
				if indexRare(x.joined, a.litBytes, a.rare) {
					return true
				}
			}
			return false
		}
		for _, s := range x.allTexts() {
			if m.matchText(s) {
				return true
			}
		}
		return false
	}
	return e.Keywords(m.matchText)
}

// memoEvent is an event that remembers, for the other rules run on
// it, the fields looked up and its texts, gathered on the first keyword
// search. An Index wraps each event in one; it belongs to one Match
// call.
type memoEvent struct {
	Event
	fields    [16]memoField
	nField    int
	texts     []string
	textsDone bool // texts gathered
	done      bool // joined and foldRisk made
	// joined is the texts with ASCII letters lower-cased, each after a
	// NUL: a substring search of an ASCII keyword runs once over it
	// rather than once a text.
	joined []byte
	// foldRisk is whether a text holds a non-ASCII rune that folds to
	// an ASCII letter, which joined does not fold.
	foldRisk bool
}

func (t *memoEvent) collect() {
	t.done = true
	if le, ok := t.Event.(*lineEvent); ok {
		// The texts of a parsed line go into joined from its bytes;
		// strings are made only if a search needs them (texts).
		t.joined = le.appendJoined(t.joined)
	} else if ta, ok := t.Event.(TextAppender); ok {
		t.joined = ta.AppendTexts(t.joined)
	} else {
		for _, s := range t.allTexts() {
			t.joined = append(t.joined, 0)
			t.joined = append(t.joined, s...)
		}
	}
	lowerASCIIBytes(t.joined)
	// Lower-casing kept the bytes of other runes as they were.
	t.foldRisk = (bytes.IndexByte(t.joined, 0xe2) >= 0 || bytes.IndexByte(t.joined, 0xc5) >= 0) &&
		(bytes.Contains(t.joined, []byte("\u212a")) || bytes.Contains(t.joined, []byte("\u017f")))
}

// allTexts returns the event's texts, gathering them the first time.
func (t *memoEvent) allTexts() []string {
	if t.textsDone {
		return t.texts
	}
	t.textsDone = true
	if je, ok := t.Event.(*JSONEvent); ok {
		t.texts = appendTexts(t.texts, je.obj)
	} else {
		t.Event.Keywords(func(s string) bool {
			t.texts = append(t.texts, s)
			return false
		})
	}
	return t.texts
}

type memoField struct {
	name string
	v    any
	ok   bool
}

// Field returns the inner event's field, looked up once.
func (t *memoEvent) Field(name string) (any, bool) {
	for i := 0; i < t.nField; i++ {
		if f := &t.fields[i]; f.name == name {
			return f.v, f.ok
		}
	}
	v, ok := t.Event.Field(name)
	if t.nField < len(t.fields) {
		t.fields[t.nField] = memoField{name: name, v: v, ok: ok}
		t.nField++
	}
	return v, ok
}

func (t *memoEvent) reset() {
	clear(t.fields[:t.nField])
	t.nField = 0
	clear(t.texts)
	t.Event, t.texts, t.done, t.textsDone = nil, t.texts[:0], false, false
	t.joined, t.foldRisk = t.joined[:0], false
}

// Keywords calls fn with the event's texts.
func (t *memoEvent) Keywords(fn func(s string) bool) bool {
	if !t.done {
		t.collect()
	}
	for _, s := range t.allTexts() {
		if fn(s) {
			return true
		}
	}
	return false
}

func appendTexts(dst []string, v any) []string {
	switch x := v.(type) {
	case string:
		return append(dst, x)
	case map[string]any:
		for _, el := range x {
			dst = appendTexts(dst, el)
		}
	case []any:
		for _, el := range x {
			dst = appendTexts(dst, el)
		}
	case nil:
	default:
		if s, ok := toString(x); ok {
			dst = append(dst, s)
		}
	}
	return dst
}

func walkText(v any, m textMatcher) bool {
	switch x := v.(type) {
	case string:
		return m.matchText(x)
	case map[string]any:
		for _, el := range x {
			if walkText(el, m) {
				return true
			}
		}
	case []any:
		for _, el := range x {
			if walkText(el, m) {
				return true
			}
		}
	case nil:
	default:
		if s, ok := toString(x); ok {
			return m.matchText(s)
		}
	}
	return false
}

// matchValue matches a field's value, or any element of a list.
func matchValue(m scalar, v any, e Event) bool {
	if list, ok := v.([]any); ok {
		for _, el := range list {
			if el != nil && matchValue(m, el, e) {
				return true
			}
		}
		return false
	}
	return m.match(v, e)
}

// search is one search identifier: maps ORed, each an AND of items.
type search struct {
	maps [][]*item
}

func (s *search) match(e Event) bool {
	for _, m := range s.maps {
		ok := true
		for _, it := range m {
			if !it.eval(e) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// errAt is an error at a node's line; Parse adds the document and rule.
func errAt(n *yaml.Node, format string, args ...any) *Error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// compileSearch compiles one search identifier.
func compileSearch(name string, n *yaml.Node, ph map[string][]string) (*search, error) {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		m, err := compileMap(name, n, ph)
		if err != nil {
			return nil, err
		}
		return &search{maps: [][]*item{m}}, nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, errAt(n, "detection %s: an empty list matches nothing", name)
		}
		var maps, plains []*yaml.Node
		for _, c := range n.Content {
			c = deref(c)
			switch c.Kind {
			case yaml.MappingNode:
				maps = append(maps, c)
			case yaml.ScalarNode:
				plains = append(plains, c)
			default:
				return nil, errAt(c, "detection %s: a list holds maps or plain values, not nested lists", name)
			}
		}
		if len(maps) > 0 && len(plains) > 0 {
			return nil, errAt(n, "detection %s: a list holds either maps or plain values (keywords), not both", name)
		}
		s := &search{}
		if len(plains) > 0 {
			it, err := compileItem(name, "", nil, n, ph)
			if err != nil {
				return nil, err
			}
			s.maps = [][]*item{{it}}
			return s, nil
		}
		for _, c := range maps {
			m, err := compileMap(name, c, ph)
			if err != nil {
				return nil, err
			}
			s.maps = append(s.maps, m)
		}
		return s, nil
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil, errAt(n, "detection %s: empty (a search identifier is a map or a list)", name)
		}
		return nil, errAt(n, "detection %s: a search identifier is a map or a list, not the single value %q", name, n.Value)
	}
	return nil, errAt(n, "detection %s: not a map or a list", name)
}

func compileMap(name string, n *yaml.Node, ph map[string][]string) ([]*item, error) {
	if len(n.Content) == 0 {
		return nil, errAt(n, "detection %s: an empty map", name)
	}
	var items []*item
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		parts := strings.Split(k.Value, "|")
		if parts[0] == "" && len(parts) == 1 {
			return nil, errAt(k, "detection %s: empty field name", name)
		}
		it, err := compileItem(name, parts[0], parts[1:], v, ph)
		if err != nil {
			if e, ok := err.(*Error); ok && e.Line == 0 {
				e.Line = k.Line
			}
			return nil, err
		}
		items = append(items, it)
	}
	sort.SliceStable(items, func(a, b int) bool { return items[a].cost < items[b].cost })
	return items, nil
}

// compileItem compiles field|mods: values. An empty field is a keyword
// search.
func compileItem(name, field string, mods []string, vn *yaml.Node, ph map[string][]string) (*item, error) {
	vn = deref(vn)
	label := field
	if len(mods) > 0 {
		label += "|" + strings.Join(mods, "|")
	}
	where := fmt.Sprintf("detection %s, %s", name, label)
	if field == "" && len(mods) == 0 {
		where = fmt.Sprintf("detection %s (keywords)", name)
	}
	c, err := readChain(mods)
	if err != nil {
		return nil, errAt(vn, "%s: %v", where, err)
	}
	it := &item{field: field, keyword: field == "", all: c.all, neq: c.neq}
	if it.keyword {
		switch c.kind {
		case "", "re":
		default:
			return nil, errAt(vn, "%s: keyword searches take string modifiers only, not |%s", where, c.kind)
		}
		if c.neq {
			return nil, errAt(vn, "%s: |neq needs a field", where)
		}
	}
	var vals []*yaml.Node
	list := false
	switch vn.Kind {
	case yaml.SequenceNode:
		list = true
		vals = vn.Content
		if len(vals) == 0 {
			return nil, errAt(vn, "%s: an empty list of values matches nothing", where)
		}
	case yaml.ScalarNode:
		vals = []*yaml.Node{vn}
	default:
		return nil, errAt(vn, "%s: a field's value is a value or a list of values, not a map", where)
	}
	if c.all && !list {
		return nil, errAt(vn, "%s: |all needs a list of values (the specification does not allow it on one value)", where)
	}
	if c.kind == "exists" {
		if list || vn.Tag != "!!bool" {
			return nil, errAt(vn, "%s: |exists takes true or false", where)
		}
		it.exists = -1
		if vn.Value == "true" || vn.Value == "True" || vn.Value == "TRUE" {
			it.exists = 1
		}
		return it, nil
	}
	vc := &valueCompiler{c: c, placeholders: ph, keyword: it.keyword}
	for _, n := range vals {
		n = deref(n)
		if n.Kind != yaml.ScalarNode {
			return nil, errAt(n, "%s: a value in a list must be a plain value, not a list or map", where)
		}
		v, err := scalarValue(n)
		if err != nil {
			return nil, errAt(n, "%s: %v", where, err)
		}
		m, err := vc.compile(v)
		if err != nil {
			return nil, errAt(n, "%s: %v", where, err)
		}
		if m == nil {
			if c.all {
				return nil, errAt(n, "%s: null cannot be one of the values of |all", where)
			}
			if it.keyword {
				return nil, errAt(n, "%s: null is not a keyword", where)
			}
			it.null = true
			continue
		}
		it.values = append(it.values, m)
		if it.keyword {
			it.text = append(it.text, m.(textMatcher))
		}
	}
	it.cost = costOf(it, c)
	return it, nil
}

func costOf(it *item, c *chain) int {
	if it.keyword {
		return 100
	}
	cost := 1
	switch c.kind {
	case "re":
		cost = 40
	case "fieldref":
		cost = 20
	case "cidr", "time":
		cost = 10
	}
	for _, v := range it.values {
		if s, ok := v.(*strScalar); ok {
			for _, a := range s.alts {
				switch a.shape {
				case shPrefix, shSuffix:
					cost += 2
				case shContains:
					cost += 4
				case shGlob:
					cost += 8
				default:
					cost++
				}
			}
		}
	}
	return cost
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// scalarValue reads a YAML scalar as a rule value: a string, float64,
// bool or nil.
func scalarValue(n *yaml.Node) (any, error) {
	switch n.Tag {
	case "!!null":
		return nil, nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case uint64:
			return float64(x), nil
		}
		return v, nil
	}
	return n.Value, nil
}
