package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
)

// FHIR R4 AuditEvent (https://hl7.org/fhir/R4/auditevent.html), as far as
// anzen maps it onto audit.Event. Elements not listed here are not read;
// they stay in the original resource, which the log keeps as received.
// docs/ingest.md has the mapping as a table.

type fhirCoding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type fhirConcept struct {
	Coding []fhirCoding `json:"coding"`
	Text   string       `json:"text"`
}

type fhirIdentifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type fhirReference struct {
	Reference  string          `json:"reference"`
	Identifier *fhirIdentifier `json:"identifier"`
	Display    string          `json:"display"`
}

type fhirAgent struct {
	Type      *fhirConcept   `json:"type"`
	Role      []fhirConcept  `json:"role"`
	Who       *fhirReference `json:"who"`
	AltID     string         `json:"altId"`
	Name      string         `json:"name"`
	Requestor bool           `json:"requestor"`
	Location  *fhirReference `json:"location"`
	Policy    []string       `json:"policy"`
	Network   *fhirNetwork   `json:"network"`
	PurposeOf []fhirConcept  `json:"purposeOfUse"`
}

type fhirNetwork struct {
	Address string `json:"address"`
	Type    string `json:"type"` // 1 machine name, 2 IP address, 3 telephone, 4 e-mail, 5 URI
}

type fhirEntity struct {
	What        *fhirReference `json:"what"`
	Type        *fhirCoding    `json:"type"`
	Role        *fhirCoding    `json:"role"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Query       string         `json:"query"` // base64
}

type fhirAuditEvent struct {
	ResourceType string       `json:"resourceType"`
	Type         *fhirCoding  `json:"type"`
	Subtype      []fhirCoding `json:"subtype"`
	Action       string       `json:"action"`
	Period       *struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"period"`
	Recorded       string          `json:"recorded"`
	Outcome        json.RawMessage `json:"outcome"` // a code; a number is taken too
	OutcomeDesc    string          `json:"outcomeDesc"`
	PurposeOfEvent []fhirConcept   `json:"purposeOfEvent"`
	Agent          []fhirAgent     `json:"agent"`
	Source         *struct {
		Site     string         `json:"site"`
		Observer *fhirReference `json:"observer"`
	} `json:"source"`
	Entity []fhirEntity `json:"entity"`
}

// DecodeFHIR maps one FHIR R4 AuditEvent resource (JSON) onto an event;
// the resource is kept as the event's original (format fhir). Errors are
// *RecordError with a FHIRPath as the field.
func DecodeFHIR(resource []byte) (audit.Event, error) {
	resource = bytes.TrimSpace(resource)
	if err := checkRecord(resource); err != nil {
		return audit.Event{}, err
	}
	if resource[0] != '{' {
		return audit.Event{}, notObjectOrJSON(resource)
	}
	var ae fhirAuditEvent
	if err := json.Unmarshal(resource, &ae); err != nil {
		return audit.Event{}, jsonError(err, "AuditEvent.")
	}
	if ae.ResourceType != "AuditEvent" {
		return audit.Event{}, notAuditEvent(ae.ResourceType)
	}
	at, err := ae.time()
	if err != nil {
		return audit.Event{}, err
	}
	outcome, err := ae.outcome()
	if err != nil {
		return audit.Event{}, err
	}
	switch ae.Action {
	case "", "C", "R", "U", "D", "E":
	default:
		return audit.Event{}, badCode("AuditEvent.action", ae.Action, "C, R, U, D, E")
	}
	source := ae.source()
	if source == "" {
		return audit.Event{}, reject(RejectMissing, "AuditEvent.source.observer",
			"AuditEvent.source.observer needs an identifier, a display or a reference of letters, digits and . _ - : @ / "+
				"(or AuditEvent.source.site)", nil)
	}
	e := audit.Event{Seq: -1, Time: at, Source: source, Action: ae.action(outcome), Outcome: outcome,
		Purpose: ae.purpose(), Format: audit.FormatFHIR, Original: append([]byte(nil), resource...)}
	ae.actor(&e)
	ae.entities(&e)
	return e, nil
}

