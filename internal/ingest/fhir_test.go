package ingest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/ingest"
)

func readFHIR(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fhir", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fhirCases are the realistic resources of testdata/fhir (after IHE BALP's
// examples) and what each maps to.
var fhirCases = []struct {
	file string
	want audit.Event
}{
	{"login.json", audit.Event{Time: time.Date(2026, 4, 1, 0, 15, 0, 123e6, time.UTC), Source: "ehr-main",
		Actor:  audit.Actor{ID: "n0123", Name: "山田 花子", Profession: "看護師", Address: "10.1.20.33"},
		Action: "login", Outcome: "success"}},
	{"login-failed.json", audit.Event{Time: time.Date(2026, 4, 1, 0, 14, 41, 0, time.UTC), Source: "ehr-main",
		Actor:  audit.Actor{ID: "n0123", Terminal: "5F ナースステーション WS-012"},
		Action: "login_failed", Outcome: "failure"}},
	{"patient-read.json", audit.Event{Time: time.Date(2026, 4, 1, 0, 20, 5, 0, time.UTC), Source: "Device/fhir-server",
		Actor: audit.Actor{ID: "Dr. 佐藤 一郎", Name: "Dr. 佐藤 一郎", Terminal: "WS-012.ward5.hospital.example.jp",
			Address: "2001:db8:85a3::8a2e:370:7334"},
		Action: "view", Patient: audit.Patient{ID: "P0001234", Name: "鈴木 太郎"},
		Object: audit.Object{Type: "DocumentReference", ID: "dr-42"}, Outcome: "success", Purpose: "TREAT",
		Session: "C187CC480FAC40A0936902D8BC324F5F"}},
	{"query.json", audit.Event{Time: time.Date(2026, 4, 1, 10, 2, 0, 0, time.UTC), Source: "pacs-01",
		Actor:  audit.Actor{ID: "d0456", Name: "佐藤 一郎", Profession: "医師", Address: "10.1.30.4"},
		Action: "search", Patient: audit.Patient{ID: "P0005678", Name: "高橋 花"},
		Object: audit.Object{Type: "query", ID: "GET /r4/ImagingStudy?patient=P0005678"}, Outcome: "success",
		Purpose: "診療"}},
	{"export.json", audit.Event{Time: time.Date(2026, 4, 1, 2, 30, 0, 0, time.UTC), Source: "doc-gw",
		Actor:  audit.Actor{ID: "it-07", Name: "情報 次郎", Terminal: "ws-it-07"},
		Action: "export", Patient: audit.Patient{ID: "P0009999"},
		Object: audit.Object{Type: "System Object", ID: "export-2026-04-01-001"}, Outcome: "success",
		Purpose: "PATRQT"}},
}

func TestDecodeFHIR_MapsRealisticResources(t *testing.T) {
	for _, tt := range fhirCases {
		t.Run(tt.file, func(t *testing.T) {
			raw := readFHIR(t, tt.file)
			e, err := ingest.DecodeFHIR(raw)
			if err != nil {
				t.Fatal(err)
			}
			if e.Format != audit.FormatFHIR || string(e.Original) != strings.TrimSpace(string(raw)) {
				t.Errorf("format %q; the original is not the resource as sent", e.Format)
			}
			if err := e.Normalize(); err != nil {
				t.Fatalf("the log refuses the mapped event: %v", err)
			}
			want := tt.want
			want.Seq, want.Format, want.Original = -1, e.Format, e.Original
			if !e.Time.Equal(want.Time) {
				t.Errorf("time %v, want %v", e.Time, want.Time)
			}
			e.Time, want.Time = time.Time{}, time.Time{}
			if e.Actor != want.Actor || e.Patient != want.Patient || e.Object != want.Object || e.Source != want.Source ||
				e.Action != want.Action || e.Outcome != want.Outcome || e.Purpose != want.Purpose || e.Session != want.Session {
				t.Errorf("got  %+v\nwant %+v", e, want)
			}
		})
	}
}

func TestDecodeFHIR_ActionFromCodes(t *testing.T) {
	tests := []struct {
		name, typ, subtypes, action, outcome, want string
	}{
		{"logout", `{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110114"}`,
			`[{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110123"}]`, "E", "0", "logout"},
		{"authentication without subtype", `{"code":"110114"}`, `[]`, "E", "0", "login"},
		{"authentication failed", `{"code":"110114"}`, `[]`, "E", "8", "login_failed"},
		{"emergency override", `{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110113"}`,
			`[{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110127"}]`, "E", "0", "emergency_access"},
		{"security alert", `{"code":"110113"}`, `[]`, "E", "0", "security_alert"},
		{"security roles changed", `{"code":"110113"}`, `[{"code":"110136"}]`, "U", "0", "admin"},
		{"patient record create", `{"code":"110110"}`, `[]`, "C", "0", "create"},
		{"patient record update", `{"code":"110110"}`, `[]`, "U", "0", "update"},
		{"patient record delete", `{"code":"110110"}`, `[]`, "D", "12", "delete"},
		{"rest search", `{"code":"rest"}`, `[{"system":"http://hl7.org/fhir/restful-interaction","code":"search-type"}]`,
			"E", "0", "search"},
		{"rest patch", `{"code":"rest"}`, `[{"system":"http://hl7.org/fhir/restful-interaction","code":"patch"}]`,
			"U", "0", "update"},
		{"a code of another system is not DICOM's", `{"system":"urn:example","code":"110106"}`, `[]`, "R", "0", "view"},
		{"nothing known", `{"system":"urn:example","code":"x"}`, `[]`, "", "", "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := `{"resourceType":"AuditEvent","type":` + tt.typ + `,"subtype":` + tt.subtypes +
				`,"recorded":"2026-04-01T09:00:00+09:00","source":{"observer":{"display":"ehr-main"}}`
			if tt.action != "" {
				res += `,"action":"` + tt.action + `"`
			}
			if tt.outcome != "" {
				res += `,"outcome":"` + tt.outcome + `"`
			}
			e, err := ingest.DecodeFHIR([]byte(res + "}"))
			if err != nil {
				t.Fatal(err)
			}
			if e.Action != tt.want {
				t.Errorf("action %q, want %q", e.Action, tt.want)
			}
		})
	}
}

