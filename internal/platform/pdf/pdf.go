// Package pdf renders anzen's printable pages (incident reports, the
// contact diagram, the BCP, compliance reports) as PDF with headless
// Chromium through chromedp, so that Japanese text is laid out and
// embedded as the browser does it, with the system's CJK fonts (Debian's
// fonts-noto-cjk), and stays searchable in the PDF's text layer.
//
// Each Render starts a fresh Chromium with a throwaway profile, loads the
// HTML from memory (no network: the pages inline their styles and
// images) and prints it on A4 unless the page's CSS @page says otherwise.
package pdf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// ErrNoChromium is returned when no Chromium binary can be found.
var ErrNoChromium = errors.New("no Chromium to render PDF: install Debian's chromium or set pdf.chromium")

// Renderer prints HTML as PDF with the Chromium at Exec.
type Renderer struct {
	Exec    string        // the Chromium binary
	Timeout time.Duration // for one document; 0: one minute
}

// Find returns a Renderer of the Chromium at path, or of chromium (or
// chromium-browser) on PATH when path is empty; ErrNoChromium when there
// is none.
func Find(path string) (*Renderer, error) {
	if path != "" {
		st, err := os.Stat(path)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("%w (%s is not an executable file)", ErrNoChromium, path)
		}
		return &Renderer{Exec: path}, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return &Renderer{Exec: p}, nil
		}
	}
	return nil, ErrNoChromium
}

// Render prints html, a whole document, as a PDF and returns its bytes.
func (r *Renderer) Render(ctx context.Context, html []byte) ([]byte, error) {
	if r == nil || r.Exec == "" {
		return nil, ErrNoChromium
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	profile, err := os.MkdirTemp("", "anzen-pdf-")
	if err != nil {
		return nil, fmt.Errorf("pdf: make a browser profile: %w", err)
	}
	defer os.RemoveAll(profile)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(r.Exec),
		chromedp.Headless,
		chromedp.NoSandbox, // Chromium refuses to run as root with its sandbox.
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
	)
	allocCtx, allocCancel := chromedp.NewExecAllocator(ctx, opts...)
	defer allocCancel()
	bctx, bcancel := chromedp.NewContext(allocCtx)
	defer bcancel()
	// The page is loaded from memory: nothing is fetched.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		return nil, fmt.Errorf("pdf: start Chromium (%s): %w", r.Exec, err)
	}
	var out []byte
	err = chromedp.Do(bctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		tree, err := cdp.Call(ctx, t, page.GetFrameTree, cdp.Empty{})
		if err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, t, page.SetDocumentContent, page.SetDocumentContentParams{
			FrameID: tree.FrameTree.Frame.ID, HTML: string(html)}); err != nil {
			return err
		}
		yes := true
		res, err := cdp.Call(ctx, t, page.PrintToPDF, page.PrintToPDFParams{PrintBackground: &yes,
			PreferCSSPageSize: &yes, PaperWidth: 8.27, PaperHeight: 11.69})
		out = res.Data
		return err
	}))
	if err != nil {
		return nil, fmt.Errorf("pdf: print with Chromium: %w", err)
	}
	return out, nil
}
