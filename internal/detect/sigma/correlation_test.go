package sigma

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// corrEvent is an Event made of a map, for the correlation tests.
type corrEvent map[string]any

func (e corrEvent) Field(name string) (any, bool) {
	v, ok := e[name]
	return v, ok
}

func (e corrEvent) Keywords(fn func(string) bool) bool {
	for _, v := range e {
		if s, ok := v.(string); ok && fn(s) {
			return true
		}
	}
	return false
}

// corrRule is a base rule that matches every event; correlations refer to
// it by id or name.
func corrRule(id, name string) *Rule {
	return &Rule{ID: id, Name: name, Title: name, match: func(Event) bool { return true }}
}

// mustCorrelation reads one correlation document or fails the test.
func mustCorrelation(t testing.TB, src string) *Correlation {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	c, err := parseCorrelation(1, &n)
	if err != nil {
		t.Fatalf("parseCorrelation: %v", err)
	}
	return c
}

// mustCorrelator builds a correlator or fails the test.
func mustCorrelator(t testing.TB, rules []*Rule, corrs []*Correlation, opts ...CorrelatorOption) *Correlator {
	t.Helper()
	c, err := NewCorrelator(rules, corrs, opts...)
	if err != nil {
		t.Fatalf("NewCorrelator: %v", err)
	}
	return c
}

var corrT0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

// corrAt is corrT0 plus s seconds.
func corrAt(s int) time.Time { return corrT0.Add(time.Duration(s) * time.Second) }

// corrStep is one call in a scenario: an event of rule at second sec with
// ref, or (rule nil) an Advance to sec.
type corrStep struct {
	rule *Rule
	sec  int
	ref  int64
	ev   corrEvent
}

// corrRun plays the steps and returns every Match, summarised.
func corrRun(c *Correlator, steps []corrStep) []string {
	var out []string
	for _, s := range steps {
		var ms []Match
		if s.rule == nil {
			ms = c.Advance(corrAt(s.sec))
		} else {
			ms = c.Observe(s.rule, s.ev, corrAt(s.sec), s.ref)
		}
		for _, m := range ms {
			out = append(out, corrSummary(m))
		}
	}
	return out
}

// corrSummary writes a Match as "key[group] value refs", plus its times.
func corrSummary(m Match) string {
	var g []string
	for _, v := range m.Group {
		g = append(g, v.Field+"="+v.Value)
	}
	return fmt.Sprintf("%s[%s] %g %v %d-%d", m.Correlation.Key(), strings.Join(g, ","), m.Value, m.Refs,
		int(m.First.Sub(corrT0)/time.Second), int(m.Last.Sub(corrT0)/time.Second))
}

func corrEqual(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("matches:\n got %q\nwant %q", got, want)
	}
}

// corrSteps makes one step per second given, of rule r with event e,
// refs from first.
func corrSteps(r *Rule, e corrEvent, first int64, secs ...int) []corrStep {
	out := make([]corrStep, len(secs))
	for i, s := range secs {
		out[i] = corrStep{rule: r, sec: s, ref: first + int64(i), ev: e}
	}
	return out
}

const corrCountGte3 = `
title: three failures
id: c3
correlation:
  type: event_count
  rules: [failed]
  group-by: [user]
  timespan: 10s
  condition:
    gte: 3
`

