package audit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
)

// Archive segments. Events past retention leave the database in whole
// segments: the 65,536 positions under one node of level 16 of the tree,
// aligned to a multiple of 65,536. The tree keeps its stored nodes of
// levels 16, 20, 24, ... over them (tree.go), so every node above an
// archived segment is still in the database: proofs, consistency and
// verification of the rest need nothing from the archive.
//
// A segment is two files in the archive directory:
//
//	audit-segment-000000000000-000000065536.gz        the entries
//	audit-segment-000000000000-000000065536.manifest  what they are, signed
//
// The .gz file is gzip (RFC 1952) of
//
//	"anzen-audit-segment/v1\n"
//	per position, in order:
//	  seq    8 bytes, big-endian
//	  leaf   32 bytes, the leaf hash SHA-256(0x00 || seq || entry)
//	  length uvarint
//	  entry  the canonical entry (encoding.go)
//
// The manifest is a C2SP signed note, signed with the log's checkpoint
// key under the log's origin, whose text is
//
//	anzen audit segment v1
//	origin <the log's origin>
//	first_seq <first position>
//	end_seq <position after the last>
//	count <number of entries>
//	root <base64 of the root of the segment's subtree: the tree node over it>
//	sha256 <hex SHA-256 of the .gz file>
//	created <RFC 3339 time of archiving>
//
// Its first line differs from the origin, so that no tlog-checkpoint
// parser takes it for a checkpoint. Anyone with the log's verifier key can
// check it with any signed-note implementation (golang.org/x/mod/sumdb/note).

const (
	// SegmentSize is the number of positions in one archive segment: the
	// leaves under one tree node of level 16.
	SegmentSize = int64(1) << 16

	segmentMagic   = "anzen-audit-segment/v1\n"
	manifestHeader = "anzen audit segment v1"
	// maxSegmentEntry is the largest entry a segment file may hold.
	maxSegmentEntry = MaxOriginal + 16*MaxFieldLen*4 + 64
	// maxManifest is the largest manifest file read.
	maxManifest = 64 << 10
)

// Manifest describes one archive segment; its signed note is the
// segment's .manifest file.
type Manifest struct {
	Origin  string    `json:"origin"`
	First   int64     `json:"first_seq"`
	End     int64     `json:"end_seq"`
	Count   int64     `json:"count"`
	Root    []byte    `json:"root"`
	SHA256  []byte    `json:"sha256"`
	Created time.Time `json:"created"`
}

// SegmentName returns the base name of the files of the segment of
// positions [first, end).
func SegmentName(first, end int64) string {
	return fmt.Sprintf("audit-segment-%012d-%012d", first, end)
}

// segmentNode returns the tree node that the segment [first, end) is, and
// whether it is one: a whole subtree at a stored level (the archive keeps
// SegmentSize; tests use smaller ones).
func segmentNode(first, end int64) (compact.NodeID, bool) {
	n := end - first
	if first < 0 || n <= 0 || n&(n-1) != 0 || first%n != 0 {
		return compact.NodeID{}, false
	}
	level := uint(bits.TrailingZeros64(uint64(n)))
	if !stored(level) {
		return compact.NodeID{}, false
	}
	return compact.NewNodeID(level, uint64(first)>>level), true
}

// Text returns the manifest's note text (unsigned).
func (m *Manifest) Text() string {
	return fmt.Sprintf("%s\norigin %s\nfirst_seq %d\nend_seq %d\ncount %d\nroot %s\nsha256 %s\ncreated %s\n",
		manifestHeader, m.Origin, m.First, m.End, m.Count, base64.StdEncoding.EncodeToString(m.Root),
		hex.EncodeToString(m.SHA256), m.Created.UTC().Format(time.RFC3339))
}

// errManifest is returned (wrapped) for a manifest that cannot be read.
var errManifest = errors.New("malformed segment manifest")