func notAuditEvent(got string) *RecordError {
	return reject(RejectNotAuditEvent, "resourceType",
		fmt.Sprintf("resourceType %q: anzen takes AuditEvent resources (or a Bundle of them)", clip(got, 40)),
		map[string]any{"Got": clip(got, 40)})
}

func badCode(field, v, allowed string) *RecordError {
	v = clip(v, 40)
	return reject(RejectInvalidCode, field, fmt.Sprintf("%s %q is none of %s", field, v, allowed),
		map[string]any{"Value": v, "Allowed": allowed})
}

// time is when the event happened: period.start, else recorded (required).
func (ae *fhirAuditEvent) time() (time.Time, error) {
	if ae.Period != nil && ae.Period.Start != "" {
		if t, err := parseTime(ae.Period.Start); err == nil {
			return t, nil
		}
		// A date without a time of day says too little: recorded says more.
	}
	if strings.TrimSpace(ae.Recorded) == "" {
		return time.Time{}, reject(RejectMissing, "AuditEvent.recorded", "AuditEvent.recorded is required", nil)
	}
	t, err := parseTime(ae.Recorded)
	if err != nil {
		return time.Time{}, badTime("AuditEvent.recorded", ae.Recorded)
	}
	return t, nil
}

// outcome maps the outcome code: 0 success; 4, 8 and 12 (minor, serious
// and major failure) failure; none unknown.
func (ae *fhirAuditEvent) outcome() (string, error) {
	raw := bytes.TrimSpace(ae.Outcome)
	if len(raw) == 0 || string(raw) == "null" {
		return audit.OutcomeUnknown, nil
	}
	code := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &code); err != nil {
			return "", jsonError(err, "AuditEvent.outcome")
		}
	}
	switch code {
	case "0":
		return audit.OutcomeSuccess, nil
	case "4", "8", "12":
		return audit.OutcomeFailure, nil
	}
	return "", badCode("AuditEvent.outcome", code, "0, 4, 8, 12")
}

// source names the system that reported the event: the first of
// source.observer's identifier, display and reference, then source.site,
// that has the form of a source name.
func (ae *fhirAuditEvent) source() string {
	if ae.Source == nil {
		return ""
	}
	var candidates []string
	if o := ae.Source.Observer; o != nil {
		if o.Identifier != nil {
			candidates = append(candidates, o.Identifier.Value)
		}
		candidates = append(candidates, o.Display, o.Reference)
	}
	candidates = append(candidates, ae.Source.Site)
	for _, c := range candidates {
		if c = strings.TrimSpace(c); c != "" && validSource(c) {
			return c
		}
	}
	return ""
}

// validSource reports whether the log takes s as a source name (asking
// the log's own rule, audit.Event.Normalize).
func validSource(s string) bool {
	e := audit.Event{Source: s, Action: "x", Time: time.Unix(0, 0)}
	return e.Normalize() == nil
}

// codes lists every code of the event's type and subtypes, as
// "system|code" and as the bare code.
func (ae *fhirAuditEvent) codes() map[string]bool {
	out := map[string]bool{}
	add := func(c fhirCoding) {
		if c.Code != "" {
			out[c.Code] = true
			out[c.System+"|"+c.Code] = true
		}
	}
	if ae.Type != nil {
		add(*ae.Type)
	}
	for _, c := range ae.Subtype {
		add(c)
	}
	return out
}

// purpose is the purpose of use: purposeOfEvent, else the requestor's
// purposeOfUse; a code when there is one, else the text.
func (ae *fhirAuditEvent) purpose() string {
	lists := [][]fhirConcept{ae.PurposeOfEvent}
	if a := ae.requestor(); a != nil {
		lists = append(lists, a.PurposeOf)
	}
	for _, l := range lists {
		for _, c := range l {
			if t := conceptText(c, true); t != "" {
				return t
			}
		}
	}
	return ""
}

