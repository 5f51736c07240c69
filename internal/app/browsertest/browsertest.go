// Package browsertest drives a headless Chromium (Debian's chromium) for
// end-to-end tests of anzen's pages with chromedp.
//
// Each test gets its own browser process with a fresh profile, so tests
// share no cookies and can run in parallel. The helpers stop the test at the
// first step that fails, with the selector and the page it was on, and leave
// a screenshot behind. Every step waits for what it needs (a selector, a new
// page) instead of sleeping, under a per-step and a per-test deadline.
//
// The browser is watched for faults that a page can hide from an HTTP test:
// Content-Security-Policy violations (an inline script or style that the
// policy blocks) and other security refusals (a script served with the
// wrong type), uncaught JavaScript exceptions, and an asset under /static/
// that did not load. Each fails the test when it ends. Every page reached through Wait is also checked for an
// untranslated message, which the i18n catalog renders as "[message.id]".
//
// Chromium is found through ANZEN_TEST_CHROMIUM or as chromium on PATH.
// Without it the test is skipped, or fails under ANZEN_TEST_STRICT=1.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// TestTimeout bounds everything one test does in its browser.
const TestTimeout = 60 * time.Second

// StepTimeout bounds one step (a navigation, a wait, a click), so that a
// missing element fails in seconds with its name rather than at the end of
// the test.
const StepTimeout = 20 * time.Second

// leftAttr marks the <html> of a page the test has just left by a click, so
// that Wait does not find its selector on the old page.
const leftAttr = "data-browsertest-left"

// untranslated matches what i18n renders for a message id missing from the
// catalog: the id in brackets, such as "[login.title]".
var untranslated = regexp.MustCompile(`\[[a-z][a-z0-9_]*(\.[a-z0-9_]+)+\]`)

// Chromium returns the path of the Chromium binary: ANZEN_TEST_CHROMIUM when
// set, else chromium (or chromium-browser) on PATH. It skips the test when
// there is none, or fails it under ANZEN_TEST_STRICT=1.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ANZEN_TEST_CHROMIUM"); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			dbtest.Missing(t, fmt.Sprintf("Chromium (ANZEN_TEST_CHROMIUM=%s is not an executable file)", p))
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	dbtest.Missing(t, "Chromium (install Debian's chromium or set ANZEN_TEST_CHROMIUM)")
	return ""
}

// Browser is one headless Chromium with one tab, owned by one test.
type Browser struct {
	t        testing.TB
	base     *url.URL
	ctx      context.Context // the tab; it has no deadline, steps add theirs
	deadline time.Time

	mu       sync.Mutex
	csp      []string // security refusals: Content-Security-Policy violations, blocked MIME types
	faults   []string // uncaught exceptions, assets under /static/ that did not load
	messages []string // other console and log errors, logged on failure
}

// Option changes how the browser is started.
type Option func(*options)

type options struct {
	acceptLang string
}

// AcceptLanguage sets the languages the browser asks for, most wanted
// first, such as "en-US,en" (Chromium's --accept-lang: no q-values; it
// adds them to the Accept-Language header itself). The default is "ja", as
// on the computers of a Japanese hospital.
func AcceptLanguage(langs string) Option { return func(o *options) { o.acceptLang = langs } }

// New starts Chromium for t with a fresh profile and opens a tab on
// baseURL (for example apptest's Env.URL). The browser is stopped when the
// test ends; a test that failed leaves a screenshot of the tab, and a
// security refusal, an uncaught exception or a missing asset fails the test.
func New(t testing.TB, baseURL string, opts ...Option) *Browser {
	t.Helper()
	o := options{acceptLang: "ja"}
	for _, f := range opts {
		f(&o)
	}
	exe := Chromium(t)
	base, err := url.Parse(baseURL)
	if err != nil {
		t.Fatalf("browsertest: base URL %q: %v", baseURL, err)
	}
	// TempDir first: its removal then runs after the browser has stopped.
	profile := t.TempDir()
	flags := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // Chromium refuses to run as root with its sandbox.
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("accept-lang", o.acceptLang),
	)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), flags...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &Browser{t: t, base: base, ctx: ctx, deadline: time.Now().Add(TestTimeout)}
	t.Cleanup(func() {
		b.finish()
		_ = chromedp.Cancel(ctx)
		cancel()
		allocCancel()
	})
	// The first action starts the browser; it must not carry a deadline,
	// which would end the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: start %s: %v", exe, err)
	}
	if err := chromedp.Listen(ctx, b.listen); err != nil {
		t.Fatalf("browsertest: listen: %v", err)
	}
	return b
}

