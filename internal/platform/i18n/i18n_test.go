package i18n_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/web"
)

func TestNegotiate_ChoiceThenHeaderThenFallback(t *testing.T) {
	tests := []struct {
		name                     string
		choice, accept, fallback string
		want                     string
	}{
		{"own choice wins over the header", "en", "ja-JP,ja;q=0.9", "ja", "en"},
		{"own choice ja", "ja", "en-US", "en", "ja"},
		{"unsupported choice falls to the header", "fr", "en-GB", "ja", "en"},
		{"header with region", "", "en-US,en;q=0.9", "ja", "en"},
		{"japanese header", "", "ja-JP", "en", "ja"},
		{"first supported language of the header", "", "fr-FR,fr;q=0.9,en;q=0.5", "ja", "en"},
		{"quality order, not written order", "", "en;q=0.3,ja;q=0.8", "en", "ja"},
		{"no supported language: fallback", "", "fr-FR,de;q=0.8", "en", "en"},
		{"empty header: fallback", "", "", "en", "en"},
		{"malformed header: fallback", "", ";;;=q,", "en", "en"},
		{"unsupported fallback: japanese", "", "", "fr", "ja"},
		{"nothing at all: japanese", "", "", "", "ja"},
		{"case of the choice matters", "EN", "", "ja", "ja"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := i18n.Negotiate(tt.choice, tt.accept, tt.fallback); got != tt.want {
				t.Errorf("Negotiate(%q, %q, %q) = %q, want %q", tt.choice, tt.accept, tt.fallback, got, tt.want)
			}
		})
	}
}

func TestWebLocales_NoMessageMissingInEitherLanguage(t *testing.T) {
	c := i18n.New()
	if err := c.Add(web.Locales()); err != nil {
		t.Fatal(err)
	}
	if m := c.Missing(); len(m) != 0 {
		t.Errorf("messages missing from the web catalogs:\n%s", strings.Join(m, "\n"))
	}
	ids := c.IDs()
	if len(ids) == 0 {
		t.Fatal("the web catalogs hold no message")
	}
	for _, id := range ids {
		for _, lang := range i18n.Languages {
			if s := c.T(lang, id, nil); s == "" || s == "["+id+"]" {
				t.Errorf("%s %s translates to %q", lang, id, s)
			}
		}
	}
}

// testCatalog is a small catalog with a plain and a template message.
func testCatalog(t *testing.T) *i18n.Catalog {
	t.Helper()
	c := i18n.New()
	err := c.Add(fstest.MapFS{
		"t.ja.toml": {Data: []byte(`
"plain" = "保存しました"
"greet" = "こんにちは、{{.Name}}さん（{{.Count}} 件）"
"only_ja" = "日本語だけ"
`)},
		"t.en.toml": {Data: []byte(`
"plain" = "Saved"
"greet" = "Hello, {{.Name}} ({{.Count}} items)"
"only_en" = "English only"
`)},
		"README.md": {Data: []byte("not a catalog")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestT_FillsTemplateDataAndBracketsUnknownIDs(t *testing.T) {
	c := testCatalog(t)
	type greetData struct {
		Name  string
		Count int
	}
	tests := []struct {
		name     string
		lang, id string
		data     any
		want     string
	}{
		{"plain ja", "ja", "plain", nil, "保存しました"},
		{"plain en", "en", "plain", nil, "Saved"},
		{"map data", "en", "greet", map[string]any{"Name": "Sato", "Count": 3}, "Hello, Sato (3 items)"},
		{"struct data", "ja", "greet", greetData{"佐藤", 2}, "こんにちは、佐藤さん（2 件）"},
		{"data on a plain message", "en", "plain", map[string]any{"Name": "x"}, "Saved"},
		{"template data is not HTML-escaped here", "en", "greet", map[string]any{"Name": "<b>", "Count": 1}, "Hello, <b> (1 items)"},
		{"unknown language uses japanese", "fr", "plain", nil, "保存しました"},
		{"unknown id in brackets", "ja", "no.such.message", nil, "[no.such.message]"},
		{"unknown id with data in brackets", "en", "no.such.message", map[string]any{"A": 1}, "[no.such.message]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.T(tt.lang, tt.id, tt.data); got != tt.want {
				t.Errorf("T(%q, %q, %v) = %q, want %q", tt.lang, tt.id, tt.data, got, tt.want)
			}
		})
	}
}

func TestMissing_ListsIDsOfOneLanguageOnly(t *testing.T) {
	c := testCatalog(t)
	got := c.Missing()
	want := []string{"en: only_ja", "ja: only_en"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Missing() = %v, want %v", got, want)
	}
	if !c.Has("ja", "only_ja") || c.Has("en", "only_ja") {
		t.Error("Has does not follow the files")
	}
}

func TestAdd_RefusesBadCatalogs(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"language anzen does not speak", fstest.MapFS{"x.fr.toml": {Data: []byte(`"a" = "b"`)}}, "x.fr.toml"},
		{"message defined twice", fstest.MapFS{
			"a.ja.toml": {Data: []byte(`"dup" = "一"`)},
			"b.ja.toml": {Data: []byte(`"dup" = "二"`)},
		}, "dup"},
		{"not TOML", fstest.MapFS{"x.ja.toml": {Data: []byte(`"a" = `)}}, "x.ja.toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := i18n.New().Add(tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Add: err = %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestT_SafeWhileAnotherPartAddsItsCatalog(t *testing.T) {
	c := testCatalog(t)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				_ = c.T("en", "greet", map[string]any{"Name": "x", "Count": j})
				_ = c.T("ja", "plain", nil)
				_ = c.Missing()
			}
		}(i)
	}
	for i := 0; i < 10; i++ {
		id := fmt.Sprintf("part%d", i)
		if err := c.Add(fstest.MapFS{
			id + ".ja.toml": {Data: []byte(`"` + id + `.title" = "題 {{.N}}"`)},
			id + ".en.toml": {Data: []byte(`"` + id + `.title" = "Title {{.N}}"`)},
		}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if got := c.T("en", "part9.title", map[string]int{"N": 9}); got != "Title 9" {
		t.Errorf("T after concurrent Add = %q", got)
	}
}

func TestSupported(t *testing.T) {
	for lang, want := range map[string]bool{"ja": true, "en": true, "fr": false, "": false, "ja-JP": false} {
		if got := i18n.Supported(lang); got != want {
			t.Errorf("Supported(%q) = %v, want %v", lang, got, want)
		}
	}
}
