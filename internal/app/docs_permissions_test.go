package app_test

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	_ "github.com/anzen-health/anzen/internal/app" // every part declares its permissions
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// updateDocs rewrites the generated tables of the docs instead of
// comparing them: go test ./internal/app -run TestDocs -update-docs
var updateDocs = flag.Bool("update-docs", false, "rewrite the docs' generated tables")

// permissionTable writes every permission with its kind, roles and token
// scopes, as docs/identity.md shows them.
func permissionTable() string {
	var b strings.Builder
	b.WriteString("| permission | kind | `admin` | `ciso` | `csirt` | `auditor` | `staff` | `vendor` | token scopes |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, p := range authz.Permissions() {
		s, _ := authz.Lookup(p)
		kind := "read"
		if s.Kind == authz.Write {
			kind = "write"
		}
		b.WriteString("| `" + string(p) + "` | " + kind + " |")
		for _, r := range authz.Roles {
			if slices.Contains(s.Roles, r) {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString("  |")
			}
		}
		scopes := "—"
		if len(s.Scopes) > 0 {
			scopes = "`" + strings.Join(s.Scopes, "`, `") + "`"
		}
		b.WriteString(" " + scopes + " |\n")
	}
	return b.String()
}

// scopeTable writes every token scope with the permissions it carries.
func scopeTable(head string) string {
	var b strings.Builder
	b.WriteString(head + "\n| --- | --- |\n")
	for _, sc := range authz.Scopes() {
		var ps []string
		for _, p := range authz.Permissions() {
			if authz.ScopeHas(sc, p) {
				ps = append(ps, "`"+string(p)+"`")
			}
		}
		b.WriteString("| `" + sc + "` | " + strings.Join(ps, ", ") + " |\n")
	}
	return b.String()
}

// TestDocs_PermissionTablesAreTheCodes keeps the tables of permissions
// and token scopes in docs/identity.md (both languages) equal to what the
// parts declare.
func TestDocs_PermissionTablesAreTheCodes(t *testing.T) {
	const file = "../../docs/identity.md"
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	tables := map[string]string{
		"permissions": permissionTable(),
		"scopes-ja":   scopeTable("| スコープ | 与える権限 |"),
		"scopes-en":   scopeTable("| scope | permissions it carries |"),
	}
	for name, want := range tables {
		begin := "<!-- BEGIN generated: " + name + " (go test ./internal/app -run TestDocs -update-docs) -->\n"
		end := "<!-- END generated: " + name + " -->"
		for from := 0; ; {
			i := strings.Index(doc[from:], begin)
			if i < 0 {
				if from == 0 {
					t.Errorf("%s has no generated table %q", file, name)
				}
				break
			}
			i += from + len(begin)
			j := strings.Index(doc[i:], end)
			if j < 0 {
				t.Fatalf("%s: table %s has no end", file, name)
			}
			if got := doc[i : i+j]; got != want {
				if !*updateDocs {
					t.Errorf("%s: the table %s is not what the code declares; run go test ./internal/app -run TestDocs -update-docs\nwant:\n%s", file, name, want)
				}
				doc = doc[:i] + want + doc[i+j:]
			}
			from = i + len(want) + len(end)
		}
	}
	if *updateDocs {
		if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