// conceptText returns a concept's first code (when codeFirst) or text or
// display.
func conceptText(c fhirConcept, codeFirst bool) string {
	if codeFirst {
		for _, cd := range c.Coding {
			if cd.Code != "" {
				return cd.Code
			}
		}
	}
	if c.Text != "" {
		return c.Text
	}
	for _, cd := range c.Coding {
		if cd.Display != "" {
			return cd.Display
		}
	}
	for _, cd := range c.Coding {
		if cd.Code != "" {
			return cd.Code
		}
	}
	return ""
}

// requestor is the agent that asked for what happened (requestor true),
// else the first agent that is not the reporting system itself.
func (ae *fhirAuditEvent) requestor() *fhirAgent {
	for i := range ae.Agent {
		if ae.Agent[i].Requestor {
			return &ae.Agent[i]
		}
	}
	for i := range ae.Agent {
		if !ae.isObserver(ae.Agent[i].Who) {
			return &ae.Agent[i]
		}
	}
	return nil
}

// isObserver reports whether ref names the source's observer.
func (ae *fhirAuditEvent) isObserver(ref *fhirReference) bool {
	if ref == nil || ae.Source == nil || ae.Source.Observer == nil {
		return false
	}
	o := ae.Source.Observer
	return (ref.Reference != "" && ref.Reference == o.Reference) ||
		(ref.Identifier != nil && o.Identifier != nil && ref.Identifier.Value != "" &&
			ref.Identifier.Value == o.Identifier.Value)
}

// actor fills e.Actor from the requestor agent: id from who.identifier,
// altId or who.reference; name from name or who.display; profession from
// its role; terminal and address from its network (or, when it has none,
// from the client machine's agent) and location.
func (ae *fhirAuditEvent) actor(e *audit.Event) {
	a := ae.requestor()
	if a == nil {
		return
	}
	act := &e.Actor
	if a.Who != nil {
		if a.Who.Identifier != nil {
			act.ID = a.Who.Identifier.Value
		}
		act.Name = a.Who.Display
	}
	act.ID = firstOf(act.ID, a.AltID, referenceID(a.Who))
	act.Name = firstOf(a.Name, act.Name)
	if act.ID == "" {
		act.ID = act.Name // BALP's minimal form names the user by who.display alone
	}
	for _, r := range a.Role {
		if act.Profession = conceptText(r, false); act.Profession != "" {
			break
		}
	}
	if len(a.Policy) > 0 {
		e.Session = a.Policy[0]
	}
	act.Terminal, act.Address = networkOf(a.Network)
	if act.Terminal == "" && act.Address == "" {
		for i := range ae.Agent {
			b := &ae.Agent[i]
			if b == a || ae.isObserver(b.Who) {
				continue
			}
			if t, addr := networkOf(b.Network); t != "" || addr != "" {
				act.Terminal, act.Address = t, addr
				if act.Terminal == "" && b.Who != nil {
					act.Terminal = b.Who.Display
				}
				break
			}
		}
	}
	if act.Terminal == "" && a.Location != nil {
		act.Terminal = firstOf(a.Location.Display, a.Location.Reference)
	}
}

// networkOf reads an agent's network access point: a machine name
// (type 1) is the terminal, an IP address (type 2, or no type and an
// address that parses as one) the address; URIs, telephone numbers and
// e-mail addresses are neither.
func networkOf(n *fhirNetwork) (terminal, address string) {
	if n == nil || n.Address == "" {
		return "", ""
	}
	switch n.Type {
	case "1":
		return n.Address, ""
	case "2":
		return "", n.Address
	case "":
		if _, err := netip.ParseAddr(n.Address); err == nil {
			return "", n.Address
		}
	}
	return "", ""
}

