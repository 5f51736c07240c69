package app_test

import (
	"context"
	"io"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/compliance"
)

// BenchmarkCompliance measures the compliance part on the demo hospital
// (the built-in catalogs and controls, every part's real checks, the
// demo's evidence and answers, SQLite): running every check once for a
// facility, computing its state (what every page and report starts from),
// and writing each document an inspector or management is handed, except
// the PDFs (Chromium's time, not anzen's).
func BenchmarkCompliance(b *testing.B) {
	e := apptest.New(b, "sqlite")
	ctx := context.Background()
	if err := e.App.LoadDemo(ctx, io.Discard); err != nil {
		b.Fatal(err)
	}
	svc := e.App.Compliance
	actor := compliance.Actor{Login: "bench", Client: "local"}
	b.Run("run-checks", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.RunChecks(ctx, actor, e.Facility); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(svc.Checks())), "checks/op")
	})
	b.Run("state", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.State(ctx, e.Facility); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, doc := range []string{compliance.ReportChecklistXLSX, compliance.ReportInspectionXLSX,
		compliance.ReportInspectionHTML, compliance.ReportManagementXLSX, compliance.ReportOSCALCatalog,
		compliance.ReportOSCALResults} {
		b.Run("export/"+doc, func(b *testing.B) {
			var size int
			for b.Loop() {
				f, err := compliance.MakeReport(ctx, svc, compliance.ReportRequest{Facility: e.Facility, Doc: doc})
				if err != nil {
					b.Fatal(err)
				}
				size = len(f.Body)
			}
			b.ReportMetric(float64(size), "bytes")
		})
	}
}
