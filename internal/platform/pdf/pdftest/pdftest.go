// Package pdftest helps tests read the PDFs anzen makes: a Renderer of the
// test machine's Chromium, and the text layer and page count of a PDF by
// poppler's pdftotext and pdfinfo (Debian's poppler-utils), which see the
// document as a reader's PDF viewer does.
package pdftest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/pdf"
)

// Renderer returns a Renderer of ANZEN_TEST_CHROMIUM, or of chromium on
// PATH; it skips the test when there is none (fails it under
// ANZEN_TEST_STRICT=1).
func Renderer(t testing.TB) *pdf.Renderer {
	t.Helper()
	r, err := pdf.Find(os.Getenv("ANZEN_TEST_CHROMIUM"))
	if err != nil {
		dbtest.Missing(t, "Chromium for PDF rendering: "+err.Error())
	}
	return r
}

// tool returns the path of a poppler-utils program, or skips.
func tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		dbtest.Missing(t, name+" (install Debian's poppler-utils)")
	}
	return p
}

// write puts the PDF in a temporary file for poppler.
func write(t testing.TB, doc []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// Text returns the PDF's text layer as pdftotext reads it, in reading
// order (-layout off), UTF-8.
func Text(t testing.TB, doc []byte) string {
	t.Helper()
	out, err := exec.Command(tool(t, "pdftotext"), "-enc", "UTF-8", write(t, doc), "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

var pagesLine = regexp.MustCompile(`(?m)^Pages:\s+(\d+)`)

// Pages returns the PDF's page count as pdfinfo reads it.
func Pages(t testing.TB, doc []byte) int {
	t.Helper()
	out, err := exec.Command(tool(t, "pdfinfo"), write(t, doc)).Output()
	if err != nil {
		t.Fatalf("pdfinfo: %v", err)
	}
	m := pagesLine.FindSubmatch(out)
	if m == nil {
		t.Fatalf("pdfinfo says no page count:\n%s", bytes.TrimSpace(out))
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
