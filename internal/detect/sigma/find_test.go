package sigma

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestIndexRare_FindsWhatBytesContainsFinds(t *testing.T) {
	long := strings.Repeat("\x00sekurlsa session started by s.suzuki ", 40)
	cases := []struct{ s, lit string }{
		{"", "a"},
		{"a", "a"},
		{"abc", ""},
		{"xmimikatz95x", "mimikatz95"},
		{"mimikatz9", "mimikatz95"},
		{"zzzzzzzzzzzz", "zz"},
		{"\x00read\x00ward-3\x00mimikatz95", "mimikatz95"},
		{"\x00read\x00ward-3\x00mimikatz9", "mimikatz95"},
		// The anchor is found far more often than it matches: the
		// search goes on with bytes.Index.
		{long, "sekurlsa::96"},
		{long + "sekurlsa::96", "sekurlsa::96"},
		{long + "sekurlsa::9", "sekurlsa::96"},
		{"sekurlsa::96" + long, "sekurlsa::96"},
		{strings.Repeat("k", 500) + "sekurlsa", "sekurlsa"},
		{strings.Repeat("k", 500), "sekurlsa"},
	}
	for _, c := range cases {
		lit := []byte(c.lit)
		if got, want := indexRare([]byte(c.s), lit, rareByte(lit)), bytes.Contains([]byte(c.s), lit); got != want {
			t.Errorf("indexRare(%.40q, %q) = %v, want %v", c.s, c.lit, got, want)
		}
	}
	// Every offset of the anchor, on random text of a small alphabet
	// (many near misses).
	rng := rand.New(rand.NewPCG(5, 7))
	alpha := []byte("aksz:\x00")
	for range 20000 {
		s := make([]byte, rng.IntN(80))
		for i := range s {
			s[i] = alpha[rng.IntN(len(alpha))]
		}
		lit := make([]byte, 1+rng.IntN(4))
		for i := range lit {
			lit[i] = alpha[rng.IntN(len(alpha))]
		}
		for rare := range lit {
			if got, want := indexRare(s, lit, rare), bytes.Contains(s, lit); got != want {
				t.Fatalf("indexRare(%q, %q, %d) = %v, want %v", s, lit, rare, got, want)
			}
		}
	}
}

func TestRareByte_PicksTheRarestByte(t *testing.T) {
	for lit, want := range map[string]int{"mimikatz95": 7, "sekurlsa::95": 2, "e": 0, "eeee": 3, "ward-1": 0} {
		if got := rareByte([]byte(lit)); got != want {
			t.Errorf("rareByte(%q) = %d, want %d", lit, got, want)
		}
	}
}

func FuzzIndexRare(f *testing.F) {
	f.Add([]byte("\x00read\x00mimikatz95"), []byte("mimikatz95"), uint8(7))
	f.Add([]byte(strings.Repeat("s", 300)+"sekurlsa"), []byte("sekurlsa"), uint8(2))
	f.Add([]byte(""), []byte("a"), uint8(0))
	f.Fuzz(func(t *testing.T, s, lit []byte, rare uint8) {
		if len(lit) == 0 {
			return
		}
		r := int(rare) % len(lit)
		if got, want := indexRare(s, lit, r), bytes.Contains(s, lit); got != want {
			t.Fatalf("indexRare(%q, %q, %d) = %v, want %v", s, lit, r, got, want)
		}
	})
}

func TestLowerASCIIBytes_LowersOnlyASCIILetters(t *testing.T) {
	// Every byte value, at every offset of an 8-byte word and in the
	// tail.
	var all []byte
	for c := range 256 {
		all = append(all, byte(c))
	}
	for start := range 9 {
		for end := len(all) - 9; end <= len(all); end++ {
			b := bytes.Clone(all[start:end])
			lowerASCIIBytes(b)
			for i, c := range all[start:end] {
				if b[i] != lowerASCII(c) {
					t.Fatalf("[%d:%d]: byte %#x became %#x, want %#x", start, end, c, b[i], lowerASCII(c))
				}
			}
		}
	}
}
