package compliance

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The OSCAL 1.0.6 schemas, loaded once per test binary: the catalog
// export's tests and the assessment-results export's tests share them.

var (
	oscalSchemasMu sync.Mutex
	oscalSchemas   = map[string]*jsonschema.Schema{}
)

// oscalSchema returns the compiled OSCAL 1.0.6 JSON Schema of name:
// "catalog", "assessment-results" or "component" (or the file's name,
// such as "oscal_catalog_schema.json"), read from testdata/oscal-1.0.6.
func oscalSchema(t testing.TB, name string) *jsonschema.Schema {
	t.Helper()
	file := name
	if !strings.HasSuffix(file, ".json") {
		file = "oscal_" + name + "_schema.json"
	}
	oscalSchemasMu.Lock()
	defer oscalSchemasMu.Unlock()
	if s, ok := oscalSchemas[file]; ok {
		return s
	}
	f, err := os.Open(filepath.Join("testdata", "oscal-1.0.6", file))
	if err != nil {
		t.Fatalf("OSCAL schema %s: %v", name, err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("OSCAL schema %s: %v", name, err)
	}
	wrapRefsBesideIDs(doc)
	root, _ := doc.(map[string]any)
	id, _ := root["$id"].(string)
	if id == "" {
		t.Fatalf("OSCAL schema %s has no $id", name)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatalf("OSCAL schema %s: %v", name, err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatalf("OSCAL schema %s does not compile: %v", name, err)
	}
	oscalSchemas[file] = s
	return s
}

// wrapRefsBesideIDs moves every "$ref" that has an "$id" beside it into
// "allOf": draft-07 ignores the siblings of "$ref", so without this a
// strict validator cannot resolve the "#assembly_..." anchors the OSCAL
// 1.0.x schemas declare there.
func wrapRefsBesideIDs(v any) {
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"]; ok {
			if _, hasID := v["$id"]; hasID {
				delete(v, "$ref")
				all, _ := v["allOf"].([]any)
				v["allOf"] = append(all, map[string]any{"$ref": ref})
			}
		}
		for _, c := range v {
			wrapRefsBesideIDs(c)
		}
	case []any:
		for _, c := range v {
			wrapRefsBesideIDs(c)
		}
	}
}

func TestOSCALSchema_Compiles(t *testing.T) {
	for _, name := range []string{"catalog", "assessment-results"} {
		if oscalSchema(t, name) == nil {
			t.Fatalf("no schema for %s", name)
		}
	}
}
