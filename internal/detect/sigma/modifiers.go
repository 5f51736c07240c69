package sigma

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// modifierNames are the modifiers of the appendix v2.1, with the flags of
// |re.
var modifierNames = map[string]bool{
	"contains": true, "startswith": true, "endswith": true, "all": true,
	"exists": true, "cased": true, "neq": true, "windash": true,
	"re": true, "i": true, "m": true, "s": true,
	"base64": true, "base64offset": true,
	"utf16le": true, "wide": true, "utf16be": true, "utf16": true,
	"lt": true, "lte": true, "gt": true, "gte": true,
	"minute": true, "hour": true, "day": true, "week": true, "month": true, "year": true,
	"cidr": true, "expand": true, "fieldref": true,
}

var timeParts = map[string]timePart{
	"minute": tMinute, "hour": tHour, "day": tDay, "week": tWeek, "month": tMonth, "year": tYear,
}

var cmpOps = map[string]cmpOp{"lt": opLt, "lte": opLte, "gt": opGt, "gte": opGte}

// maxVariants bounds how many strings one value may turn into (windash
// permutations, placeholder values).
const maxVariants = 1024

// chain is a field's modifiers, read and checked.
type chain struct {
	mods     []string
	has      map[string]int // modifier → position
	kind     string         // "", "re", "cidr", "cmp", "time", "exists", "fieldref"
	position string         // contains, startswith, endswith or ""
	encoding string         // utf16le, utf16be, utf16 or ""
	b64      string         // base64, base64offset or ""
	cmp      string         // lt, lte, gt, gte or ""
	part     string         // minute ... year or ""
	reFlags  string
	all, neq bool
	cased    bool
	windash  bool
	expand   bool
}

func (c *chain) pos(m string) int {
	if p, ok := c.has[m]; ok {
		return p
	}
	return -1
}

