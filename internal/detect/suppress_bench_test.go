package detect

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// noRecord is a selfaudit.Recorder that keeps nothing.
type noRecord struct{}

func (noRecord) Record(context.Context, db.Querier, selfaudit.Event) error { return nil }

// BenchmarkSuppressed is what suppressions add to writing alerts: a
// batch of 100 alerts, the generation read once and each alert matched
// against 100 suppressions in force, none of which covers it (the common
// case), inside the batch's transaction.
func BenchmarkSuppressed(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			parts := []db.Migrations{audit.Migrations(), Migrations()}
			var d *db.DB
			if dialect == "sqlite" {
				d = dbtest.SQLite(b, parts...)
			} else {
				d = dbtest.Postgres(b, parts...)
			}
			ctx := context.Background()
			now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
			for i := range 100 {
				if _, err := CreateSuppression(ctx, d, noRecord{}, AlertQuery{AllFacilities: true}, Reviewer{Login: "b"},
					NewSuppression{Facility: 1, RuleID: fmt.Sprintf("rule-%d", i%10), Reason: "bench", Ends: now.Add(time.Hour),
						Conditions: []Condition{{Field: "user", Value: fmt.Sprintf("u-%d", i)}}}, now); err != nil {
					b.Fatal(err)
				}
			}
			en := &Engine{clock: clock.NewFrozen(now), logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			ev := &audit.Event{Seq: 1, Facility: 1, Actor: audit.Actor{ID: "someone", Address: "10.0.0.1"}}
			batch := make([]Alert, 100)
			err := d.InTx(ctx, func(tx *db.Tx) error {
				for b.Loop() {
					for i := range batch {
						batch[i] = Alert{Facility: 1, RuleID: "rule-3", Level: sigma.LevelHigh, LastSeq: 1,
							Group: []sigma.GroupValue{{Field: "user", Value: "someone"}}, event: ev}
					}
					kept, err := en.withoutSuppressed(ctx, tx, batch, now)
					if err != nil || len(kept) != len(batch) {
						return fmt.Errorf("kept %d: %v", len(kept), err)
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/alert")
		})
	}
}
