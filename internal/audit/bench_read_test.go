package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// Benchmarks of reading the access log, in a log of
// ANZEN_BENCH_SEARCH_EVENTS events (default 200,000: 300 staff, 50,000
// patients, one event a second from audittest.Start) on every database:
//
//	go test -run '^$' -bench 'SearchEvents|Summarize|SourceActivity' -benchtime 200x ./internal/audit/
//
// Each search reads one page of 50 events, newest first; ns/op is the time
// of one page.

// readBenchLog fills a log with n events of audittest and brings its
// search index up to date.
func readBenchLog(b *testing.B, d *db.DB, n int) *audit.Log {
	ctx := context.Background()
	l := audit.New(d, nil)
	for done := 0; done < n; done += 5000 {
		if _, err := l.Append(ctx, audittest.Events(done, min(5000, n-done))); err != nil {
			b.Fatal(err)
		}
	}
	for {
		behind, err := l.Sync(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if behind == 0 {
			return l
		}
	}
}

func BenchmarkSearchEvents(b *testing.B) {
	n := envInt("ANZEN_BENCH_SEARCH_EVENTS", 200000)
	benchDBs(b, func(b *testing.B, d *db.DB) {
		l := readBenchLog(b, d, n)
		if d.Dialect() == db.Postgres {
			if _, err := d.ExecContext(context.Background(), "ANALYZE"); err != nil {
				b.Fatal(err)
			}
		}
		mid := audittest.Start.Add(time.Duration(n/2) * time.Second)
		shapes := []struct {
			name string
			q    audit.EventQuery
		}{
			{"newest", audit.EventQuery{AllFacilities: true}},
			{"facility", audit.EventQuery{Facilities: []int64{1}}},
			{"patient", audit.EventQuery{Facilities: []int64{1}, Patient: audittest.Event(n / 2).Patient.ID}},
			{"actor", audit.EventQuery{Facilities: []int64{1}, Actor: "u0042"}},
			{"hour", audit.EventQuery{Facilities: []int64{1}, From: mid, To: mid.Add(time.Hour)}},
			{"day", audit.EventQuery{Facilities: []int64{1}, From: mid.Add(-12 * time.Hour), To: mid.Add(12 * time.Hour)}},
			{"source", audit.EventQuery{AllFacilities: true, Source: "ehr-main"}},
			{"text-rare", audit.EventQuery{AllFacilities: true, Text: audittest.Event(10).Object.ID}},
			{"text-common", audit.EventQuery{AllFacilities: true, Text: "treatment"}},
		}
		for _, s := range shapes {
			b.Run(s.name, func(b *testing.B) {
				for range b.N {
					if _, err := l.SearchEvents(context.Background(), s.q); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}

func BenchmarkSummarize(b *testing.B) {
	n := envInt("ANZEN_BENCH_SEARCH_EVENTS", 200000)
	benchDBs(b, func(b *testing.B, d *db.DB) {
		l := readBenchLog(b, d, n)
		for _, s := range []struct {
			name string
			q    audit.EventQuery
		}{
			{"patient", audit.EventQuery{Facilities: []int64{1}, Patient: audittest.Event(n / 2).Patient.ID}},
			{"actor", audit.EventQuery{Facilities: []int64{1}, Actor: "u0042"}},
		} {
			b.Run(s.name, func(b *testing.B) {
				var events int
				for range b.N {
					sum, err := l.Summarize(context.Background(), s.q)
					if err != nil {
						b.Fatal(err)
					}
					events = sum.Accesses
				}
				b.ReportMetric(float64(events), "events")
			})
		}
	})
}

// BenchmarkSourceActivity reads the last 24 hours per source and hour, as
// the dashboard card and the sources page do (from the counts the index
// keeps, so the size of the log does not matter).
func BenchmarkSourceActivity(b *testing.B) {
	n := envInt("ANZEN_BENCH_SEARCH_EVENTS", 200000)
	benchDBs(b, func(b *testing.B, d *db.DB) {
		l := readBenchLog(b, d, n)
		end := audittest.Start.Add(time.Duration(n) * time.Second)
		b.ResetTimer()
		for range b.N {
			act, err := l.SourceActivity(context.Background(), true, nil, end.Add(-24*time.Hour), 25)
			if err != nil || len(act) == 0 {
				b.Fatal(act, err)
			}
		}
	})
}

// BenchmarkReadAfter is how a subscriber (detection) reads the log: all
// of 20,000 events in batches of 1,000, read and decoded. ns/event and
// allocs/op (per batch) are the figures to read.
func BenchmarkReadAfter(b *testing.B) {
	const n, batch = 20000, 1000
	benchDBs(b, func(b *testing.B, d *db.DB) {
		l := readBenchLog(b, d, n)
		ctx := context.Background()
		b.ReportAllocs()
		events := 0
		for b.Loop() {
			after := int64(-1)
			for {
				evs, err := l.ReadAfter(ctx, after, batch)
				if err != nil {
					b.Fatal(err)
				}
				if len(evs) == 0 {
					break
				}
				after, events = evs[len(evs)-1].Seq, events+len(evs)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	})
}
