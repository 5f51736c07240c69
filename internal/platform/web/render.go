package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/i18n"
)

//go:embed templates/*.html
var layoutFS embed.FS

//go:embed pages/*.html
var pagesFS embed.FS

//go:embed static
var staticFS embed.FS

//go:embed locales/*.toml
var localesFS embed.FS

// Locales returns the catalog files of the shared web shell.
func Locales() fs.FS {
	sub, _ := fs.Sub(localesFS, "locales")
	return sub
}

// NavItem is one entry of the navigation; it shows only to those who may
// open its path.
type NavItem struct {
	Path    string
	LabelID string
	Access  Access
	Order   int
}

// AddNav adds entries to the navigation.
func (s *Server) AddNav(items ...NavItem) {
	s.nav = append(s.nav, items...)
	sort.SliceStable(s.nav, func(i, j int) bool { return s.nav[i].Order < s.nav[j].Order })
}

type pages struct {
	s    *Server
	mu   sync.RWMutex
	set  map[string]*template.Template
	base *template.Template
}

var funcs = template.FuncMap{
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
	"dict": func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
}

func newPages(s *Server) *pages {
	base := template.Must(template.New("").Funcs(funcs).ParseFS(layoutFS, "templates/*.html"))
	p := &pages{s: s, set: map[string]*template.Template{}, base: base}
	return p
}

// AddPages parses every *.html file at the root of fsys as a page named
// part/name (without .html). A page defines "title" and "content"; files
// whose name starts with an underscore are partials shared by the part's
// pages.
func (s *Server) AddPages(part string, fsys fs.FS) error {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return err
	}
	var partials []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "_") && path.Ext(e.Name()) == ".html" {
			partials = append(partials, e.Name())
		}
	}
	s.pages.mu.Lock()
	defer s.pages.mu.Unlock()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || path.Ext(name) != ".html" || strings.HasPrefix(name, "_") {
			continue
		}
		t := template.Must(s.pages.base.Clone())
		files := append([]string{name}, partials...)
		if _, err := t.ParseFS(fsys, files...); err != nil {
			return fmt.Errorf("page %s/%s: %w", part, name, err)
		}
		s.pages.set[part+"/"+strings.TrimSuffix(name, ".html")] = t
	}
	return nil
}

// View is what a page template sees as its dot.
type View struct {
	Lang      string
	Principal *authz.Principal
	Nav       []NavItem
	Path      string
	Flash     string
	Data      any
	Languages []string
	srv       *Server
}

// T translates a message id; args are name/value pairs for the message.
func (v *View) T(id string, args ...any) string {
	if len(args) == 0 {
		return v.srv.opt.Catalog.T(v.Lang, id, nil)
	}
	data := make(map[string]any, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		data[fmt.Sprint(args[i])] = args[i+1]
	}
	return v.srv.opt.Catalog.T(v.Lang, id, data)
}

// Time formats t to the second in the configured time zone; the zero
// time shows as "—".
func (v *View) Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(v.srv.opt.Location).Format("2006-01-02 15:04:05")
}

// Date formats t as a date in the configured time zone.
func (v *View) Date(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(v.srv.opt.Location).Format("2006-01-02")
}

// Can reports whether the viewer holds permission p.
func (v *View) Can(p string) bool { return v.Principal.Can(authz.Permission(p)) }

// Lang returns the language of the request: the person's own choice, the
// language cookie, the Accept-Language header, then the default.
func (s *Server) Lang(r *http.Request) string {
	choice := ""
	if p := PrincipalOf(r); p != nil && p.Lang != "" {
		choice = p.Lang
	} else if c, err := r.Cookie(LangCookie); err == nil {
		choice = c.Value
	}
	return i18n.Negotiate(choice, r.Header.Get("Accept-Language"), s.opt.DefaultLang)
}

// LangCookie remembers the language chosen before signing in.
const LangCookie = "anzen_lang"

// T translates msgID for the request's language.
func (s *Server) T(r *http.Request, msgID string, data any) string {
	return s.opt.Catalog.T(s.Lang(r), msgID, data)
}

const flashCookie = "anzen_flash"

// Flash stores a message id to show on the next page rendered.
func (s *Server) Flash(w http.ResponseWriter, msgID string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: msgID, Path: "/", HttpOnly: true,
		Secure: s.opt.TLS, SameSite: http.SameSiteStrictMode, MaxAge: 60})
}

// Render writes page (part/name) with data inside the layout.
func (s *Server) Render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	s.pages.mu.RLock()
	t, ok := s.pages.set[page]
	s.pages.mu.RUnlock()
	if !ok {
		s.opt.Log.Error("unknown page", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v := s.view(w, r, data)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.opt.Log.Error("render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) view(w http.ResponseWriter, r *http.Request, data any) *View {
	v := &View{Lang: s.Lang(r), Principal: PrincipalOf(r), Path: r.URL.Path, Data: data, srv: s,
		Languages: i18n.Languages}
	if c, err := r.Cookie(flashCookie); err == nil {
		if s.opt.Catalog.Has(v.Lang, c.Value) {
			v.Flash = s.opt.Catalog.T(v.Lang, c.Value, nil)
		}
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1})
	}
	if v.Principal != nil && v.Principal.TokenID == 0 {
		for _, n := range s.nav {
			perm, isPerm := n.Access.Permission()
			if !isPerm || v.Principal.Can(perm) {
				v.Nav = append(v.Nav, n)
			}
		}
	}
	return v
}

// ErrorPage shows a translated error message with the given status.
func (s *Server) ErrorPage(w http.ResponseWriter, r *http.Request, status int, msgID string) {
	s.Render(w, r, status, "web/error", map[string]any{"Status": status, "Message": msgID})
}

// mountStatic serves the shell's assets under /static/.
func (s *Server) mountStatic() {
	sub, _ := fs.Sub(staticFS, "static")
	s.AddStatic("app", sub)
}

// AddStatic serves the files of fsys under /static/<name>/.
func (s *Server) AddStatic(name string, fsys fs.FS) {
	fileServer := http.StripPrefix("/static/"+name+"/", http.FileServerFS(fsys))
	s.Handle("GET", "/static/"+name+"/", Public, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	})
}
