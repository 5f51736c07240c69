package audit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// keptLog is a log with retention, its clock, key and archive directory.
type keptLog struct {
	*audit.Log
	S      int64 // positions in one segment
	d      *db.DB
	clk    *clock.Frozen
	signer *audittest.Signer
	dir    string
}

const testOrigin = "test.example.jp/anzen-audit"

// smallLevel makes segments of 256 positions, for the tests that need
// many events in a segment no more than the archive's real size does.
const (
	smallLevel = 8
	smallS     = int64(1) << smallLevel
)

// newKeptLog returns a log with 5 years of retention, segments of the
// archive's real size and n events, received one a second from
// audittest.Start, with checkpoints signed at each of cpAt and at the end,
// and the search index up to date.
func newKeptLog(t testing.TB, d *db.DB, n int, cpAt ...int) *keptLog {
	t.Helper()
	return newKeptLogLevel(t, d, 0, n, cpAt...)
}

// newSmallLog is newKeptLog with segments of smallS positions.
func newSmallLog(t testing.TB, d *db.DB, n int, cpAt ...int) *keptLog {
	t.Helper()
	return newKeptLogLevel(t, d, smallLevel, n, cpAt...)
}

func newKeptLogLevel(t testing.TB, d *db.DB, level uint, n int, cpAt ...int) *keptLog {
	t.Helper()
	k := &keptLog{d: d, clk: clock.NewFrozen(audittest.Start), signer: audittest.NewSigner(),
		dir: filepath.Join(t.TempDir(), "audit-archive"), S: audit.SegmentSize}
	opts := []audit.Option{audit.WithCheckpoints(k.signer, 1<<40), audit.WithOrigin(testOrigin), audit.WithRetention(5, k.dir)}
	if level > 0 {
		opts = append(opts, audit.WithSegmentLevel(level))
		k.S = int64(1) << level
	}
	k.Log = audit.New(d, k.clk, opts...)
	ctx := context.Background()
	marks := append(slices.Clone(cpAt), n)
	done := 0
	for _, m := range marks {
		for done < m {
			c := min(8192, m-done)
			appendAll(t, k.Log, audittest.Events(done, c))
			done += c
		}
		if _, err := k.SignCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	syncIndex(t, k.Log)
	return k
}

// syncIndex brings the search index up to the log, however long it takes.
func syncIndex(t testing.TB, l *audit.Log) {
	t.Helper()
	for {
		behind, err := l.Sync(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if behind == 0 {
			return
		}
	}
}

// at sets the clock so that retention ends at audittest.Start plus d:
// events received before then are past it.
func (k *keptLog) at(d time.Duration) {
	k.clk.Set(audittest.Start.Add(d).AddDate(5, 0, 0))
}

func (k *keptLog) archive(t *testing.T) *audit.ArchiveResult {
	t.Helper()
	res, err := k.Archive(context.Background(), audit.ArchiveOptions{Via: "test"})
	if err != nil {
		t.Fatalf("archive: %v", err)
	}
	return res
}

func (k *keptLog) verify(t *testing.T, opt audit.VerifyOptions) *audit.VerifyResult {
	t.Helper()
	res, err := k.Verify(context.Background(), opt)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return res
}

func count(t *testing.T, d *db.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := d.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func proveAndCheck(t *testing.T, l *audit.Log, seq int64) {
	t.Helper()
	ctx := context.Background()
	p, err := l.Prove(ctx, seq)
	if err != nil {
		t.Fatalf("prove %d: %v", seq, err)
	}
	keys, err := l.VerifierKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := audit.CheckProof(p, keys...)
	if err != nil {
		t.Fatalf("check the proof of %d: %v", seq, err)
	}
	want := audittest.Event(int(seq))
	if ev.Object != want.Object || ev.Patient != want.Patient {
		t.Fatalf("the proof of %d shows %+v", seq, ev.Object)
	}
}

func TestArchive_MovesOnlySegmentsWhollyPastRetentionAndTheRestStaysVerifiable(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		S := smallS
		k := newSmallLog(t, d, int(2*S+300), 100, int(S+50))

		// Retention ends inside the second segment: only the first goes.
		k.at(time.Duration(S+100) * time.Second)
		dry, err := k.Archive(ctx, audit.ArchiveOptions{DryRun: true})
		if err != nil || len(dry.Segments) != 1 || dry.Segments[0].First != 0 || dry.Segments[0].End != S {
			t.Fatalf("dry run: %+v, %v", dry, err)
		}
		if _, err := os.Stat(k.dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a dry run made the archive directory: %v", err)
		}
		res := k.archive(t)
		if len(res.Segments) != 1 || res.Events != S || res.Segments[0].Resumed {
			t.Fatalf("archived %+v", res)
		}
		if !res.Cutoff.Equal(audittest.Start.Add(time.Duration(S+100) * time.Second)) {
			t.Fatalf("cutoff %s", res.Cutoff)
		}
		for _, ext := range []string{".gz", ".manifest"} {
			if _, err := os.Stat(filepath.Join(k.dir, audit.SegmentName(0, S)+ext)); err != nil {
				t.Fatal(err)
			}
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_log WHERE seq < ?`, S); n != 0 {
			t.Fatalf("%d archived events are still in audit_log", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_index WHERE seq < ?`, S); n != 0 {
			t.Fatalf("%d archived events are still in the search index", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_tree WHERE level >= ?`, smallLevel); n < 2 {
			t.Fatalf("only %d stored nodes of level %d and above", n, smallLevel)
		}

		// The rest verifies without the archive, and with it.
		v := k.verify(t, audit.VerifyOptions{})
		if !v.OK || v.Archived != S || v.From != S || v.ArchivedCheckpoints != 1 {
			t.Fatalf("verify after archiving: %+v", v)
		}
		v = k.verify(t, audit.VerifyOptions{ArchiveDir: k.dir})
		if !v.OK || v.ArchiveSegments != 1 {
			t.Fatalf("verify with the archive: %+v", v)
		}
		rep, err := k.VerifyArchive(ctx, "")
		if err != nil || !rep.OK || rep.Segments != 1 || rep.Events != S || rep.Checkpoints != 1 {
			t.Fatalf("verify archive: %+v, %v", rep, err)
		}

		// Proofs: live events from the database, archived ones from the
		// archive; without an archive directory, a clear answer.
		for _, seq := range []int64{S, S + 49, 2*S - 1, 2*S + 299, 0, 99, S - 1} {
			proveAndCheck(t, k.Log, seq)
		}
		bare := audit.New(d, k.clk, audit.WithCheckpoints(k.signer, 1<<40))
		if _, err := bare.Prove(ctx, 5); !errors.Is(err, audit.ErrArchived) {
			t.Fatalf("prove an archived event without the archive: %v", err)
		}

		// The log goes on: new events, a checkpoint consistent with the
		// previous one, a search that does not reach the archived events.
		appendAll(t, k.Log, audittest.Events(int(2*S+300), 10))
		if _, err := k.SignCheckpoint(ctx); err != nil {
			t.Fatalf("sign after archiving: %v", err)
		}
		syncIndex(t, k.Log)
		if v := k.verify(t, audit.VerifyOptions{}); !v.OK {
			t.Fatalf("verify after more events: %+v", v)
		}

		// The archiving is in the log.
		if err := k.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		events, err := k.ReadAfter(ctx, 2*S+299, 100)
		if err != nil {
			t.Fatal(err)
		}
		var rec *audit.Event
		for i := range events {
			if events[i].Action == audit.ActionArchive {
				rec = &events[i]
			}
		}
		if rec == nil || rec.Object.ID != "0-256" || !strings.Contains(string(rec.Original), `"via":"test"`) {
			t.Fatalf("no record of the archiving among %d events: %+v", len(events), rec)
		}

		// Nothing more is due; a day later, the second segment is.
		if res := k.archive(t); len(res.Segments) != 0 {
			t.Fatalf("archived again: %+v", res)
		}
		k.at(time.Duration(2*S+10) * time.Second)
		var progress []int64
		res, err = k.Archive(ctx, audit.ArchiveOptions{Progress: func(done, total int64) { progress = append(progress, done, total) }})
		if err != nil || len(res.Segments) != 1 || res.Segments[0].First != S {
			t.Fatalf("second archiving: %+v, %v", res, err)
		}
		if !slices.Equal(progress, []int64{S, S}) {
			t.Fatalf("progress %v", progress)
		}
		v = k.verify(t, audit.VerifyOptions{ArchiveDir: k.dir})
		if !v.OK || v.Archived != 2*S || v.ArchiveSegments != 2 || v.ArchivedCheckpoints != 2 {
			t.Fatalf("verify after the second archiving: %+v", v)
		}
		for _, seq := range []int64{1, S + 1, 2 * S} {
			proveAndCheck(t, k.Log, seq)
		}
	})
}

func TestArchive_WaitsForReadersAndCheckpoints(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		S := smallS
		k := newSmallLog(t, d, int(S+10))
		k.at(time.Duration(S+100) * time.Second)

		// A reader that has not read the segment holds it back.
		if _, err := d.ExecContext(ctx, `INSERT INTO audit_cursors (name, seq, updated) VALUES ('detect', 100, 0)`); err != nil {
			t.Fatal(err)
		}
		res := k.archive(t)
		if len(res.Segments) != 0 || !strings.Contains(res.Waiting, "detect") {
			t.Fatalf("archived past a reader: %+v", res)
		}
		if _, err := d.ExecContext(ctx, `UPDATE audit_cursors SET seq = ? WHERE name = 'detect'`, S+9); err != nil {
			t.Fatal(err)
		}
		if res := k.archive(t); len(res.Segments) != 1 {
			t.Fatalf("not archived once the reader is past: %+v", res)
		}

		// Without a signed checkpoint over the segment, nothing goes.
		k2 := newSmallLog(t, dbtest.SQLite(t, parts...), int(S+10), int(S-10))
		if _, err := k2.d.ExecContext(ctx, `DELETE FROM audit_checkpoints WHERE size > ?`, S-10); err != nil {
			t.Fatal(err)
		}
		k2.at(time.Duration(S+100) * time.Second)
		if res := k2.archive(t); len(res.Segments) != 0 || !strings.Contains(res.Waiting, "checkpoint") {
			t.Fatalf("archived without a checkpoint: %+v", res)
		}

		// No retention configured: a clear error.
		if _, err := audit.New(d, k.clk).Archive(ctx, audit.ArchiveOptions{}); !errors.Is(err, audit.ErrNoRetention) {
			t.Fatalf("archive without retention: %v", err)
		}
	})
}

func TestArchive_RefusesAlteredEvents(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		S := smallS
		k := newSmallLog(t, d, int(S+10))
		k.at(time.Duration(S+100) * time.Second)
		r, err := d.ExecContext(ctx, `UPDATE audit_log SET entry = ? WHERE seq = 77`,
			audit.AppendEntry(nil, ptr(audittest.Event(78))))
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			t.Fatalf("updated %d rows", n)
		}
		_, err = k.Archive(ctx, audit.ArchiveOptions{})
		if err == nil || !strings.Contains(err.Error(), "position 77") {
			t.Fatalf("archived an altered event: %v", err)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_log`); n != S+10 {
			t.Fatalf("%d events left", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_segments`); n != 0 {
			t.Fatalf("%d segments recorded", n)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestArchive_CompletesAfterACrashBetweenFilesAndRows(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		S := smallS
		k := newSmallLog(t, d, int(S+10))
		k.at(time.Duration(S+100) * time.Second)

		crash := errors.New("crash")
		audit.SetArchiveCrash(func() error { return crash })
		_, err := k.Archive(ctx, audit.ArchiveOptions{})
		audit.SetArchiveCrash(nil)
		if !errors.Is(err, crash) {
			t.Fatalf("archive with a crash: %v", err)
		}
		// The files are written, the rows are still there, and the log is
		// consistent: nothing is archived yet.
		if n := count(t, d, `SELECT COUNT(*) FROM audit_log`); n != S+10 {
			t.Fatalf("%d events after the crash", n)
		}
		if v := k.verify(t, audit.VerifyOptions{}); !v.OK || v.Archived != 0 {
			t.Fatalf("verify after the crash: %+v", v)
		}
		if _, err := os.Stat(filepath.Join(k.dir, audit.SegmentName(0, S)+".gz")); err != nil {
			t.Fatal(err)
		}

		// The next run finds the files, checks them and finishes.
		res := k.archive(t)
		if len(res.Segments) != 1 || !res.Segments[0].Resumed {
			t.Fatalf("after the crash: %+v", res)
		}
		names := dirNames(t, k.dir)
		if want := []string{audit.SegmentName(0, S) + ".gz", audit.SegmentName(0, S) + ".manifest"}; !slices.Equal(names, want) {
			t.Fatalf("archive directory holds %v", names)
		}
		if v := k.verify(t, audit.VerifyOptions{ArchiveDir: k.dir}); !v.OK || v.Archived != S {
			t.Fatalf("verify after completing: %+v", v)
		}
	})
}

func TestArchive_CompletesAfterACrashBeforeTheManifest(t *testing.T) {
	ctx := context.Background()
	S := smallS
	k := newSmallLog(t, dbtest.SQLite(t, parts...), int(S+10))
	k.at(time.Duration(S+100) * time.Second)
	audit.SetArchiveCrash(func() error { return errors.New("crash") })
	_, err := k.Archive(ctx, audit.ArchiveOptions{})
	audit.SetArchiveCrash(nil)
	if err == nil {
		t.Fatal("no crash")
	}
	// As if it had stopped before writing the manifest, leaving a
	// temporary file of another attempt behind.
	if err := os.Remove(filepath.Join(k.dir, audit.SegmentName(0, S)+".manifest")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(k.dir, "."+audit.SegmentName(0, S)+".gz.123.tmp"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := k.archive(t); len(res.Segments) != 1 || !res.Segments[0].Resumed {
		t.Fatalf("after the crash: %+v", res)
	}
	if rep, err := k.VerifyArchive(ctx, ""); err != nil || !rep.OK {
		t.Fatalf("verify archive: %+v, %v", rep, err)
	}

	// A file that is not this segment's is never adopted.
	k2 := newSmallLog(t, dbtest.SQLite(t, parts...), int(S+10))
	k2.at(time.Duration(S+100) * time.Second)
	if err := os.MkdirAll(k2.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(k2.dir, audit.SegmentName(0, S)+".gz"), []byte("not a segment"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k2.Archive(ctx, audit.ArchiveOptions{}); err == nil || !strings.Contains(err.Error(), "move it away") {
		t.Fatalf("archive over a stranger's file: %v", err)
	}
	if n := count(t, k2.d, `SELECT COUNT(*) FROM audit_log`); n != S+10 {
		t.Fatalf("%d events left", n)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestArchive_TwoProcessesAtOnceArchiveOnce(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		S := smallS
		k := newSmallLog(t, d, int(S+10))
		k.at(time.Duration(S+100) * time.Second)
		// A second process: the same database, key and archive directory.
		other := audit.New(d, k.clk, audit.WithCheckpoints(k.signer, 1<<40), audit.WithOrigin(testOrigin),
			audit.WithRetention(5, k.dir), audit.WithSegmentLevel(smallLevel))
		var wg sync.WaitGroup
		results := make([]*audit.ArchiveResult, 2)
		errs := make([]error, 2)
		for i, l := range []*audit.Log{k.Log, other} {
			wg.Go(func() { results[i], errs[i] = l.Archive(ctx, audit.ArchiveOptions{}) })
		}
		wg.Wait()
		archived := 0
		for i := range results {
			if errs[i] != nil {
				t.Fatalf("process %d: %v", i, errs[i])
			}
			archived += len(results[i].Segments)
		}
		if archived != 1 {
			t.Fatalf("archived %d times: %+v %+v", archived, results[0], results[1])
		}
		if rep, err := k.VerifyArchive(ctx, ""); err != nil || !rep.OK || rep.Segments != 1 {
			t.Fatalf("verify archive: %+v, %v", rep, err)
		}
		if v := k.verify(t, audit.VerifyOptions{}); !v.OK || v.Archived != S {
			t.Fatalf("verify: %+v", v)
		}
	})
}

// TestArchive_RealSegmentSizeKeepsProofsAndVerification archives one
// segment of the archive's real size (65,536): the rest verifies from the
// stored nodes of level 16 and above, proofs of live and archived events
// check, and the log signs consistent checkpoints after it.
func TestArchive_RealSegmentSizeKeepsProofsAndVerification(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		S := audit.SegmentSize
		k := newKeptLog(t, d, int(S+100), 1000)
		k.at(time.Duration(S+50) * time.Second)
		if res := k.archive(t); len(res.Segments) != 1 || res.Segments[0].End != S {
			t.Fatalf("archived %+v", res)
		}
		v := k.verify(t, audit.VerifyOptions{ArchiveDir: k.dir})
		if !v.OK || v.Archived != S || v.ArchiveSegments != 1 || v.ArchivedCheckpoints != 1 {
			t.Fatalf("verify: %+v", v)
		}
		for _, seq := range []int64{0, 999, S - 1, S, S + 99} {
			proveAndCheck(t, k.Log, seq)
		}
		appendAll(t, k.Log, audittest.Events(int(S+100), 10))
		if _, err := k.SignCheckpoint(ctx); err != nil {
			t.Fatalf("sign after archiving: %v", err)
		}
		syncIndex(t, k.Log)
		if v := k.verify(t, audit.VerifyOptions{}); !v.OK {
			t.Fatalf("verify after more events: %+v", v)
		}
	})
}
