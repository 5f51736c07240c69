package audit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SummaryMax is the most events a Summary counts: the newest ones. A
// patient's record is seldom opened more than a few thousand times; the
// bound keeps a summary of a careless query from reading the whole log.
const SummaryMax = 100000

// summaryMax is SummaryMax; tests lower it.
var summaryMax = SummaryMax

// summaryChunk is how many entries a Summary reads per query.
const summaryChunk = 2000

// Summary answers "who saw it, how often, when": the question a patient or
// an auditor asks of one patient's record (the per-patient view), over the
// events of a query.
type Summary struct {
	Accesses int       // events counted
	People   int       // distinct people (source and user id); events without a user id are not a person
	First    time.Time // the oldest event counted, by the source's clock
	Last     time.Time // the newest

	// Names are the names the sources sent for the patient, most recent
	// first (empty when no source sent one).
	Names []string

	// Accesses and people by department, profession, action and source,
	// most accesses first.
	Departments []Tally
	Professions []Tally
	Actions     []Tally
	Sources     []Tally

	// Truncated: the query selects more than SummaryMax events, and only
	// the newest SummaryMax were counted.
	Truncated bool
	// Behind is how many events the search index had still to take.
	Behind int64
}

// Tally is one line of a Summary's breakdown: a value (a department, a
// profession ...; "" when the source sent none), how many events had it,
// and how many distinct people.
type Tally struct {
	Name     string
	Accesses int
	People   int
}

// Summarize counts the events q selects (Before and Limit are ignored):
// how many, by how many people, first and last, by department, profession,
// action and source.
func (l *Log) Summarize(ctx context.Context, q EventQuery) (Summary, error) {
	var s Summary
	behind, err := l.Sync(ctx)
	if err != nil {
		return s, fmt.Errorf("summarise audit events: %w", err)
	}
	s.Behind = behind
	where, args, none := l.eventConditions(q)
	if none {
		return s, nil
	}
	people := map[actorKey]bool{}
	tallies := [4]map[string]*tallyCount{{}, {}, {}, {}}
	seenName := map[string]bool{}
	before := int64(-1)
	for s.Accesses < summaryMax {
		w, a := where, args
		if before >= 0 {
			w, a = append(slices.Clone(w), "i.seq < ?"), append(slices.Clone(a), before)
		}
		n := min(summaryChunk, summaryMax-s.Accesses)
		query := "SELECT i.seq, l.entry FROM audit_index i JOIN audit_log l ON l.seq = i.seq WHERE " +
			strings.Join(w, " AND ") + " ORDER BY i.seq DESC LIMIT ?"
		events, err := l.readEntries(ctx, query, append(a, n)...)
		if err != nil {
			return s, fmt.Errorf("summarise audit events: %w", err)
		}
		for i := range events {
			e := &events[i]
			s.Accesses++
			if s.Last.IsZero() || e.Time.After(s.Last) {
				s.Last = e.Time
			}
			if s.First.IsZero() || e.Time.Before(s.First) {
				s.First = e.Time
			}
			if e.Patient.Name != "" && !seenName[e.Patient.Name] {
				seenName[e.Patient.Name] = true
				s.Names = append(s.Names, e.Patient.Name)
			}
			p := actorKey{e.Source, e.Actor.ID}
			if e.Actor.ID != "" {
				people[p] = true
			}
			for k, v := range [4]string{e.Actor.Department, e.Actor.Profession, e.Action, e.Source} {
				t := tallies[k][v]
				if t == nil {
					t = &tallyCount{people: map[actorKey]bool{}}
					tallies[k][v] = t
				}
				t.accesses++
				if e.Actor.ID != "" {
					t.people[p] = true
				}
			}
		}
		if len(events) < n {
			break
		}
		before = events[len(events)-1].Seq
	}
	if s.Accesses == summaryMax && before >= 0 {
		// One more event beyond the last counted means the summary is cut.
		var more int
		w := append(slices.Clone(where), "i.seq < ?")
		err := l.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM (SELECT 1 FROM audit_index i JOIN audit_log l ON l.seq = i.seq WHERE "+
			strings.Join(w, " AND ")+" LIMIT 1) AS c", append(slices.Clone(args), before)...).Scan(&more)
		if err != nil {
			return s, fmt.Errorf("summarise audit events: %w", err)
		}
		s.Truncated = more > 0
	}
	s.People = len(people)
	s.Departments = tallyList(tallies[0])
	s.Professions = tallyList(tallies[1])
	s.Actions = tallyList(tallies[2])
	s.Sources = tallyList(tallies[3])
	return s, nil
}

// actorKey is one person: a user id at one source.
type actorKey struct{ source, id string }

type tallyCount struct {
	accesses int
	people   map[actorKey]bool
}

func tallyList(m map[string]*tallyCount) []Tally {
	out := make([]Tally, 0, len(m))
	for name, t := range m {
		out = append(out, Tally{Name: name, Accesses: t.accesses, People: len(t.people)})
	}
	slices.SortFunc(out, func(a, b Tally) int {
		if c := cmp.Compare(b.Accesses, a.Accesses); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}
