package sigma

import (
	"bytes"
	"encoding/binary"
)

// Finding a keyword in an event's joined texts. bytes.Index looks for
// the keyword's first byte and checks the rest at each one found; for a
// keyword that starts with a common letter ("sekurlsa::", "mimikatz")
// that is a call at nearly every word of a 600-byte event, for each of
// the keywords of each rule. Searching instead for the keyword's rarest
// byte (by how often bytes occur in the lower-cased texts of logs) finds
// few places to check. This is the "rare byte" prefilter of Rust's memchr
// crate, done with one byte.

// commonBytes lists bytes from the most to the least frequent in the
// lower-cased texts of access logs and JSON records: separators,
// digits, then letters by their English frequency. A byte not listed
// is rarer than all of them; UTF-8 bytes of non-ASCII text (Japanese
// names, departments) come between the letters.
const commonBytes = "\x00 \"e:t,0a1o2i3n4s5r6d7-8h9l.c_u/mpfgwybv\xe3\x80\x81\x82\x83kx{}\xe5\xe6\xe7\xe8\xe9jqz"

// byteRank is each byte's place in commonBytes (lower: more frequent);
// unlisted bytes rank after every listed one.
var byteRank = func() (r [256]uint8) {
	for i := range r {
		r[i] = 255
	}
	for i := 0; i < len(commonBytes); i++ {
		r[commonBytes[i]] = uint8(i)
	}
	return r
}()

// rareByte returns the offset in lit of its rarest byte (the last of
// equally rare ones, which ends the search soonest when it fails).
func rareByte(lit []byte) int {
	best := 0
	for i := range lit {
		if byteRank[lit[i]] >= byteRank[lit[best]] {
			best = i
		}
	}
	return best
}

// indexRare reports whether lit occurs in s, looking first for lit's
// byte at offset rare (from rareByte). It gives up on the anchor, and
// leaves the rest of s to bytes.Index, when the anchor is found too often
// without a match.
func indexRare(s, lit []byte, rare int) bool {
	n := len(lit)
	if n == 0 {
		return true
	}
	c := lit[rare]
	// The anchor of a match at start i is at i+rare, with i+n <= len(s).
	at, last := rare, len(s)-n+rare
	for fails := 0; at <= last; fails++ {
		j := bytes.IndexByte(s[at:last+1], c)
		if j < 0 {
			return false
		}
		at += j
		if bytes.Equal(s[at-rare:at-rare+n], lit) {
			return true
		}
		at++
		if fails > 8+at>>5 {
			return bytes.Contains(s[at-rare:], lit)
		}
	}
	return false
}

// lowerASCIIBytes lower-cases the ASCII letters of b in place, eight
// bytes at a time: the keyword searches' texts are lower-cased once an
// event, some 600 bytes of it.
func lowerASCIIBytes(b []byte) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		low7 := w &^ highs
		// The high bit of each byte of upper is set when its low 7 bits
		// are at least 'A' and at most 'Z' and it is ASCII. No sum
		// carries into the next byte: low7 bytes are at most 0x7f.
		upper := (low7 + ones*(0x80-'A')) &^ (low7 + ones*(0x80-'Z'-1)) &^ w & highs
		if upper != 0 {
			binary.LittleEndian.PutUint64(b[i:], w|upper>>2)
		}
	}
	for ; i < len(b); i++ {
		b[i] = lowerASCII(b[i])
	}
}
