package check

import (
	"context"
	"testing"
)

func TestValidate(t *testing.T) {
	run := func(context.Context, int64) (Result, error) { return Passed("x"), nil }
	ok := Check{ID: "identity.mfa", TitleID: "t", Items: []string{"mhlw-gl-5.1:6.5-C-15"}, Run: run}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid check refused: %v", err)
	}
	bad := []Check{
		{ID: "mfa", TitleID: "t", Items: ok.Items, Run: run},
		{ID: "identity.mfa", Items: ok.Items, Run: run},
		{ID: "identity.mfa", TitleID: "t", Run: run},
		{ID: "identity.mfa", TitleID: "t", Items: []string{"6.5-C-15"}, Run: run},
		{ID: "identity.mfa", TitleID: "t", Items: ok.Items},
	}
	for i, c := range bad {
		if c.Validate() == nil {
			t.Errorf("case %d: invalid check accepted: %+v", i, c)
		}
	}
}

func TestResultBuilders(t *testing.T) {
	r := Failed("identity.check.mfa.missing", "count", 3, "names", "a, b").WithLinks(Link{LabelID: "l", Href: "/admin/users"})
	if r.Status != Fail || r.Data["count"] != 3 || r.Data["names"] != "a, b" || len(r.Links) != 1 {
		t.Fatalf("result = %+v", r)
	}
	if !Pass.Valid() || Status("ok").Valid() {
		t.Fatal("Valid is wrong")
	}
	if (Check{}).Interval() != Daily {
		t.Fatal("default interval is not daily")
	}
}
