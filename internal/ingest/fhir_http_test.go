package ingest_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/ingest"
)

const fhirJSON = "application/fhir+json"

func outcomeOf(t testing.TB, a answer) ingest.OperationOutcome {
	t.Helper()
	var oo ingest.OperationOutcome
	if !strings.HasPrefix(a.ctype, fhirJSON) || json.Unmarshal([]byte(a.body), &oo) != nil ||
		oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("%d %q %s: want an OperationOutcome", a.status, a.ctype, a.body)
	}
	return oo
}

// issueCodes lists anzen's codes and the expressions of an outcome's
// issues.
func issueCodes(oo ingest.OperationOutcome) (codes, where []string) {
	for _, is := range oo.Issue {
		if is.Details != nil && len(is.Details.Coding) > 0 {
			codes = append(codes, is.Details.Coding[0].Code)
		}
		where = append(where, strings.Join(is.Expression, ","))
	}
	return codes, where
}

func TestFHIR_OneResourceIsCreatedAtItsPositionInTheLog(t *testing.T) {
	eachDialect(t, func(t *testing.T, e *apptest.Env) {
		token := newToken(t, e, e.Facility)
		for i, tt := range fhirCases {
			raw := readFHIR(t, tt.file)
			prefer := []string{"Prefer: return=representation", "Prefer: return=minimal", "Prefer: return=OperationOutcome"}[i%3]
			a := post(t, e, ingest.FHIRPath, token, fhirJSON, string(raw), prefer)
			if a.status != http.StatusCreated {
				t.Fatalf("%s: %d %s", tt.file, a.status, a.body)
			}
			evs := ingested(t, e)
			ev := evs[len(evs)-1]
			if loc := a.header.Get("Location"); loc != ingest.FHIRPath+"/"+strconv.FormatInt(ev.Seq, 10) {
				t.Errorf("%s: Location %q, want the event's position %d", tt.file, loc, ev.Seq)
			}
			switch i % 3 {
			case 0:
				var back map[string]any
				if err := json.Unmarshal([]byte(a.body), &back); err != nil || back["id"] != strconv.FormatInt(ev.Seq, 10) ||
					back["resourceType"] != "AuditEvent" || back["recorded"] == nil {
					t.Errorf("%s: representation %s", tt.file, a.body)
				}
			case 1:
				if a.body != "" {
					t.Errorf("%s: return=minimal answered %q", tt.file, a.body)
				}
			case 2:
				if oo := outcomeOf(t, a); oo.Issue[0].Severity != "information" {
					t.Errorf("%s: %s", tt.file, a.body)
				}
			}
			if string(ev.Original) != strings.TrimSpace(string(raw)) || ev.Format != audit.FormatFHIR ||
				ev.Facility != e.Facility {
				t.Errorf("%s: stored format %q facility %d, original as sent: %v", tt.file, ev.Format, ev.Facility,
					string(ev.Original) == strings.TrimSpace(string(raw)))
			}
			want := tt.want
			if ev.Action != want.Action || ev.Actor != want.Actor || ev.Patient != want.Patient || ev.Object != want.Object ||
				ev.Outcome != want.Outcome || ev.Source != want.Source || !ev.Time.Equal(want.Time) {
				t.Errorf("%s: stored %+v\nwant %+v", tt.file, ev, want)
			}
		}
	})
}

func TestFHIR_BadResourcesAreOperationOutcomes(t *testing.T) {
	eachDialect(t, func(t *testing.T, e *apptest.Env) {
		token := newToken(t, e, e.Facility)
		tests := []struct {
			name, ctype, body string
			status            int
			code              string // anzen's code in the details, "" when none
			issue             string // the FHIR issue type
		}{
			{"no recorded", fhirJSON, `{"resourceType":"AuditEvent","source":{"observer":{"display":"ehr"}}}`, 400, "missing", "required"},
			{"outcome not a code", fhirJSON, `{"resourceType":"AuditEvent","recorded":"2026-04-01T00:00:00Z","outcome":"1","source":{"observer":{"display":"ehr"}}}`,
				400, "invalid-code", "code-invalid"},
			{"a Patient", fhirJSON, `{"resourceType":"Patient","id":"p1"}`, 400, "not-auditevent", "not-supported"},
			{"not JSON", fhirJSON, `<AuditEvent xmlns="http://hl7.org/fhir"/>`, 400, "", "structure"},
			{"XML", "application/fhir+xml", `<AuditEvent xmlns="http://hl7.org/fhir"/>`, 415, "", "not-supported"},
			{"a Bundle of type history", fhirJSON, `{"resourceType":"Bundle","type":"history","entry":[]}`, 400, "", "not-supported"},
		}
		for _, tt := range tests {
			a := post(t, e, ingest.FHIRPath, token, tt.ctype, tt.body, "Accept-Language: ja")
			oo := outcomeOf(t, a)
			codes, _ := issueCodes(oo)
			if a.status != tt.status || oo.Issue[0].Code != tt.issue || (tt.code != "" && !slices.Equal(codes, []string{tt.code})) {
				t.Errorf("%s: %d %s", tt.name, a.status, a.body)
			}
			if is := oo.Issue[0]; is.Details == nil || is.Details.Text == "" || is.Diagnostics == "" ||
				!strings.ContainsAny(is.Details.Text, "はをがでに") {
				t.Errorf("%s: issue %+v: want the Japanese text and the English diagnostics", tt.name, is)
			}
		}
		if evs := ingested(t, e); len(evs) != 0 {
			t.Errorf("%d events stored", len(evs))
		}
	})
}

