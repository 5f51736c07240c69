package app_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
)

// TestCatalog_EveryMessageInBothLanguages fails when a message exists in
// Japanese but not in English, or the other way round, in any part.
func TestCatalog_EveryMessageInBothLanguages(t *testing.T) {
	e := apptest.New(t, "sqlite")
	if missing := e.App.Catalog.Missing(); len(missing) > 0 {
		t.Fatalf("messages missing in a language:\n  %s", strings.Join(missing, "\n  "))
	}
}

// templateMessage finds {{.T "id"}} and {{$.T "id"}} in templates.
var templateMessage = regexp.MustCompile(`\.T\s+"([^"]+)"`)

// TestTemplates_UseOnlyKnownMessages fails when a page names a message id
// that no catalog defines, which would show as [id] on screen.
func TestTemplates_UseOnlyKnownMessages(t *testing.T) {
	e := apptest.New(t, "sqlite")
	root := filepath.Join("..", "..", "internal")
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".html" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range templateMessage.FindAllStringSubmatch(string(b), -1) {
			n++
			for _, lang := range i18n.Languages {
				if !e.App.Catalog.Has(lang, m[1]) {
					t.Errorf("%s: message %q is not in the %s catalog", path, m[1], lang)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("found only %d message uses in templates; is the walk looking in the right place?", n)
	}
}

// messageArg says which argument of a call names a message id.
var messageArg = map[string]int{
	"T":         1, // Server.T(r, id, data); Catalog.T(lang, id, data)
	"Problem":   4, // Server.Problem(w, r, status, kind, id, data)
	"ErrorPage": 3, // Server.ErrorPage(w, r, status, id)
	"Flash":     1, // Server.Flash(w, id)
	"add":       1, // ValidationError.add(field, id)
}

// TestCode_UsesOnlyKnownMessages reads the Go source of every part and
// checks each message id passed as a literal to T, Problem, ErrorPage,
// Flash and the validation helper.
func TestCode_UsesOnlyKnownMessages(t *testing.T) {
	e := apptest.New(t, "sqlite")
	root := filepath.Join("..", "..", "internal")
	fset := token.NewFileSet()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(node ast.Node) bool {
			call, ok := node.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			idx, ok := messageArg[sel.Sel.Name]
			if !ok || idx >= len(call.Args) {
				return true
			}
			// Catalog.T(lang, id, data) and Server.T(r, id, data) both take the id second.
			lit, ok := call.Args[idx].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			id, err := strconv.Unquote(lit.Value)
			if err != nil || !strings.Contains(id, ".") {
				return true
			}
			n++
			for _, lang := range i18n.Languages {
				if !e.App.Catalog.Has(lang, id) {
					t.Errorf("%s: message %q is not in the %s catalog", fset.Position(lit.Pos()), id, lang)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 30 {
		t.Fatalf("found only %d message ids in code; is the walk looking in the right place?", n)
	}
}
