package detect

import (
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect/sigma"
)

// TestCoalesce: a batch's matches of one rule by one user in one facility
// become one alert while each is within GroupWindow of the one before;
// another user, facility or rule, a gap over the window, and correlation
// alerts stay apart.
func TestCoalesce(t *testing.T) {
	r1 := &sigma.Rule{ID: "r1", Title: "r1", Level: sigma.LevelHigh}
	r2 := &sigma.Rule{ID: "r2", Title: "r2", Level: sigma.LevelHigh}
	t0 := time.Date(2026, 12, 6, 13, 0, 0, 0, time.UTC)
	ev := func(seq int64, user string, facility int64, at time.Duration) *audit.Event {
		e := &audit.Event{Seq: seq, Facility: facility, Time: t0.Add(at)}
		e.Actor.ID = user
		return e
	}
	in := []Alert{
		ruleAlert(r1, ev(1, "u1", 1, 0)),
		ruleAlert(r1, ev(2, "u2", 1, time.Minute)),
		ruleAlert(r1, ev(3, "u1", 1, 2*time.Minute)),
		ruleAlert(r2, ev(4, "u1", 1, 3*time.Minute)),
		ruleAlert(r1, ev(5, "u1", 2, 4*time.Minute)),
		{RuleID: "c1", Correlation: "event_count", Group: []sigma.GroupValue{{Field: "user", Value: "u1"}}, Total: 5},
		ruleAlert(r1, ev(6, "u1", 1, 62*time.Minute)),
		ruleAlert(r1, ev(7, "u1", 1, 2*time.Hour+3*time.Minute)),
	}
	for i := 8; i < 8+maxSeqs+5; i++ {
		in = append(in, ruleAlert(r1, ev(int64(i), "u3", 1, 3*time.Hour+time.Duration(i)*time.Second)))
	}
	out := coalesce(in)
	type got struct {
		rule  string
		first int64
		total int
		seqs  int
	}
	want := []got{{"r1", 1, 3, 3}, {"r1", 2, 1, 1}, {"r2", 4, 1, 1}, {"r1", 5, 1, 1}, {"c1", 0, 5, 0}, {"r1", 7, 1, 1},
		{"r1", 8, maxSeqs + 5, maxSeqs}}
	if len(out) != len(want) {
		t.Fatalf("%d alerts, want %d: %+v", len(out), len(want), out)
	}
	for i, a := range out {
		g := got{a.RuleID, a.FirstSeq, a.Total, len(a.Seqs)}
		if g != want[i] {
			t.Errorf("alert %d: %+v, want %+v", i, g, want[i])
		}
	}
	if a := out[0]; a.LastSeq != 6 || !a.LastTime.Equal(t0.Add(62*time.Minute)) || a.Seqs[2] != 6 {
		t.Errorf("joined alert: last %d at %v, events %v", a.LastSeq, a.LastTime, a.Seqs)
	}
}
