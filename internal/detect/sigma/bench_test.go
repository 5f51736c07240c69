package sigma

import (
	"testing"

	"github.com/anzen-health/anzen/internal/detect/sigma/sigmatest"
)

// benchRules writes the 100 rules of sigmatest.
func benchRules() []byte { return sigmatest.Rules() }

// benchEvents makes n access events with realistic values.
func benchEvents(tb testing.TB, n int) []Event {
	m, err := FieldMapNamed("anzen")
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]Event, n)
	for i, obj := range sigmatest.Events(n) {
		out[i] = NewJSONEvent(obj, m)
	}
	return out
}

func benchSet(tb testing.TB) *Set {
	set, err := Parse(benchRules())
	if err != nil {
		tb.Fatal(err)
	}
	if len(set.Rules) != 100 {
		tb.Fatalf("%d rules", len(set.Rules))
	}
	return set
}

// BenchmarkMatch runs 100 rules over each event on one core (run it
// with -cpu 1); events/s is the figure to read. "rules" calls
// Rule.Match of every rule, "index" runs them through an Index, which
// tries only the rules an event's action can match, remembers the
// fields looked up and gathers the event's texts once.
func BenchmarkMatch(b *testing.B) {
	set := benchSet(b)
	events := benchEvents(b, 4096)
	b.Run("rules", func(b *testing.B) {
		matched := 0
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			e := events[i%len(events)]
			for _, r := range set.Rules {
				if r.Match(e) {
					matched++
				}
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(matched)/float64(b.N), "matches/event")
	})
	b.Run("index", func(b *testing.B) {
		ix := NewIndex(set.Rules)
		matched := 0
		var dst []*Rule
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			dst = ix.Match(events[i%len(events)], dst[:0])
			matched += len(dst)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(matched)/float64(b.N), "matches/event")
	})
}