// listen runs in chromedp's event loop: it only records.
func (b *Browser) listen(ev any) {
	var csp, fault, other string
	switch ev := ev.(type) {
	case *log.EventEntryAdded:
		e := ev.Entry
		if e == nil || e.Level != log.EntryLevelError {
			return
		}
		msg := fmt.Sprintf("%s (%s)", e.Text, e.URL)
		switch {
		case e.Source == log.EntrySourceSecurity || strings.Contains(e.Text, "Content Security Policy"):
			csp = msg
		case e.Source == log.EntrySourceNetwork && b.ownAsset(e.URL):
			fault = "asset did not load: " + msg
		default:
			other = string(e.Source) + ": " + msg
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		if other = "console.error: " + strings.Join(parts, " "); strings.Contains(other, "Content Security Policy") {
			csp, other = other, ""
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		if d == nil {
			return
		}
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		fault = fmt.Sprintf("uncaught JavaScript exception: %s at %s:%d", text, d.URL, d.LineNumber+1)
	default:
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case csp != "":
		b.csp = append(b.csp, csp)
	case fault != "":
		b.faults = append(b.faults, fault)
	case other != "":
		b.messages = append(b.messages, other)
	}
}

// ownAsset reports whether u is one of anzen's embedded assets.
func (b *Browser) ownAsset(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Host == b.base.Host && strings.HasPrefix(p.Path, "/static/")
}

// finish runs when the test ends: a failure for every security refusal
// and every fault, and a screenshot when the test failed.
func (b *Browser) finish() {
	b.mu.Lock()
	csp, faults, messages := b.csp, b.faults, b.messages
	b.mu.Unlock()
	for _, m := range csp {
		b.t.Errorf("browsertest: the browser refused for security (Content-Security-Policy or the like): %s", m)
	}
	for _, m := range faults {
		b.t.Errorf("browsertest: %s", m)
	}
	if !b.t.Failed() {
		return
	}
	for _, m := range messages {
		b.t.Logf("browsertest: browser said: %s", m)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	where, _ := chromedp.Run(ctx, chromedp.Location())
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("browsertest: no screenshot of %s: %v", where, err)
		return
	}
	// Not t.TempDir: that is removed when the test ends, and the picture is
	// for the person who reads the failure.
	dir, err := os.MkdirTemp("", "anzen-browsertest-")
	if err == nil {
		name := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name())+".png")
		if err = os.WriteFile(name, png, 0o644); err == nil {
			b.t.Logf("browsertest: screenshot of %s at failure: %s", where, name)
			return
		}
	}
	b.t.Logf("browsertest: could not save the screenshot: %v", err)
}

// Context returns a context for chromedp calls of the test's own (such as
// the WebAuthn domain), bounded by one step's deadline, and its cancel.
func (b *Browser) Context() (context.Context, context.CancelFunc) {
	d := time.Now().Add(StepTimeout)
	if b.deadline.Before(d) {
		d = b.deadline
	}
	return context.WithDeadline(b.ctx, d)
}

// do runs the steps under a step deadline and stops the test if one fails.
func (b *Browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.Context()
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browsertest: %s on %s: %v", what, b.location(), err)
	}
}

func run[T any](b *Browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := b.Context()
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browsertest: %s on %s: %v", what, b.location(), err)
	}
	return v
}

// location is the URL of the tab, for messages.
func (b *Browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "(unknown page)"
	}
	return u
}

