package detect_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// breakGlassBy is a break-glass access of user in facility at i seconds
// after the test's start.
func breakGlassBy(user, address string, facility int64, i int) audit.Event {
	at := audittest.Start.Add(time.Duration(i) * time.Second)
	return audit.Event{Time: at, Received: at, Facility: facility, Source: "ehr-main", Action: "emergency_access",
		Actor: audit.Actor{ID: user, Address: address}, Patient: audit.Patient{ID: "P1"}, Outcome: audit.OutcomeSuccess}
}

// alertUsers returns the users of the alerts of the break-glass rule.
func alertUsers(t *testing.T, d *db.DB) map[string]int {
	t.Helper()
	alerts, err := detect.Alerts(context.Background(), d, 100)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, a := range alerts {
		if a.RuleID == breakGlass && len(a.Group) == 1 {
			out[a.Group[0].Value] += a.Total
		}
	}
	return out
}

func TestSuppression_KeepsBackTheAlertsItCoversCountsThemAndEnds(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFrozen(audittest.Start.Add(time.Hour))
		l := audit.New(d, clk)
		en := newEngine(t, d, l)
		csirt := detect.Reviewer{UserID: 7, Login: "csirt01", Client: "192.0.2.1"}
		every := detect.AlertQuery{AllFacilities: true, Limit: 50}

		// Before any suppression the engine raises the first access.
		if _, err := l.Append(ctx, []audit.Event{breakGlassBy("d-1", "10.0.0.1", 1, 0)}); err != nil {
			t.Fatal(err)
		}
		drain(t, en)
		// The night shift's drill of d-7 from 10.0.0.7 in facility 1 is
		// known; the engine (already running) learns of it.
		s, err := detect.CreateSuppression(ctx, d, l, every, csirt, detect.NewSuppression{Facility: 1, RuleID: breakGlass,
			Conditions: []detect.Condition{{Field: "user", Value: "d-7"}, {Field: "src_ip", Value: " 10.0.0.7 "}},
			Reason:     "緊急時アクセスの訓練（12 月）", Ends: clk.Now().Add(7 * 24 * time.Hour)}, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		first, err := l.Append(ctx, []audit.Event{
			breakGlassBy("d-7", "10.0.0.7", 1, 10), // suppressed
			breakGlassBy("d-7", "10.0.0.7", 1, 11), // suppressed
			breakGlassBy("d-7", "10.0.0.8", 1, 12), // another address
			breakGlassBy("d-7", "10.0.0.7", 2, 13), // another facility
			breakGlassBy("d-8", "10.0.0.7", 1, 14), // another user
		})
		if err != nil {
			t.Fatal(err)
		}
		drain(t, en)
		if got := alertUsers(t, d); got["d-7"] != 2 || got["d-8"] != 1 || got["d-1"] != 1 {
			t.Fatalf("alerts by user %v", got)
		}
		got, err := detect.SuppressionByID(ctx, d, every, s.ID)
		if err != nil || got.Hits != 2 || got.LastSeq != first+1 || !got.LastHit.Equal(audittest.Start) || got.Conditions[1].Value != "10.0.0.7" {
			t.Fatalf("suppression %+v %v", got, err)
		}
		// A CSIRT member of facility 2 does not see it, nor end it.
		other := detect.AlertQuery{Facilities: []int64{2}, Limit: 50}
		if _, err := detect.EndSuppression(ctx, d, l, other, s.ID, csirt, "", clk.Now()); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("facility 2 ends facility 1's suppression: %v", err)
		}
		if list, _ := detect.Suppressions(ctx, d, other, true, clk.Now()); len(list) != 0 {
			t.Errorf("facility 2 lists %d suppressions", len(list))
		}

		// Ended early, it keeps back nothing more.
		clk.Advance(time.Minute)
		if _, err := detect.EndSuppression(ctx, d, l, every, s.ID, csirt, "訓練が終わりました", clk.Now()); err != nil {
			t.Fatal(err)
		}
		var se *detect.SuppressionError
		if _, err := detect.EndSuppression(ctx, d, l, every, s.ID, csirt, "", clk.Now()); !errors.As(err, &se) {
			t.Errorf("ended twice: %v", err)
		}
		if _, err := l.Append(ctx, []audit.Event{breakGlassBy("d-7", "10.0.0.7", 1, 3*3600)}); err != nil {
			t.Fatal(err)
		}
		drain(t, en)
		if got := alertUsers(t, d); got["d-7"] != 3 {
			t.Errorf("after the end: alerts by user %v", got)
		}
		if active, _ := detect.Suppressions(ctx, d, every, true, clk.Now()); len(active) != 0 {
			t.Errorf("%d active after the end", len(active))
		}
		ended, err := detect.Suppressions(ctx, d, every, false, clk.Now())
		if err != nil || len(ended) != 1 || ended[0].EndedBy != "csirt01" || ended[0].EndComment != "訓練が終わりました" || ended[0].Hits != 2 {
			t.Fatalf("ended %+v %v", ended, err)
		}
		// Both changes are in the audit log.
		for _, action := range []string{detect.ActionSuppressionCreate, detect.ActionSuppressionEnd} {
			rec, _, err := l.Search(ctx, audit.Filter{Action: action, AllFacilities: true})
			if err != nil || len(rec) != 1 || rec[0].ActorLogin != "csirt01" || rec[0].Facility != 1 || rec[0].Detail["rule"] != breakGlass {
				t.Errorf("%s in the audit log: %+v %v", action, rec, err)
			}
		}
	})
}

