package detect

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzNewSuppression feeds request bodies to the suppression's checks: no
// panic, and what passes has a reason, a bounded end, known fields and
// is not "everything".
func FuzzNewSuppression(f *testing.F) {
	for _, s := range []string{
		`{"facility": 1, "rule_id": "r", "reason": "drill", "ends": "2026-04-02T00:00:00Z"}`,
		`{"facility": 0, "conditions": [{"field": "user", "value": "d-7"}, {"field": "src_ip", "value": "10.0.0.7"}], "reason": "x", "ends": "2026-06-29T00:00:00Z"}`,
		`{"facility": 1, "conditions": [{"field": "user", "value": " "}], "reason": "x", "ends": "2026-04-02T00:00:00Z"}`,
		`{"facility": -1, "rule_id": "r", "reason": "\u0000", "ends": "2027-04-02T00:00:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var ns NewSuppression
		if json.Unmarshal(body, &ns) != nil {
			return
		}
		if ns.validate(now) != nil {
			return
		}
		if ns.Reason == "" || !utf8.ValidString(ns.Reason) || !ns.Ends.After(now) || ns.Ends.Sub(now) > MaxSuppression ||
			(ns.RuleID == "" && len(ns.Conditions) == 0) || ns.Facility < 0 {
			t.Fatalf("accepted %+v", ns)
		}
		for _, c := range ns.Conditions {
			if c.Value == "" {
				t.Fatalf("accepted an empty condition: %+v", ns)
			}
		}
	})
}