// bundle makes a Bundle of type typ from resources (JSON text).
func bundle(typ string, resources ...string) string {
	var entries []string
	for _, r := range resources {
		entries = append(entries, `{"fullUrl":"urn:uuid:x","resource":`+r+`,"request":{"method":"POST","url":"AuditEvent"}}`)
	}
	return `{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(entries, ",") + `]}`
}

func TestFHIR_Bundles(t *testing.T) {
	eachDialect(t, func(t *testing.T, e *apptest.Env) {
		token := newToken(t, e, e.Facility)
		login, read, query := string(readFHIR(t, "login.json")), string(readFHIR(t, "patient-read.json")),
			string(readFHIR(t, "query.json"))
		bad := `{"resourceType":"AuditEvent","recorded":"not a time","source":{"observer":{"display":"ehr"}}}`

		// A batch: each entry by itself.
		a := post(t, e, ingest.FHIRPath, token, fhirJSON, bundle("batch", login, bad, read))
		var out ingest.BundleOut
		if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &out) != nil {
			t.Fatalf("batch: %d %s", a.status, a.body)
		}
		evs := ingested(t, e)
		if out.Type != "batch-response" || len(out.Entry) != 3 || len(evs) != 2 {
			t.Fatalf("batch: %s; %d events", a.body, len(evs))
		}
		r0, r1, r2 := out.Entry[0].Response, out.Entry[1].Response, out.Entry[2].Response
		if r0.Status != "201 Created" || r0.Location != "AuditEvent/"+strconv.FormatInt(evs[0].Seq, 10) ||
			r2.Location != "AuditEvent/"+strconv.FormatInt(evs[1].Seq, 10) || r1.Status != "400 Bad Request" ||
			r1.Outcome == nil {
			t.Fatalf("batch entries: %s", a.body)
		}
		if codes, where := issueCodes(*r1.Outcome); !slices.Equal(codes, []string{"invalid-time"}) ||
			where[0] != "Bundle.entry[1].resource.recorded" {
			t.Errorf("batch: the bad entry's outcome %v %v", codes, where)
		}
		if evs[0].Action != "login" || evs[1].Action != "view" || string(evs[1].Original) != strings.TrimSpace(read) {
			t.Errorf("batch: stored %+v", evs)
		}

		// A transaction with a bad entry: nothing, and one outcome.
		a = post(t, e, ingest.FHIRPath, token, fhirJSON, bundle("transaction", query, bad, login,
			`{"resourceType":"Observation"}`))
		oo := outcomeOf(t, a)
		codes, where := issueCodes(oo)
		if a.status != http.StatusBadRequest || !slices.Equal(codes, []string{"invalid-time", "not-auditevent"}) ||
			!slices.Equal(where, []string{"Bundle.entry[1].resource.recorded", "Bundle.entry[3].resource.resourceType"}) {
			t.Errorf("transaction with bad entries: %d %s", a.status, a.body)
		}
		if n := len(ingested(t, e)); n != 2 {
			t.Errorf("a refused transaction stored %d events", n-2)
		}

		// A good transaction: all of it.
		a = post(t, e, ingest.FHIRPath, token, "application/json", bundle("transaction", query, login))
		out = ingest.BundleOut{}
		if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &out) != nil || out.Type != "transaction-response" ||
			len(out.Entry) != 2 || out.Entry[1].Response.Status != "201 Created" {
			t.Errorf("transaction: %d %s", a.status, a.body)
		}
		if n := len(ingested(t, e)); n != 4 {
			t.Errorf("%d events after the transaction, want 4", n)
		}

		// A batch entry that is not a create of an AuditEvent.
		b := strings.Replace(bundle("batch", login), `"method":"POST"`, `"method":"PUT"`, 1)
		a = post(t, e, ingest.FHIRPath, token, fhirJSON, b)
		if !strings.Contains(a.body, `"bundle-entry"`) || !strings.Contains(a.body, "Bundle.entry[0].request") {
			t.Errorf("PUT entry: %s", a.body)
		}
		// A collection has no requests.
		a = post(t, e, ingest.FHIRPath, token, fhirJSON, `{"resourceType":"Bundle","type":"collection","entry":[{"resource":`+login+`}]}`)
		if !strings.Contains(a.body, `"201 Created"`) {
			t.Errorf("collection: %s", a.body)
		}
	})
}
