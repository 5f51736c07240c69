package sigma

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// corrBenchCorrelation is a correlation of the given type over rule r by
// user, with a 1h window and a bound of 100.
func corrBenchCorrelation(b *testing.B, typ string) *Correlation {
	field := ""
	if typ == "value_count" {
		field = "field: patient, "
	}
	return mustCorrelation(b, fmt.Sprintf("title: b\nid: b\ncorrelation: {type: %s, rules: [r], group-by: [user], timespan: 1h, condition: {%sgte: 100}}", typ, field))
}

// corrBenchEvents makes events of groups users, each with a patient of its
// own per index.
func corrBenchEvents(groups, perGroup int) []corrEvent {
	evs := make([]corrEvent, 0, groups*perGroup)
	for i := range perGroup {
		for g := range groups {
			evs = append(evs, corrEvent{"user": fmt.Sprintf("user%04d", g), "patient": fmt.Sprintf("P%06d", i)})
		}
	}
	return evs
}

// BenchmarkObserve measures Observe over 1,000 groups, one event a
// millisecond, with a 1h window.
func BenchmarkObserve(b *testing.B) {
	for _, typ := range []string{"event_count", "value_count", "temporal"} {
		b.Run(typ, func(b *testing.B) {
			r := corrRule("r", "r")
			var k *Correlation
			if typ == "temporal" {
				k = mustCorrelation(b, "title: b\nid: b\ncorrelation: {type: temporal, rules: [r, other], group-by: [user], timespan: 1h}")
			} else {
				k = corrBenchCorrelation(b, typ)
			}
			c := mustCorrelator(b, []*Rule{r, corrRule("o", "other")}, []*Correlation{k})
			evs := corrBenchEvents(1000, 10)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				c.Observe(r, evs[i%len(evs)], corrT0.Add(time.Duration(i)*time.Millisecond), int64(i))
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkCorrelatorMemory measures the heap that 1,000 groups hold with
// a 1h window and a bound of 100: with one event each, and with 99 (the
// most a window keeps below the bound).
func BenchmarkCorrelatorMemory(b *testing.B) {
	for _, typ := range []string{"event_count", "value_count"} {
		for _, per := range []int{1, 99} {
			b.Run(fmt.Sprintf("%s/%devents", typ, per), func(b *testing.B) {
				r := corrRule("r", "r")
				evs := corrBenchEvents(1000, per)
				var perThousand float64
				for range b.N {
					c := mustCorrelator(b, []*Rule{r}, []*Correlation{corrBenchCorrelation(b, typ)})
					var before, after runtime.MemStats
					runtime.GC()
					runtime.ReadMemStats(&before)
					for i, e := range evs {
						c.Observe(r, e, corrT0.Add(time.Duration(i)*time.Millisecond), int64(i))
					}
					runtime.GC()
					runtime.ReadMemStats(&after)
					if g := c.Stats()[0].Groups; g != 1000 {
						b.Fatalf("%d groups, want 1000", g)
					}
					perThousand = float64(after.HeapAlloc) - float64(before.HeapAlloc)
					runtime.KeepAlive(c)
				}
				b.ReportMetric(perThousand, "bytes/1000groups")
			})
		}
	}
}
