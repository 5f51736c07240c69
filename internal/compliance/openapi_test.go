package compliance

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The part's OpenAPI pieces describe exactly its API routes, and every
// $ref names a schema of the part's or the base document's Problem. (The
// merged document is checked as a whole in internal/app.)
func TestOpenAPI_DescribesExactlyThePartsAPIRoutes(t *testing.T) {
	d := dbtest.SQLite(t, parts...)
	e := newEnv(t, d)
	srv := web.NewServer(web.Options{Catalog: e.cat})
	if err := Register(srv, e.svc, PermRead); err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	schemas := map[string]bool{"Problem": true}
	var refs []string
	for _, b := range OpenAPI() {
		var doc struct {
			Paths      map[string]map[string]json.RawMessage `json:"paths"`
			Components struct {
				Schemas map[string]json.RawMessage `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		for p, item := range doc.Paths {
			for m := range item {
				ops[strings.ToUpper(m)+" "+p] = true
			}
		}
		for name := range doc.Components.Schemas {
			if !strings.HasPrefix(name, "Compliance") {
				t.Errorf("schema %s is not prefixed Compliance", name)
			}
			schemas[name] = true
		}
		for _, m := range regexp.MustCompile(`"\$ref": "#/components/schemas/(\w+)"`).FindAllStringSubmatch(string(b), -1) {
			refs = append(refs, m[1])
		}
	}
	for _, r := range refs {
		if !schemas[r] {
			t.Errorf("$ref to %s, which is not defined", r)
		}
	}
	for _, rt := range srv.Routes() {
		if !rt.API() {
			continue
		}
		key := rt.Method + " " + rt.Pattern
		if !ops[key] {
			t.Errorf("route %s is not documented", key)
		}
		delete(ops, key)
	}
	for k := range ops {
		t.Errorf("%s is documented but not registered", k)
	}
}
