package ingest

import _ "embed"

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the ingestion endpoints' piece of the OpenAPI 3.1
// document: their paths and schemas. internal/app merges it into the
// document served at /api/v1/openapi.json. Both operations carry
// x-anzen-ingest: their bodies are other systems' records, each taken or
// refused by itself, not one JSON object decoded strictly like the rest
// of the API.
func OpenAPI() []byte { return openAPI }