func TestDecodeFHIR_RefusesWithTheFieldAndWhy(t *testing.T) {
	base := `"resourceType":"AuditEvent","recorded":"2026-04-01T09:00:00Z","source":{"observer":{"display":"ehr"}}`
	tests := []struct {
		name, res, code, field string
	}{
		{"not JSON", `{"resourceType":`, "invalid-json", ""},
		{"an array", `[]`, "not-object", ""},
		{"another resource", `{"resourceType":"Patient","id":"x"}`, "not-auditevent", "resourceType"},
		{"no recorded", `{"resourceType":"AuditEvent","source":{"observer":{"display":"ehr"}}}`, "missing", "AuditEvent.recorded"},
		{"recorded not a time", `{"resourceType":"AuditEvent","recorded":"yesterday","source":{"observer":{"display":"ehr"}}}`,
			"invalid-time", "AuditEvent.recorded"},
		{"no usable source", `{"resourceType":"AuditEvent","recorded":"2026-04-01T09:00:00Z","source":{"observer":{"display":"電子 カルテ"}}}`,
			"missing", "AuditEvent.source.observer"},
		{"outcome outside its codes", `{` + base + `,"outcome":"3"}`, "invalid-code", "AuditEvent.outcome"},
		{"action outside its codes", `{` + base + `,"action":"X"}`, "invalid-code", "AuditEvent.action"},
		{"agent of the wrong type", `{` + base + `,"agent":{"who":"x"}}`, "wrong-type", "AuditEvent.agent"},
		{"requestor a string", `{` + base + `,"agent":[{"requestor":"yes"}]}`, "wrong-type", "AuditEvent.agent.requestor"},
		{"too long", `{` + base + `,"text":"` + strings.Repeat("x", audit.MaxOriginal) + `"}`, "too-long", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ingest.DecodeFHIR([]byte(tt.res))
			re := ingest.AsRecordError(err)
			if re == nil || !errors.Is(err, ingest.ErrWire) {
				t.Fatalf("error %v, want a RecordError", err)
			}
			if re.Code != tt.code || re.Field != tt.field {
				t.Errorf("code %q field %q (%s), want %q %q", re.Code, re.Field, re.English, tt.code, tt.field)
			}
		})
	}
}
