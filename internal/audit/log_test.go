package audit_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// newLog returns a log on d with an in-memory checkpoint key.
func newLog(d *db.DB, s *audittest.Signer) *audit.Log {
	return audit.New(d, clock.NewFrozen(audittest.Start.Add(time.Hour)), audit.WithCheckpoints(s, 1000),
		audit.WithOrigin("test.example.jp/anzen-audit"))
}

func appendAll(t testing.TB, l *audit.Log, events []audit.Event) int64 {
	t.Helper()
	first, err := l.Append(context.Background(), events)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return first
}

// rootOf computes the RFC 6962 root of leaves the slow, obvious way.
func rootOf(leaves [][]byte) []byte {
	h := rfc6962.DefaultHasher
	if len(leaves) == 0 {
		return h.EmptyRoot()
	}
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return h.HashChildren(rootOf(leaves[:k]), rootOf(leaves[k:]))
}

func TestAppend_NumbersEventsAndBuildsTheTree(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := newLog(d, audittest.NewSigner())
		var leaves [][]byte
		for _, n := range []int{1, 2, 15, 16, 17, 300, 1} {
			events := audittest.Events(len(leaves), n)
			first := appendAll(t, l, events)
			if first != int64(len(leaves)) {
				t.Fatalf("first = %d, want %d", first, len(leaves))
			}
			for i := range events {
				if events[i].Seq != first+int64(i) {
					t.Fatalf("event %d got seq %d", i, events[i].Seq)
				}
				leaves = append(leaves, audit.LeafHash(events[i].Seq, audit.AppendEntry(nil, &events[i])))
			}
			cp, err := l.SignCheckpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if cp.Size != int64(len(leaves)) || !bytes.Equal(cp.Root, rootOf(leaves)) {
				t.Fatalf("checkpoint at %d has the wrong root", cp.Size)
			}
		}
		got, err := l.ReadAfter(ctx, 14, 3)
		if err != nil {
			t.Fatal(err)
		}
		want := audittest.Event(15)
		if len(got) != 3 || got[0].Seq != 15 || got[0].Patient != want.Patient || got[0].Actor != want.Actor ||
			!got[0].Time.Equal(want.Time) || !bytes.Equal(got[0].Original, want.Original) {
			t.Fatalf("ReadAfter(14) = %+v, want event 15 = %+v", got, want)
		}
	})
}

func TestAppend_ConcurrentCallersShareCommitsAndLoseNothing(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := newLog(d, audittest.NewSigner())
		const callers, each = 16, 50
		seqs := make(chan int64, callers*each)
		var wg sync.WaitGroup
		for c := range callers {
			wg.Go(func() {
				for i := range each / 5 {
					events := audittest.Events(c*each+i*5, 5)
					first, err := l.Append(ctx, events)
					if err != nil {
						t.Error(err)
						return
					}
					for j := range events {
						seqs <- first + int64(j)
					}
				}
			})
		}
		wg.Wait()
		close(seqs)
		var got []int64
		for s := range seqs {
			got = append(got, s)
		}
		slices.Sort(got)
		for i, s := range got {
			if s != int64(i) {
				t.Fatalf("sequence numbers are not 0..%d without gaps: %v", len(got)-1, got)
			}
		}
		res, err := l.Verify(ctx, audit.VerifyOptions{})
		if err != nil || !res.OK || res.Size != callers*each {
			t.Fatalf("verify = %+v, %v", res, err)
		}
	})
}

func TestAppend_TwoWritersOnOneDatabaseKeepOneTree(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := audittest.NewSigner()
		a, b := newLog(d, s), newLog(d, s) // as two anzen processes would
		for i := range 10 {
			w := a
			if i%3 == 0 {
				w = b
			}
			appendAll(t, w, audittest.Events(i*7, 7))
		}
		if _, err := b.SignCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := a.Verify(ctx, audit.VerifyOptions{})
		if err != nil || !res.OK || res.Size != 70 || res.Checkpoints != 1 {
			t.Fatalf("verify = %+v, %v", res, err)
		}
	})
}

func TestAppend_RefusesInvalidEventsAndWritesNothing(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := newLog(d, audittest.NewSigner())
		bad := audittest.Events(0, 3)
		bad[1].Action = "VIEW RECORD"
		if _, err := l.Append(ctx, bad); !errors.Is(err, audit.ErrInvalid) {
			t.Fatalf("append with a bad action = %v, want ErrInvalid", err)
		}
		if n, _ := l.Size(ctx); n != 0 {
			t.Fatalf("the log holds %d events after a refused append", n)
		}
	})
}

