package audit

import (
	"regexp"
	"testing"
)

// FuzzNames checks the hand-written name checks against the regular
// expressions they stand for.
func FuzzNames(f *testing.F) {
	action := regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,63}$`)
	source := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,99}$`)
	for _, s := range []string{"view", "login.failure", "ehr-main", "pacs@host/1", "", "A", "a b", "ａ", "x\n", "emergency_access"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validAction(s), action.MatchString(s); got != want {
			t.Fatalf("validAction(%q) = %v, the pattern says %v", s, got, want)
		}
		if got, want := validSource(s), source.MatchString(s); got != want {
			t.Fatalf("validSource(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}