func TestCorrelation_EventCountThresholdAtTheBoundary(t *testing.T) {
	alice := corrEvent{"user": "alice"}
	tests := []struct {
		name string
		cond string
		secs []int
		want []string
	}{
		{"exactly three in exactly the timespan", "gte: 3", []int{0, 5, 10}, []string{"c3[user=alice] 3 [1 2 3] 0-10"}},
		{"two are not enough", "gte: 3", []int{0, 5}, nil},
		{"the first just outside the window", "gte: 3", []int{0, 5, 11}, nil},
		{"the first outside, a fourth inside", "gte: 3", []int{0, 5, 11, 12}, []string{"c3[user=alice] 3 [2 3 4] 5-12"}},
		{"gt 2 needs three", "gt: 2", []int{0, 1, 2}, []string{"c3[user=alice] 3 [1 2 3] 0-2"}},
		{"gt 3 needs four", "gt: 3", []int{0, 1, 2}, nil},
		{"gte 1 fires on the first", "gte: 1", []int{7}, []string{"c3[user=alice] 1 [1] 7-7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failed := corrRule("f-1", "failed")
			k := mustCorrelation(t, strings.Replace(corrCountGte3, "gte: 3", tt.cond, 1))
			c := mustCorrelator(t, []*Rule{failed}, []*Correlation{k})
			corrEqual(t, corrRun(c, corrSteps(failed, alice, 1, tt.secs...)), tt.want)
		})
	}
}

