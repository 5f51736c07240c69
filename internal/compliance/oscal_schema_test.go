package compliance

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// oscalSchema compiles the OSCAL 1.0.6 JSON Schema testdata/oscal-1.0.6/name
// (a copy of NIST's, unchanged). Those schemas put "$id" anchors beside
// "$ref", which draft-07 tells a validator to ignore; each such "$ref" is
// wrapped in allOf so that the anchors resolve, and the schema is
// registered under its own "$id".
func oscalSchema(t testing.TB, name string) *jsonschema.Schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "oscal-1.0.6", name))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var wrap func(v any)
	wrap = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"]; ok {
				if _, hasID := v["$id"]; hasID {
					delete(v, "$ref")
					v["allOf"] = []any{map[string]any{"$ref": ref}}
				}
			}
			for _, x := range v {
				wrap(x)
			}
		case []any:
			for _, x := range v {
				wrap(x)
			}
		}
	}
	wrap(doc)
	id, _ := doc.(map[string]any)["$id"].(string)
	if id == "" {
		t.Fatalf("%s has no $id", name)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return s
}
