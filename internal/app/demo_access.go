package app

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/identity"
)

// The demo's access log: a week of what the fictional hospital's systems
// would send — the EHR of each facility, PACS and the laboratory system —
// with the quirks an IT person meets: a terminal gateway whose clock runs
// five minutes slow, and a dispensing system that stopped sending three
// days ago.

// demoPatient is a fictional patient, by id; about one in three has
// a name sent by the EHR.
func demoPatient(n int) audit.Patient {
	p := audit.Patient{ID: fmt.Sprintf("P%07d", 100000+n)}
	if n%3 == 0 {
		fam, giv := demoFamily[(n*5)%len(demoFamily)], demoGiven[(n*3+1)%len(demoGiven)]
		p.Name = fam.kanji + " " + giv.kanji
	}
	return p
}

const demoPatientCount = 400

// demoSource is one system of the demo hospital that sends access logs.
type demoSource struct {
	name     string
	facility int64
	objects  []string      // record types it reports
	actions  []string      // its actions, weighted by repetition
	skew     time.Duration // how far its clock is off
	stopped  int           // days since it last sent anything (0: still sending)
	share    int           // events per staff member and day
}

// demoAccess writes the week of access events.
func (a *App) demoAccess(ctx context.Context, staff []demoPerson, now time.Time, main, clinic int64) error {
	loc := a.Cfg.Location()
	sources := []demoSource{
		{name: "ehr-main", facility: main, objects: []string{"record", "order", "prescription", "note"},
			actions: []string{"view", "view", "view", "view", "view", "view", "update", "create", "search", "print"}, share: 40},
		{name: "pacs", facility: main, objects: []string{"study", "image"},
			actions: []string{"view", "view", "view", "export", "search"}, share: 6},
		{name: "lab-system", facility: main, objects: []string{"lab-result"},
			actions: []string{"view", "view", "create", "update"}, share: 5},
		{name: "ward-terminal-gw", facility: main, objects: []string{"vital-signs"},
			actions: []string{"view", "create"}, skew: -5 * time.Minute, share: 4},
		{name: "dispensing", facility: main, objects: []string{"dispensing-record"},
			actions: []string{"view", "update"}, stopped: 3, share: 3},
		{name: "clinic-ehr", facility: clinic, objects: []string{"record", "order"},
			actions: []string{"view", "view", "view", "update", "print"}, share: 25},
	}
	rng := rand.New(rand.NewPCG(2026, 4))
	var events []audit.Event
	clinical := make([]demoPerson, 0, len(staff))
	for _, p := range staff {
		if p.role == "staff" {
			clinical = append(clinical, p)
		}
	}
	for day := 7; day >= 0; day-- {
		date := now.In(loc).AddDate(0, 0, -day)
		base := time.Date(date.Year(), date.Month(), date.Day(), 8, 30, 0, 0, loc)
		for si, s := range sources {
			if s.stopped > 0 && day < s.stopped {
				continue
			}
			for pi, p := range clinical {
				if (s.facility == clinic) != (pi%9 == 8) {
					continue // a facility's system is used by its own staff
				}
				n := s.share/2 + rng.IntN(s.share+1)
				for k := range n {
					at := base.Add(time.Duration(rng.IntN(9*3600)) * time.Second)
					if p.prof == identity.Profession("nurse") && k%4 == 0 {
						at = at.Add(10 * time.Hour) // night shift
					}
					if !at.Before(now) {
						continue
					}
					e := demoEvent(rng, s, p, at)
					if si == 0 && k == 0 {
						e.Action, e.Patient, e.Object = "login", audit.Patient{}, audit.Object{}
					}
					events = append(events, e)
				}
			}
		}
		// A few things worth a second look: failed logins at night, an
		// emergency access (break the glass), an export of many records.
		night := base.Add(16 * time.Hour)
		p := clinical[day%len(clinical)]
		if night.Before(now) {
			for i := range 4 {
				e := demoEvent(rng, sources[0], p, night.Add(time.Duration(i)*40*time.Second))
				e.Action, e.Outcome, e.Patient, e.Object = "login_failed", audit.OutcomeFailure, audit.Patient{}, audit.Object{}
				events = append(events, e)
			}
			e := demoEvent(rng, sources[0], clinical[(day*5+2)%len(clinical)], night.Add(2*time.Hour))
			e.Action, e.Purpose = "emergency_access", "emergency"
			events = append(events, e)
		}
	}
	for i := range events {
		events[i].Original = demoOriginal(&events[i])
	}
	const batch = 5000
	for len(events) > 0 {
		n := min(batch, len(events))
		if _, err := a.Audit.Append(ctx, events[:n]); err != nil {
			return fmt.Errorf("demo access log: %w", err)
		}
		events = events[n:]
	}
	return nil
}

// demoEvent is one access of p through source s at time at.
func demoEvent(rng *rand.Rand, s demoSource, p demoPerson, at time.Time) audit.Event {
	patient := demoPatient(rng.IntN(demoPatientCount))
	object := s.objects[rng.IntN(len(s.objects))]
	e := audit.Event{
		Seq:      -1,
		Time:     at.Add(s.skew),
		Received: at.Add(time.Duration(20+rng.IntN(200)) * time.Millisecond),
		Facility: s.facility,
		Source:   s.name,
		Actor: audit.Actor{ID: p.login, Name: p.name, Profession: string(p.prof), Department: p.dept,
			Terminal: fmt.Sprintf("WS-%s-%02d", s.name[:3], 1+rng.IntN(40)),
			Address:  fmt.Sprintf("10.20.%d.%d", 1+rng.IntN(8), 10+rng.IntN(200))},
		Action:  s.actions[rng.IntN(len(s.actions))],
		Patient: patient,
		Object:  audit.Object{Type: object, ID: fmt.Sprintf("%s-%08d", object[:2], rng.IntN(1e8))},
		Outcome: audit.OutcomeSuccess,
		Purpose: "treatment",
		Session: fmt.Sprintf("%s-%s-%d", s.name, p.login, at.YearDay()),
		Format:  audit.FormatJSON,
	}
	return e
}

// demoOriginal is the record as the source would have sent it, in the
// JSON wire form with a field of its own that anzen does not know.
func demoOriginal(e *audit.Event) []byte {
	return fmt.Appendf(nil, `{"time":%q,"source":%q,"actor":{"id":%q,"name":%q,"profession":%q,"department":%q,"terminal":%q,"address":%q},"action":%q,"patient":{"id":%q,"name":%q},"object":{"type":%q,"id":%q},"outcome":%q,"purpose":%q,"session":%q,"demo":true}`,
		e.Time.Format(time.RFC3339Nano), e.Source, e.Actor.ID, e.Actor.Name, e.Actor.Profession, e.Actor.Department,
		e.Actor.Terminal, e.Actor.Address, e.Action, e.Patient.ID, e.Patient.Name, e.Object.Type, e.Object.ID,
		e.Outcome, e.Purpose, e.Session)
}
