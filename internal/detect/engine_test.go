package detect_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

var (
	parts   = []db.Migrations{audit.Migrations(), detect.Migrations()}
	discard = slog.New(slog.NewTextHandler(io.Discard, nil))
)

func newEngine(t *testing.T, d *db.DB, l *audit.Log, opts ...detect.EngineOption) *detect.Engine {
	t.Helper()
	files, err := detect.LoadRuleFiles([]string{"builtin:medical"})
	if err != nil {
		t.Fatal(err)
	}
	en, err := detect.NewEngine(d, l, files, clock.NewFrozen(audittest.Start), discard, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return en
}

// misuseDay is ordinary work (audittest's events) with the medical pack's
// cases planted among them: a break-glass, a guessed password, a mass
// printing, password spraying.
func misuseDay() []audit.Event {
	events := audittest.Events(0, 3000)
	at := func(i int) time.Time { return audittest.Start.Add(time.Duration(i) * time.Second) }
	plant := func(i int, e audit.Event) {
		e.Seq, e.Time, e.Received, e.Facility, e.Source = -1, at(i), at(i), 1, "ehr-main"
		events = append(events, e)
	}
	plant(100, audit.Event{Action: "emergency_access", Actor: audit.Actor{ID: "d-7", Profession: "doctor"},
		Patient: audit.Patient{ID: "P1"}, Outcome: audit.OutcomeSuccess})
	for i := range 6 {
		plant(500+i, audit.Event{Action: "login_failed", Actor: audit.Actor{ID: "n-9", Address: "198.51.100.4"}, Outcome: audit.OutcomeFailure})
	}
	plant(520, audit.Event{Action: "login", Actor: audit.Actor{ID: "n-9"}, Outcome: audit.OutcomeSuccess})
	for i := range 55 {
		plant(1000+i*10, audit.Event{Action: "print", Actor: audit.Actor{ID: "c-2", Profession: "clerk"},
			Patient: audit.Patient{ID: fmt.Sprintf("P%d", i)}, Outcome: audit.OutcomeSuccess})
	}
	for i := range 12 {
		plant(2000+i, audit.Event{Action: "login_failed", Actor: audit.Actor{ID: fmt.Sprintf("x-%d", i), Address: "203.0.113.50"},
			Outcome: audit.OutcomeFailure})
	}
	slices.SortStableFunc(events, func(a, b audit.Event) int { return a.Time.Compare(b.Time) })
	return events
}

// alertKeys returns the alerts as rule and first event, in order.
func alertKeys(t *testing.T, d *db.DB) []string {
	t.Helper()
	alerts, err := detect.Alerts(context.Background(), d, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range alerts {
		out = append(out, fmt.Sprintf("%s@%d-%d", a.RuleID[len(a.RuleID)-2:], a.FirstSeq, a.LastSeq))
	}
	slices.Sort(out)
	return out
}

func drain(t *testing.T, en *detect.Engine) {
	t.Helper()
	for {
		n, err := en.Process(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func TestEngine_RaisesThePacksAlertsOnce(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		l := audit.New(d, clock.NewFrozen(audittest.Start.Add(time.Hour)))
		if _, err := l.Append(context.Background(), misuseDay()); err != nil {
			t.Fatal(err)
		}
		en := newEngine(t, d, l)
		drain(t, en)
		got := alertKeys(t, d)
		// The break-glass, the guessed password, the printing, the
		// spraying: by the last two digits of their rules' ids.
		var rules []string
		for _, k := range got {
			rules = append(rules, k[:2])
		}
		if !slices.Equal(rules, []string{"02", "04", "10", "12"}) {
			t.Fatalf("alerts %v", got)
		}
		alerts, _ := detect.Alerts(context.Background(), d, 10)
		for _, a := range alerts {
			if a.Facility != 1 || a.State != "new" || len(a.Seqs) == 0 || a.Title == "" {
				t.Errorf("alert %+v", a)
			}
		}
		// By day: all on the day the engine's clock says.
		day := time.Date(audittest.Start.Year(), audittest.Start.Month(), audittest.Start.Day(), 0, 0, 0, 0, time.UTC)
		counts, err := detect.DailyCounts(context.Background(), d, detect.AlertQuery{AllFacilities: true}, day.AddDate(0, 0, -1), 3, time.UTC)
		if err != nil || len(counts[0]) != 0 || counts[1][sigma.LevelHigh] != 4 || len(counts[2]) != 0 {
			t.Errorf("by day: %v %v", counts, err)
		}
		// Processing again raises nothing more.
		drain(t, newEngine(t, d, l))
		if again := alertKeys(t, d); !slices.Equal(again, got) {
			t.Errorf("a second engine: %v", again)
		}
	})
}

// TestEngine_ResumesAfterAStopOrAFailedBatchWithTheSameAlerts stops the
// engine every few batches (a new engine, as after a restart) and makes
// batches fail after the analysis (their writes rolled back), and gets
// the alerts of an uninterrupted run, no more, no fewer: with the
// correlation state written with every batch, and written once (so that
// every restart reads the events again from the start).
func TestEngine_ResumesAfterAStopOrAFailedBatchWithTheSameAlerts(t *testing.T) {
	for _, every := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprintf("state every %v", every), func(t *testing.T) {
			dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
				resumeAndCompare(t, d, detect.WithStateEvery(every))
			})
		})
	}
}

