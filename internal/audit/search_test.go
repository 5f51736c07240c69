package audit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

func TestSearchEvents_EveryFilter(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newAccessLog(t, d).log
		tests := []struct {
			name string
			q    audit.EventQuery
			want []int64
		}{
			{"everything, newest first", audit.EventQuery{}, []int64{8, 7, 6, 5, 4, 3, 2, 1, 0}},
			{"from is inclusive", audit.EventQuery{From: t0.Add(7 * time.Minute)}, []int64{8, 7}},
			{"to is exclusive", audit.EventQuery{To: t0.Add(2 * time.Minute)}, []int64{1, 0}},
			{"from and to by the source's clock", audit.EventQuery{From: t0.Add(3 * time.Minute), To: t0.Add(6*time.Minute + time.Second)},
				[]int64{6, 5, 4, 3}},
			{"actor", audit.EventQuery{Actor: "d001"}, []int64{6, 2, 0}},
			{"actor is exact", audit.EventQuery{Actor: "d00"}, nil},
			{"patient", audit.EventQuery{Patient: "P001"}, []int64{8, 6, 4, 3, 1, 0}},
			{"patient is exact and case-sensitive", audit.EventQuery{Patient: "p001"}, nil},
			{"action exact", audit.EventQuery{Action: "view"}, []int64{8, 5, 4, 1, 0}},
			{"action prefix with a star", audit.EventQuery{Action: "ehr.*"}, []int64{7}},
			{"action prefix with a dot", audit.EventQuery{Action: "ehr."}, []int64{7}},
			{"action prefix of several", audit.EventQuery{Action: "e*"}, []int64{7, 6}},
			{"action is exact without a star", audit.EventQuery{Action: "ehr"}, nil},
			{"source", audit.EventQuery{Source: "pacs"}, []int64{5, 4}},
			{"outcome failure", audit.EventQuery{Outcome: audit.OutcomeFailure}, []int64{3}},
			{"outcome unknown", audit.EventQuery{Outcome: audit.OutcomeUnknown}, []int64{7}},
			{"text in the original", audit.EventQuery{Text: `"patient":"P003"`}, nil},
			{"text in Japanese", audit.EventQuery{Text: "閲覧 山田"}, []int64{6, 2, 0}},
			{"text is case-sensitive", audit.EventQuery{Text: "/c calc"}, nil},
			{"text of a formula", audit.EventQuery{Text: "/C calc"}, []int64{5}},
			{"text in the bytes of a record that is not UTF-8", audit.EventQuery{Text: "\xff\xfex"}, []int64{7}},
			{"text in a field read from the record", audit.EventQuery{Text: "臨床検査部"}, []int64{8}},
			{"criteria together", audit.EventQuery{Patient: "P001", Action: "view", Source: "ehr-main"}, []int64{1, 0}},
			{"text and patient", audit.EventQuery{Patient: "P001", Text: "佐藤"}, []int64{1}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.q.AllFacilities = true
				p := searchEvents(t, l, tt.q)
				if got := seqs(p.Events); !slices.Equal(got, tt.want) && (len(got) != 0 || len(tt.want) != 0) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				if p.Next != 0 || p.Behind != 0 {
					t.Errorf("next %d, behind %d; want 0, 0", p.Next, p.Behind)
				}
				n, more, err := l.CountEvents(context.Background(), tt.q, 100)
				if err != nil || more || n != len(tt.want) {
					t.Errorf("count = %d, %v, %v; want %d", n, more, err, len(tt.want))
				}
			})
		}
	})
}

func TestSearchEvents_ReturnsTheEventsAsStored(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newAccessLog(t, d).log
		p := searchEvents(t, l, audit.EventQuery{AllFacilities: true, Actor: "d001", Action: "emergency_access"})
		if len(p.Events) != 1 {
			t.Fatalf("got %d events", len(p.Events))
		}
		want := accessEvents()[6]
		got := p.Events[0]
		if got.Seq != 6 || !got.Time.Equal(want.Time) || !got.Received.Equal(want.Received) || got.Actor != want.Actor ||
			got.Patient != want.Patient || got.Object != want.Object || got.Purpose != "treatment" ||
			got.Session != "s-d001" || string(got.Original) != string(want.Original) || !got.Flags.Has(audit.FlagClockSkew) {
			t.Errorf("event = %+v\nwant %+v", got, want)
		}
		if names := got.Flags.Names(); !slices.Equal(names, []string{"clock_skew"}) {
			t.Errorf("flag names = %v", names)
		}
	})
}

