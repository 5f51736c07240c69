package sigma

import (
	"regexp"
	"strings"
	"sync"
	"testing"
)

// globRegexp writes a pattern as a regular expression, the reference
// the matcher is checked against.
func globRegexp(p pattern, fold bool) *regexp.Regexp {
	var b strings.Builder
	if fold {
		b.WriteString("(?i)")
	}
	b.WriteString(`(?s)\A`)
	for _, pc := range p {
		switch pc.kind {
		case pLit:
			b.WriteString(regexp.QuoteMeta(pc.s))
		case pStar:
			b.WriteString(".*")
		case pOne:
			b.WriteString(".")
		}
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String())
}

func FuzzGlob(f *testing.F) {
	for _, c := range [][2]string{
		{"*foo*bar*", "xfooxbarx"}, {"a?c", "abc"}, {"*\\\\*", `a\b`}, {"*ÄRZT?N", "die ärztin"},
		{"prog*.exe", "progA.EXE"}, {"*", ""}, {"?*?", "ab"}, {"*ab*ab", "abab"}, {"*k*", "\u212a"},
	} {
		f.Add(c[0], c[1], false)
		f.Add(c[0], c[1], true)
	}
	f.Fuzz(func(t *testing.T, pat, s string, cased bool) {
		if !utf8Valid(pat) || !utf8Valid(s) {
			return
		}
		p := parsePattern(pat)
		got := newStrMatcher(p, cased).match(s)
		want := globRegexp(p, !cased).MatchString(s)
		if got != want {
			t.Fatalf("pattern %q (cased %v) on %q: %v, regexp says %v", pat, cased, s, got, want)
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\x00") == s }

func TestMatch_Concurrent(t *testing.T) {
	set := benchSet(t)
	ix := NewIndex(set.Rules)
	events := benchEvents(t, 200)
	want := make([]int, len(events))
	for i, e := range events {
		want[i] = len(ix.Match(e, nil))
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dst []*Rule
			for i, e := range events {
				dst = ix.Match(e, dst[:0])
				if len(dst) != want[i] {
					t.Errorf("event %d: %d matches, want %d", i, len(dst), want[i])
				}
				for _, r := range set.Rules {
					r.Match(e)
				}
			}
		}()
	}
	wg.Wait()
}