// readChain checks a field's modifiers: names, repetitions, order and
// the combinations that mean something.
func readChain(mods []string) (*chain, error) {
	c := &chain{mods: mods, has: map[string]int{}}
	for i, m := range mods {
		if !modifierNames[m] {
			if m == "" {
				return nil, fmt.Errorf("empty modifier (two | in a row or a trailing |)")
			}
			return nil, fmt.Errorf("unknown modifier |%s", m)
		}
		if _, dup := c.has[m]; dup {
			return nil, fmt.Errorf("modifier |%s given twice", m)
		}
		c.has[m] = i
	}
	one := func(group []string) (string, error) {
		got := ""
		for _, m := range group {
			if _, ok := c.has[m]; ok {
				if got != "" {
					return "", fmt.Errorf("|%s cannot be combined with |%s", got, m)
				}
				got = m
			}
		}
		return got, nil
	}
	var err error
	if c.position, err = one([]string{"contains", "startswith", "endswith"}); err != nil {
		return nil, err
	}
	if c.encoding, err = one([]string{"utf16le", "wide", "utf16be", "utf16"}); err != nil {
		return nil, err
	}
	if c.encoding == "wide" {
		c.encoding = "utf16le"
	}
	if c.b64, err = one([]string{"base64", "base64offset"}); err != nil {
		return nil, err
	}
	if c.cmp, err = one([]string{"lt", "lte", "gt", "gte", "neq"}); err != nil {
		return nil, err
	}
	if c.cmp == "neq" {
		c.cmp = ""
	}
	if c.part, err = one([]string{"minute", "hour", "day", "week", "month", "year"}); err != nil {
		return nil, err
	}
	kind, err := one([]string{"re", "cidr", "exists", "fieldref"})
	if err != nil {
		return nil, err
	}
	c.kind = kind
	_, c.all = c.has["all"]
	_, c.neq = c.has["neq"]
	_, c.cased = c.has["cased"]
	_, c.windash = c.has["windash"]
	_, c.expand = c.has["expand"]
	for _, f := range []string{"i", "m", "s"} {
		if p := c.pos(f); p >= 0 {
			if rp := c.pos("re"); rp < 0 || p < rp {
				return nil, fmt.Errorf("|%s is a flag of |re and must follow it", f)
			}
			c.reFlags += f
		}
	}
	switch {
	case c.part != "":
		if c.kind != "" {
			return nil, fmt.Errorf("|%s cannot be combined with |%s", c.part, c.kind)
		}
		c.kind = "time"
	case c.cmp != "":
		if c.kind != "" {
			return nil, fmt.Errorf("|%s cannot be combined with |%s", c.cmp, c.kind)
		}
		c.kind = "cmp"
	}
	// What each kind of value takes besides itself.
	allowed := map[string][]string{
		"":         {"contains", "startswith", "endswith", "all", "cased", "neq", "windash", "base64", "base64offset", "utf16le", "wide", "utf16be", "utf16", "expand"},
		"re":       {"re", "i", "m", "s", "all", "neq"},
		"cidr":     {"cidr", "all", "neq"},
		"cmp":      {"lt", "lte", "gt", "gte", "all"},
		"time":     {"minute", "hour", "day", "week", "month", "year", "lt", "lte", "gt", "gte", "neq", "all"},
		"exists":   {"exists"},
		"fieldref": {"fieldref", "contains", "startswith", "endswith", "cased", "neq", "all"},
	}[c.kind]
	for _, m := range mods {
		if !slices.Contains(allowed, m) {
			main := c.kind
			switch c.kind {
			case "cmp":
				main = c.cmp
			case "time":
				main = c.part
			}
			return nil, fmt.Errorf("|%s cannot be combined with |%s", main, m)
		}
	}
	if c.kind == "" {
		// Transformations apply in the order written: text is turned into
		// UTF-16 before it is base64-encoded, and wildcards can only be
		// added after encoding.
		if c.encoding != "" && c.b64 != "" && c.pos(c.encoding) > c.pos(c.b64) {
			return nil, fmt.Errorf("|%s must come before |%s", c.mods[c.pos(c.encoding)], c.b64)
		}
		if c.windash && c.b64 != "" && c.pos("windash") > c.pos(c.b64) {
			return nil, fmt.Errorf("|windash must come before |%s", c.b64)
		}
		if c.windash && c.encoding != "" && c.pos("windash") > c.pos(c.encoding) {
			return nil, fmt.Errorf("|windash must come before |%s", c.mods[c.pos(c.encoding)])
		}
		if c.position != "" && c.b64 != "" && c.pos(c.position) < c.pos(c.b64) {
			return nil, fmt.Errorf("|%s must come after |%s (base64 of a wildcard means nothing)", c.position, c.b64)
		}
		if c.b64 == "base64offset" && c.position != "contains" {
			return nil, fmt.Errorf("|base64offset needs |contains after it: its three variants only match inside a longer string")
		}
		if c.position != "" && c.encoding != "" && c.b64 == "" && c.pos(c.position) < c.pos(c.encoding) {
			return nil, fmt.Errorf("|%s must come after |%s", c.position, c.mods[c.pos(c.encoding)])
		}
	}
	return c, nil
}

// valueCompiler turns a field's values into scalars, for one chain.
type valueCompiler struct {
	c            *chain
	placeholders map[string][]string
	keyword      bool
}

