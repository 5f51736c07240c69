package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/anzen-health/anzen/internal/audit"
)

// POST /api/v1/fhir/AuditEvent speaks FHIR R4's RESTful API
// (https://hl7.org/fhir/R4/http.html): a FHIR client expects its own error
// form, so the errors of this endpoint are OperationOutcome resources
// (application/fhir+json), not problem+json. Only the web layer's own
// refusals (no or a wrong token, a body over the limit announced by its
// Content-Length) stay problem+json, as everywhere in the API.

// fhirMediaTypes are the request media types of the FHIR endpoint.
var fhirMediaTypes = map[string]bool{"application/fhir+json": true, "application/json": true,
	"application/json+fhir": true}

// fhirContentType is the media type of the endpoint's answers.
const fhirContentType = "application/fhir+json; charset=utf-8"

// fhirTarget names the endpoint in anzen's own security events.
const fhirTarget = "fhir:AuditEvent"

// outcomeSystem is the code system of anzen's reasons in an
// OperationOutcome's issue details (the RecordError codes).
const outcomeSystem = "urn:anzen:ingest:reject"

// OperationOutcome is FHIR's error (and information) resource.
type OperationOutcome struct {
	ResourceType string         `json:"resourceType"`
	Issue        []OutcomeIssue `json:"issue"`
}

// OutcomeIssue is one issue of an OperationOutcome. Details carries
// anzen's stable code (RecordError.Code) and the message in the
// request's language; Diagnostics the same in English.
type OutcomeIssue struct {
	Severity    string         `json:"severity"`
	Code        string         `json:"code"`
	Details     *OutcomeDetail `json:"details,omitempty"`
	Diagnostics string         `json:"diagnostics,omitempty"`
	Expression  []string       `json:"expression,omitempty"`
}

// OutcomeDetail is an issue's CodeableConcept.
type OutcomeDetail struct {
	Coding []fhirCoding `json:"coding,omitempty"`
	Text   string       `json:"text"`
}

// issueCodes are the FHIR issue types of anzen's reasons.
var issueCodes = map[string]string{
	RejectInvalidJSON: "structure", RejectNotObject: "structure", RejectWrongType: "structure",
	RejectInvalidUTF8: "structure", RejectTooLong: "too-long", RejectMissing: "required",
	RejectInvalidTime: "value", RejectInvalidCode: "code-invalid", RejectInvalidEvent: "invalid",
	RejectFacilityForbidden: "forbidden", RejectFacilityUnknown: "not-found",
	RejectNotAuditEvent: "not-supported", RejectBundleEntry: "not-supported",
}

// issue describes e for the request, at the FHIRPath where (the field of
// e, placed under the prefix of a Bundle entry when there is one).
func (h *handlers) issue(r *http.Request, e *RecordError, entry string) OutcomeIssue {
	is := OutcomeIssue{Severity: "error", Code: issueCodes[e.Code],
		Details: &OutcomeDetail{Coding: []fhirCoding{{System: outcomeSystem, Code: e.Code}},
			Text: h.message(r, e)},
		Diagnostics: e.English}
	if is.Code == "" {
		is.Code = "invalid"
	}
	path := e.Field
	if entry != "" && !strings.HasPrefix(path, "Bundle.") {
		switch rest, ok := strings.CutPrefix(path, "AuditEvent."); {
		case ok:
			path = entry + "." + rest
		case path != "":
			path = entry + "." + path
		default:
			path = entry
		}
	}
	if path != "" {
		is.Expression = []string{path}
	}
	return is
}

