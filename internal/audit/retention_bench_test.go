package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// BenchmarkArchive archives one segment (65,536 events of about 300 bytes
// of original record each): reading and checking the rows, writing and
// syncing the gzip file, reading it back, checking it against the tree and
// the checkpoint, and deleting the rows. It reports events/s and the
// compressed bytes per event.
//
//	go test -run '^$' -bench Archive -benchtime 1x ./internal/audit/
func BenchmarkArchive(b *testing.B) {
	benchDBs(b, func(b *testing.B, d *db.DB) {
		ctx := context.Background()
		k := newKeptLog(b, d, int(audit.SegmentSize+10))
		k.at(time.Duration(audit.SegmentSize+100) * time.Second)
		b.ResetTimer()
		res, err := k.Archive(ctx, audit.ArchiveOptions{})
		b.StopTimer()
		if err != nil || len(res.Segments) != 1 {
			b.Fatalf("archive: %+v, %v", res, err)
		}
		b.ReportMetric(float64(audit.SegmentSize)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(0, "ns/op")
	})
}
