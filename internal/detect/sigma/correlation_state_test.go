package sigma

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// corrScenario is a set of correlations of every kind over three rules,
// and a stream of their events.
func corrScenario(t testing.TB) (rules []*Rule, corrs func() []*Correlation, steps []corrStep) {
	failed, success, view := corrRule("f", "failed_login"), corrRule("s", "successful_login"), corrRule("v", "record_view")
	rules = []*Rule{failed, success, view}
	corrs = func() []*Correlation {
		return []*Correlation{
			mustCorrelation(t, strings.Replace(corrManyFailed, "gte: 10", "gte: 3", 1)),
			mustCorrelation(t, corrBruteForce),
			mustCorrelation(t, "title: patients\nid: vc\ncorrelation: {type: value_count, rules: [record_view], group-by: [User], timespan: 30s, condition: {field: patient, gte: 4}}"),
			mustCorrelation(t, "title: quiet\nid: lt\ncorrelation: {type: event_count, rules: [successful_login], group-by: [User], timespan: 20s, condition: {lt: 2}}"),
			mustCorrelation(t, "title: ward\nid: sum\ncorrelation: {type: value_sum, rules: [record_view], group-by: [ward], timespan: 40s, condition: {field: n, gte: 20}}"),
			mustCorrelation(t, "title: any\nid: tp\ncorrelation: {type: temporal, rules: [failed_login, record_view], group-by: [User], timespan: 15s}"),
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	users := []string{"alice", "bob", "carol", "dave"}
	sec := 0
	for i := range 400 {
		sec += rng.IntN(4)
		u := users[rng.IntN(len(users))]
		var s corrStep
		switch rng.IntN(3) {
		case 0:
			s = corrStep{failed, sec, int64(i), corrEvent{"User": u}}
		case 1:
			s = corrStep{success, sec, int64(i), corrEvent{"User": u}}
		default:
			s = corrStep{view, sec, int64(i), corrEvent{"User": u, "patient": fmt.Sprint("P", rng.IntN(6)), "ward": fmt.Sprint("W", rng.IntN(2)), "n": float64(rng.IntN(5))}}
		}
		steps = append(steps, s)
		if rng.IntN(10) == 0 {
			steps = append(steps, corrStep{sec: sec + rng.IntN(30)})
		}
	}
	return rules, corrs, steps
}

func TestCorrelator_SaveRestoreMidStreamGivesTheSameMatches(t *testing.T) {
	rules, corrs, steps := corrScenario(t)
	want := corrRun(mustCorrelator(t, rules, corrs()), steps)
	if len(want) < 20 {
		t.Fatalf("the scenario gives %d matches only: make it richer", len(want))
	}
	kinds := make(map[string]bool)
	for _, m := range want {
		kinds[m[:strings.IndexByte(m, '[')]] = true
	}
	if len(kinds) != 6 {
		t.Fatalf("the scenario matches %d correlations of 6: %v", len(kinds), kinds)
	}
	for cut := 0; cut <= len(steps); cut += 7 {
		c := mustCorrelator(t, rules, corrs())
		got := corrRun(c, steps[:cut])
		b, err := c.Save()
		if err != nil {
			t.Fatal(err)
		}
		c2 := mustCorrelator(t, rules, corrs()) // built anew, as after a restart
		if err := c2.Restore(b); err != nil {
			t.Fatal(err)
		}
		got = append(got, corrRun(c2, steps[cut:])...)
		if !slices.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Fatalf("cut at step %d: %d matches, want %d; from match %d:\n got %q\nwant %q", cut, len(got), len(want), i, got[i:min(i+3, len(got))], want[i:min(i+3, len(want))])
		}
		if s1, s2 := c2.Stats(), mustCorrelator(t, rules, corrs()).Stats(); len(s1) != len(s2) {
			t.Fatalf("Stats: %d correlations", len(s1))
		}
	}
}

func TestCorrelator_RestoreIgnoresCorrelationsNoLongerPresent(t *testing.T) {
	failed := corrRule("f-1", "failed")
	old := []*Correlation{
		mustCorrelation(t, corrCountGte3),
		mustCorrelation(t, strings.Replace(corrCountGte3, "id: c3", "id: gone", 1)),
		mustCorrelation(t, strings.Replace(corrCountGte3, "id: c3", "id: changed", 1)),
	}
	c := mustCorrelator(t, []*Rule{failed}, old)
	u := corrEvent{"user": "u"}
	corrRun(c, corrSteps(failed, u, 1, 0, 1))
	b, err := c.Save()
	if err != nil {
		t.Fatal(err)
	}
	now := []*Correlation{
		mustCorrelation(t, strings.Replace(strings.Replace(corrCountGte3, "id: c3", "id: changed", 1), "gte: 3", "lt: 3", 1)),
		mustCorrelation(t, corrCountGte3),
	}
	c2 := mustCorrelator(t, []*Rule{failed}, now)
	if err := c2.Restore(b); err != nil {
		t.Fatal(err)
	}
	// c3 goes on from two events; changed (now decided at window end)
	// starts afresh with the third and closes with it alone.
	got := corrRun(c2, append(corrSteps(failed, u, 3, 2), corrStep{sec: 20}))
	corrEqual(t, got, []string{"c3[user=u] 3 [1 2 3] 0-2", "changed[user=u] 1 [3] 2-2"})
}

func TestCorrelator_RestoreKeepsMaxGroups(t *testing.T) {
	failed := corrRule("f-1", "failed")
	k := mustCorrelation(t, corrCountGte3)
	c := mustCorrelator(t, []*Rule{failed}, []*Correlation{k})
	for i, u := range []string{"a", "b", "c", "d"} {
		c.Observe(failed, corrEvent{"user": u}, corrAt(i), int64(i))
	}
	b, _ := c.Save()
	c2 := mustCorrelator(t, []*Rule{failed}, []*Correlation{mustCorrelation(t, corrCountGte3)}, WithMaxGroups(2))
	if err := c2.Restore(b); err != nil {
		t.Fatal(err)
	}
	if s := c2.Stats()[0]; s.Groups != 2 || s.Evicted != 2 {
		t.Errorf("after Restore: %d groups, %d evicted; want 2 and 2", s.Groups, s.Evicted)
	}
	// The newest two, c and d, are kept.
	got := corrRun(c2, []corrStep{{failed, 4, 10, corrEvent{"user": "d"}}, {failed, 4, 11, corrEvent{"user": "d"}}, {failed, 5, 12, corrEvent{"user": "a"}}})
	corrEqual(t, got, []string{"c3[user=d] 3 [3 10 11] 3-4"})
}

func TestCorrelator_RestoreRejectsBadState(t *testing.T) {
	failed := corrRule("f-1", "failed")
	c := mustCorrelator(t, []*Rule{failed}, []*Correlation{mustCorrelation(t, corrCountGte3)})
	for _, tt := range []struct{ state, want string }{
		{"nonsense", "restoring the correlator"},
		{`{"version": 99}`, "state version 99"},
		{`{"version": 1, "correlations": [{"key": "c3", "type": "event_count", "groups": [{"vals": ["u"], "refs": [` + strings.Repeat("1,", 100) + `1]}]}]}`, "more than 100"},
	} {
		if err := c.Restore([]byte(tt.state)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Restore(%.30q) = %v, want an error containing %q", tt.state, err, tt.want)
		}
	}
}
