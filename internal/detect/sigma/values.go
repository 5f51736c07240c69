package sigma

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// A pattern is a Sigma string after escaping is read: literal text,
// the wildcards * and ?, in order.
type pattern []piece

type pieceKind uint8

const (
	pLit  pieceKind = iota // literal text
	pStar                  // * : any run of characters
	pOne                   // ? : exactly one character
)

type piece struct {
	kind pieceKind
	s    string // for pLit
}

// parsePattern reads a Sigma string with its wildcards and escapes: \*
// and \? are the plain characters, \\ is one backslash, and a backslash
// before any other character is itself.
func parsePattern(s string) pattern {
	var p pattern
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p = append(p, piece{kind: pLit, s: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\') {
				lit.WriteByte(s[i+1])
				i++
				continue
			}
			lit.WriteByte(c)
		case '*':
			flush()
			if len(p) == 0 || p[len(p)-1].kind != pStar {
				p = append(p, piece{kind: pStar})
			}
		case '?':
			flush()
			p = append(p, piece{kind: pOne})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return p
}

// literal returns the pattern's text when it has no wildcards.
func (p pattern) literal() (string, bool) {
	var b strings.Builder
	for _, pc := range p {
		if pc.kind != pLit {
			return "", false
		}
		b.WriteString(pc.s)
	}
	return b.String(), true
}

// wrap adds a * before (left) and after (right) when not already there:
// what contains, startswith and endswith do.
func (p pattern) wrap(left, right bool) pattern {
	out := make(pattern, 0, len(p)+2)
	if left && (len(p) == 0 || p[0].kind != pStar) {
		out = append(out, piece{kind: pStar})
	}
	out = append(out, p...)
	if right && (len(out) == 0 || out[len(out)-1].kind != pStar) {
		out = append(out, piece{kind: pStar})
	}
	return out
}

// mapLit returns the pattern with f applied to every literal piece.
func (p pattern) mapLit(f func(string) string) pattern {
	out := make(pattern, len(p))
	for i, pc := range p {
		if pc.kind == pLit {
			pc.s = f(pc.s)
		}
		out[i] = pc
	}
	return out
}

// strMatcher matches one string against a compiled pattern. The common
// shapes (exact, prefix, suffix, substring) have their own paths; other
// patterns go through the general glob matcher.
type strMatcher struct {
	shape    shape
	lit      string  // exact, prefix, suffix, substring: the text (lower-cased when fold)
	litBytes []byte  // lit, for searching joined texts
	rare     int     // the offset of litBytes' rarest byte (rareByte)
	pat      pattern // general: lower-cased when fold
	segs     []pattern
	fold     bool // case-insensitive
	ascii    bool // lit is ASCII
	ks       bool // lit has k or s, which two non-ASCII runes fold to
}

type shape uint8

const (
	shExact shape = iota
	shPrefix
	shSuffix
	shContains
	shAny // "*": any string
	shGlob
)

func newStrMatcher(p pattern, cased bool) *strMatcher {
	m := &strMatcher{fold: !cased}
	if m.fold {
		p = p.mapLit(lowerText)
	}
	m.pat = p
	n := len(p)
	switch {
	case n == 0:
		m.shape, m.lit = shExact, ""
	case n == 1 && p[0].kind == pStar:
		m.shape = shAny
	case n == 1 && p[0].kind == pLit:
		m.shape, m.lit = shExact, p[0].s
	case n == 2 && p[0].kind == pLit && p[1].kind == pStar:
		m.shape, m.lit = shPrefix, p[0].s
	case n == 2 && p[0].kind == pStar && p[1].kind == pLit:
		m.shape, m.lit = shSuffix, p[1].s
	case n == 3 && p[0].kind == pStar && p[1].kind == pLit && p[2].kind == pStar:
		m.shape, m.lit = shContains, p[1].s
	default:
		m.shape = shGlob
		m.segs = splitStars(p)
	}
	m.ascii = isASCII(m.lit)
	m.ks = strings.ContainsAny(m.lit, "ks")
	return m
}

func (m *strMatcher) match(s string) bool {
	if !m.fold {
		switch m.shape {
		case shExact:
			return s == m.lit
		case shPrefix:
			return strings.HasPrefix(s, m.lit)
		case shSuffix:
			return strings.HasSuffix(s, m.lit)
		case shContains:
			return strings.Contains(s, m.lit)
		case shAny:
			return true
		}
		return globMatch(s, m.segs, false)
	}
	if m.ascii && (!m.ks || !hasFoldToASCII(s)) {
		// Only ASCII runes of s can fold to an ASCII pattern, and the
		// bytes of other runes are never ASCII: compare bytes.
		switch m.shape {
		case shExact:
			return len(s) == len(m.lit) && asciiEqualLower(s, m.lit)
		case shPrefix:
			return len(s) >= len(m.lit) && asciiEqualLower(s[:len(m.lit)], m.lit)
		case shSuffix:
			return len(s) >= len(m.lit) && asciiEqualLower(s[len(s)-len(m.lit):], m.lit)
		case shContains:
			return asciiContainsLower(s, m.lit)
		}
	}
	switch m.shape {
	case shExact:
		return strings.EqualFold(s, m.lit)
	case shPrefix:
		_, ok := prefixFold(s, m.lit)
		return ok
	case shSuffix:
		return suffixFold(s, m.lit)
	case shContains:
		return containsFold(s, m.lit)
	case shAny:
		return true
	}
	return globMatch(s, m.segs, true)
}

// hasFoldToASCII reports whether s holds one of the two non-ASCII runes
// that fold to ASCII letters: the Kelvin sign (k) and the long s (s).
func hasFoldToASCII(s string) bool {
	if strings.IndexByte(s, 0xe2) < 0 && strings.IndexByte(s, 0xc5) < 0 {
		return false
	}
	return strings.Contains(s, "\u212a") || strings.Contains(s, "\u017f")
}

// lowerText lower-cases text; bytes that are not UTF-8 (UTF-16 text,
// a byte order mark) are kept, where strings.ToLower would replace them.
func lowerText(s string) string {
	if utf8.ValidString(s) {
		return strings.ToLower(s)
	}
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
	return string(b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// asciiEqualLower reports whether s equals the lower-case lit, ignoring
// ASCII case; both are ASCII and of the same length.
func asciiEqualLower(s, lit string) bool {
	for i := 0; i < len(lit); i++ {
		if lowerASCII(s[i]) != lit[i] {
			return false
		}
	}
	return true
}

// asciiContainsLower reports whether the ASCII s contains the lower-case
// ASCII lit, ignoring case.
func asciiContainsLower(s, lit string) bool {
	if len(lit) == 0 {
		return true
	}
	first := lit[0]
	upper := first
	if 'a' <= first && first <= 'z' {
		upper = first - ('a' - 'A')
	}
	last := len(s) - len(lit)
	for i := 0; i <= last; i++ {
		c := s[i]
		if c != first && c != upper {
			// Jump to the next candidate.
			j := indexEither(s[i+1:last+1], first, upper)
			if j < 0 {
				return false
			}
			i += j // the loop's i++ lands on the candidate
			continue
		}
		if asciiEqualLower(s[i:i+len(lit)], lit) {
			return true
		}
	}
	return false
}

// indexEither returns the index of the first a or b in s, or -1.
func indexEither(s string, a, b byte) int {
	i := strings.IndexByte(s, a)
	if a != b {
		if j := strings.IndexByte(s, b); j >= 0 && (i < 0 || j < i) {
			i = j
		}
	}
	return i
}

// runeFoldEq reports whether a and b are equal under Unicode simple case
// folding.
func runeFoldEq(a, b rune) bool {
	if a == b {
		return true
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

// prefixFold reports whether s begins with p ignoring case, and how many
// bytes of s that prefix takes.
func prefixFold(s, p string) (int, bool) {
	i, j := 0, 0
	for j < len(p) {
		if i >= len(s) {
			return 0, false
		}
		if s[i] < utf8.RuneSelf && p[j] < utf8.RuneSelf {
			if lowerASCII(s[i]) != lowerASCII(p[j]) {
				return 0, false
			}
			i++
			j++
			continue
		}
		sr, sn := utf8.DecodeRuneInString(s[i:])
		pr, pn := utf8.DecodeRuneInString(p[j:])
		if sn == 1 && sr == utf8.RuneError || pn == 1 && pr == utf8.RuneError {
			// A byte that is not UTF-8 (UTF-16 text, a BOM) is itself.
			if s[i] != p[j] {
				return 0, false
			}
			i++
			j++
			continue
		}
		if !runeFoldEq(sr, pr) {
			return 0, false
		}
		i += sn
		j += pn
	}
	return i, true
}

func containsFold(s, p string) bool {
	for i := 0; i <= len(s); {
		if _, ok := prefixFold(s[i:], p); ok {
			return true
		}
		if i == len(s) {
			break
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		i += n
	}
	return false
}

func suffixFold(s, p string) bool {
	for i := len(s); i >= 0; i-- {
		if i < len(s) && !utf8.RuneStart(s[i]) {
			continue
		}
		if n, ok := prefixFold(s[i:], p); ok && i+n == len(s) {
			return true
		}
	}
	return false
}

// segmentAt matches the wildcard-free-of-* pieces seg at s[i:], and
// returns where the match ends.
func segmentAt(s string, i int, seg pattern, fold bool) (int, bool) {
	for _, pc := range seg {
		switch pc.kind {
		case pOne:
			if i >= len(s) {
				return 0, false
			}
			_, n := utf8.DecodeRuneInString(s[i:])
			i += n
		case pLit:
			if fold {
				n, ok := prefixFold(s[i:], pc.s)
				if !ok {
					return 0, false
				}
				i += n
			} else {
				if !strings.HasPrefix(s[i:], pc.s) {
					return 0, false
				}
				i += len(pc.s)
			}
		}
	}
	return i, true
}

// splitStars cuts a pattern at its stars.
func splitStars(p pattern) []pattern {
	var segs []pattern
	start := 0
	for i, pc := range p {
		if pc.kind == pStar {
			segs = append(segs, p[start:i])
			start = i + 1
		}
	}
	return append(segs, p[start:])
}

// globMatch matches s against a pattern with * and ?. The pattern is cut
// at its stars into segments: the first is anchored at the start, the
// last at the end, and each one between is taken at its leftmost match,
// which never loses a match that a later one would give.
func globMatch(s string, segs []pattern, fold bool) bool {
	if len(segs) == 1 {
		end, ok := segmentAt(s, 0, segs[0], fold)
		return ok && end == len(s)
	}
	pos, ok := segmentAt(s, 0, segs[0], fold)
	if !ok {
		return false
	}
	for _, seg := range segs[1 : len(segs)-1] {
		found := false
		for i := pos; i <= len(s); i++ {
			if i < len(s) && !utf8.RuneStart(s[i]) {
				continue
			}
			if end, ok := segmentAt(s, i, seg, fold); ok {
				pos, found = end, true
				break
			}
		}
		if !found {
			return false
		}
	}
	last := segs[len(segs)-1]
	for i := len(s); i >= pos; i-- {
		if i < len(s) && !utf8.RuneStart(s[i]) {
			continue
		}
		if end, ok := segmentAt(s, i, last, fold); ok && end == len(s) {
			return true
		}
	}
	return false
}
