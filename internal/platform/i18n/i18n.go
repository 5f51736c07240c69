// Package i18n holds the messages anzen shows people, in Japanese and
// English, and picks the language of each request.
//
// Every part ships its own catalog files (locales/*.ja.toml and
// locales/*.en.toml, go-i18n's format) and adds them with Add. Japanese is
// the first language; a key present in one language and missing in the
// other is a test failure (see Missing), never a blank on a page.
package i18n

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Languages anzen speaks, first the default.
var Languages = []string{"ja", "en"}

// Catalog is the set of messages of every part.
type Catalog struct {
	mu         sync.RWMutex
	bundle     *goi18n.Bundle
	keys       map[string]map[string]bool // lang -> ids
	localizers map[string]*goi18n.Localizer
	plain      map[string]map[string]string // lang -> id -> text without template actions
}

// New returns an empty catalog.
func New() *Catalog {
	b := goi18n.NewBundle(language.Japanese)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	c := &Catalog{bundle: b, keys: map[string]map[string]bool{}, localizers: map[string]*goi18n.Localizer{},
		plain: map[string]map[string]string{}}
	for _, l := range Languages {
		c.keys[l] = map[string]bool{}
		c.plain[l] = map[string]string{}
		c.localizers[l] = goi18n.NewLocalizer(b, l)
	}
	return c
}

// Add loads every *.ja.toml and *.en.toml file at the root of fsys.
func (c *Catalog) Add(fsys fs.FS) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fmt.Errorf("read locales: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || path.Ext(name) != ".toml" {
			continue
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		mf, err := c.bundle.ParseMessageFileBytes(b, name)
		if err != nil {
			return fmt.Errorf("locale file %s: %w", name, err)
		}
		lang := mf.Tag.String()
		if _, ok := c.keys[lang]; !ok {
			return fmt.Errorf("locale file %s: language %q is not one of %v", name, lang, Languages)
		}
		for _, m := range mf.Messages {
			if c.keys[lang][m.ID] {
				return fmt.Errorf("locale file %s: message %q defined twice", name, m.ID)
			}
			c.keys[lang][m.ID] = true
			if !strings.Contains(m.Other, "{{") {
				c.plain[lang][m.ID] = m.Other
			}
		}
	}
	return nil
}

// T returns message id in lang, filled with data (a map or struct for the
// message's {{.Name}} actions). An unknown id is returned in brackets so
// that it shows, and the catalog test catches it.
func (c *Catalog) T(lang, id string, data any) string {
	// The read lock covers Localize too: it reads the bundle, which Add
	// writes.
	c.mu.RLock()
	defer c.mu.RUnlock()
	if data == nil {
		if s, ok := c.plain[lang][id]; ok {
			return s
		}
	}
	l, ok := c.localizers[lang]
	if !ok {
		l = c.localizers[Languages[0]]
	}
	s, err := l.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data})
	if err != nil {
		return "[" + id + "]"
	}
	return s
}

// Has reports whether id exists in lang.
func (c *Catalog) Has(lang, id string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.keys[lang][id]
}

// Missing lists "lang: id" for every id defined in one language but not in
// another.
func (c *Catalog) Missing() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []string
	for _, l := range Languages {
		for id := range c.keys[l] {
			for _, other := range Languages {
				if !c.keys[other][id] {
					out = append(out, other+": "+id)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// IDs lists every message id of the first language, sorted.
func (c *Catalog) IDs() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.keys[Languages[0]]))
	for id := range c.keys[Languages[0]] {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Supported reports whether lang is one of Languages.
func Supported(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

var matcher = language.NewMatcher([]language.Tag{language.Japanese, language.English})

// Negotiate picks the language of a request: the person's own choice if
// set, else the best match of the Accept-Language header, else fallback.
func Negotiate(choice, acceptLanguage, fallback string) string {
	if Supported(choice) {
		return choice
	}
	if acceptLanguage != "" {
		tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
		if err == nil && len(tags) > 0 {
			_, idx, conf := matcher.Match(tags...)
			if conf != language.No {
				return Languages[idx]
			}
		}
	}
	if Supported(fallback) {
		return fallback
	}
	return Languages[0]
}