func resumeAndCompare(t *testing.T, d *db.DB, opt detect.EngineOption) {
	ctx := context.Background()
	events := misuseDay()
	l := audit.New(d, clock.NewFrozen(audittest.Start.Add(time.Hour)))
	var want []string
	{
		ref := dbtest.SQLite(t, parts...)
		rl := audit.New(ref, clock.NewFrozen(audittest.Start.Add(time.Hour)))
		if _, err := rl.Append(ctx, events); err != nil {
			t.Fatal(err)
		}
		drain(t, newEngine(t, ref, rl, detect.WithStateEvery(0)))
		want = alertKeys(t, ref)
	}
	// The events arrive in pieces of 1,300 and are analysed in batches of
	// 100, so that a correlation's events fall in the batches of several
	// engines; every third batch the engine restarts, or a batch fails.
	const batch = 100
	en := newEngine(t, d, l, opt, detect.WithBatch(batch))
	fail := errors.New("the disk is full")
	sub := l.Subscribe("detect", batch)
	for i, piece := 0, 0; i < len(events); i, piece = i+1300, piece+1 {
		if _, err := l.Append(ctx, events[i:min(i+1300, len(events))]); err != nil {
			t.Fatal(err)
		}
		for b := range 13 {
			switch {
			case b%3 == 1 && (piece+b)%2 == 0:
				// A batch analysed and then lost with its transaction.
				n, err := sub.Process(ctx, func(ctx context.Context, tx *db.Tx, evs []audit.Event) error {
					if err := en.Handle(ctx, tx, evs); err != nil {
						return err
					}
					return fail
				})
				if !errors.Is(err, fail) && (err != nil || n != 0) {
					t.Fatalf("the failing batch: %d, %v", n, err)
				}
			case b%3 == 1:
				en = newEngine(t, d, l, opt, detect.WithBatch(batch))
			}
			if _, err := en.Process(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	drain(t, en)
	if got := alertKeys(t, d); !slices.Equal(got, want) {
		t.Errorf("alerts\n got %v\nwant %v", got, want)
	}
}

// TestEngine_GroupsARulesMatchesOfOneUserWhileTheAlertIsOpen: a clerk's
// night views within an hour are one alert; views two hours later, or
// after the alert was resolved, are another.
func TestEngine_GroupsARulesMatchesOfOneUserWhileTheAlertIsOpen(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := audit.New(d, clock.NewFrozen(audittest.Start.Add(time.Hour)))
		en := newEngine(t, d, l)
		night := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC) // 23:00 in Japan
		view := func(at time.Time, user string) audit.Event {
			return audit.Event{Seq: -1, Time: at, Received: at, Facility: 1, Source: "ehr-main", Action: "view",
				Actor: audit.Actor{ID: user, Profession: "clerk"}, Patient: audit.Patient{ID: "P" + at.Format("1504")},
				Outcome: audit.OutcomeSuccess}
		}
		batch := []audit.Event{view(night, "clerk-1"), view(night.Add(10*time.Minute), "clerk-1"),
			view(night.Add(15*time.Minute), "clerk-2"), view(night.Add(40*time.Minute), "clerk-1")}
		if _, err := l.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
		drain(t, en)
		if _, err := l.Append(ctx, []audit.Event{view(night.Add(3*time.Hour), "clerk-1")}); err != nil {
			t.Fatal(err)
		}
		drain(t, en)
		alerts, err := detect.Alerts(ctx, d, 10)
		if err != nil {
			t.Fatal(err)
		}
		var totals []string
		for _, a := range alerts {
			totals = append(totals, fmt.Sprintf("%s:%d", a.Group[0].Value, a.Total))
		}
		slices.Sort(totals)
		if !slices.Equal(totals, []string{"clerk-1:1", "clerk-1:3", "clerk-2:1"}) {
			t.Fatalf("alerts %v", totals)
		}
	})
}
