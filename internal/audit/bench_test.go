package audit_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// The benchmarks of docs/benchmarks.md. Each reports events/s; run them
// with
//
//	go test -run '^$' -bench . -benchtime 1x ./internal/audit/
//
// and, on PostgreSQL, with ANZEN_TEST_POSTGRES set. ANZEN_BENCH_EVENTS
// sets how many events the verify benchmark reads (default 1,000,000) and
// ANZEN_BENCH_PROOF_EVENTS the size of the log proofs are made in
// (default 1,000,000; docs/benchmarks.md gives the figure at 10,000,000).

func benchDBs(b *testing.B, fn func(b *testing.B, d *db.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, dbtest.SQLite(b, parts...)) })
	if os.Getenv("ANZEN_TEST_POSTGRES") != "" {
		b.Run("postgres", func(b *testing.B) { fn(b, dbtest.Postgres(b, parts...)) })
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkAppend is the durable append in process: 8 writers each
// appending batches of 100 events (as many small requests would), and of
// 1000 (a request of 1000 NDJSON lines, a syslog or import batch), every
// batch acknowledged after its commit (SQLite synchronous=FULL).
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{100, 1000} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) {
			benchDBs(b, func(b *testing.B, d *db.DB) { benchAppend(b, d, batch) })
		})
	}
}

func benchAppend(b *testing.B, d *db.DB, batch int) {
	ctx := context.Background()
	l := audit.New(d, nil)
	const writers = 8
	total := max(b.N, 200000)
	pool := audittest.Events(0, 10000) // made before the clock starts
	b.ResetTimer()
	var wg sync.WaitGroup
	per := total / writers / batch
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				off := ((w*per + i) * batch) % (len(pool) - batch)
				events := append([]audit.Event(nil), pool[off:off+batch]...)
				if _, err := l.Append(ctx, events); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	n := writers * per * batch
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}

// fill appends n events in large batches.
func fill(b *testing.B, l *audit.Log, n int) {
	ctx := context.Background()
	pool := audittest.Events(0, 10000)
	for i := 0; i < n; i += 5000 {
		k := min(5000, n-i)
		events := append([]audit.Event(nil), pool[i%5000:i%5000+k]...)
		if _, err := l.Append(ctx, events); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify verifies a log of ANZEN_BENCH_EVENTS events with a
// checkpoint every 10,000 and the search index.
func BenchmarkVerify(b *testing.B) {
	n := envInt("ANZEN_BENCH_EVENTS", 1000000)
	benchDBs(b, func(b *testing.B, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d, nil, audit.WithCheckpoints(audittest.NewSigner(), 10000))
		for done := 0; done < n; done += 10000 {
			fill(b, l, min(10000, n-done))
			if _, err := l.SignCheckpoint(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := l.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		var logTime, indexTime time.Duration
		for range b.N {
			res, err := l.Verify(ctx, audit.VerifyOptions{})
			if err != nil || !res.OK || !res.Index {
				b.Fatalf("verify: %+v %v", res, err)
			}
			logTime += res.Duration - res.IndexDuration
			indexTime += res.IndexDuration
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(n*b.N)/logTime.Seconds(), "log-events/s")
		b.ReportMetric(float64(n*b.N)/indexTime.Seconds(), "index-events/s")
	})
}

// BenchmarkProve makes inclusion proofs of random events in a log of
// ANZEN_BENCH_PROOF_EVENTS events.
func BenchmarkProve(b *testing.B) {
	n := envInt("ANZEN_BENCH_PROOF_EVENTS", 1000000)
	benchDBs(b, func(b *testing.B, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d, nil, audit.WithCheckpoints(audittest.NewSigner(), int64(n)))
		fill(b, l, n)
		if _, err := l.SignCheckpoint(ctx); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := range b.N {
			seq := int64((i * 7919) % n)
			if _, err := l.Prove(ctx, seq); err != nil {
				b.Fatal(fmt.Errorf("prove %d: %w", seq, err))
			}
		}
	})
}

// BenchmarkIndex is how fast the search index takes events the log
// already holds (the index follows the append path in the background).
func BenchmarkIndex(b *testing.B) {
	n := envInt("ANZEN_BENCH_INDEX_EVENTS", 200000)
	benchDBs(b, func(b *testing.B, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d, nil)
		fill(b, l, n)
		b.ResetTimer()
		if _, err := l.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		for lag, _ := l.Lag(ctx); lag.Behind() > 0; lag, _ = l.Lag(ctx) {
			if _, err := l.Sync(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(0, "ns/op")
	})
}