func TestAppend_FlagsClockSkewButNotImports(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d, clock.NewFrozen(audittest.Start), audit.WithClockTolerance(time.Minute))
		events := audittest.Events(0, 3)
		for i := range events {
			events[i].Received = time.Time{} // the log's clock
		}
		events[0].Time = audittest.Start.Add(-30 * time.Second)
		events[1].Time = audittest.Start.Add(-2 * time.Minute)
		events[2].Time = audittest.Start.Add(-48 * time.Hour)
		events[2].Flags = audit.FlagImported
		appendAll(t, l, events)
		got, err := l.ReadAfter(ctx, -1, 10)
		if err != nil {
			t.Fatal(err)
		}
		flags := []bool{got[0].Flags.Has(audit.FlagClockSkew), got[1].Flags.Has(audit.FlagClockSkew), got[2].Flags.Has(audit.FlagClockSkew)}
		if !slices.Equal(flags, []bool{false, true, false}) || !got[1].Received.Equal(audittest.Start) {
			t.Fatalf("clock skew flags = %v, want [false true false]", flags)
		}
	})
}

func TestProve_EveryEventAgainstTheCheckpoint(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := audittest.NewSigner()
		l := newLog(d, s)
		appendAll(t, l, audittest.Events(0, 100))
		if _, err := l.Prove(ctx, 5); !errors.Is(err, audit.ErrNotCheckpointed) {
			t.Fatalf("prove before any checkpoint = %v, want ErrNotCheckpointed", err)
		}
		if _, err := l.SignCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		appendAll(t, l, audittest.Events(100, 37))
		keys, err := s.VerifierKeys(ctx, "test.example.jp/anzen-audit")
		if err != nil {
			t.Fatal(err)
		}
		for seq := range int64(100) {
			p, err := l.Prove(ctx, seq)
			if err != nil {
				t.Fatalf("prove %d: %v", seq, err)
			}
			ev, err := audit.CheckProof(p, keys...)
			if err != nil {
				t.Fatalf("check proof of %d: %v", seq, err)
			}
			if want := audittest.Event(int(seq)); ev.Patient != want.Patient || ev.Seq != seq {
				t.Fatalf("proof of %d shows %+v", seq, ev)
			}
		}
		if _, err := l.Prove(ctx, 120); !errors.Is(err, audit.ErrNotCheckpointed) {
			t.Fatalf("prove after the checkpoint = %v, want ErrNotCheckpointed", err)
		}
		if _, err := l.Prove(ctx, 500); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("prove beyond the log = %v, want ErrNotFound", err)
		}

		p, _ := l.Prove(ctx, 42)
		other, _ := audittest.NewSigner().VerifierKeys(ctx, "test.example.jp/anzen-audit")
		for name, tamper := range map[string]func(p audit.Proof) (audit.Proof, []string){
			"entry": func(p audit.Proof) (audit.Proof, []string) {
				p.Entry = append(slices.Clone(p.Entry), ' ')
				return p, keys
			},
			"seq":       func(p audit.Proof) (audit.Proof, []string) { p.Seq = 43; p.LeafHash = nil; return p, keys },
			"hash":      func(p audit.Proof) (audit.Proof, []string) { p.Hashes = p.Hashes[1:]; return p, keys },
			"size":      func(p audit.Proof) (audit.Proof, []string) { p.TreeSize = 99; return p, keys },
			"wrong key": func(p audit.Proof) (audit.Proof, []string) { return p, other },
			"no key":    func(p audit.Proof) (audit.Proof, []string) { return p, nil },
			"checkpoint": func(p audit.Proof) (audit.Proof, []string) {
				p.Checkpoint = string(bytes.Replace([]byte(p.Checkpoint), []byte("\n100\n"), []byte("\n101\n"), 1))
				return p, keys
			},
		} {
			bad, k := tamper(*p)
			if _, err := audit.CheckProof(&bad, k...); err == nil {
				t.Errorf("a proof with a changed %s passed", name)
			}
		}
	})
}

func TestSignCheckpoint_RefusesATreeRewrittenBehindIt(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := newLog(d, audittest.NewSigner())
		appendAll(t, l, audittest.Events(0, 40))
		if _, err := l.SignCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		// Rewrite the whole log with event 3 changed, leaves, tree and head
		// recomputed, as an attacker who knows the format would.
		events := audittest.Events(0, 40)
		events[3].Patient.ID = "P-HIDDEN"
		forge(t, d, events)
		appendAll(t, newLog(d, audittest.NewSigner()), audittest.Events(40, 5))
		if _, err := l.SignCheckpoint(ctx); err == nil {
			t.Fatal("signed a checkpoint of a tree inconsistent with the previous checkpoint")
		}
		res, err := l.Verify(ctx, audit.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.OK || res.Kind != audit.ProblemCheckpoint || res.FirstBad != 0 {
			t.Fatalf("verify = %+v, want a checkpoint problem from 0", res)
		}
	})
}

func TestAppend_RefusesToGrowATreeThatDoesNotMatchItsHead(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		appendAll(t, newLog(d, audittest.NewSigner()), audittest.Events(0, 40))
		if _, err := d.ExecContext(ctx, `UPDATE audit_tree SET hash = ? WHERE level = 4 AND idx = 1`, make([]byte, 32)); err != nil {
			t.Fatal(err)
		}
		if _, err := newLog(d, audittest.NewSigner()).Append(ctx, audittest.Events(40, 1)); err == nil {
			t.Fatal("appended to a tree that does not match its head")
		}
	})
}
