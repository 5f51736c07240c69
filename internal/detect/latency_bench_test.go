package detect_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// BenchmarkAlertLatency ingests 10,000 events a second (batches of 100
// every 10 ms, durable appends) for 10 seconds while the engine runs
// with 100 rules and the medical pack, one break-glass access in each
// batch, and reports how long after its append each break-glass alert was
// written: p50 and p99 (ms), over the 1,000 alerts.
func BenchmarkAlertLatency(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			d := benchDB(b, dialect)
			files := benchRules(b)
			for b.Loop() {
				p50, p99 := alertLatency(b, d, files)
				b.ReportMetric(p50, "p50-ms")
				b.ReportMetric(p99, "p99-ms")
			}
		})
	}
}

func alertLatency(b *testing.B, d *db.DB, files detect.RuleFiles) (p50, p99 float64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := audit.New(d, clock.Real{})
	en, err := detect.NewEngine(d, l, files, clock.Real{}, discard)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { en.Run(ctx, time.Second) })
	const batches = 1000
	appended := map[string]time.Time{} // patient of the break-glass access → when its append returned
	tick := time.NewTicker(10 * time.Millisecond)
	for i := range batches {
		<-tick.C
		events := audittest.Events(i*100, 100)
		now := time.Now().UTC()
		patient := fmt.Sprintf("BG-%d-%d", b.N, i)
		for j := range events {
			events[j].Time, events[j].Received = now, now
		}
		// A user of its own, so that no alert groups with another.
		events[50].Action, events[50].Patient.ID, events[50].Actor.ID = "emergency_access", patient, patient
		if _, err := l.Append(ctx, events); err != nil {
			b.Fatal(err)
		}
		appended[patient] = time.Now().UTC()
	}
	tick.Stop()
	// Wait for the engine to reach the end of the log.
	size, _ := l.Size(ctx)
	for deadline := time.Now().Add(time.Minute); ; {
		cur, err := l.Cursor(ctx, nil, "detect")
		if err != nil {
			b.Fatal(err)
		}
		if cur >= size-1 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the engine is at %d of %d after a minute", cur, size)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	// The alerts' created times against the appends, by their events'
	// patients.
	rows, err := d.QueryContext(context.Background(), `SELECT a.created, a.first_seq FROM detect_alerts a
		WHERE a.rule_id = '5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a02' AND a.first_seq >= ?`, size-batches*100)
	if err != nil {
		b.Fatal(err)
	}
	type alert struct{ created, seq int64 }
	var alerts []alert
	for rows.Next() {
		var a alert
		if err := rows.Scan(&a.created, &a.seq); err != nil {
			b.Fatal(err)
		}
		alerts = append(alerts, a)
	}
	rows.Close()
	var lat []float64
	for _, a := range alerts {
		evs, err := l.ReadAfter(context.Background(), a.seq-1, 1)
		if err != nil || len(evs) != 1 {
			b.Fatal(err)
		}
		at, ok := appended[evs[0].Patient.ID]
		if !ok {
			continue
		}
		lat = append(lat, float64(time.UnixMilli(a.created).Sub(at).Microseconds())/1000)
	}
	if len(lat) != batches {
		b.Fatalf("%d break-glass alerts, want %d", len(lat), batches)
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100]
}