// parseManifest reads the text of a manifest note, refusing anything Text
// would not have written.
func parseManifest(text string) (*Manifest, error) {
	lines := strings.Split(text, "\n")
	if len(lines) != 9 || lines[8] != "" || lines[0] != manifestHeader {
		return nil, fmt.Errorf("%w: not an anzen audit segment manifest", errManifest)
	}
	fields := []string{"origin", "first_seq", "end_seq", "count", "root", "sha256", "created"}
	vals := make([]string, len(fields))
	for i, name := range fields {
		v, ok := strings.CutPrefix(lines[i+1], name+" ")
		if !ok || v == "" {
			return nil, fmt.Errorf("%w: line %d is not %q", errManifest, i+2, name)
		}
		vals[i] = v
	}
	m := &Manifest{Origin: vals[0]}
	var err error
	num := func(s string) int64 {
		n, e := strconv.ParseInt(s, 10, 64)
		if e != nil || n < 0 || strconv.FormatInt(n, 10) != s {
			err = errors.Join(err, fmt.Errorf("%w: %q is not a position", errManifest, s))
		}
		return n
	}
	m.First, m.End, m.Count = num(vals[1]), num(vals[2]), num(vals[3])
	if m.Root, err = decodeFixed(err, base64.StdEncoding.DecodeString, vals[4], "root"); err != nil {
		return nil, err
	}
	if m.SHA256, err = decodeFixed(err, hex.DecodeString, vals[5], "sha256"); err != nil {
		return nil, err
	}
	if m.Created, err = time.Parse(time.RFC3339, vals[6]); err != nil {
		return nil, fmt.Errorf("%w: created: %v", errManifest, err)
	}
	if _, ok := segmentNode(m.First, m.End); !ok || m.Count != m.End-m.First {
		return nil, fmt.Errorf("%w: positions %d to %d (%d entries) are not one whole segment", errManifest, m.First, m.End, m.Count)
	}
	if m.Text() != text {
		return nil, fmt.Errorf("%w: not in canonical form", errManifest)
	}
	return m, nil
}

// decodeFixed decodes a 32-byte hash, unless err is already set.
func decodeFixed(err error, dec func(string) ([]byte, error), s, name string) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	b, e := dec(s)
	if e != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("%w: %s is not a SHA-256 hash", errManifest, name)
	}
	return b, nil
}

// signManifest signs m with signer, whose name must be m's origin.
func signManifest(m *Manifest, signer note.Signer) ([]byte, error) {
	if signer.Name() != m.Origin {
		return nil, fmt.Errorf("the key signs as %q, the segment belongs to %q", signer.Name(), m.Origin)
	}
	return note.Sign(&note.Note{Text: m.Text()}, signer)
}

// OpenManifest checks a signed manifest against the log's verifiers (their
// name is the log's origin) and returns what it says.
func OpenManifest(signed []byte, verifiers ...note.Verifier) (*Manifest, error) {
	if len(verifiers) == 0 {
		return nil, errors.New("no verifier key to check the manifest's signature with")
	}
	n, err := note.Open(signed, note.VerifierList(verifiers...))
	if err != nil {
		return nil, fmt.Errorf("manifest signature: %w", err)
	}
	m, err := parseManifest(n.Text)
	if err != nil {
		return nil, err
	}
	if m.Origin != n.Sigs[0].Name {
		return nil, fmt.Errorf("the manifest names the log %q but is signed as %q", m.Origin, n.Sigs[0].Name)
	}
	return m, nil
}

// segmentEntry is one position of a segment file.
type segmentEntry struct {
	seq   int64
	leaf  []byte
	entry []byte
}

