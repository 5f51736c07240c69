package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/ingest"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The ingestion endpoints take other systems' records, each accepted or
// refused by itself, so a body of bad records is answered 200 with every
// record refused; a body that cannot be read as records at all is refused
// whole. Either way nothing stored changes but for the security event that
// records a whole refusal.

// ingestAnswer is how one bad request must be answered.
type ingestAnswer struct {
	status   int
	form     string // "problem", "fhir" (an OperationOutcome) or "reply" (a Reply refusing every record)
	kind     string // the problem type; for "reply", the code of every refusal
	refusal  bool   // whether anzen records the whole request as refused
	rejected int    // for "reply": how many records it refuses
}

func TestBadInput_IngestionRefusesAndChangesNothing(t *testing.T) {
	for _, d := range apptest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, d)
			ops := docOperations(fetchOpenAPI(t, e))
			_, token, err := e.App.Identity.CreateToken(context.Background(), identity.SystemActor,
				identity.NewToken{Name: "bad-ingest", Scopes: []string{"ingest"}, Facility: e.Facility})
			if err != nil {
				t.Fatal(err)
			}
			// The first use notes the time; later ones within the frozen minute
			// write nothing.
			sendRaw(t, e, rawRequest{method: "GET", path: "/api/v1/me", bearer: token})
			max := int(e.App.Cfg.MaxBodyBytes)
			bigLine := `{"time":"2026-04-01T09:00:00Z","source":"ehr","action":"view","x":"` + strings.Repeat("a", max) + `"}`
			deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
			goodAE := `{"resourceType":"AuditEvent","recorded":"2026-04-01T09:00:00Z","source":{"observer":{"display":"ehr"}}}`
			badAE := `{"resourceType":"AuditEvent","recorded":"soon","source":{"observer":{"display":"ehr"}}}`
			tests := []struct {
				name, path, ctype, body string
				chunked                 bool
				want                    ingestAnswer
			}{
				{"plain text", ingest.EventsPath, "text/plain", `{}`, false, ingestAnswer{415, "problem", "unsupported-media-type", true, 0}},
				{"no content type", ingest.EventsPath, "", `{}`, false, ingestAnswer{415, "problem", "unsupported-media-type", true, 0}},
				{"Shift_JIS", ingest.EventsPath, "application/x-ndjson; charset=Shift_JIS", `{}`, false,
					ingestAnswer{415, "problem", "unsupported-media-type", true, 0}},
				{"JSON that is not an array", ingest.EventsPath, "application/json", `"events"`, false,
					ingestAnswer{400, "problem", "invalid-json", true, 0}},
				{"empty JSON", ingest.EventsPath, "application/json", ``, false, ingestAnswer{400, "problem", "invalid-json", true, 0}},
				{"over the limit", ingest.EventsPath, "application/x-ndjson", bigLine, false,
					ingestAnswer{413, "problem", "body-too-large", false, 0}},
				{"over the limit sent chunked", ingest.EventsPath, "application/x-ndjson", bigLine + "\n" + bigLine, true,
					ingestAnswer{413, "problem", "body-too-large", true, 0}},
				{"deeply nested array", ingest.EventsPath, "application/json", "[" + deep + "]", false,
					ingestAnswer{200, "reply", "invalid-json", false, 1}},
				{"SQL as the source", ingest.EventsPath, "application/x-ndjson",
					`{"time":"2026-04-01T09:00:00Z","source":"` + sqlMeta + `","action":"view"}`, false,
					ingestAnswer{200, "reply", "invalid-event", false, 1}},
				{"NUL and invalid UTF-8", ingest.EventsPath, "application/x-ndjson", "{\"time\":\"\x00\"}\n{\"a\":\"\xfe\"}", false,
					ingestAnswer{200, "reply", "", false, 2}},
				{"every line bad", ingest.EventsPath, "application/x-ndjson", "1\n[]\nnull\n{}\n" + longText, false,
					ingestAnswer{200, "reply", "", false, 5}},

				{"FHIR as XML", ingest.FHIRPath, "application/fhir+xml", `<AuditEvent/>`, false, ingestAnswer{415, "fhir", "", true, 0}},
				{"FHIR not JSON", ingest.FHIRPath, "application/fhir+json", `AuditEvent`, false, ingestAnswer{400, "fhir", "", true, 0}},
				{"FHIR deeply nested", ingest.FHIRPath, "application/fhir+json", `{"resourceType":"AuditEvent","agent":` + deep + `}`, false,
					ingestAnswer{400, "fhir", "", true, 0}},
				{"FHIR bad AuditEvent", ingest.FHIRPath, "application/fhir+json", badAE, false, ingestAnswer{400, "fhir", "", false, 0}},
				{"FHIR transaction with a bad entry", ingest.FHIRPath, "application/fhir+json",
					`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + goodAE + `},{"resource":` + badAE + `}]}`, false,
					ingestAnswer{400, "fhir", "", false, 0}},
				{"FHIR over the limit", ingest.FHIRPath, "application/fhir+json", bigLine, false,
					ingestAnswer{413, "problem", "body-too-large", false, 0}},
				{"FHIR over the limit sent chunked", ingest.FHIRPath, "application/fhir+json", bigLine, true,
					ingestAnswer{413, "fhir", "", true, 0}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					op := ops["POST "+tt.path]
					before := takeSnapshot(t, e)
					refusals := countRefusals(t, e)
					a := sendRaw(t, e, rawRequest{method: "POST", path: tt.path, contentType: tt.ctype, body: []byte(tt.body),
						chunked: tt.chunked, bearer: token, op: op})
					if diff := before.diff(takeSnapshot(t, e)); diff != "" {
						t.Errorf("changed what is stored:%s", diff)
					}
					checkIngestAnswer(t, a, tt.want)
					if a.status != 200 {
						checkDocumented(t, rawRequest{method: "POST", path: tt.path, op: op}, a.status)
					}
					if got := countRefusals(t, e) - refusals; got != map[bool]int{true: 1, false: 0}[tt.want.refusal] {
						t.Errorf("%d refusals recorded, want recorded = %v", got, tt.want.refusal)
					}
				})
			}
		})
	}
}

// checkIngestAnswer checks a's form against want.
func checkIngestAnswer(t *testing.T, a rawAnswer, want ingestAnswer) {
	t.Helper()
	if a.status != want.status {
		t.Fatalf("status %d, want %d: %.300s", a.status, want.status, a.body)
	}
	switch want.form {
	case "problem":
		if a.ctype != "application/problem+json" || a.problem.Type != web.ProblemTypePrefix+want.kind {
			t.Errorf("%q %s, want a problem of type %s", a.ctype, a.problem.Type, want.kind)
		}
	case "fhir":
		var oo ingest.OperationOutcome
		if !strings.HasPrefix(a.ctype, "application/fhir+json") || json.Unmarshal([]byte(a.body), &oo) != nil ||
			oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 || oo.Issue[0].Severity != "error" {
			t.Errorf("%q %.300s, want an OperationOutcome", a.ctype, a.body)
		}
	case "reply":
		var r ingest.Reply
		if err := json.Unmarshal([]byte(a.body), &r); err != nil || r.Accepted != 0 || len(r.Rejected) != want.rejected {
			t.Fatalf("%.300s, want %d records refused", a.body, want.rejected)
		}
		for _, rj := range r.Rejected {
			if want.kind != "" && rj.Code != want.kind {
				t.Errorf("line %d refused with %s, want %s", rj.Line, rj.Code, want.kind)
			}
		}
	}
}

// countRefusals counts the security events recording a refused ingestion
// request.
func countRefusals(t *testing.T, e *apptest.Env) int {
	t.Helper()
	n, err := e.App.Audit.Count(context.Background(), audit.Filter{Action: ingest.ActionRefused, AllFacilities: true,
		Outcome: "failure"})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