// Open loads path (such as "/login") relative to the base URL, waits for
// the page to load and returns the HTTP status of the page it ended on
// (after redirects).
func (b *Browser) Open(path string) int {
	b.t.Helper()
	ref, err := url.Parse(path)
	if err != nil {
		b.t.Fatalf("browsertest: open %q: %v", path, err)
	}
	resp := run(b, "open "+path, chromedp.NavigateResponse(b.base.ResolveReference(ref).String()))
	if resp == nil {
		b.t.Fatalf("browsertest: open %s: no response", path)
	}
	return int(resp.Status)
}

// ClearCookies forgets every cookie of the browser, as a fresh browser
// would have none.
func (b *Browser) ClearCookies() {
	b.t.Helper()
	b.do("clear cookies", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
		return err
	}))
}

// Fill sets the value of the form field sel (a CSS selector) once it is
// visible.
func (b *Browser) Fill(sel, value string) {
	b.t.Helper()
	b.do("fill "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SetValue(chromedp.CSS(sel), value))
}

// Select chooses value in the <select> sel and sends the change event, as
// a person choosing with the mouse does.
func (b *Browser) Select(sel, value string) {
	b.t.Helper()
	s, _ := json.Marshal(sel)
	v, _ := json.Marshal(value)
	b.do("select "+value+" in "+sel, chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector(%s);
			if (![...s.options].some(o => o.value === %s)) throw new Error("no option " + %s);
			s.value = %s; s.dispatchEvent(new Event("change", {bubbles: true})); })()`, s, v, v, v)))
}

// Click clicks the element sel with the mouse once it is visible. Use it
// for what does not load a new page; Submit is for what does.
func (b *Browser) Click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// Submit clicks sel (a submit button or a link) and marks the current page
// as left, so that the next Wait looks only at the page that follows.
func (b *Browser) Submit(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	b.Leave()
	b.Click(sel)
}

// Leave marks the current page as left before an action that loads
// another one (such as a <select> that submits its form), so that the next
// Wait looks only at the page that follows.
func (b *Browser) Leave() {
	b.t.Helper()
	b.do("mark the page as left", chromedp.SetAttributeValue(chromedp.CSS("html"), leftAttr, "1"))
}

// Wait waits until sel is visible on a page that Submit has not left, then
// checks that page for untranslated messages.
func (b *Browser) Wait(sel string) {
	b.t.Helper()
	b.do("wait for "+sel, chromedp.WaitReady(chromedp.CSS("html:not(["+leftAttr+"])")),
		chromedp.WaitVisible(chromedp.CSS(sel)))
	b.CheckTranslated()
}

// WaitOrError is Wait for a page that a script loads (after Leave and a
// click), that stops the test at once with the message when errSel shows
// on the page that was left instead, as a script's error box does.
func (b *Browser) WaitOrError(sel, errSel string) {
	b.t.Helper()
	s, _ := json.Marshal(errSel)
	probe := fmt.Sprintf(`(() => { if (!document.documentElement.hasAttribute(%q)) return "loaded";
		const e = document.querySelector(%s);
		return e && !e.hidden && e.textContent.trim() ? "error: " + e.textContent.trim() : ""; })()`, leftAttr, s)
	ctx, cancel := b.Context()
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		// An evaluation fails while the next page replaces this one: try again.
		st, _ := chromedp.Run(ctx, chromedp.Evaluate[string](probe))
		if st == "loaded" {
			b.Wait(sel)
			return
		}
		if st != "" {
			b.t.Fatalf("browsertest: waiting for %s, %s showed %s on %s", sel, errSel, st, b.location())
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("browsertest: wait for %s on %s: %v", sel, b.location(), ctx.Err())
		case <-tick.C:
		}
	}
}

// Text returns the visible text of sel, trimmed, once it is visible.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	b.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	return strings.TrimSpace(run(b, "read "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// Count returns how many elements match sel now.
func (b *Browser) Count(sel string) int {
	b.t.Helper()
	s, _ := json.Marshal(sel)
	return run(b, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%s).length`, s)))
}

