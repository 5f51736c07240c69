package incident

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// The dashboard's incident card reads every incident's duties on each
// load (OverdueDuties), and the reminders do each minute: these measure
// that over a hospital's years of incidents (docs/benchmarks.md).

func benchIncidents(b *testing.B, d *db.DB, n int) {
	ctx := context.Background()
	clk := clock.NewFrozen(start)
	log := audit.New(d, clk)
	saved := playbookTasks
	b.Cleanup(func() { playbookTasks = saved })
	playbookTasks = func(context.Context, db.Querier, int64, Kind) ([]TaskTemplate, error) { return nil, nil }
	for k := range n {
		ni := NewIncident{Facility: 1, Kind: Kinds[k%len(Kinds)], Title: fmt.Sprintf("incident %d", k),
			AwareAt: start.Add(-time.Duration(k) * time.Hour)}
		if k%3 == 0 { // a third owe the PPC
			ni.Leak, ni.MedicalData, ni.People = LeakPossible, true, int64(k)
		}
		if k%5 == 0 {
			ni.Cyberattack, ni.CareImpact = true, true
		}
		if _, err := Create(ctx, d, log, fac1, csirt, ni, start); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOverdueDuties(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		for _, n := range []int{100, 1000} {
			b.Run(fmt.Sprintf("%s/%d-incidents", dialect, n), func(b *testing.B) {
				var d *db.DB
				if dialect == "sqlite" {
					d = dbtest.SQLite(b, parts...)
				} else {
					d = dbtest.Postgres(b, parts...)
				}
				benchIncidents(b, d, n)
				ctx := context.Background()
				b.ResetTimer()
				for b.Loop() {
					if _, err := OverdueDuties(ctx, d, Scope{All: true}, start.Add(48*time.Hour)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDuties(b *testing.B) {
	i := Incident{Kind: Ransomware, Cyberattack: true, CareImpact: true, Leak: LeakPossible, MedicalData: true,
		Malicious: true, Crime: true, AwareAt: start}
	for b.Loop() {
		if len(Duties(i)) != 6 {
			b.Fatal("duties")
		}
	}
}
