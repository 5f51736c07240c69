package detect

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/detect/sigma/sigmatest"
)

// plainEvent hides every method of an event but sigma.Event's, so that
// the rules read it by field name and keyword strings only.
type plainEvent struct{ sigma.Event }

// oddEvents are access events whose texts test the keyword searches'
// shortcuts: upper case, runes that fold to ASCII letters (the Kelvin
// sign, the long s), NUL and bytes that are not UTF-8 in the original.
func oddEvents() []audit.Event {
	var out []audit.Event
	for i, orig := range []string{
		`{"note":"MimiKatz95 run"}`,
		"{\"note\":\"\u017fekurl\u017fa::96\"}",
		"sekurlsa::\x0097 \xff\xfe mimikatz97",
		"",
		"\u212aelvin SEKURLSA::98",
	} {
		e := audittest.Event(i)
		e.Original = []byte(orig)
		if i == 3 {
			e.Actor.Name, e.Patient.ID, e.Object = "MIMIKATZ99", "", audit.Object{}
		}
		out = append(out, e)
	}
	return out
}

func TestAccessEvent_AppendTextsGivesTheKeywordsTexts(t *testing.T) {
	for _, e := range append(audittest.Events(0, 20), oddEvents()...) {
		var want []byte
		accessEvent{e: &e}.Keywords(func(s string) bool {
			want = append(append(want, 0), s...)
			return false
		})
		if got := (accessEvent{e: &e}).AppendTexts([]byte("x")); !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Errorf("event %s: AppendTexts = %q, want %q", e.Object.ID, got, want)
		}
	}
}

// The index's shortcuts for access events (texts as bytes) match the
// same rules as reading them through sigma.Event alone.
func TestAccessEvent_RulesMatchAsThroughFieldAndKeywords(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bench.yml"), sigmatest.Rules(), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := LoadRuleFiles([]string{dir, "builtin:medical"})
	if err != nil {
		t.Fatal(err)
	}
	ix := sigma.NewIndex(files.Rules())
	events := append(audittest.Events(0, 3000), oddEvents()...)
	matches := 0
	var got, want []*sigma.Rule
	for i := range events {
		e := &events[i]
		got = ix.Match(accessEvent{e: e}, got[:0])
		want = ix.Match(plainEvent{accessEvent{e: e}}, want[:0])
		if !slices.Equal(got, want) {
			t.Fatalf("event %d (%q): %d rules match, %d through Field and Keywords", i, e.Original, len(got), len(want))
		}
		matches += len(got)
	}
	// The odd events each match their keyword rule.
	for i, id := range []string{"bench-95", "bench-96", "bench-97", "bench-99", "bench-98"} {
		got = ix.Match(accessEvent{e: &events[3000+i]}, got[:0])
		if !slices.ContainsFunc(got, func(r *sigma.Rule) bool { return r.ID == id }) {
			t.Errorf("odd event %d does not match %s", i, id)
		}
	}
	if matches == 0 {
		t.Fatal("no rule matched: the test compares nothing")
	}
}