// writeFHIR writes a FHIR resource with status.
func writeFHIR(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", fhirContentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// fail answers an error of the whole request as an OperationOutcome with
// one issue of FHIR type code, the message msgID in the request's
// language; refused requests are recorded (ActionRefused) under kind.
func (h *handlers) fail(w http.ResponseWriter, r *http.Request, status int, code, kind, msgID, english string) {
	if kind != "" {
		h.recordRefusal(r, fhirTarget, kind)
	}
	writeFHIR(w, status, OperationOutcome{ResourceType: "OperationOutcome", Issue: []OutcomeIssue{{
		Severity: "error", Code: code, Details: &OutcomeDetail{Text: h.srv.T(r, msgID, nil)}, Diagnostics: english}}})
}

// postFHIR serves POST /api/v1/fhir/AuditEvent: one AuditEvent, or a
// Bundle (batch, transaction or collection) of them.
func (h *handlers) postFHIR(w http.ResponseWriter, r *http.Request) {
	if mt, utf8 := mediaType(r); !fhirMediaTypes[mt] || !utf8 {
		h.fail(w, r, http.StatusUnsupportedMediaType, "not-supported", "unsupported-media-type",
			"ingest.error.fhir_content_type", "send application/fhir+json (or application/json), UTF-8")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.fail(w, r, http.StatusRequestEntityTooLarge, "too-long", "body-too-large", "error.body_too_large",
				fmt.Sprintf("the body is larger than %d bytes (http.max_body)", mbe.Limit))
			return
		}
		h.srv.Log().Info("ingest: FHIR body not read to the end", "err", err)
		h.fail(w, r, http.StatusBadRequest, "structure", "invalid-body", "ingest.error.body", "the body could not be read")
		return
	}
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		re := jsonError(err, "")
		h.fail(w, r, http.StatusBadRequest, "structure", "invalid-json", "ingest.error.fhir_not_json", re.English)
		return
	}
	in := h.newIntake(r)
	switch head.ResourceType {
	case "AuditEvent":
		h.fhirOne(w, r, in, body)
	case "Bundle":
		h.fhirBundle(w, r, in, body)
	default:
		re := notAuditEvent(head.ResourceType)
		h.recordRefusal(r, fhirTarget, "not-supported")
		writeFHIR(w, http.StatusBadRequest, OperationOutcome{ResourceType: "OperationOutcome",
			Issue: []OutcomeIssue{h.issue(r, re, "")}})
	}
}

// fhirOne stores one AuditEvent and answers 201 Created with its position
// in the log as its id.
func (h *handlers) fhirOne(w http.ResponseWriter, r *http.Request, in *intake, body []byte) {
	e, err := DecodeFHIR(body)
	re := AsRecordError(err)
	if re == nil {
		re = in.prepare(&e, nil)
	}
	if re != nil {
		in.refuse(1, re)
		in.logRefusals()
		writeFHIR(w, http.StatusBadRequest, OperationOutcome{ResourceType: "OperationOutcome",
			Issue: []OutcomeIssue{h.issue(r, re, "")}})
		return
	}
	first, err := h.cfg.Sink.Append(r.Context(), []audit.Event{e})
	if err != nil {
		h.fhirStoreFailed(w, r, err)
		return
	}
	id := strconv.FormatInt(first, 10)
	w.Header().Set("Location", FHIRPath+"/"+id)
	w.Header().Set("ETag", `W/"1"`)
	w.Header().Set("Last-Modified", in.arrived.UTC().Format(http.TimeFormat))
	switch preferReturn(r) {
	case "minimal":
		w.WriteHeader(http.StatusCreated)
	case "OperationOutcome":
		writeFHIR(w, http.StatusCreated, OperationOutcome{ResourceType: "OperationOutcome", Issue: []OutcomeIssue{{
			Severity: "information", Code: "informational",
			Details: &OutcomeDetail{Text: h.srv.T(r, "ingest.fhir.stored", map[string]any{"Seq": first})}}}})
	default:
		w.Header().Set("Content-Type", fhirContentType)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(withID(e.Original, id))
		_, _ = w.Write([]byte("\n"))
	}
}

// preferReturn reads the return preference of the Prefer header
// (RFC 7240): minimal, representation or OperationOutcome.
func preferReturn(r *http.Request) string {
	for _, v := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "return") {
				return strings.Trim(strings.TrimSpace(val), `"`)
			}
		}
	}
	return "representation"
}

// withID returns the resource with its id set: resourceType and id first,
// then the other members.
func withID(resource []byte, id string) []byte {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(resource, &members); err != nil {
		return resource
	}
	delete(members, "resourceType")
	delete(members, "id")
	rest, err := json.Marshal(members)
	if err != nil {
		return resource
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"resourceType":"AuditEvent","id":%q`, id)
	if len(rest) > 2 {
		b.WriteByte(',')
		b.Write(rest[1:])
	} else {
		b.WriteByte('}')
	}
	return b.Bytes()
}

// fhirStoreFailed answers events that could not be stored.
func (h *handlers) fhirStoreFailed(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return
	}
	h.srv.Log().Error("ingest: store FHIR events", "err", err)
	h.fail(w, r, http.StatusInternalServerError, "exception", "", "error.internal", "the events could not be stored")
}