func TestSearchEvents_FacilityScope(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newAccessLog(t, d).log
		tests := []struct {
			name string
			q    audit.EventQuery
			want []int64
		}{
			{"every facility, with events of none", audit.EventQuery{AllFacilities: true, Patient: "P001"}, []int64{8, 6, 4, 3, 1, 0}},
			{"one facility", audit.EventQuery{Facilities: []int64{2}}, []int64{5, 4}},
			{"two facilities", audit.EventQuery{Facilities: []int64{1, 2}, Patient: "P001"}, []int64{6, 4, 3, 1, 0}},
			{"facility 0 is no scope", audit.EventQuery{Facilities: []int64{0}}, nil},
			{"no facility, nothing", audit.EventQuery{}, nil},
			{"scope with a time range", audit.EventQuery{Facilities: []int64{1}, From: t0.Add(2 * time.Minute)}, []int64{7, 6, 3, 2}},
			{"scope with an actor", audit.EventQuery{Facilities: []int64{2}, Actor: "d001"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := searchEvents(t, l, tt.q)
				if got := seqs(p.Events); !slices.Equal(got, tt.want) && (len(got) != 0 || len(tt.want) != 0) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				s, err := l.Summarize(context.Background(), tt.q)
				if err != nil || s.Accesses != len(tt.want) {
					t.Errorf("summary counts %d (%v), want %d", s.Accesses, err, len(tt.want))
				}
			})
		}
		for f, want := range map[int64]bool{0: false, 1: true, 3: false} {
			if got := (audit.EventQuery{Facilities: []int64{1, 2}}).InScope(f); got != want {
				t.Errorf("InScope(%d) = %v", f, got)
			}
		}
		if !(audit.EventQuery{AllFacilities: true}).InScope(0) {
			t.Errorf("every facility does not hold events of none")
		}
	})
}

func TestSearchEvents_PagesNewestFirstWithoutGapsOrRepeats(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newAccessLog(t, d).log
		q := audit.EventQuery{AllFacilities: true, Limit: 2}
		var got []int64
		for range 10 {
			p := searchEvents(t, l, q)
			got = append(got, seqs(p.Events)...)
			if p.Next == 0 {
				break
			}
			if p.Next != p.Events[len(p.Events)-1].Seq {
				t.Fatalf("next = %d, want the last seq of the page %v", p.Next, seqs(p.Events))
			}
			q.Before = p.Next
		}
		if want := []int64{8, 7, 6, 5, 4, 3, 2, 1, 0}; !slices.Equal(got, want) {
			t.Errorf("pages gave %v, want %v", got, want)
		}
		// An exact page has no next.
		p := searchEvents(t, l, audit.EventQuery{AllFacilities: true, Source: "pacs", Limit: 2})
		if len(p.Events) != 2 || p.Next != 0 {
			t.Errorf("exact page: %v next %d", seqs(p.Events), p.Next)
		}
		// Limits: the default and the maximum.
		if _, err := l.Append(context.Background(), manyEvents(audit.MaxLimit+5)); err != nil {
			t.Fatal(err)
		}
		syncAll(t, l)
		if p := searchEvents(t, l, audit.EventQuery{AllFacilities: true}); len(p.Events) != audit.DefaultLimit {
			t.Errorf("default page holds %d", len(p.Events))
		}
		if p := searchEvents(t, l, audit.EventQuery{AllFacilities: true, Limit: 10000}); len(p.Events) != audit.MaxLimit {
			t.Errorf("largest page holds %d", len(p.Events))
		}
		n, more, err := l.CountEvents(context.Background(), audit.EventQuery{AllFacilities: true}, 100)
		if err != nil || n != 100 || !more {
			t.Errorf("bounded count = %d, %v, %v; want 100, true", n, more, err)
		}
	})
}

// manyEvents returns n views of patient P9 by one nurse, after the fixture.
func manyEvents(n int) []audit.Event {
	out := make([]audit.Event, n)
	for i := range out {
		at := t0.Add(time.Hour + time.Duration(i)*time.Second)
		out[i] = audit.Event{Time: at, Received: at, Facility: 1, Source: "ehr-main", Action: "view",
			Actor:   audit.Actor{ID: fmt.Sprintf("n%03d", i%7), Department: []string{"内科", "外科"}[i%2]},
			Patient: audit.Patient{ID: "P9"}, Outcome: audit.OutcomeSuccess}
	}
	return out
}