// Title returns the document's title.
func (b *Browser) Title() string {
	b.t.Helper()
	return run(b, "read the title", chromedp.Title())
}

// Path returns the path of the page in the tab, such as "/login".
func (b *Browser) Path() string {
	b.t.Helper()
	loc := run(b, "read the location", chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatalf("browsertest: location %q: %v", loc, err)
	}
	return u.Path
}

// Attr returns the attribute name of the first element sel, or "" when it
// has none.
func (b *Browser) Attr(sel, name string) string {
	b.t.Helper()
	s, _ := json.Marshal(sel)
	n, _ := json.Marshal(name)
	return run(b, "read "+name+" of "+sel, chromedp.Evaluate[string](
		fmt.Sprintf(`document.querySelector(%s)?.getAttribute(%s) ?? ""`, s, n)))
}

// Links returns the href attribute of every link on the page, as written.
func (b *Browser) Links() []string {
	b.t.Helper()
	return run(b, "read the links", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("a[href]")].map(a => a.getAttribute("href"))`))
}

// HTML returns the whole document as HTML.
func (b *Browser) HTML() string {
	b.t.Helper()
	return run(b, "read the page", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
}

// CheckTranslated fails the test when the page shows a message id that
// the catalog did not translate.
func (b *Browser) CheckTranslated() {
	b.t.Helper()
	if m := untranslated.FindAllString(b.HTML(), 5); len(m) > 0 {
		b.t.Errorf("browsertest: %s shows untranslated messages %v", b.location(), m)
	}
}

// AddVirtualAuthenticator turns on Chrome's virtual WebAuthn environment
// for the tab and adds an authenticator that acts as a passkey store built
// into the device: CTAP2 over the internal transport, resident keys, user
// verification that succeeds, and presence confirmed without a touch. It
// returns the authenticator's id.
func (b *Browser) AddVirtualAuthenticator() webauthn.AuthenticatorID {
	b.t.Helper()
	off := false
	var id webauthn.AuthenticatorID
	b.do("add a virtual authenticator", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, webauthn.Enable, webauthn.EnableParams{EnableUI: &off}); err != nil {
			return err
		}
		res, err := cdp.Call(ctx, t, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol:                    webauthn.AuthenticatorProtocolCtap2,
				Transport:                   webauthn.AuthenticatorTransportInternal,
				HasResidentKey:              true,
				HasUserVerification:         true,
				IsUserVerified:              true,
				AutomaticPresenceSimulation: true,
			}})
		id = res.AuthenticatorID
		return err
	}))
	return id
}

// Credentials returns the credentials the virtual authenticator id holds.
func (b *Browser) Credentials(id webauthn.AuthenticatorID) []*webauthn.Credential {
	b.t.Helper()
	var out []*webauthn.Credential
	b.do("read the authenticator's credentials", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		res, err := cdp.Call(ctx, t, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
		out = res.Credentials
		return err
	}))
	return out
}

// TakeCSPViolations returns the security refusals (Content-Security-Policy
// violations and the like) seen so far and forgets them, for a test that
// checks them page by page or provokes one on purpose.
func (b *Browser) TakeCSPViolations() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.csp
	b.csp = nil
	return v
}

// Download clicks sel (a link or a button that downloads a file) and
// returns the file's name and bytes once Chromium has saved it.
func (b *Browser) Download(sel string) (string, []byte) {
	b.t.Helper()
	dir := b.t.TempDir()
	b.do("allow downloads", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
		return err
	}))
	b.Click(sel)
	deadline := time.Now().Add(StepTimeout)
	for time.Now().Before(deadline) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			b.t.Fatalf("browsertest: read the download folder: %v", err)
		}
		for _, e := range entries {
			// Chromium writes into name.crdownload and renames it when done.
			if e.IsDir() || strings.HasSuffix(e.Name(), ".crdownload") {
				continue
			}
			body, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				b.t.Fatalf("browsertest: read the downloaded file: %v", err)
			}
			return e.Name(), body
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("browsertest: clicking %s on %s downloaded nothing within %s", sel, b.location(), StepTimeout)
	return "", nil
}