func TestCorrelation_EventCountNoRepeatWithinBurst(t *testing.T) {
	failed := corrRule("f-1", "failed")
	c := mustCorrelator(t, []*Rule{failed}, []*Correlation{mustCorrelation(t, corrCountGte3)})
	alice := corrEvent{"user": "alice"}
	// Ten failures in nine seconds: one Match. The burst goes on after
	// the quiet time (Match at 2, quiet until 12): one more at 13, made
	// of events after the first Match only.
	steps := corrSteps(failed, alice, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	steps = append(steps, corrSteps(failed, alice, 11, 13)...)
	corrEqual(t, corrRun(c, steps), []string{
		"c3[user=alice] 3 [1 2 3] 0-2",
		"c3[user=alice] 3 [9 10 11] 8-13",
	})
	if s := c.Stats()[0]; s.Matches != 2 {
		t.Errorf("Stats().Matches = %d, want 2", s.Matches)
	}
}

func TestCorrelation_GroupByKeepsGroupsApart(t *testing.T) {
	failed := corrRule("f-1", "failed")
	k := mustCorrelation(t, strings.Replace(corrCountGte3, "[user]", "[user, host]", 1))
	c := mustCorrelator(t, []*Rule{failed}, []*Correlation{k})
	a1 := corrEvent{"user": "alice", "host": "h1"}
	a2 := corrEvent{"user": "alice", "host": "h2"}
	b1 := corrEvent{"user": "bob", "host": "h1"}
	noHost := corrEvent{"user": "bob", "host": nil}
	noUser := corrEvent{"host": "h1"}
	steps := []corrStep{
		{failed, 0, 1, a1}, {failed, 0, 2, a2}, {failed, 0, 3, b1}, {failed, 0, 4, noHost},
		{failed, 1, 5, a1}, {failed, 1, 6, a2}, {failed, 1, 7, noUser}, {failed, 1, 8, noHost},
		{failed, 2, 9, noUser}, {failed, 2, 10, a1}, {failed, 3, 11, noHost}, {failed, 3, 12, noUser},
	}
	corrEqual(t, corrRun(c, steps), []string{
		"c3[user=alice,host=h1] 3 [1 5 10] 0-2",
		"c3[user=bob,host=] 3 [4 8 11] 0-3",
		"c3[user=,host=h1] 3 [7 9 12] 1-3",
	})
}

func TestCorrelation_ValueCountCountsDistinctValues(t *testing.T) {
	view := corrRule("v-1", "record_view")
	k := mustCorrelation(t, `
title: many patients
id: vc
correlation:
  type: value_count
  rules: [record_view]
  group-by: [user]
  timespan: 1m
  condition:
    field: patient
    gte: 3
`)
	c := mustCorrelator(t, []*Rule{view}, []*Correlation{k})
	p := func(user string, patient any) corrEvent { return corrEvent{"user": user, "patient": patient} }
	steps := []corrStep{
		{view, 0, 1, p("alice", "P1")},
		{view, 1, 2, p("alice", "P1")},           // the same patient again
		{view, 2, 3, p("alice", 1234.0)},         // a number is a value too
		{view, 3, 4, corrEvent{"user": "alice"}}, // no patient: not a value
		{view, 4, 5, p("alice", nil)},            // null: not a value
		{view, 5, 6, p("bob", "P3")},             // another group
		{view, 61, 7, p("alice", "P1")},          // P1 again; 1234 (at 2) has left the window
		{view, 62, 8, p("alice", "P9")},          // P1, 1234 (at 2, in [2, 62]), P9: three
		{view, 70, 9, p("alice", "P10")},         // P10 alone: the others matched
		{view, 71, 10, p("alice", "P9")},         // quiet until 122
		{view, 121, 11, p("alice", "P11")},       // P10, P9, P11: three, but quiet
		{view, 123, 12, p("alice", "P12")},       // four in the window: the newest three are kept
	}
	corrEqual(t, corrRun(c, steps), []string{
		"vc[user=alice] 3 [3 7 8] 2-62",
		"vc[user=alice] 3 [10 11 12] 71-123",
	})
}

func TestCorrelation_AliasesReadOtherFieldsPerRule(t *testing.T) {
	internalError := corrRule("ie-1", "internal_error")
	newConn := corrRule("nc-1", "new_network_connection")
	k := mustCorrelation(t, `
title: error then connection
id: al
correlation:
  type: temporal
  rules: [internal_error, nc-1]
  group-by: [internal_ip, remote_ip]
  timespan: 10s
  aliases:
    internal_ip:
      internal_error: destination.ip
      new_network_connection: source.ip
    remote_ip:
      internal_error: source.ip
      nc-1: destination.ip
`)
	c := mustCorrelator(t, []*Rule{internalError, newConn}, []*Correlation{k})
	steps := []corrStep{
		{internalError, 0, 1, corrEvent{"source.ip": "10.0.0.9", "destination.ip": "10.0.0.1"}},
		// Same addresses, but in the fields of the same direction: another group.
		{newConn, 1, 2, corrEvent{"source.ip": "10.0.0.9", "destination.ip": "10.0.0.1"}},
		{newConn, 2, 3, corrEvent{"source.ip": "10.0.0.1", "destination.ip": "10.0.0.9"}},
	}
	corrEqual(t, corrRun(c, steps), []string{"al[internal_ip=10.0.0.1,remote_ip=10.0.0.9] 2 [1 3] 0-2"})
}

const corrTemporalABC = `
title: recon
id: tp
correlation:
  type: temporal
  rules: [a, b, c]
  group-by: [user]
  timespan: 10s
`

func TestCorrelation_TemporalAndOrder(t *testing.T) {
	a, b, cc := corrRule("ra", "a"), corrRule("rb", "b"), corrRule("rc", "c")
	u := corrEvent{"user": "u"}
	tests := []struct {
		name    string
		typ     string
		order   []*Rule
		secs    []int
		want    []string
		extraEv bool
	}{
		{"temporal in order", "temporal", []*Rule{a, b, cc}, []int{0, 1, 2}, []string{"tp[user=u] 3 [1 2 3] 0-2"}, false},
		{"temporal in any order", "temporal", []*Rule{cc, a, b}, []int{0, 1, 2}, []string{"tp[user=u] 3 [2 3 1] 0-2"}, false},
		{"temporal over the timespan", "temporal", []*Rule{a, b, cc}, []int{0, 5, 11}, nil, false},
		{"temporal missing one", "temporal", []*Rule{a, b, b}, []int{0, 1, 2}, nil, false},
		{"ordered in order", "temporal_ordered", []*Rule{a, b, cc}, []int{0, 1, 2}, []string{"tp[user=u] 3 [1 2 3] 0-2"}, false},
		{"ordered out of order", "temporal_ordered", []*Rule{cc, a, b}, []int{0, 1, 2}, nil, false},
		{"ordered, a later start completes", "temporal_ordered", []*Rule{a, b, a, cc}, []int{0, 1, 2, 3}, []string{"tp[user=u] 3 [1 2 4] 0-3"}, false},
		{"ordered, restarted chain", "temporal_ordered", []*Rule{a, b, a, b, cc}, []int{0, 1, 9, 10, 12}, []string{"tp[user=u] 3 [3 4 5] 9-12"}, false},
		{"ordered over the timespan", "temporal_ordered", []*Rule{a, b, cc}, []int{0, 5, 11}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := mustCorrelation(t, strings.Replace(corrTemporalABC, "type: temporal", "type: "+tt.typ, 1))
			c := mustCorrelator(t, []*Rule{a, b, cc}, []*Correlation{k})
			var steps []corrStep
			for i, r := range tt.order {
				steps = append(steps, corrStep{r, tt.secs[i], int64(i + 1), u})
			}
			corrEqual(t, corrRun(c, steps), tt.want)
		})
	}
}

