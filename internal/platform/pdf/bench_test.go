package pdf_test

import (
	"context"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/pdf/pdftest"
)

// BenchmarkRender measures one A4 page of Japanese text printed by a
// fresh Chromium, as a report or the contact diagram is
// (docs/benchmarks.md): most of it is starting the browser.
func BenchmarkRender(b *testing.B) {
	r := pdftest.Renderer(b)
	html := []byte(`<!doctype html><html lang="ja"><meta charset="utf-8"><style>@page{size:A4;margin:15mm}</style><h1>個人データの漏えい等に関する報告（速報）</h1>` +
		strings.Repeat("<p>医療情報システム安全管理責任者が、発生の原因と再発防止のための措置を記載します。</p>", 40) + `</html>`)
	for b.Loop() {
		if _, err := r.Render(context.Background(), html); err != nil {
			b.Fatal(err)
		}
	}
}
