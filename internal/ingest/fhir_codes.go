package ingest

import (
	"unicode"
	"unicode/utf8"
)

// Code systems of AuditEvent.type and subtype.
const (
	dicomSystem     = "http://dicom.nema.org/resources/ontology/DCM"
	restSystem      = "http://hl7.org/fhir/restful-interaction"
	lifecycleSystem = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
)

// Event type and subtype codes that decide anzen's action by themselves,
// before the action code (C/R/U/D/E) does. DICOM PS3.16 CID 400 (Audit
// Event ID) and CID 401 (Audit Event Type Code); FHIR's RESTful
// interactions (as the BALP profiles use them); a few ISO 21089 record
// lifecycle events. Codes of other systems with the same value are not
// taken, except that a bare DICOM code (without system) is: senders often
// leave the system out.
var (
	// dicomActions are DICOM codes with an action of their own.
	dicomActions = map[string]string{
		"110106": "export",           // Export
		"110112": "search",           // Query
		"110122": "login",            // Login (refined by the outcome)
		"110123": "logout",           // Logout
		"110127": "emergency_access", // Emergency Override Started
		"110128": "admin",            // Network Configuration
		"110129": "admin",            // Security Configuration
		"110130": "admin",            // Hardware Configuration
		"110131": "admin",            // Software Configuration
		"110132": "admin",            // Use of Restricted Function
		"110135": "admin",            // Object Security Attributes Changed
		"110136": "admin",            // Security Roles Changed
		"110137": "admin",            // User security Attributes Changed
	}
	// restActions are FHIR RESTful interactions.
	restActions = map[string]string{
		"read":             "view",
		"vread":            "view",
		"history":          "view",
		"history-instance": "view",
		"history-type":     "view",
		"history-system":   "view",
		"search":           "search",
		"search-type":      "search",
		"search-system":    "search",
		"create":           "create",
		"update":           "update",
		"patch":            "update",
		"delete":           "delete",
		"operation":        "execute",
	}
	// lifecycleActions are ISO 21089 record lifecycle events.
	lifecycleActions = map[string]string{
		"access":    "view",
		"originate": "create",
		"amend":     "update",
		"destroy":   "delete",
		"disclose":  "export",
		"extract":   "export",
		"transmit":  "export",
		"report":    "print",
	}
	// crudActions map the action code when no type or subtype decides.
	crudActions = map[string]string{"C": "create", "R": "view", "U": "update", "D": "delete", "E": "execute"}
)

// Codes with a meaning of their own beyond the action table.
const (
	dicomUserAuthentication = "110114" // User Authentication: a login unless a subtype says logout
	dicomSecurityAlert      = "110113" // Security Alert
)

// action is anzen's action for the event: what its subtypes and type say
// (subtypes first, as the more precise), else its action code, else
// "other". A login that failed is login_failed.
func (ae *fhirAuditEvent) action(outcome string) string {
	act := ""
	codings := append(append([]fhirCoding(nil), ae.Subtype...), typeOf(ae)...)
	for _, c := range codings {
		if act = codingAction(c); act != "" {
			break
		}
	}
	if act == "" {
		codes := ae.codes()
		switch {
		case codes[dicomUserAuthentication] || codes[dicomSystem+"|"+dicomUserAuthentication]:
			act = "login"
		case codes[dicomSecurityAlert] || codes[dicomSystem+"|"+dicomSecurityAlert]:
			act = "security_alert"
		}
	}
	if act == "" {
		act = crudActions[ae.Action]
	}
	if act == "" {
		act = "other"
	}
	if act == "login" && outcome == "failure" {
		act = "login_failed"
	}
	return act
}

func typeOf(ae *fhirAuditEvent) []fhirCoding {
	if ae.Type == nil {
		return nil
	}
	return []fhirCoding{*ae.Type}
}

// codingAction is the action one coding decides, or "".
func codingAction(c fhirCoding) string {
	switch c.System {
	case dicomSystem, "":
		if a := dicomActions[c.Code]; a != "" {
			return a
		}
		if c.System == "" {
			return restActions[c.Code]
		}
	case restSystem:
		return restActions[c.Code]
	case lifecycleSystem:
		return lifecycleActions[c.Code]
	}
	return ""
}

// isText reports whether b is UTF-8 text without control characters other
// than tab and line ends.
func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}