func TestCorrelation_TemporalWithACondition(t *testing.T) {
	a, b, cc := corrRule("ra", "a"), corrRule("rb", "b"), corrRule("rc", "c")
	k := mustCorrelation(t, corrTemporalABC+"  condition:\n    gte: 2\n")
	c := mustCorrelator(t, []*Rule{a, b, cc}, []*Correlation{k})
	u := corrEvent{"user": "u"}
	corrEqual(t, corrRun(c, []corrStep{{a, 0, 1, u}, {a, 1, 2, u}, {cc, 3, 3, u}}), []string{"tp[user=u] 2 [2 3] 1-3"})
}

func TestCorrelation_UpperBoundsAreDecidedAtWindowEnd(t *testing.T) {
	login := corrRule("l-1", "login")
	u := corrEvent{"user": "u"}
	v := corrEvent{"user": "v"}
	tests := []struct {
		name  string
		cond  string
		steps []corrStep
		want  []string
	}{
		{"lt 3 with two events, decided by Advance", "lt: 3",
			[]corrStep{{login, 0, 1, u}, {login, 4, 2, u}, {nil, 10, 0, nil}, {nil, 11, 0, nil}},
			[]string{"c3[user=u] 2 [1 2] 0-4"}},
		{"lt 3 with three events", "lt: 3",
			[]corrStep{{login, 0, 1, u}, {login, 4, 2, u}, {login, 10, 3, u}, {nil, 11, 0, nil}}, nil},
		{"lte 3 with three events", "lte: 3",
			[]corrStep{{login, 0, 1, u}, {login, 4, 2, u}, {login, 10, 3, u}, {nil, 11, 0, nil}},
			[]string{"c3[user=u] 3 [1 2 3] 0-10"}},
		{"eq 2 decided by another group's event", "eq: 2",
			[]corrStep{{login, 0, 1, u}, {login, 1, 2, u}, {login, 11, 3, v}},
			[]string{"c3[user=u] 2 [1 2] 0-1"}},
		{"eq 2 with three", "eq: 2",
			[]corrStep{{login, 0, 1, u}, {login, 1, 2, u}, {login, 2, 3, u}, {nil, 20, 0, nil}}, nil},
		{"range 2 to 3", "gte: 2\n    lte: 3",
			[]corrStep{{login, 0, 1, u}, {login, 1, 2, u}, {nil, 9, 0, nil}, {nil, 10, 0, nil}, {nil, 11, 0, nil}},
			[]string{"c3[user=u] 2 [1 2] 0-1"}},
		{"a new window after the close", "lt: 2",
			[]corrStep{{login, 0, 1, u}, {login, 11, 2, u}, {login, 12, 3, u}, {nil, 30, 0, nil}},
			[]string{"c3[user=u] 1 [1] 0-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(strings.Replace(corrCountGte3, "gte: 3", tt.cond, 1), "[failed]", "[login]", 1)
			c := mustCorrelator(t, []*Rule{login}, []*Correlation{mustCorrelation(t, src)})
			corrEqual(t, corrRun(c, tt.steps), tt.want)
		})
	}
}

