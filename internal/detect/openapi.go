package detect

import _ "embed"

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the detection part's piece of the OpenAPI 3.1 document
// (merged by internal/app with the other parts').
func OpenAPI() []byte { return openAPI }