// writeSegmentData writes the entries next gives (nil at the end) as the
// segment file path, durably and only if no such file exists: the file is
// written beside it under a temporary name, synced, then linked to path,
// which fails when path exists (os.ErrExist). It returns the SHA-256 of
// the file.
func writeSegmentData(path string, next func() (*segmentEntry, error)) ([]byte, error) {
	return writeDurable(path, func(w io.Writer) error {
		zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(zw, 1<<16)
		if _, err := bw.WriteString(segmentMagic); err != nil {
			return err
		}
		var hdr [8 + 32 + binary.MaxVarintLen64]byte
		for {
			e, err := next()
			if err != nil {
				return err
			}
			if e == nil {
				break
			}
			binary.BigEndian.PutUint64(hdr[:8], uint64(e.seq))
			copy(hdr[8:40], e.leaf)
			n := binary.PutUvarint(hdr[40:], uint64(len(e.entry)))
			if _, err := bw.Write(hdr[:40+n]); err != nil {
				return err
			}
			if _, err := bw.Write(e.entry); err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return zw.Close()
	})
}

// writeDurable writes a new file at path through fill and returns its
// SHA-256: to a temporary file in the same directory, synced, then linked
// to path (never replacing a file there), and the directory synced.
func writeDurable(path string, fill func(w io.Writer) error) ([]byte, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	h := sha256.New()
	if err := fill(io.MultiWriter(f, h)); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp, path); err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// syncDir makes the directory's entries durable (a no-op on Windows,
// which cannot sync a directory).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// errSegment is returned (wrapped) for a segment file that cannot be read.
var errSegment = errors.New("malformed segment file")

// readSegmentData reads the segment file r to its end, handing each entry
// to fn (the slices are valid only during the call), and returns the
// SHA-256 of the file's bytes.
func readSegmentData(r io.Reader, fn func(e *segmentEntry) error) ([]byte, error) {
	h := sha256.New()
	hr := io.TeeReader(r, h)
	zr, err := gzip.NewReader(hr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSegment, err)
	}
	zr.Multistream(false)
	br := bufio.NewReaderSize(zr, 1<<16)
	magic := make([]byte, len(segmentMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != segmentMagic {
		return nil, fmt.Errorf("%w: not an anzen audit segment", errSegment)
	}
	var hdr [40]byte
	buf := make([]byte, 0, 4096)
	e := &segmentEntry{}
	for {
		if _, err := io.ReadFull(br, hdr[:]); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%w: %v", errSegment, err)
		}
		n, err := binary.ReadUvarint(br)
		if err != nil || n > maxSegmentEntry {
			return nil, fmt.Errorf("%w: bad entry length", errSegment)
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, fmt.Errorf("%w: %v", errSegment, err)
		}
		e.seq, e.leaf, e.entry = int64(binary.BigEndian.Uint64(hdr[:8])), hdr[8:40], buf
		if e.seq < 0 {
			return nil, fmt.Errorf("%w: bad position", errSegment)
		}
		if err := fn(e); err != nil {
			return nil, err
		}
	}
	// Whatever follows the gzip stream is part of the file and its hash.
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// segmentLeaves reads the segment file at path and checks it against m:
// its SHA-256, every position present once and in order, every entry
// hashing to its leaf. It returns the leaf hashes, 32 bytes a position,
// and the entry at position want (none when want is outside the segment).
func segmentLeaves(path string, m *Manifest, want int64) (leaves, entry []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	leaves = make([]byte, 0, 32*(m.End-m.First))
	next := m.First
	lh := newLeafHasher()
	var sum [32]byte
	var bad error
	got, err := readSegmentData(f, func(e *segmentEntry) error {
		if bad != nil {
			return nil // read on, for the file's hash
		}
		if e.seq != next || e.seq >= m.End {
			bad = &segmentProblem{SegmentEntry, next, fmt.Sprintf("position %d holds position %d", next, e.seq)}
			return nil
		}
		lh.sum(&sum, e.seq, e.entry)
		if !bytes.Equal(sum[:], e.leaf) {
			bad = &segmentProblem{SegmentEntry, e.seq, fmt.Sprintf("the entry at position %d does not match its leaf hash", e.seq)}
			return nil
		}
		if e.seq == want {
			entry = bytes.Clone(e.entry)
		}
		leaves = append(leaves, e.leaf...)
		next++
		return nil
	})
	if err != nil {
		return nil, nil, &segmentProblem{SegmentFile, m.First, err.Error()}
	}
	if !bytes.Equal(got, m.SHA256) {
		return nil, nil, &segmentProblem{SegmentHash, m.First, "the file's SHA-256 differs from the one its manifest signs"}
	}
	if bad != nil {
		return nil, nil, bad
	}
	if next != m.End {
		return nil, nil, &segmentProblem{SegmentEntry, next, fmt.Sprintf("the file ends at position %d, before %d", next, m.End)}
	}
	return leaves, entry, nil
}

// foldLeaves returns the root of the perfect subtree over leaves (32
// bytes each, a power of two of them).
func foldLeaves(leaves []byte) []byte {
	hs := make([][]byte, len(leaves)/32)
	for i := range hs {
		hs[i] = leaves[32*i : 32*i+32 : 32*i+32]
	}
	return fold(hs)
}

// ReadSegment reads a segment file (the .gz file of a segment) from r,
// handing each position's number, leaf hash and entry to fn in file order
// (the slices are valid only during the call), and returns the SHA-256 of
// every byte of the file. It checks the format only: VerifyArchive checks
// what the file holds against the log.
func ReadSegment(r io.Reader, fn func(seq int64, leaf, entry []byte) error) ([]byte, error) {
	return readSegmentData(r, func(e *segmentEntry) error { return fn(e.seq, e.leaf, e.entry) })
}