// compile returns the alternatives a value gives: one scalar; it
// returns a nil scalar (and no error) for null.
func (vc *valueCompiler) compile(v any) (scalar, error) {
	c := vc.c
	switch c.kind {
	case "re":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("|re needs a string, not %s", describe(v))
		}
		re, err := compileRegexp(s, c.reFlags)
		if err != nil {
			return nil, err
		}
		return &reScalar{re: re}, nil
	case "cidr":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("|cidr needs a network such as 10.0.0.0/8, not %s", describe(v))
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("|cidr: %q is not a network (10.0.0.0/8, fd00::/8)", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		return &cidrScalar{p: p.Masked()}, nil
	case "cmp", "time":
		f, ok := number(v)
		if !ok {
			name := c.cmp
			if c.part != "" {
				name = c.part
			}
			return nil, fmt.Errorf("|%s needs a number, not %s", name, describe(v))
		}
		op := opEq
		if c.cmp != "" {
			op = cmpOps[c.cmp]
		}
		return &cmpScalar{op: op, part: timeParts[c.part], f: f}, nil
	case "fieldref":
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("|fieldref needs a field name, not %s", describe(v))
		}
		sh := shExact
		switch c.position {
		case "contains":
			sh = shContains
		case "startswith":
			sh = shPrefix
		case "endswith":
			sh = shSuffix
		}
		return &fieldrefScalar{ref: s, shape: sh, cased: c.cased}, nil
	}
	// Plain values and their transformations.
	if v == nil {
		if c.all {
			return nil, fmt.Errorf("null cannot be one of the values of |all")
		}
		if len(c.mods) > 0 && !(len(c.mods) == 1 && c.neq) {
			return nil, fmt.Errorf("null cannot take modifiers (|%s)", strings.Join(c.mods, "|"))
		}
		return nil, nil
	}
	plain := true
	for _, m := range c.mods {
		if m != "all" && m != "neq" {
			plain = false
		}
	}
	switch x := v.(type) {
	case bool:
		if plain && !vc.keyword {
			return &boolScalar{b: x}, nil
		}
	case float64:
		if plain && !vc.keyword {
			s, _ := toString(x)
			return &numScalar{f: x, str: newStrMatcher(pattern{{kind: pLit, s: s}}, false)}, nil
		}
	}
	s, ok := toString(v)
	if !ok {
		return nil, fmt.Errorf("a value must be a string, number, boolean or null, not %s", describe(v))
	}
	raws := []string{s}
	if c.expand {
		var err error
		if raws, err = expandPlaceholders(s, vc.placeholders); err != nil {
			return nil, err
		}
	}
	var pats []pattern
	for _, r := range raws {
		pats = append(pats, parsePattern(r))
	}
	cased := c.cased
	for _, m := range c.mods {
		var err error
		switch m {
		case "windash":
			pats, err = each(pats, windash)
		case "utf16le", "wide", "utf16be", "utf16":
			pats, err = each(pats, func(p pattern) ([]pattern, error) { return []pattern{encodeUTF16(p, m)}, nil })
		case "base64":
			pats, err = each(pats, func(p pattern) ([]pattern, error) {
				lit, ok := p.literal()
				if !ok {
					return nil, fmt.Errorf("|base64 of a value with wildcards: escape * and ? as \\* and \\?")
				}
				return []pattern{{{kind: pLit, s: base64.StdEncoding.EncodeToString([]byte(lit))}}}, nil
			})
			cased = true
		case "base64offset":
			pats, err = each(pats, func(p pattern) ([]pattern, error) {
				lit, ok := p.literal()
				if !ok {
					return nil, fmt.Errorf("|base64offset of a value with wildcards: escape * and ? as \\* and \\?")
				}
				var out []pattern
				for _, s := range base64Offsets(lit) {
					out = append(out, pattern{{kind: pLit, s: s}})
				}
				return out, nil
			})
			cased = true
		case "contains":
			pats, _ = each(pats, func(p pattern) ([]pattern, error) { return []pattern{p.wrap(true, true)}, nil })
		case "startswith":
			pats, _ = each(pats, func(p pattern) ([]pattern, error) { return []pattern{p.wrap(false, true)}, nil })
		case "endswith":
			pats, _ = each(pats, func(p pattern) ([]pattern, error) { return []pattern{p.wrap(true, false)}, nil })
		}
		if err != nil {
			return nil, err
		}
		if len(pats) > maxVariants {
			return nil, fmt.Errorf("|%s: the value %q gives more than %d variants", m, s, maxVariants)
		}
	}
	if vc.keyword && c.position == "" {
		// A keyword is found anywhere in the event's text.
		for i := range pats {
			pats[i] = pats[i].wrap(true, true)
		}
	}
	var alts []*strMatcher
	for _, p := range pats {
		alts = append(alts, newStrMatcher(p, cased))
	}
	return newStrScalar(alts), nil
}

func each(pats []pattern, f func(pattern) ([]pattern, error)) ([]pattern, error) {
	var out []pattern
	for _, p := range pats {
		ps, err := f(p)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
		if len(out) > maxVariants {
			return out, nil
		}
	}
	return out, nil
}

// number reads a rule's numeric value.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	}
	return 0, false
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}

