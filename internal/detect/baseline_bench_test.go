package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
)

// benchDepts is a reference table of patients' departments in memory.
type benchDepts map[string]string

func (d benchDepts) PatientDepartment(_ int64, patient string) (string, bool) {
	ward, ok := d[patient[:strings.IndexByte(patient, '-')]]
	return ward, ok
}

// BenchmarkBaselineCount is the baselines' cost per event of the audit
// log: the user's day found in memory, the event's Japan day and hour,
// the counts, the patient set (and the patient's department when the
// patient is new that day). 300 users, 25 patients each, 3 events a
// patient; the patients' departments from a map.
func BenchmarkBaselineCount(b *testing.B) {
	for _, withDepts := range []bool{false, true} {
		b.Run(fmt.Sprintf("departments=%v", withDepts), func(b *testing.B) {
			bl := &Baselines{days: map[dayKey]*dayAgg{}}
			if withDepts {
				bl.depts = benchDepts{"4A": "4A病棟", "5B": "5B病棟"}
			}
			start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			var events []audit.Event
			for u := range 300 {
				for p := range 25 {
					for i := range 3 {
						events = append(events, audit.Event{Seq: int64(len(events)), Facility: 1, Action: "view",
							Time:    start.Add(time.Duration(u*75+p*3+i) * time.Second),
							Actor:   audit.Actor{ID: fmt.Sprintf("n-%d", u), Profession: "nurse", Department: "4A病棟"},
							Patient: audit.Patient{ID: fmt.Sprintf("%s-P%04d", []string{"4A", "5B"}[p%2], u*7+p)}})
					}
				}
			}
			for i := range events {
				e := &events[i]
				k := dayKey{e.Facility, e.Actor.ID, 0}
				k.day, _ = japanDayHour(e.Time)
				if bl.days[k] == nil {
					bl.days[k] = &dayAgg{key: k, patients: map[uint64]struct{}{}}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				e := &events[i%len(events)]
				day, hour := japanDayHour(e.Time)
				if !bl.count(e, day, hour) {
					b.Fatal("the day is not in memory")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
		})
	}
}
