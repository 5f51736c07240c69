package sigma

import (
	"strings"
	"testing"
)

// The specification's example: many failed logins, then a success by
// the same user.
const corrBruteForce = `
title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
level: high
`

const corrManyFailed = `
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
`

func corrBruteForceCorrelator(t testing.TB) (c *Correlator, failed, success *Rule) {
	failed = corrRule("53ba33fd-3a50-4468-a5ef-c583635cfa92", "failed_login")
	success = corrRule("4d0a2c83-c62c-4ed4-b475-c7e23a9269b8", "successful_login")
	corrs := []*Correlation{mustCorrelation(t, corrBruteForce), mustCorrelation(t, corrManyFailed)}
	return mustCorrelator(t, []*Rule{failed, success}, corrs), failed, success
}

func TestCorrelation_ChainedFailedLoginsThenSuccess(t *testing.T) {
	c, failed, success := corrBruteForceCorrelator(t)
	alice, bob := corrEvent{"User": "alice"}, corrEvent{"User": "bob"}
	var steps []corrStep
	for i := range 10 {
		steps = append(steps, corrStep{failed, i * 10, int64(i + 1), alice})
	}
	steps = append(steps,
		corrStep{failed, 100, 11, bob},
		corrStep{success, 120, 12, bob},   // bob failed once only
		corrStep{success, 130, 13, alice}, // alice: ten failures, then in
	)
	got := corrRun(c, steps)
	corrEqual(t, got, []string{
		"a8418a5a-5fc4-46b5-b23b-6c73beb19d41[User=alice] 10 [1 2 3 4 5 6 7 8 9 10] 0-90",
		"b180ead8-d58f-40b2-ae54-c8940995b9b6[User=alice] 2 [1 2 3 4 5 6 7 8 9 10 13] 90-130",
	})
}

func TestCorrelation_ChainedSuccessBeforeFailuresDoesNotMatch(t *testing.T) {
	c, failed, success := corrBruteForceCorrelator(t)
	alice := corrEvent{"User": "alice"}
	steps := []corrStep{{success, 0, 1, alice}}
	for i := range 10 {
		steps = append(steps, corrStep{failed, 1 + i, int64(i + 2), alice})
	}
	got := corrRun(c, steps)
	corrEqual(t, got, []string{"a8418a5a-5fc4-46b5-b23b-6c73beb19d41[User=alice] 10 [2 3 4 5 6 7 8 9 10 11] 1-10"})
}

func TestCorrelation_Generates(t *testing.T) {
	c, failed, success := corrBruteForceCorrelator(t)
	alone := corrRule("z", "alone")
	if c.Generates(failed) || c.Generates(success) {
		t.Errorf("Generates of rules referred to by correlations without generate: want false")
	}
	if !c.Generates(alone) {
		t.Errorf("Generates of a rule no correlation refers to: want true")
	}
	inner := mustCorrelation(t, corrManyFailed)
	outer := mustCorrelation(t, corrBruteForce)
	c2 := mustCorrelator(t, []*Rule{failed, success}, []*Correlation{outer, inner})
	if c2.GeneratesCorrelation(inner) || !c2.GeneratesCorrelation(outer) {
		t.Errorf("GeneratesCorrelation: inner %v outer %v, want false true", c2.GeneratesCorrelation(inner), c2.GeneratesCorrelation(outer))
	}

	gen := mustCorrelation(t, strings.Replace(corrCountGte3, "timespan: 10s", "timespan: 10s\n  generate: true", 1))
	other := mustCorrelation(t, strings.Replace(corrCountGte3, "id: c3", "id: c4", 1))
	f := corrRule("f-1", "failed")
	c3 := mustCorrelator(t, []*Rule{f}, []*Correlation{gen, other})
	if !c3.Generates(f) {
		t.Errorf("Generates of a rule referred to by one correlation with generate: true: want true")
	}
}

func TestCorrelation_ChainedOuterGroupsByAFieldOfTheInnerEvents(t *testing.T) {
	failed := corrRule("f", "failed_login")
	success := corrRule("s", "successful_login")
	inner := mustCorrelation(t, strings.Replace(strings.Replace(corrManyFailed, "- User", "- ComputerName", 1), "gte: 10", "gte: 2", 1))
	outer := mustCorrelation(t, strings.Replace(strings.Replace(corrBruteForce, "- User", "- user_name", 1), "    timespan: 10m\n",
		"    timespan: 10m\n    aliases:\n        user_name:\n            multiple_failed_login: User\n            successful_login: TargetUserName\n", 1))
	c := mustCorrelator(t, []*Rule{failed, success}, []*Correlation{outer, inner})
	got := corrRun(c, []corrStep{
		{failed, 0, 1, corrEvent{"ComputerName": "pc1", "User": "alice"}},
		{failed, 1, 2, corrEvent{"ComputerName": "pc1", "User": "alice"}},
		{success, 2, 3, corrEvent{"TargetUserName": "bob"}},
		{success, 3, 4, corrEvent{"TargetUserName": "alice"}},
	})
	corrEqual(t, got, []string{
		"a8418a5a-5fc4-46b5-b23b-6c73beb19d41[ComputerName=pc1] 2 [1 2] 0-1",
		"b180ead8-d58f-40b2-ae54-c8940995b9b6[user_name=alice] 2 [1 2 4] 1-3",
	})
}