func TestCorrelation_MetricsAreDecidedAtWindowEnd(t *testing.T) {
	xfer := corrRule("x-1", "export")
	tests := []struct {
		typ, cond string
		want      []string
	}{
		{"value_sum", "gt: 100", []string{"m[user=u] 150 [1 2 3] 0-2"}},
		{"value_sum", "gt: 150", nil},
		{"value_avg", "gte: 50", []string{"m[user=u] 50 [1 2 3] 0-2"}},
		{"value_min", "lt: 20", []string{"m[user=u] 10 [1 2 3] 0-2"}},
		{"value_max", "gte: 90", []string{"m[user=u] 90 [1 2 3] 0-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.cond, func(t *testing.T) {
			k := mustCorrelation(t, fmt.Sprintf(`
title: big exports
id: m
correlation:
  type: %s
  rules: [export]
  group-by: [user]
  timespan: 10s
  condition:
    field: bytes
    %s
`, tt.typ, tt.cond))
			c := mustCorrelator(t, []*Rule{xfer}, []*Correlation{k})
			steps := []corrStep{
				{xfer, 0, 1, corrEvent{"user": "u", "bytes": 10.0}},
				{xfer, 1, 2, corrEvent{"user": "u", "bytes": "50"}},
				{xfer, 2, 3, corrEvent{"user": "u", "bytes": 90.0}},
				{xfer, 3, 4, corrEvent{"user": "u", "bytes": "many"}}, // not a number: not counted
				{nil, 11, 0, nil},
			}
			corrEqual(t, corrRun(c, steps), tt.want)
		})
	}
}

func TestCorrelation_MaxGroupsEvictsTheOldest(t *testing.T) {
	failed := corrRule("f-1", "failed")
	c := mustCorrelator(t, []*Rule{failed}, []*Correlation{mustCorrelation(t, corrCountGte3)}, WithMaxGroups(2))
	u := func(s string) corrEvent { return corrEvent{"user": s} }
	steps := []corrStep{
		{failed, 0, 1, u("a")}, {failed, 0, 2, u("b")},
		{failed, 1, 3, u("a")},                         // a is now the most recent
		{failed, 1, 4, u("c")},                         // drops b
		{failed, 2, 5, u("b")}, {failed, 2, 6, u("b")}, // b starts over (drops a): two only
		{failed, 3, 7, u("c")}, {failed, 3, 8, u("c")}, // c: three
	}
	got := corrRun(c, steps)
	corrEqual(t, got, []string{"c3[user=c] 3 [4 7 8] 1-3"})
	s := c.Stats()[0]
	if s.Evicted != 2 || s.Groups != 2 {
		t.Errorf("Stats: evicted %d groups %d, want 2 and 2", s.Evicted, s.Groups)
	}
}

func TestCorrelation_AdvanceForgetsExpiredGroups(t *testing.T) {
	failed := corrRule("f-1", "failed")
	c := mustCorrelator(t, []*Rule{failed}, []*Correlation{mustCorrelation(t, corrCountGte3)})
	corrRun(c, []corrStep{{failed, 0, 1, corrEvent{"user": "a"}}, {failed, 5, 2, corrEvent{"user": "b"}}})
	c.Advance(corrAt(10))
	if g := c.Stats()[0].Groups; g != 2 {
		t.Errorf("groups at 10s = %d, want 2 (a's event at 0 is still in [0, 10])", g)
	}
	c.Advance(corrAt(11))
	if g := c.Stats()[0].Groups; g != 1 {
		t.Errorf("groups at 11s = %d, want 1", g)
	}
	c.Advance(corrAt(5)) // earlier than seen: taken as 11
	c.Advance(corrAt(16))
	if g := c.Stats()[0].Groups; g != 0 {
		t.Errorf("groups at 16s = %d, want 0", g)
	}
}