func TestSearchEvents_FindsEventsAppendedJustBefore(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		f := newAccessLog(t, d)
		for i := range 5 {
			if _, err := f.log.Append(context.Background(), manyEvents(1)); err != nil {
				t.Fatal(err)
			}
			recordSecurity(t, f.log) // waits in the outbox until the search moves it
			p := searchEvents(t, f.log, audit.EventQuery{AllFacilities: true, Limit: 2})
			if len(p.Events) != 2 || p.Events[0].Source != audit.SourceAnzen || p.Events[1].Patient.ID != "P9" {
				t.Fatalf("round %d: the newest events are %+v", i, p.Events)
			}
		}
		lag, err := f.log.Lag(context.Background())
		if err != nil || lag.Behind() != 0 {
			t.Errorf("lag = %+v, %v", lag, err)
		}
	})
}

func TestReadEvent_FromTheLogNotFoundOrArchived(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := newAccessLog(t, d).log
		e, err := l.ReadEvent(ctx, 7)
		if err != nil || e.Seq != 7 || e.Action != "ehr.chart_open" || string(e.Original) != "\xff\xfex\x00" {
			t.Fatalf("ReadEvent(7) = %+v, %v", e, err)
		}
		for _, seq := range []int64{-1, 9, 1 << 40} {
			if _, err := l.ReadEvent(ctx, seq); !errors.Is(err, db.ErrNotFound) {
				t.Errorf("ReadEvent(%d) = %v, want not found", seq, err)
			}
		}
		// Retention removes rows from the log after archiving them.
		if _, err := d.ExecContext(ctx, `DELETE FROM audit_log WHERE seq = 2`); err != nil {
			t.Fatal(err)
		}
		if _, err := l.ReadEvent(ctx, 2); !errors.Is(err, audit.ErrArchived) {
			t.Errorf("ReadEvent of a removed row = %v, want ErrArchived", err)
		}
	})
}

func TestSummarize_CountsAccessesPeopleAndBreakdowns(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newAccessLog(t, d).log
		s, err := l.Summarize(context.Background(), audit.EventQuery{AllFacilities: true, Patient: "P001"})
		if err != nil {
			t.Fatal(err)
		}
		// P001: seq 0, 1, 3, 6 (ehr-main: d001 twice, n001, d002), 4 (pacs r001), 8 (lab lab001).
		if s.Accesses != 6 || s.People != 5 || !s.First.Equal(t0) || !s.Last.Equal(t0.Add(8*time.Minute)) ||
			s.Truncated || s.Behind != 0 {
			t.Errorf("summary = %+v", s)
		}
		if !slices.Equal(s.Names, []string{"患者 一郎"}) {
			t.Errorf("names = %q", s.Names)
		}
		wantDept := []audit.Tally{{"内科", 2, 1}, {"外科", 1, 1}, {"放射線科", 1, 1}, {"看護部", 1, 1}, {"臨床検査部", 1, 1}}
		if !slices.Equal(s.Departments, wantDept) {
			t.Errorf("departments = %v, want %v", s.Departments, wantDept)
		}
		wantProf := []audit.Tally{{"doctor", 3, 2}, {"clinical_laboratory_technologist", 1, 1}, {"nurse", 1, 1}, {"radiologist", 1, 1}}
		if !slices.Equal(s.Professions, wantProf) {
			t.Errorf("professions = %v, want %v", s.Professions, wantProf)
		}
		wantAction := []audit.Tally{{"view", 4, 4}, {"emergency_access", 1, 1}, {"print", 1, 1}}
		if !slices.Equal(s.Actions, wantAction) {
			t.Errorf("actions = %v, want %v", s.Actions, wantAction)
		}
		wantSource := []audit.Tally{{"ehr-main", 4, 3}, {"lab", 1, 1}, {"pacs", 1, 1}}
		if !slices.Equal(s.Sources, wantSource) {
			t.Errorf("sources = %v, want %v", s.Sources, wantSource)
		}
		// Within facility 1 and a time range.
		s, err = l.Summarize(context.Background(), audit.EventQuery{Facilities: []int64{1}, Patient: "P001",
			From: t0.Add(time.Minute), To: t0.Add(6 * time.Minute)})
		if err != nil || s.Accesses != 2 || s.People != 2 || !s.First.Equal(t0.Add(time.Minute)) ||
			!s.Last.Equal(t0.Add(3*time.Minute)) || len(s.Names) != 0 {
			t.Errorf("scoped summary = %+v, %v", s, err)
		}
		// A patient nobody saw.
		s, err = l.Summarize(context.Background(), audit.EventQuery{AllFacilities: true, Patient: "P404"})
		if err != nil || s.Accesses != 0 || s.People != 0 || !s.First.IsZero() || len(s.Departments) != 0 {
			t.Errorf("empty summary = %+v, %v", s, err)
		}
	})
}

