package sigma

import (
	"fmt"
	"slices"
	"strings"
)

// The condition grammar, loosest first:
//
//	expr    = and { "or" and }
//	and     = not { "and" not }
//	not     = "not" not | primary
//	primary = "(" expr ")" | quant "of" ( "them" | pattern ) | identifier
//	quant   = "1" | "any" | "all"
//
// A pattern is a search identifier with * wildcards; "them" is every
// identifier not starting with _.

type condKind uint8

const (
	cRef condKind = iota
	cAnd
	cOr
	cNot
)

// cond is a parsed condition.
type cond struct {
	kind condKind
	name string // cRef
	subs []*cond
}

type token struct {
	text string
	pos  int // column, from 1
}

// condError is an error in a condition, at a column.
type condError struct {
	pos int
	msg string
}

func (e *condError) Error() string {
	if e.pos > 0 {
		return fmt.Sprintf("condition: %s (column %d)", e.msg, e.pos)
	}
	return "condition: " + e.msg
}

func lexCondition(s string) []token {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, token{text: s[i : i+1], pos: i + 1})
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()", rune(s[j])) {
				j++
			}
			toks = append(toks, token{text: s[i:j], pos: i + 1})
			i = j
		}
	}
	return toks
}

type condParser struct {
	toks  []token
	i     int
	names []string // the search identifiers, sorted
	end   int      // column after the last character
}

// parseCondition parses one condition over the given identifiers.
func parseCondition(s string, names []string) (*cond, error) {
	if strings.TrimSpace(s) == "" {
		return nil, &condError{msg: "empty"}
	}
	p := &condParser{toks: lexCondition(s), names: names, end: len(s) + 1}
	c, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		t := p.toks[p.i]
		return nil, &condError{pos: t.pos, msg: fmt.Sprintf("unexpected %q", t.text)}
	}
	return c, nil
}

func (p *condParser) peek() (token, bool) {
	if p.i < len(p.toks) {
		return p.toks[p.i], true
	}
	return token{pos: p.end}, false
}

func (p *condParser) expr() (*cond, error) {
	return p.binary("or", cOr, p.and)
}

func (p *condParser) and() (*cond, error) {
	return p.binary("and", cAnd, p.not)
}

func (p *condParser) binary(op string, kind condKind, next func() (*cond, error)) (*cond, error) {
	first, err := next()
	if err != nil {
		return nil, err
	}
	subs := []*cond{first}
	for {
		t, ok := p.peek()
		if !ok || t.text != op {
			break
		}
		p.i++
		c, err := next()
		if err != nil {
			return nil, err
		}
		subs = append(subs, c)
	}
	if len(subs) == 1 {
		return first, nil
	}
	return &cond{kind: kind, subs: subs}, nil
}

func (p *condParser) not() (*cond, error) {
	t, ok := p.peek()
	if ok && t.text == "not" {
		p.i++
		c, err := p.not()
		if err != nil {
			return nil, err
		}
		return &cond{kind: cNot, subs: []*cond{c}}, nil
	}
	return p.primary()
}

var reserved = map[string]bool{"and": true, "or": true, "not": true, "of": true, "them": true, "(": true, ")": true}

func (p *condParser) primary() (*cond, error) {
	t, ok := p.peek()
	if !ok {
		return nil, &condError{pos: t.pos, msg: "ends where an identifier or ( was expected"}
	}
	switch {
	case t.text == "(":
		p.i++
		c, err := p.expr()
		if err != nil {
			return nil, err
		}
		if t2, ok := p.peek(); !ok || t2.text != ")" {
			return nil, &condError{pos: t2.pos, msg: fmt.Sprintf("missing ) for the ( at column %d", t.pos)}
		}
		p.i++
		return c, nil
	case p.i+1 < len(p.toks) && p.toks[p.i+1].text == "of":
		return p.quantified()
	case reserved[t.text]:
		return nil, &condError{pos: t.pos, msg: fmt.Sprintf("unexpected %q where an identifier was expected", t.text)}
	}
	p.i++
	if strings.Contains(t.text, "*") {
		return nil, &condError{pos: t.pos, msg: fmt.Sprintf("the pattern %s needs 1 of or all of before it", t.text)}
	}
	if _, found := slices.BinarySearch(p.names, t.text); !found {
		return nil, &condError{pos: t.pos, msg: "unknown identifier " + t.text}
	}
	return &cond{kind: cRef, name: t.text}, nil
}

func (p *condParser) quantified() (*cond, error) {
	q := p.toks[p.i]
	kind := cOr
	switch q.text {
	case "1", "any":
	case "all":
		kind = cAnd
	default:
		return nil, &condError{pos: q.pos, msg: fmt.Sprintf("%q of: only 1 of, any of and all of are defined", q.text)}
	}
	p.i += 2
	t, ok := p.peek()
	if !ok || t.text == "(" || t.text == ")" || (reserved[t.text] && t.text != "them") {
		return nil, &condError{pos: t.pos, msg: fmt.Sprintf("%s of needs them or an identifier pattern", q.text)}
	}
	p.i++
	var matched []string
	for _, n := range p.names {
		if t.text == "them" {
			if !strings.HasPrefix(n, "_") {
				matched = append(matched, n)
			}
		} else if wildMatch(t.text, n) {
			matched = append(matched, n)
		}
	}
	if len(matched) == 0 {
		if t.text == "them" {
			return nil, &condError{pos: t.pos, msg: "them: no search identifier (those starting with _ do not count)"}
		}
		return nil, &condError{pos: t.pos, msg: fmt.Sprintf("%s matches no search identifier", t.text)}
	}
	c := &cond{kind: kind}
	for _, n := range matched {
		c.subs = append(c.subs, &cond{kind: cRef, name: n})
	}
	if len(c.subs) == 1 {
		return c.subs[0], nil
	}
	return c, nil
}

// wildMatch matches name against a pattern where * is any run.
func wildMatch(pat, name string) bool {
	parts := strings.Split(pat, "*")
	if len(parts) == 1 {
		return pat == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(name, mid)
		if i < 0 {
			return false
		}
		name = name[i+len(mid):]
	}
	return strings.HasSuffix(name, parts[len(parts)-1])
}

// compileCond turns a condition into a matcher over the compiled search
// identifiers.
func compileCond(c *cond, searches map[string]*search) func(Event) bool {
	switch c.kind {
	case cRef:
		return searches[c.name].match
	case cNot:
		f := compileCond(c.subs[0], searches)
		return func(e Event) bool { return !f(e) }
	}
	fs := make([]func(Event) bool, len(c.subs))
	for i, s := range c.subs {
		fs[i] = compileCond(s, searches)
	}
	if len(fs) == 2 {
		a, b := fs[0], fs[1]
		if c.kind == cAnd {
			return func(e Event) bool { return a(e) && b(e) }
		}
		return func(e Event) bool { return a(e) || b(e) }
	}
	if c.kind == cAnd {
		return func(e Event) bool {
			for _, f := range fs {
				if !f(e) {
					return false
				}
			}
			return true
		}
	}
	return func(e Event) bool {
		for _, f := range fs {
			if f(e) {
				return true
			}
		}
		return false
	}
}
