package detect

import (
	"embed"
	"io/fs"
)

// The detection part documents its API in several files, one per room
// (openapi.json for the alerts, openapi_<room>.json for the others), so
// that each stays readable; internal/app merges them with the other
// parts'.

//go:embed openapi*.json
var openAPIFS embed.FS

// OpenAPI returns the detection part's pieces of the OpenAPI 3.1
// document, each a file's bytes, in the order of their names.
func OpenAPI() [][]byte {
	names, err := fs.Glob(openAPIFS, "openapi*.json")
	if err != nil {
		panic(err) // the pattern is constant and valid
	}
	out := make([][]byte, 0, len(names))
	for _, n := range names {
		b, err := openAPIFS.ReadFile(n)
		if err != nil {
			panic(err) // embedded: cannot fail
		}
		out = append(out, b)
	}
	return out
}