// expandPlaceholders replaces every %name% of s with each of its values
// (all combinations); \% is a plain percent sign.
func expandPlaceholders(s string, ph map[string][]string) ([]string, error) {
	outs := []string{""}
	for i := 0; i < len(s); {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '%':
			for k := range outs {
				outs[k] += "%"
			}
			i += 2
		case s[i] == '%':
			end := strings.IndexByte(s[i+1:], '%')
			if end <= 0 {
				return nil, fmt.Errorf("|expand: unclosed placeholder in %q (write a plain %% as \\%%)", s)
			}
			name := s[i+1 : i+1+end]
			vals := ph[name]
			if len(vals) == 0 {
				return nil, fmt.Errorf("|expand: placeholder %%%s%% has no values", name)
			}
			var next []string
			for _, o := range outs {
				for _, v := range vals {
					next = append(next, o+v)
				}
			}
			if len(next) > maxVariants {
				return nil, fmt.Errorf("|expand: %q gives more than %d values", s, maxVariants)
			}
			outs = next
			i += end + 2
		default:
			for k := range outs {
				outs[k] += s[i : i+1]
			}
			i++
		}
	}
	return outs, nil
}

var dashes = []string{"-", "/", "\u2013", "\u2014", "\u2015"}

func isWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// windash returns every variant of p where each - or / that starts a
// word after a non-word character (pySigma's \B[-/]\b) is one of -, /,
// en dash, em dash and horizontal bar.
func windash(p pattern) ([]pattern, error) {
	outs := []pattern{nil}
	for _, pc := range p {
		if pc.kind != pLit {
			for k := range outs {
				outs[k] = append(slices.Clip(outs[k]), pc)
			}
			continue
		}
		// Cut the literal at its dash positions.
		var parts []string // literal, dash, literal, dash, ..., literal
		s := pc.s
		start := 0
		prev := rune(-1)
		for i, r := range s {
			if (r == '-' || r == '/') && (prev < 0 || !isWord(prev)) {
				next, _ := utf8.DecodeRuneInString(s[i+1:])
				if i+1 < len(s) && isWord(next) {
					parts = append(parts, s[start:i])
					start = i + 1
				}
			}
			prev = r
		}
		parts = append(parts, s[start:])
		texts := []string{parts[0]}
		for _, rest := range parts[1:] {
			var next []string
			for _, t := range texts {
				for _, d := range dashes {
					next = append(next, t+d+rest)
				}
			}
			if len(next)*len(outs) > maxVariants {
				return nil, fmt.Errorf("|windash: %q has too many dashes (more than %d variants)", pc.s, maxVariants)
			}
			texts = next
		}
		var next []pattern
		for _, o := range outs {
			for _, t := range texts {
				q := append(slices.Clip(o), piece{kind: pLit, s: t})
				next = append(next, q)
			}
		}
		outs = next
	}
	return outs, nil
}

// encodeUTF16 encodes the literal text of p as UTF-16 (utf16 with a
// little-endian byte order mark first), keeping its wildcards.
func encodeUTF16(p pattern, enc string) pattern {
	out := make(pattern, 0, len(p)+1)
	if enc == "utf16" {
		out = append(out, piece{kind: pLit, s: "\xff\xfe"})
		enc = "utf16le"
	}
	for _, pc := range p {
		if pc.kind == pLit {
			var b []byte
			for _, u := range utf16.Encode([]rune(pc.s)) {
				if enc == "utf16be" {
					b = append(b, byte(u>>8), byte(u))
				} else {
					b = append(b, byte(u), byte(u>>8))
				}
			}
			pc.s = string(b)
		}
		out = append(out, pc)
	}
	return out
}

// base64Offsets returns the three strings that are in the base64 of any
// text holding s, whatever its offset modulo 3: for each shift, the
// encoding of the shifted value without the leading and trailing
// characters that depend on the bytes around it (as pySigma does).
func base64Offsets(s string) []string {
	start := [3]int{0, 2, 3}
	endCut := [3]int{0, 3, 2}
	var out []string
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString(append([]byte(strings.Repeat(" ", i)), s...))
		cut := endCut[(len(s)+i)%3]
		end := len(enc) - cut
		if start[i] >= end {
			continue
		}
		out = append(out, enc[start[i]:end])
	}
	return out
}
