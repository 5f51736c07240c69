package audit_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// segRecord is one position of a segment file as the test reads it.
type segRecord struct {
	seq         int64
	leaf, entry []byte
}

// readSegFile reads a segment file by its documented format.
func readSegFile(t *testing.T, path string) []segRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []segRecord
	if _, err := audit.ReadSegment(f, func(seq int64, leaf, entry []byte) error {
		out = append(out, segRecord{seq, bytes.Clone(leaf), bytes.Clone(entry)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeSegFile writes recs in the documented format and returns the
// file's SHA-256 in hex.
func writeSegFile(t *testing.T, path string, recs []segRecord) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("anzen-audit-segment/v1\n"))
	for _, r := range recs {
		zw.Write(binary.BigEndian.AppendUint64(nil, uint64(r.seq)))
		zw.Write(r.leaf)
		zw.Write(binary.AppendUvarint(nil, uint64(len(r.entry))))
		zw.Write(r.entry)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum, err := audit.ReadSegment(f, func(int64, []byte, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(sum)
}

// noteText splits a signed note into its text and signature lines.
func noteText(signed string) (text, sigs string) {
	i := strings.Index(signed, "\n\n")
	return signed[:i+1], signed[i+1:]
}

// setField returns the manifest text with field's value replaced.
func setField(text, field, value string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, field+" ") {
			lines[i] = field + " " + value
		}
	}
	return strings.Join(lines, "\n")
}

func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	es, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

func TestVerifyArchive_CatchesEveryTampering(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		S := smallS
		k := newSmallLog(t, d, int(S+10), 1000)
		k.at(time.Duration(S+100) * time.Second)
		if res := k.archive(t); len(res.Segments) != 1 {
			t.Fatalf("archived %+v", res)
		}
		name := audit.SegmentName(0, S)
		data, man := name+".gz", name+".manifest"
		orig := readSegFile(t, filepath.Join(k.dir, data))
		signedRaw, err := os.ReadFile(filepath.Join(k.dir, man))
		if err != nil {
			t.Fatal(err)
		}
		text, _ := noteText(string(signedRaw))
		sign := func(text string, s *audittest.Signer) []byte {
			sg, err := s.Signer(ctx, testOrigin)
			if err != nil {
				t.Fatal(err)
			}
			b, err := note.Sign(&note.Note{Text: text}, sg)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		// forge writes recs as the segment, signs a manifest for it with
		// the log's own key (as someone holding the key could), puts it in
		// the database's record too, and returns how to undo that.
		forge := func(dir string, recs []segRecord, edit func(text string) string) func() {
			sum := writeSegFile(t, filepath.Join(dir, data), recs)
			m := sign(edit(setField(text, "sha256", sum)), k.signer)
			if err := os.WriteFile(filepath.Join(dir, man), m, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := d.ExecContext(ctx, `UPDATE audit_segments SET manifest = ? WHERE first_seq = 0`, string(m)); err != nil {
				t.Fatal(err)
			}
			return func() {
				if _, err := d.ExecContext(ctx, `UPDATE audit_segments SET manifest = ? WHERE first_seq = 0`, string(signedRaw)); err != nil {
					t.Fatal(err)
				}
			}
		}
		changed := func(i int) []segRecord {
			recs := make([]segRecord, len(orig))
			copy(recs, orig)
			e, err := audit.DecodeEntry(recs[i].entry)
			if err != nil {
				t.Fatal(err)
			}
			e.Patient.ID = "P9999999"
			recs[i].entry = audit.AppendEntry(nil, &e)
			return recs
		}

		cases := []struct {
			name   string
			tamper func(dir string) (undo func())
			kind   string
			seq    int64
		}{
			{"manifest file missing", func(dir string) func() { os.Remove(filepath.Join(dir, man)); return nil }, audit.SegmentMissing, 0},
			{"segment file missing", func(dir string) func() { os.Remove(filepath.Join(dir, data)); return nil }, audit.SegmentMissing, 0},
			{"manifest signed by another key", func(dir string) func() {
				os.WriteFile(filepath.Join(dir, man), sign(text, audittest.NewSigner()), 0o600)
				return nil
			}, audit.SegmentManifest, 0},
			{"bytes after the gzip stream", func(dir string) func() {
				b, _ := os.ReadFile(filepath.Join(dir, data))
				os.WriteFile(filepath.Join(dir, data), append(b, 0), 0o600)
				return nil
			}, audit.SegmentHash, 0},
			{"an entry changed", func(dir string) func() { writeSegFile(t, filepath.Join(dir, data), changed(123)); return nil },
				audit.SegmentHash, 0},
			{"an entry changed, manifest re-signed with the key", func(dir string) func() {
				return forge(dir, changed(123), func(s string) string { return s })
			}, audit.SegmentEntry, 123},
			{"two entries swapped, manifest re-signed", func(dir string) func() {
				recs := append([]segRecord(nil), orig...)
				recs[10].entry, recs[11].entry = recs[11].entry, recs[10].entry
				recs[10].leaf, recs[11].leaf = recs[11].leaf, recs[10].leaf
				return forge(dir, recs, func(s string) string { return s })
			}, audit.SegmentEntry, 10},
			{"an entry and its leaf changed, manifest re-signed", func(dir string) func() {
				recs := changed(123)
				recs[123].leaf = audit.LeafHash(123, recs[123].entry)
				return forge(dir, recs, func(s string) string { return s })
			}, audit.SegmentRoot, 0},
			{"an entry, its leaf and the root changed, manifest re-signed", func(dir string) func() {
				recs := changed(123)
				recs[123].leaf = audit.LeafHash(123, recs[123].entry)
				leaves := make([][]byte, len(recs))
				for i := range recs {
					leaves[i] = recs[i].leaf
				}
				root := base64.StdEncoding.EncodeToString(rootOf(leaves))
				return forge(dir, recs, func(s string) string { return setField(s, "root", root) })
			}, audit.SegmentRoot, 0},
			{"the database's record signed by another key", func(dir string) func() {
				other := sign(text, audittest.NewSigner())
				if _, err := d.ExecContext(ctx, `UPDATE audit_segments SET manifest = ? WHERE first_seq = 0`, string(other)); err != nil {
					t.Fatal(err)
				}
				return func() {
					d.ExecContext(ctx, `UPDATE audit_segments SET manifest = ? WHERE first_seq = 0`, string(signedRaw))
				}
			}, audit.SegmentRecord, 0},
		}
		for _, field := range []string{"origin", "first_seq", "end_seq", "count", "root", "sha256", "created"} {
			cases = append(cases, struct {
				name   string
				tamper func(dir string) (undo func())
				kind   string
				seq    int64
			}{"manifest field " + field, func(dir string) func() {
				_, sigs := noteText(string(signedRaw))
				v := map[string]string{"origin": "other.example.jp/log", "first_seq": "65536", "end_seq": "131072", "count": "65535",
					"root": base64.StdEncoding.EncodeToString(make([]byte, 32)), "sha256": strings.Repeat("0", 64),
					"created": "2031-04-01T00:00:00Z"}[field]
				os.WriteFile(filepath.Join(dir, man), []byte(setField(text, field, v)+sigs), 0o600)
				return nil
			}, audit.SegmentManifest, 0})
		}

		for _, c := range cases {
			dir := copyDir(t, k.dir)
			undo := c.tamper(dir)
			rep, err := k.VerifyArchive(ctx, dir)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if rep.OK || rep.Problems[0].Kind != c.kind || rep.Problems[0].Seq != c.seq {
				t.Errorf("%s: want %s at %d, got %+v", c.name, c.kind, c.seq, rep)
			}
			v := k.verify(t, audit.VerifyOptions{ArchiveDir: dir, SkipIndex: true})
			if v.OK || v.Kind != audit.ProblemArchive {
				t.Errorf("%s: verify with the archive: %+v", c.name, v)
			}
			if undo != nil {
				undo()
			}
		}
		// Untouched, it all passes again.
		if rep, err := k.VerifyArchive(ctx, ""); err != nil || !rep.OK {
			t.Fatalf("the archive after the cases: %+v, %v", rep, err)
		}
	})
}

func TestVerify_CatchesEventsDeletedAndPassedOffAsArchived(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		S := smallS
		k := newSmallLog(t, d, int(S+10))
		// Delete the first segment's rows and record a segment signed by
		// another key, as someone with the database but not the key might.
		if _, err := d.ExecContext(ctx, `DELETE FROM audit_log WHERE seq < ?`, S); err != nil {
			t.Fatal(err)
		}
		other := audittest.NewSigner()
		sg, _ := other.Signer(ctx, testOrigin)
		text := "anzen audit segment v1\norigin " + testOrigin + "\nfirst_seq 0\nend_seq 256\ncount 256\nroot " +
			base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\nsha256 " + strings.Repeat("0", 64) + "\ncreated 2031-04-01T00:00:00Z\n"
		fake, err := note.Sign(&note.Note{Text: text}, sg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.ExecContext(ctx, `INSERT INTO audit_segments (first_seq, end_seq, file, sha256, manifest, created)
			VALUES (0, ?, ?, '', ?, 0)`, S, audit.SegmentName(0, S), string(fake)); err != nil {
			t.Fatal(err)
		}
		v := k.verify(t, audit.VerifyOptions{})
		if v.OK || v.Kind != audit.ProblemArchive || v.FirstBad != 0 {
			t.Fatalf("verify: %+v", v)
		}
	})
}

func FuzzOpenManifest(f *testing.F) {
	s := audittest.NewSigner()
	sg, _ := s.Signer(context.Background(), testOrigin)
	keys, _ := s.VerifierKeys(context.Background(), testOrigin)
	vs, _ := audit.Verifiers(keys...)
	m := &audit.Manifest{Origin: testOrigin, First: 0, End: audit.SegmentSize, Count: audit.SegmentSize,
		Root: make([]byte, 32), SHA256: make([]byte, 32), Created: time.Date(2031, 4, 1, 0, 0, 0, 0, time.UTC)}
	good, _ := note.Sign(&note.Note{Text: m.Text()}, sg)
	f.Add(good)
	f.Add([]byte(m.Text()))
	f.Add([]byte("anzen audit segment v1\n\n— x AAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := audit.OpenManifest(b, vs...)
		if err == nil && !bytes.HasPrefix(b, []byte(got.Text())) {
			t.Fatalf("opened %q as %+v", b, got)
		}
	})
}

func FuzzReadSegment(f *testing.F) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("anzen-audit-segment/v1\n"))
	e := audittest.Event(0)
	entry := audit.AppendEntry(nil, &e)
	zw.Write(binary.BigEndian.AppendUint64(nil, 0))
	zw.Write(audit.LeafHash(0, entry))
	zw.Write(binary.AppendUvarint(nil, uint64(len(entry))))
	zw.Write(entry)
	zw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte("anzen-audit-segment/v1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		_, _ = audit.ReadSegment(bytes.NewReader(b), func(seq int64, leaf, entry []byte) error {
			if seq < 0 || len(leaf) != 32 {
				t.Fatalf("position %d, leaf of %d bytes", seq, len(leaf))
			}
			n++
			return nil
		})
	})
}
