package app_test

import (
	"net/url"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/app/browsertest"
)

// maxPagesPerLanguage bounds the walk, so that a page with endless links
// (paging, filters) cannot make the test run long.
const maxPagesPerLanguage = 60

// maxPagesPerParent is how many linked pages under one path (/users/1,
// /users/2, ...; /audit/events/0, /audit/events/1, ...) the walk visits,
// so that a long list does not use up the walk before other pages.
const maxPagesPerParent = 3

// pageRoutes returns the paths of the GET routes that render a page and
// need no value in their path.
func pageRoutes(e *apptest.Env) []string {
	var out []string
	for _, rt := range e.Web.Routes() {
		p := rt.Pattern
		switch {
		case rt.Method != "GET", rt.API(), !crawlable(p):
		case p == "/{$}":
			out = append(out, "/")
		case !strings.Contains(p, "{"):
			out = append(out, p)
		}
	}
	return out
}

// crawlable reports whether a path leads to a page of anzen's own worth
// visiting: not an asset, an export, a probe, or the sign-in steps (which
// the sign-in itself goes through).
func crawlable(p string) bool {
	for _, prefix := range []string{"/static/", "/api/", "/login", "/logout", "/healthz", "/metrics"} {
		if strings.HasPrefix(p, prefix) {
			return false
		}
	}
	// Printable documents (whole HTML documents with their own print style),
	// PDFs and exports are not pages of the site: their own tests check them.
	if strings.HasSuffix(p, "/print") || strings.Contains(p, "/print/") {
		return false
	}
	for _, export := range []string{".csv", ".json", ".pdf", ".yaml", ".xlsx"} {
		if strings.HasSuffix(p, export) {
			return false
		}
	}
	return true
}

// visitAll opens each path and every same-site link found on the pages,
// breadth first, and checks each page: it answers below 400, names lang on
// <html>, shows no untranslated message (Wait checks that) and breaks no
// Content-Security-Policy rule. Links are followed by path, without their
// query. It returns the paths visited.
func visitAll(t *testing.T, b *browsertest.Browser, start []string, lang string) []string {
	t.Helper()
	seen := map[string]bool{}
	perParent := map[string]int{}
	queue := append([]string(nil), start...)
	var visited []string
	for _, p := range start {
		seen[p] = true
	}
	for len(queue) > 0 && len(visited) < maxPagesPerLanguage {
		p := queue[0]
		queue = queue[1:]
		visited = append(visited, p)
		if st := b.Open(p); st >= 400 {
			t.Errorf("%s (%s) answered %d", p, lang, st)
			continue
		}
		b.Wait("main")
		if got := b.Attr("html", "lang"); got != lang {
			t.Errorf("%s: <html lang=%q>, want %q", p, got, lang)
		}
		for _, v := range b.TakeCSPViolations() {
			t.Errorf("%s (%s): %s", p, lang, v)
		}
		for _, href := range b.Links() {
			u, err := url.Parse(href)
			if err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(u.Path, "/") || !crawlable(u.Path) {
				continue
			}
			if parent := path.Dir(u.Path); !seen[u.Path] && perParent[parent] < maxPagesPerParent {
				seen[u.Path] = true
				perParent[parent]++
				queue = append(queue, u.Path)
			}
		}
	}
	return visited
}

// TestBrowser_EveryPageIsTranslatedAndKeepsToTheCSP signs the first
// administrator in from an English browser through the English sign-in
// steps, then walks every page
// reachable from the routes and their links, in English and in Japanese.
// Each page must answer, name its language, show no untranslated message
// id, and break no Content-Security-Policy rule (no inline script or style).
func TestBrowser_EveryPageIsTranslatedAndKeepsToTheCSP(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := apptest.New(t, d)
			e.CreateUser(t, "nurse01", true)
			e.AccessEvents(t, 30) // the access-log pages list, show and summarise them
			// A browser set to English gets English before anyone signs in.
			b := browsertest.New(t, e.URL, browsertest.AcceptLanguage("en-US,en"))
			b.Open("/login")
			b.Wait("#login-form")
			if got := b.Attr("html", "lang"); got != "en" {
				t.Errorf("an English browser gets <html lang=%q> on /login, want en", got)
			}
			firstAdminLogin(t, e, b, "en")

			start := pageRoutes(e)
			sort.Strings(start)
			en := visitAll(t, b, start, "en")

			b.Open("/")
			b.Wait("#lang-select")
			b.Leave()
			b.Select("#lang-select", "ja")
			b.Wait("main h1")
			ja := visitAll(t, b, start, "ja")
			if len(en) < 3 || len(ja) < 3 {
				t.Errorf("visited only %v in English and %v in Japanese", en, ja)
			}
			t.Logf("pages checked: %v", ja)

			for _, lang := range []string{"ja", "en"} {
				if lang == "en" {
					b.Leave()
					b.Select("#lang-select", "en")
					b.Wait("main")
				}
				if st := b.Open("/no-such-page"); st != 404 {
					t.Errorf("/no-such-page answered %d, want 404", st)
				}
				b.Wait("main")
				for _, v := range b.TakeCSPViolations() {
					t.Errorf("404 page (%s): %s", lang, v)
				}
			}
		})
	}
}
