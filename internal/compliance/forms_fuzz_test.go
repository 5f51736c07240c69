package compliance

import (
	"net/url"
	"testing"
)

// The forms' parsers read what any browser or program sends: they never
// panic, and what they let through names only questions of the checklist
// and well-formed dates.

func FuzzAnswerForm(f *testing.F) {
	fw := testLibrary(f).Framework("mhlw-checklist-r6")
	f.Add("value-hospital-1-1=yes&checked_on-hospital-1-1=2026-05-01")
	f.Add("value-hospital-2-4-server=no&checked_on-hospital-2-4-server=2026-05-01&target_on-hospital-2-4-server=2026-13-01&only=hospital-2-4-server")
	f.Add("note-hospital-1-1=%00%ff&value-x=yes")
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		in, typed, ok := answersFromForm(v, fw)
		for _, a := range in {
			if it := fw.Item(a.Ref); it == nil || it.Kind != ItemQuestion || a.Framework != fw.ID {
				t.Fatalf("an answer to %q got through", a.Ref)
			}
			if typed[a.Ref] == nil {
				t.Fatalf("answer %s without what was typed", a.Ref)
			}
		}
		if !ok {
			bad := 0
			for _, fa := range typed {
				if fa.Err != "" {
					bad++
				}
			}
			if bad == 0 {
				t.Fatal("refused without saying where")
			}
		}
	})
}

func FuzzAttestationForm(f *testing.F) {
	f.Add("control_id=ctl-rules&evidence_id=rules&effective_on=2026-04-01&expires_on=2027-04-01", "rules.pdf")
	f.Add("effective_on=2026-02-30", `..\..\x"`)
	f.Fuzz(func(t *testing.T, q, name string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		n, err := attestationFromForm(v, name)
		if err != nil {
			if !isErr(err, "effective_on", "compliance.error.date") && !isErr(err, "expires_on", "compliance.error.date") {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if n.ExpiresOn != nil && n.ExpiresOn.IsZero() {
			t.Fatal("a zero expiry got through")
		}
		if _, err := cleanFileName(name); err == nil {
			if c, _ := cleanFileName(name); c == "" {
				t.Fatal("an empty clean name")
			}
		}
	})
}