func TestCorrelation_EarlierTimeIsTakenAsTheLatest(t *testing.T) {
	failed := corrRule("f-1", "failed")
	c := mustCorrelator(t, []*Rule{failed}, []*Correlation{mustCorrelation(t, corrCountGte3)})
	u := corrEvent{"user": "u"}
	got := corrRun(c, []corrStep{{failed, 100, 1, u}, {failed, 50, 2, u}, {failed, 0, 3, u}})
	corrEqual(t, got, []string{"c3[user=u] 3 [1 2 3] 100-100"})
}

func TestNewCorrelator_RejectsBadReferences(t *testing.T) {
	a := corrRule("ra", "a")
	dupName := corrRule("rx", "a")
	tests := []struct {
		name  string
		rules []*Rule
		corrs []string
		want  string
	}{
		{"unknown rule", []*Rule{a}, []string{"title: t\nid: k\ncorrelation: {type: temporal, rules: [a, nope], timespan: 1m}"}, "refers to nope, which is no rule"},
		{"ambiguous name", []*Rule{a, dupName}, []string{"title: t\nid: k\ncorrelation: {type: temporal, rules: [a], timespan: 1m}"}, "names more than one"},
		{"the same rule twice", []*Rule{a}, []string{"title: t\nid: k\ncorrelation: {type: temporal, rules: [a, ra], timespan: 1m}"}, "refers to ra twice"},
		{"itself", []*Rule{a}, []string{"title: t\nid: k\ncorrelation: {type: temporal, rules: [a, k], timespan: 1m}"}, "refers to itself"},
		{"cycle", []*Rule{a}, []string{
			"title: t\nid: k1\ncorrelation: {type: temporal, rules: [a, k2], timespan: 1m}",
			"title: t\nid: k2\ncorrelation: {type: temporal, rules: [a, k3], timespan: 1m}",
			"title: t\nid: k3\ncorrelation: {type: temporal, rules: [a, k1], timespan: 1m}",
		}, "cycle: k1 → k2 → k3 → k1"},
		{"alias names an unknown rule", []*Rule{a}, []string{"title: t\nid: k\ncorrelation: {type: temporal, rules: [a], timespan: 1m, group-by: [ip], aliases: {ip: {b: src}}}"}, "alias ip names b"},
		{"alias names a rule not referred to", []*Rule{a, corrRule("rb", "b")}, []string{"title: t\nid: k\ncorrelation: {type: temporal, rules: [a], timespan: 1m, group-by: [ip], aliases: {ip: {b: src}}}"}, "alias ip names b"},
		{"two correlations with one key", []*Rule{a}, []string{
			"title: t\nid: k\ncorrelation: {type: temporal, rules: [a], timespan: 1m}",
			"title: t\nid: k\ncorrelation: {type: temporal, rules: [a], timespan: 1m}",
		}, "two correlations are named k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var corrs []*Correlation
			for _, s := range tt.corrs {
				corrs = append(corrs, mustCorrelation(t, s))
			}
			_, err := NewCorrelator(tt.rules, corrs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewCorrelator error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNewCorrelator_ChecksCorrelationsBuiltByHand(t *testing.T) {
	a, b := corrRule("ra", "a"), corrRule("rb", "b")
	two := 2.0
	tests := []struct {
		name string
		k    Correlation
		want string
	}{
		{"no type", Correlation{Title: "t", Rules: []string{"a"}, Timespan: time.Minute}, "unknown correlation type"},
		{"no timespan", Correlation{Title: "t", Type: Temporal, Rules: []string{"a"}}, "timespan 0s is not positive"},
		{"no rules", Correlation{Title: "t", Type: Temporal, Timespan: time.Minute}, "correlation.rules is empty"},
		{"no condition", Correlation{Title: "t", Type: EventCount, Rules: []string{"a"}, Timespan: time.Minute}, "event_count needs a condition"},
		{"no field", Correlation{Title: "t", Type: ValueSum, Rules: []string{"a"}, Timespan: time.Minute, Condition: CorrelationCondition{Gt: &two}}, "value_sum needs condition.field"},
		{"temporal lt", Correlation{Title: "t", Type: Temporal, Rules: []string{"a", "b"}, Timespan: time.Minute, Condition: CorrelationCondition{Lt: &two}}, "temporal with lt or lte is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCorrelator([]*Rule{a, b}, []*Correlation{&tt.k})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "correlation t:") {
				t.Errorf("NewCorrelator error = %v, want one naming t and containing %q", err, tt.want)
			}
		})
	}
	// A temporal correlation without a condition needs all its rules; the
	// Correlation itself is left as given.
	k := &Correlation{Title: "t", Type: Temporal, Rules: []string{"a", "b"}, Timespan: time.Minute}
	c := mustCorrelator(t, []*Rule{a, b}, []*Correlation{k})
	u := corrEvent{}
	corrEqual(t, corrRun(c, []corrStep{{a, 0, 1, u}, {a, 1, 2, u}, {b, 2, 3, u}}), []string{"t[] 2 [2 3] 1-2"})
	if k.Condition.Gte != nil {
		t.Errorf("NewCorrelator changed the Correlation's condition to %s", k.Condition)
	}
}

func TestCorrelation_RefsAreTheFirst100WithATotal(t *testing.T) {
	for _, cond := range []string{"gte: 150", "lt: 200"} {
		t.Run(cond, func(t *testing.T) {
			r := corrRule("f-1", "failed")
			k := mustCorrelation(t, strings.Replace(strings.Replace(corrCountGte3, "gte: 3", cond, 1), "10s", "1h", 1))
			c := mustCorrelator(t, []*Rule{r}, []*Correlation{k})
			var ms []Match
			for i := range 150 {
				ms = append(ms, c.Observe(r, corrEvent{"user": "u"}, corrAt(i), int64(1000+i))...)
			}
			ms = append(ms, c.Advance(corrAt(4000))...)
			if len(ms) != 1 {
				t.Fatalf("%d matches, want 1", len(ms))
			}
			m := ms[0]
			if m.Total != 150 || m.Value != 150 || len(m.Refs) != 100 || m.Refs[0] != 1000 || m.Refs[99] != 1099 {
				t.Errorf("total %d, value %g, %d refs from %d to %d; want 150, 150, 100 from 1000 to 1099",
					m.Total, m.Value, len(m.Refs), m.Refs[0], m.Refs[len(m.Refs)-1])
			}
		})
	}
}

func TestCorrelation_FieldValuesAsGroupsAndNumbers(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want string
	}{
		{"a", "a"}, {1.5, "1.5"}, {json.Number("12"), "12"}, {true, "true"}, {7, "7"}, {int64(8), "8"},
		{[]any{"x", 1.0}, `["x",1]`}, {map[string]any{"k": "v"}, `{"k":"v"}`},
	} {
		if got := corrFieldString(tt.v); got != tt.want {
			t.Errorf("corrFieldString(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
	for _, tt := range []struct {
		v    any
		want float64
		ok   bool
	}{
		{2.5, 2.5, true}, {3, 3, true}, {int64(4), 4, true}, {json.Number("5.5"), 5.5, true}, {" 6 ", 6, true},
		{json.Number("x"), 0, false}, {"seven", 0, false}, {"NaN", 0, false}, {true, 0, false}, {nil, 0, false},
	} {
		if got, ok := corrFieldNumber(tt.v); got != tt.want || ok != tt.ok {
			t.Errorf("corrFieldNumber(%#v) = %g, %v; want %g, %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
}
