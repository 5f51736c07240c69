//go:build !race

package sigma

import "testing"

// Allocation counts mean nothing under the race detector (its
// instrumentation allocates, and sync.Pool drops what is put back at
// random), so this file is built only without it: run
// go test ./internal/detect/sigma (CI's race run leaves it out; the
// benchmarks report allocations too).

func TestMatch_DoesNotAllocate(t *testing.T) {
	set := benchSet(t)
	events := benchEvents(t, 64)
	var fieldRules []*Rule
	for _, r := range set.Rules {
		if !r.keywords {
			fieldRules = append(fieldRules, r)
		}
	}
	n := testing.AllocsPerRun(50, func() {
		for _, e := range events {
			for _, r := range fieldRules {
				r.Match(e)
			}
		}
	})
	if n > 0 {
		t.Errorf("Match allocates %v times per run", n)
	}
	ix := NewIndex(set.Rules)
	var dst []*Rule
	n = testing.AllocsPerRun(50, func() {
		for _, e := range events[:1] {
			dst = ix.Match(e, dst[:0])
		}
	})
	if n > 1 {
		t.Errorf("Index.Match allocates %v times per event", n)
	}
}
