package incident_test

import (
	"slices"
	"testing"

	"github.com/anzen-health/anzen/internal/incident"
)

// FuzzParsePlaybooks: any file is either refused or read into playbooks
// that write out and read back the same.
func FuzzParsePlaybooks(f *testing.F) {
	all := []incident.Playbook{}
	for _, k := range incident.Kinds {
		all = append(all, incident.Playbook{Kind: k, Tasks: incident.BuiltinPlaybook(k)})
	}
	seed, err := incident.MarshalPlaybooks(all)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("playbooks:\n  - kind: ddos\n    tasks:\n      - {phase: triage, due: 3d, title_ja: 確認, title_en: Check}\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("playbooks:\n  - kind: other\n    tasks:\n      - {phase: closed, due: 1h30m, role: pr, title_ja: x, title_en: y, desc_ja: z}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := incident.ParsePlaybooks(data)
		if err != nil {
			return
		}
		out, err := incident.MarshalPlaybooks(list)
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		again, err := incident.ParsePlaybooks(out)
		if err != nil {
			t.Fatalf("read back: %v\n%s", err, out)
		}
		if len(again) != len(list) {
			t.Fatalf("%d playbooks, then %d", len(list), len(again))
		}
		for i := range list {
			if again[i].Kind != list[i].Kind || !slices.Equal(again[i].Tasks, list[i].Tasks) {
				t.Fatalf("playbook %d changed in the round trip:\n%+v\n%+v", i, list[i], again[i])
			}
		}
	})
}