func TestSummarize_ReadsInChunksAndSaysWhenCut(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := newAccessLog(t, d).log
		const n = 4500 // more than two chunks
		if _, err := l.Append(context.Background(), manyEvents(n)); err != nil {
			t.Fatal(err)
		}
		syncAll(t, l)
		s, err := l.Summarize(context.Background(), audit.EventQuery{AllFacilities: true, Patient: "P9"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Accesses != n || s.People != 7 || s.Truncated || !s.First.Equal(t0.Add(time.Hour)) ||
			!s.Last.Equal(t0.Add(time.Hour+(n-1)*time.Second)) {
			t.Errorf("summary = %+v", s)
		}
		if want := []audit.Tally{{"内科", n / 2, 7}, {"外科", n / 2, 7}}; !slices.Equal(s.Departments, want) {
			t.Errorf("departments = %v, want %v", s.Departments, want)
		}
		restore := audit.SetSummaryMax(1000)
		defer restore()
		s, err = l.Summarize(context.Background(), audit.EventQuery{AllFacilities: true, Patient: "P9"})
		if err != nil || s.Accesses != 1000 || !s.Truncated || !s.Last.Equal(t0.Add(time.Hour+(n-1)*time.Second)) {
			t.Errorf("cut summary: %d accesses, truncated %v, last %v, %v", s.Accesses, s.Truncated, s.Last, err)
		}
		s, err = l.Summarize(context.Background(), audit.EventQuery{AllFacilities: true, Patient: "P9",
			From: t0.Add(time.Hour + (n-1000)*time.Second)})
		if err != nil || s.Accesses != 1000 || s.Truncated {
			t.Errorf("exactly the maximum: %d accesses, truncated %v, %v", s.Accesses, s.Truncated, err)
		}
	})
}

// TestSearchEvents_UsesTheIndexes reads SQLite's plans of the main shapes
// of a search: each must search an index (or walk the log by position, for
// no criterion), never scan the index table for a patient, an actor, a
// source or a time. SQLite plans without statistics here, as anzen's
// database does until someone runs ANALYZE. (PostgreSQL's plans depend on
// its statistics; docs/audit.md has those measured on 200,000 events.)
func TestSearchEvents_UsesTheIndexes(t *testing.T) {
	d := dbtest.SQLite(t, parts...)
	l := newAccessLog(t, d).log
	from := t0.Add(time.Minute)
	tests := []struct {
		name  string
		q     audit.EventQuery
		index string
	}{
		{"patient", audit.EventQuery{AllFacilities: true, Patient: "P001"}, "audit_index_patient"},
		{"patient in a facility", audit.EventQuery{Facilities: []int64{1, 2}, Patient: "P001"}, "audit_index_patient"},
		{"patient and dates", audit.EventQuery{Facilities: []int64{1}, Patient: "P001", From: from}, "audit_index_patient"},
		{"actor", audit.EventQuery{AllFacilities: true, Actor: "d001"}, "audit_index_actor"},
		{"actor in a facility", audit.EventQuery{Facilities: []int64{1}, Actor: "d001"}, "audit_index_actor"},
		{"time range", audit.EventQuery{AllFacilities: true, From: from, To: from.Add(time.Hour)}, "audit_index_at"},
		{"time range in a facility", audit.EventQuery{Facilities: []int64{2}, From: from, To: from.Add(time.Hour)}, "audit_index_at"},
		{"source", audit.EventQuery{AllFacilities: true, Source: "pacs"}, "audit_index_source"},
		{"source in facilities", audit.EventQuery{Facilities: []int64{1, 2}, Source: "pacs"}, "audit_index_source"},
		{"a facility", audit.EventQuery{Facilities: []int64{1}}, "audit_index_facility"},
		{"action", audit.EventQuery{AllFacilities: true, Action: "print"}, "audit_index_action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := audit.QueryPlan(t, l, tt.q)
			if !strings.Contains(plan, "USING INDEX "+tt.index) && !strings.Contains(plan, "USING COVERING INDEX "+tt.index) {
				t.Errorf("plan does not use %s:\n%s", tt.index, plan)
			}
		})
	}
	if plan := audit.QueryPlan(t, l, audit.EventQuery{AllFacilities: true}); strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("a search of everything sorts instead of walking the log backwards:\n%s", plan)
	}
}
