package identity

import _ "embed"

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns identity's part of the OpenAPI 3.1 document: the paths of
// its JSON API, the schemas they use and the problem types they answer
// with. internal/app merges it with the other parts' into the document
// served at /api/v1/openapi.json; it refers to the shared responses and the
// Problem schema defined there.
func OpenAPI() []byte { return openAPI }
