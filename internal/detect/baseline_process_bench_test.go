package detect_test

import (
	"context"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// BenchmarkBaselines_Process reads the generated month of the baseline
// tests (about 700 events a day) through the baselines on SQLite, from
// the start: the days written with the cursor batch by batch, the
// baselines learned each day, the planted day's alerts raised. events/s
// is the figure to read; the in-memory part alone is BenchmarkBaselineCount.
func BenchmarkBaselines_Process(b *testing.B) {
	history, today := month()
	d := dbtest.SQLite(b, parts...)
	clk := clock.NewFrozen(day0.AddDate(0, 0, 30).Add(-time.Minute))
	l := audit.New(d, clk)
	ctx := context.Background()
	if _, err := l.Append(ctx, append(history, today...)); err != nil {
		b.Fatal(err)
	}
	n := len(history) + len(today)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for _, q := range []string{`DELETE FROM audit_cursors WHERE name = 'detect-baseline'`, `DELETE FROM detect_baseline_days`,
			`DELETE FROM detect_notifications`, `DELETE FROM detect_alerts`} {
			if _, err := d.ExecContext(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
		bl, err := detect.NewBaselines(d, l, detect.BaselineConfig{}, clk, discard, detect.WithPatientDepartments(fakeDepts{}))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for {
			k, err := bl.Process(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if k == 0 {
				break
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