func TestSuppression_ABoundedReasonedOneOnly(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := audittest.Start
		l := audit.New(d, clock.NewFrozen(now))
		ok := detect.NewSuppression{Facility: 1, RuleID: breakGlass, Reason: "保守作業", Ends: now.Add(time.Hour)}
		for _, c := range []struct {
			name  string
			q     detect.AlertQuery
			edit  func(*detect.NewSuppression)
			field string
		}{
			{"everything", detect.AlertQuery{AllFacilities: true}, func(n *detect.NewSuppression) { n.RuleID = "" }, "conditions"},
			{"unknown field", detect.AlertQuery{AllFacilities: true}, func(n *detect.NewSuppression) {
				n.Conditions = []detect.Condition{{Field: "password", Value: "x"}}
			}, "conditions"},
			{"empty value", detect.AlertQuery{AllFacilities: true}, func(n *detect.NewSuppression) {
				n.Conditions = []detect.Condition{{Field: "user", Value: " "}}
			}, "conditions"},
			{"no reason", detect.AlertQuery{AllFacilities: true}, func(n *detect.NewSuppression) { n.Reason = "  " }, "reason"},
			{"past end", detect.AlertQuery{AllFacilities: true}, func(n *detect.NewSuppression) { n.Ends = now }, "ends"},
			{"too long", detect.AlertQuery{AllFacilities: true}, func(n *detect.NewSuppression) {
				n.Ends = now.Add(detect.MaxSuppression + time.Minute)
			}, "ends"},
			{"another facility", detect.AlertQuery{Facilities: []int64{2}}, func(n *detect.NewSuppression) {}, "facility"},
			{"every facility", detect.AlertQuery{Facilities: []int64{1}}, func(n *detect.NewSuppression) { n.Facility = 0 }, "facility"},
		} {
			ns := ok
			c.edit(&ns)
			_, err := detect.CreateSuppression(ctx, d, l, c.q, detect.Reviewer{Login: "x"}, ns, now)
			var se *detect.SuppressionError
			if !errors.As(err, &se) || se.Field != c.field {
				t.Errorf("%s: %v", c.name, err)
			}
		}
		if list, _ := detect.Suppressions(ctx, d, detect.AlertQuery{AllFacilities: true, Limit: 10}, true, now); len(list) != 0 {
			t.Errorf("refused suppressions were stored: %+v", list)
		}
		if _, err := detect.CreateSuppression(ctx, d, l, detect.AlertQuery{Facilities: []int64{1}}, detect.Reviewer{Login: "x"}, ok, now); err != nil {
			t.Errorf("a good one: %v", err)
		}
	})
}
