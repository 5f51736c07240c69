package detect_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/detect/sigma/sigmatest"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// BenchmarkEngine is the analysis inside the server: 100 rules and the
// medical pack over 100,000 events of the audit log, read by cursor, with
// the alerts, the correlation state and the cursor written per batch of
// 1,000. events/s is the figure to read (-cpu 1 for one core), and
// cpu-µs/event on a busy machine.
func BenchmarkEngine(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			d := benchDB(b, dialect)
			ctx := context.Background()
			l := audit.New(d, clock.NewFrozen(audittest.Start.Add(time.Hour)))
			const n = 100000
			for i := 0; i < n; i += 10000 {
				if _, err := l.Append(ctx, audittest.Events(i, 10000)); err != nil {
					b.Fatal(err)
				}
			}
			files := benchRules(b)
			events := 0
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				if _, err := d.ExecContext(ctx, `DELETE FROM audit_cursors WHERE name = 'detect'`); err != nil {
					b.Fatal(err)
				}
				if _, err := d.ExecContext(ctx, `DELETE FROM detect_state`); err != nil {
					b.Fatal(err)
				}
				en, err := detect.NewEngine(d, l, files, clock.NewFrozen(audittest.Start), discard)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				cpu -= cpuTime()
				for {
					k, err := en.Process(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if k == 0 {
						break
					}
					events += k
				}
				cpu += cpuTime()
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			// The process's CPU time (the database server's not included on
			// PostgreSQL): less disturbed than events/s by other work on the
			// machine.
			b.ReportMetric(float64(cpu.Microseconds())/float64(events), "cpu-µs/event")
		})
	}
}

// benchDB returns a fresh database of dialect with the parts' tables.
func benchDB(b *testing.B, dialect string) *db.DB {
	if dialect == "sqlite" {
		return dbtest.SQLite(b, parts...)
	}
	return dbtest.Postgres(b, parts...)
}

// benchRules loads sigmatest's 100 rules and the medical pack.
func benchRules(b *testing.B) detect.RuleFiles {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bench.yml"), sigmatest.Rules(), 0o644); err != nil {
		b.Fatal(err)
	}
	files, err := detect.LoadRuleFiles([]string{dir, "builtin:medical"})
	if err != nil || len(files.Rules()) < 100 {
		b.Fatalf("%d rules: %v", len(files.Rules()), err)
	}
	return files
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
