package audit

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseEventQuery feeds the search parameters of the access-log API
// and pages whatever a caller may send: parseEventQuery must never panic,
// and a query it accepts must be one the store can run (valid UTF-8
// without NUL, within the limits, from before to).
func FuzzParseEventQuery(f *testing.F) {
	for _, seed := range []string{
		"",
		"from=2026-04-01T09:00:00%2B09:00&to=2026-04-02T00:00:00Z&actor=d001&patient=P001&action=view&source=ehr-main&outcome=success&q=%E5%B1%B1%E7%94%B0&limit=50&before=100",
		"from=2026-04-01&to=2026-04-01",
		"action=login.&outcome=unknown",
		"action=e*",
		"limit=0&before=-1",
		"q=%FF%FE&patient=a%00b",
		"from=2026-13-45",
		"to=0001-01-01T00:00:00Z",
		"limit=501&limit=1",
		"before=9223372036854775808",
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string, dates bool) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, perr := parseEventQuery(v, dates, tokyo)
		if perr != nil {
			if perr.Param == "" || perr.Err == nil {
				t.Fatalf("refusal without a parameter or a reason: %+v", perr)
			}
			return
		}
		for name, s := range map[string]string{"actor": q.Actor, "patient": q.Patient, "action": q.Action,
			"source": q.Source, "q": q.Text} {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || utf8.RuneCountInString(s) > MaxFieldLen {
				t.Fatalf("accepted %s %q", name, s)
			}
		}
		if q.Limit < 0 || q.Limit > MaxLimit || q.Before < 0 {
			t.Fatalf("accepted limit %d, before %d", q.Limit, q.Before)
		}
		if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
			t.Fatalf("accepted from %v not before to %v", q.From, q.To)
		}
		switch q.Outcome {
		case "", OutcomeSuccess, OutcomeFailure, OutcomeUnknown:
		default:
			t.Fatalf("accepted outcome %q", q.Outcome)
		}
		if q.AllFacilities || len(q.Facilities) > 0 {
			t.Fatalf("the parameters set a facility scope: %+v", q)
		}
	})
}