// entities fills the patient (the entity that is a Patient reference, or
// of type 1 person and role 1 patient) and the object (the first other
// entity with something to name it by).
func (ae *fhirAuditEvent) entities(e *audit.Event) {
	for _, en := range ae.Entity {
		if id, ok := patientID(en); ok && e.Patient.ID == "" {
			e.Patient.ID = id
			e.Patient.Name = firstOf(en.Name, displayOf(en.What))
			continue
		}
		if e.Object.ID != "" || e.Object.Type != "" || isTransaction(en) {
			continue
		}
		e.Object = objectOf(en)
	}
}

// patientID returns the patient's id when en is the patient.
func patientID(en fhirEntity) (string, bool) {
	if en.What != nil {
		if id, ok := referenceOf(en.What.Reference, "Patient"); ok {
			return id, true
		}
	}
	if en.Type == nil || en.Role == nil || en.Type.Code != "1" || en.Role.Code != "1" {
		return "", false
	}
	if en.What == nil {
		return "", false
	}
	if en.What.Identifier != nil && en.What.Identifier.Value != "" {
		return en.What.Identifier.Value, true
	}
	return firstOf(en.What.Reference, en.What.Display), en.What.Reference != "" || en.What.Display != ""
}

// isTransaction reports whether en only identifies the request (BALP's
// X-Request-Id entity), which is neither patient nor object.
func isTransaction(en fhirEntity) bool {
	return en.Type != nil && strings.EqualFold(en.Type.Code, "XrequestId")
}

// objectOf names a non-patient entity: the resource type and id of a
// reference, or the identifier with the entity's type; a query entity
// (role 24) by its description or decoded query.
func objectOf(en fhirEntity) audit.Object {
	if en.Role != nil && en.Role.Code == "24" {
		q := firstOf(en.Description, decodeQuery(en.Query))
		return audit.Object{Type: "query", ID: q}
	}
	if en.What != nil && en.What.Reference != "" {
		if typ, id, ok := splitReference(en.What.Reference); ok {
			return audit.Object{Type: typ, ID: id}
		}
		return audit.Object{ID: en.What.Reference}
	}
	o := audit.Object{}
	if en.What != nil && en.What.Identifier != nil {
		o.ID = en.What.Identifier.Value
	}
	o.ID = firstOf(o.ID, en.Name, displayOf(en.What))
	if en.Type != nil {
		o.Type = firstOf(en.Type.Display, en.Type.Code)
	}
	return o
}

// decodeQuery returns a base64 query as text, or nothing when it is not
// base64 of UTF-8 text.
func decodeQuery(q string) string {
	b, err := base64.StdEncoding.DecodeString(q)
	if err != nil || !isText(b) {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// splitReference splits a relative or absolute reference such as
// "Patient/123", "https://h.example/fhir/List/7/_history/2" into type and
// id.
func splitReference(ref string) (typ, id string, ok bool) {
	parts := strings.Split(strings.TrimRight(ref, "/"), "/")
	if i := indexOf(parts, "_history"); i >= 0 {
		parts = parts[:i]
	}
	if len(parts) < 2 {
		return "", "", false
	}
	typ, id = parts[len(parts)-2], parts[len(parts)-1]
	if typ == "" || id == "" || typ[0] < 'A' || typ[0] > 'Z' {
		return "", "", false
	}
	return typ, id, true
}

// referenceOf returns the id of ref when it refers to a resource of type
// typ.
func referenceOf(ref, typ string) (string, bool) {
	t, id, ok := splitReference(ref)
	return id, ok && t == typ
}

// referenceID returns a reference as an id: "Practitioner/p1" as p1.
func referenceID(ref *fhirReference) string {
	if ref == nil || ref.Reference == "" {
		return ""
	}
	if _, id, ok := splitReference(ref.Reference); ok {
		return id
	}
	return ref.Reference
}

func displayOf(ref *fhirReference) string {
	if ref == nil {
		return ""
	}
	return ref.Display
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// firstOf returns the first non-blank of vs.
func firstOf(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
