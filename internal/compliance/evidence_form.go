package compliance

import (
	"net/url"
	"strings"
	"time"
)

// Reading an upload's fields from a form (the control's page and the
// API's multipart POST alike). The file itself is read by the handler.

// parseDate reads a date written YYYY-MM-DD; "" is the zero time.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.DateOnly, s)
	return t, err == nil
}

// attestationFromForm reads an upload's fields; the file name is the
// uploaded file's. A date that is not YYYY-MM-DD is refused here, the rest
// by Attest.
func attestationFromForm(v url.Values, fileName string) (NewAttestation, error) {
	n := NewAttestation{ControlID: strings.TrimSpace(v.Get("control_id")), EvidenceID: strings.TrimSpace(v.Get("evidence_id")),
		Title: v.Get("title"), Note: v.Get("note"), FileName: fileName}
	var ok bool
	if n.EffectiveOn, ok = parseDate(v.Get("effective_on")); !ok {
		return n, invalid("effective_on", "compliance.error.date")
	}
	exp, ok := parseDate(v.Get("expires_on"))
	if !ok {
		return n, invalid("expires_on", "compliance.error.date")
	}
	if !exp.IsZero() {
		n.ExpiresOn = &exp
	}
	return n, nil
}
