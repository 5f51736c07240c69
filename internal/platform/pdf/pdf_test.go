package pdf_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/pdf"
	"github.com/anzen-health/anzen/internal/platform/pdf/pdftest"
)

func TestRenderKeepsJapaneseText(t *testing.T) {
	r := pdftest.Renderer(t)
	html := `<!doctype html><html lang="ja"><meta charset="utf-8"><style>@page{size:A4;margin:15mm}</style>
<h1>連絡体制図</h1><p>医療情報システム安全管理責任者：半田 太郎（内線 1234）</p></html>`
	out, err := r.Render(context.Background(), []byte(html))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", out[:min(len(out), 16)])
	}
	text := pdftest.Text(t, out)
	for _, want := range []string{"連絡体制図", "医療情報システム安全管理責任者", "半田 太郎"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text layer lacks %q:\n%s", want, text)
		}
	}
	if n := pdftest.Pages(t, out); n != 1 {
		t.Errorf("%d pages, want 1", n)
	}
}

func TestFindRefusesWhatIsNotAProgram(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "chromium")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{f, dir, filepath.Join(dir, "none")} {
		if _, err := pdf.Find(p); err == nil {
			t.Errorf("Find(%s) accepted it", p)
		}
	}
	if _, err := exec.LookPath("chromium"); err == nil {
		if _, err := pdf.Find(""); err != nil {
			t.Errorf("Find(\"\") with chromium on PATH: %v", err)
		}
	}
}
