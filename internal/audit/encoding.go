package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"time"
	"unicode/utf8"
	"unsafe"
)

// The canonical encoding of an event is what the log stores and hashes:
// one byte string per event, the same for the same event on every machine
// and database. It is binary and length-prefixed rather than JSON because
// verification decodes and hashes millions of entries a second:
//
//	version    byte (entryVersion)
//	time       varint   Unix milliseconds, at the source
//	received   varint   Unix milliseconds, by anzen's clock
//	facility   uvarint
//	flags      uvarint
//	16 texts   uvarint length + UTF-8 bytes each, in the order of entryTexts
//	original   uvarint length + bytes
//
// The Merkle leaf of the event at position seq is
//
//	SHA-256(0x00 || seq as 8 bytes big-endian || entry)
//
// (RFC 6962 leaf hashing of seq || entry). Binding the position into the
// leaf means a row moved to another position no longer matches its own
// leaf hash, so verification names exactly where the log was reordered.

const entryVersion = 1

// errEntry is returned (wrapped) for bytes that are not a canonical entry.
var errEntry = errors.New("malformed log entry")

// entryTexts returns the event's text fields in their encoded order.
func entryTexts(e *Event) [16]*string {
	return [16]*string{&e.Source, &e.Actor.ID, &e.Actor.Name, &e.Actor.Profession,
		&e.Actor.Department, &e.Actor.Terminal, &e.Actor.Address, &e.Action, &e.Patient.ID,
		&e.Patient.Name, &e.Object.Type, &e.Object.ID, &e.Outcome, &e.Purpose, &e.Session, &e.Format}
}

// AppendEntry appends the canonical encoding of e (without its Seq) to b.
func AppendEntry(b []byte, e *Event) []byte {
	b = append(b, entryVersion)
	b = binary.AppendVarint(b, e.Time.UnixMilli())
	b = binary.AppendVarint(b, e.Received.UnixMilli())
	b = binary.AppendUvarint(b, uint64(e.Facility))
	b = binary.AppendUvarint(b, uint64(e.Flags))
	for _, p := range entryTexts(e) {
		b = binary.AppendUvarint(b, uint64(len(*p)))
		b = append(b, *p...)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Original)))
	return append(b, e.Original...)
}

// DecodeEntry reads a canonical entry into an Event (Seq is left -1). It
// refuses anything AppendEntry would not have written: unknown version,
// truncated or overlong fields, text that is not UTF-8, trailing bytes.
func DecodeEntry(b []byte) (Event, error) {
	return decodeEntry(b, nil)
}

// decodeEntry is DecodeEntry; with an arena, the entry is first copied
// into it, and the event's texts and original record are made over that
// copy instead of each being copied on its own.
func decodeEntry(b []byte, a *entryArena) (Event, error) {
	owned := a != nil
	if owned {
		b = a.take(b)
	}
	e := Event{Seq: -1}
	if len(b) == 0 || b[0] != entryVersion {
		return e, fmt.Errorf("%w: unknown version", errEntry)
	}
	r := entryReader{b: b[1:]}
	at, rec := r.varint(), r.varint()
	fac, flags := r.uvarint(), r.uvarint()
	if r.err == nil && (fac > 1<<62 || flags > 1<<32-1) {
		r.err = fmt.Errorf("%w: facility or flags out of range", errEntry)
	}
	e.Time, e.Received = timeMillis(at), timeMillis(rec)
	e.Facility, e.Flags = int64(fac), Flags(flags)
	for _, p := range entryTexts(&e) {
		t := r.bytes(MaxFieldLen * utf8.UTFMax)
		if r.err == nil && !utf8.Valid(t) {
			r.err = fmt.Errorf("%w: text is not UTF-8", errEntry)
		}
		switch {
		case len(t) == 0:
		case owned:
			*p = unsafe.String(&t[0], len(t))
		default:
			*p = string(t)
		}
	}
	if orig := r.bytes(MaxOriginal); len(orig) > 0 {
		if owned {
			e.Original = orig[:len(orig):len(orig)]
		} else {
			e.Original = append([]byte(nil), orig...)
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d bytes after the entry", errEntry, len(r.b))
	}
	if r.err != nil {
		return Event{Seq: -1}, r.err
	}
	return e, nil
}

// entryArena holds copies of the entries read in one go, in blocks of
// arenaBlock bytes: a thousand events are some thirty allocations rather
// than seventeen thousand. Every byte of a block is written once, before
// any string or slice of it is handed out, and never again (the arena
// only appends, and a block it has left is not written), so the event's
// texts may be strings over the copy without copying them again. The
// original record is a slice of the copy capped at its end, and no text
// lies within it, so that writing to it or appending to it changes no
// text. A block lives as long as any event read with it.
type entryArena struct{ block []byte }

const arenaBlock = 32 << 10

// take returns a copy of b in the arena.
func (a *entryArena) take(b []byte) []byte {
	if cap(a.block)-len(a.block) < len(b) {
		a.block = make([]byte, 0, max(arenaBlock, len(b)))
	}
	n := len(a.block)
	a.block = append(a.block, b...)
	return a.block[n:len(a.block):len(a.block)]
}

// entryReader reads the fields of an entry, remembering the first error.
type entryReader struct {
	b   []byte
	err error
}

func (r *entryReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 || n != varintLen(uint64(v<<1)^uint64(v>>63)) {
		r.err = fmt.Errorf("%w: bad number", errEntry)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *entryReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || n != varintLen(v) {
		r.err = fmt.Errorf("%w: bad length", errEntry)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// varintLen is the length of the shortest (the canonical) encoding of v:
// a longer one, which binary.Uvarint also reads, is refused, so that an
// event has one encoding only.
func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func (r *entryReader) bytes(max int) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(max) || n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: field of %d bytes", errEntry, n)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func timeMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// leafHasher computes leaf hashes without allocating, for verification.
type leafHasher struct{ h hash.Hash }

func newLeafHasher() leafHasher { return leafHasher{sha256.New()} }

func (l leafHasher) sum(dst *[32]byte, seq int64, entry []byte) {
	var pre [9]byte
	binary.BigEndian.PutUint64(pre[1:], uint64(seq))
	l.h.Reset()
	l.h.Write(pre[:])
	l.h.Write(entry)
	l.h.Sum(dst[:0])
}

// LeafHash is the RFC 6962 leaf hash of the entry at position seq.
func LeafHash(seq int64, entry []byte) []byte {
	h := sha256.New()
	var pre [9]byte
	binary.BigEndian.PutUint64(pre[1:], uint64(seq)) // pre[0] is the RFC 6962 leaf prefix 0x00
	h.Write(pre[:])
	h.Write(entry)
	return h.Sum(make([]byte, 0, sha256.Size))
}
