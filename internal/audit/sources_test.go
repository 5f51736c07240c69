package audit_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

func TestSources_LastEventSkewAndHourlyCounts(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newAccessLog(t, d)
		// Two more hours of the lab: 3 events at 10:xx, 2 at 11:xx (Tokyo).
		var more []audit.Event
		for i, m := range []time.Duration{60, 70, 80, 120, 150} {
			at := t0.Add(m * time.Minute)
			more = append(more, audit.Event{Time: at, Received: at, Facility: 0, Source: "lab", Action: "view",
				Actor: audit.Actor{ID: "lab00" + string(rune('1'+i))}})
		}
		if _, err := f.log.Append(ctx, more); err != nil {
			t.Fatal(err)
		}
		if _, err := f.log.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		srcs, err := f.log.Sources(ctx, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(srcs) != 3 {
			t.Fatalf("sources = %+v", srcs)
		}
		ehr := srcs[0]
		if ehr.Source != "ehr-main" || ehr.Facility != 1 || ehr.Events != 6 || ehr.Skewed != 1 ||
			!ehr.FirstReceived.Equal(t0.Add(40*time.Millisecond)) ||
			!ehr.LastReceived.Equal(t0.Add(7*time.Minute+40*time.Millisecond)) ||
			!ehr.LastAt.Equal(t0.Add(7*time.Minute)) || ehr.LastSkew != -40*time.Millisecond {
			t.Errorf("ehr-main = %+v", ehr)
		}
		if lab := srcs[1]; lab.Source != "lab" || lab.Facility != 0 || lab.Events != 6 || !lab.LastReceived.Equal(t0.Add(150*time.Minute)) {
			t.Errorf("lab = %+v", lab)
		}
		now := t0.Add(10 * time.Minute)
		if ehr.Silent(now, time.Hour) || !ehr.Silent(now.Add(2*time.Hour), time.Hour) ||
			(audit.SourceStatus{Source: audit.SourceAnzen}).Silent(now.Add(1000*time.Hour), time.Hour) {
			t.Errorf("Silent is wrong")
		}
		if ehr.SkewTooLarge(time.Minute) || !(audit.SourceStatus{LastSkew: -3 * time.Minute}).SkewTooLarge(2*time.Minute) {
			t.Errorf("SkewTooLarge is wrong")
		}

		scoped, err := f.log.Sources(ctx, false, []int64{2, 0})
		if err != nil || len(scoped) != 1 || scoped[0].Source != "pacs" {
			t.Errorf("sources of facility 2 = %+v, %v", scoped, err)
		}
		if none, err := f.log.Sources(ctx, false, nil); err != nil || len(none) != 0 {
			t.Errorf("sources of no facility = %+v, %v", none, err)
		}

		// From 08:00 Tokyo, four hours: 08, 09, 10, 11.
		act, err := f.log.SourceActivity(ctx, true, nil, t0.Add(-time.Hour), 4)
		if err != nil {
			t.Fatal(err)
		}
		want := map[audit.SourceKey][]int64{
			{1, "ehr-main"}: {0, 6, 0, 0}, // the skewed event counts when received, 09:01
			{2, "pacs"}:     {0, 2, 0, 0},
			{0, "lab"}:      {0, 1, 3, 2},
		}
		for k, v := range want {
			if !slices.Equal(act[k], v) {
				t.Errorf("%v: %v, want %v", k, act[k], v)
			}
		}
		if len(act) != len(want) {
			t.Errorf("activity = %v", act)
		}
		act, err = f.log.SourceActivity(ctx, false, []int64{1}, t0.Add(30*time.Minute), 2) // from 09:30: 09, 10
		if err != nil || len(act) != 1 || !slices.Equal(act[audit.SourceKey{1, "ehr-main"}], []int64{6, 0}) {
			t.Errorf("facility 1 from 09:30 = %v, %v", act, err)
		}
	})
}

func TestNextCheckpointDue_AfterTheLatestOrFromNow(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newAccessLog(t, d) // checkpoint interval: a minute
		due, err := f.log.NextCheckpointDue(ctx)
		if err != nil || !due.Equal(f.clock.Now().Add(time.Minute)) {
			t.Errorf("without a checkpoint: %v, %v", due, err)
		}
		cp, err := f.log.SignCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(20 * time.Second)
		if due, err := f.log.NextCheckpointDue(ctx); err != nil || !due.Equal(cp.SignedAt.Add(time.Minute)) {
			t.Errorf("20 s after a checkpoint: %v, %v; want %v", due, err, cp.SignedAt.Add(time.Minute))
		}
		f.clock.Advance(5 * time.Minute) // the job is late: due a minute from now
		if due, err := f.log.NextCheckpointDue(ctx); err != nil || !due.Equal(f.clock.Now().Add(time.Minute)) {
			t.Errorf("overdue: %v, %v", due, err)
		}
	})
}
