package compliance

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// validateOSCAL checks doc against the OSCAL schema name.
func validateOSCAL(t *testing.T, name string, doc []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return oscalSchema(t, name).Validate(inst)
}

func TestOSCALResults_ValidatesAndStatesEachItem(t *testing.T) {
	src, _ := newReportSource(t)
	doc, err := OSCALResults(src.st, src.lib, reportTestAt)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateOSCAL(t, "oscal_assessment-results_schema.json", doc); err != nil {
		t.Fatalf("the assessment results do not validate: %v\n%s", err, doc)
	}
	var ar struct {
		AR struct {
			Results []struct {
				Findings []struct {
					Target struct {
						TargetID string `json:"target-id"`
						Status   struct{ State, Reason string }
					}
					Related []struct {
						UUID string `json:"observation-uuid"`
					} `json:"related-observations"`
				}
				Observations []struct {
					UUID, Title string
					Methods     []string
					Evidence    []struct {
						Props []struct{ Name, Value string }
					} `json:"relevant-evidence"`
				}
			}
		} `json:"assessment-results"`
	}
	if err := json.Unmarshal(doc, &ar); err != nil {
		t.Fatal(err)
	}
	res := ar.AR.Results[0]
	states := map[string]string{}
	for _, f := range res.Findings {
		states[f.Target.TargetID] = f.Target.Status.State + "/" + f.Target.Status.Reason
	}
	want := map[string]string{"gl-6.5-c-15": "satisfied/pass", "gl-6.5-c-1": "not-satisfied/other",
		"gl-7.1-c-1": "not-satisfied/fail"}
	for id, s := range want {
		if states[id] != s {
			t.Errorf("finding %s: %q, want %q", id, states[id], s)
		}
	}
	var sha, tests, answers bool
	for _, o := range res.Observations {
		for _, e := range o.Evidence {
			for _, p := range e.Props {
				sha = sha || p.Name == "sha256" && p.Value == src.st.Controls[1].Attestations[0].SHA256
			}
		}
		tests = tests || o.Title == "audit.verified" && o.Methods[0] == "TEST"
		answers = answers || o.Title == "mhlw-checklist-r6:hospital-2-4-server" && o.Methods[0] == "INTERVIEW"
	}
	if !sha || !tests || !answers {
		t.Errorf("observations: attestation with SHA-256 %v, check run %v, checklist answer %v", sha, tests, answers)
	}
	// The same state gives the same document (name-based UUIDs).
	again, _ := OSCALResults(src.st, src.lib, reportTestAt)
	if !bytes.Equal(doc, again) {
		t.Error("two exports of the same state differ")
	}
}

func TestOSCALResults_SchemaRejectsABrokenDocument(t *testing.T) {
	src, _ := newReportSource(t)
	doc, err := OSCALResults(src.st, src.lib, reportTestAt)
	if err != nil {
		t.Fatal(err)
	}
	// A finding whose status is neither satisfied nor not-satisfied, and
	// a result without its reviewed controls, must not pass.
	for name, broken := range map[string][]byte{
		"status":  bytes.Replace(doc, []byte(`"state": "satisfied"`), []byte(`"state": "ready"`), 1),
		"missing": bytes.Replace(doc, []byte(`"reviewed-controls"`), []byte(`"reviewed-kontrols"`), 1),
		"uuid":    bytes.Replace(doc, []byte(`"uuid": "`), []byte(`"uuid": "x`), 1),
	} {
		if bytes.Equal(broken, doc) {
			t.Fatalf("%s: the test did not break the document", name)
		}
		if err := validateOSCAL(t, "oscal_assessment-results_schema.json", broken); err == nil {
			t.Errorf("%s: a broken document validates", name)
		}
	}
}

func TestOSCALCatalog_ValidatesAgainstTheCatalogSchema(t *testing.T) {
	lib := reportLibrary(t)
	doc, err := OSCALCatalog(lib.Guideline(), lib, "ja", reportTestAt)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateOSCAL(t, "oscal_catalog_schema.json", doc); err != nil {
		t.Fatalf("the catalog does not validate: %v", err)
	}
	if !strings.Contains(string(doc), `"id": "gl-6.5-c-15"`) {
		t.Error("the catalog's control ids differ from the results' targets")
	}
}
