package detect_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/mail"
	"github.com/anzen-health/anzen/internal/platform/mail/mailtest"
)

// peerDays are days of three nurses opening ten patients' records each
// (from day from to day to), the base of the small cases below.
func peerDays(from, to int) []audit.Event {
	var out []audit.Event
	for day := from; day <= to; day++ {
		for _, n := range []string{"n-1", "n-2", "n-3"} {
			for p := range 10 {
				out = append(out, event(n, "nurse", "4A病棟", "view", patientID("4A", p), day0.AddDate(0, 0, day).Add(10*time.Hour+time.Duration(p)*time.Minute)))
			}
		}
	}
	return out
}

// opens is a nurse opening n patients' records on a day.
func opens(user string, day, n int) []audit.Event {
	var out []audit.Event
	for p := range n {
		out = append(out, event(user, "nurse", "4A病棟", "view", patientID("4A", p), day0.AddDate(0, 0, day).Add(10*time.Hour+time.Duration(p)*time.Second)))
	}
	return out
}

func userAlerts(t *testing.T, d *db.DB, user string) []detect.Alert {
	t.Helper()
	all, err := detect.Alerts(context.Background(), d, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []detect.Alert
	for _, a := range all {
		if a.Group[0].Value == user {
			out = append(out, a)
		}
	}
	return out
}

// TestBaselines_AFalsePositiveWidensTheUsersBand: a new nurse's alert
// resolved as a false positive widens her band by half from the next day:
// 25 patients, at the edge of the widened band, are no alert; 40 are,
// and the explanation says the band was widened.
func TestBaselines_AFalsePositiveWidensTheUsersBand(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		// The clock follows the days, so that the review's own audit
		// event is of its day.
		clk := clock.NewFrozen(day0.AddDate(0, 0, 5).Add(18 * time.Hour))
		l := audit.New(d, clk)
		b := newBaselines(t, d, l, clk)
		step := func(events []audit.Event) {
			t.Helper()
			clk.Set(events[len(events)-1].Time.Add(time.Hour))
			if _, err := l.Append(ctx, events); err != nil {
				t.Fatal(err)
			}
			drainBaselines(t, b)
		}
		step(append(peerDays(0, 4), opens("n-9", 5, 60)...))
		first := userAlerts(t, d, "n-9")
		if len(first) != 1 || first[0].Explanation.Params.Threshold != 20 || first[0].Explanation.Params.Widened != 0 {
			t.Fatalf("day 5: %+v", first)
		}
		if _, err := detect.ReviewAlert(ctx, d, l, detect.AlertQuery{AllFacilities: true}, first[0].ID,
			detect.Reviewer{UserID: 1, Login: "csirt01"}, detect.Review{State: detect.StateFalse, Comment: "新人研修で全患者を確認"}, clk.Now()); err != nil {
			t.Fatal(err)
		}
		step(opens("n-9", 6, 25))
		if got := userAlerts(t, d, "n-9"); len(got) != 1 {
			t.Fatalf("day 6, 25 patients in a band widened to 25: %d alerts", len(got))
		}
		step(opens("n-9", 7, 40))
		got := userAlerts(t, d, "n-9")
		if len(got) != 2 {
			t.Fatalf("day 7: %d alerts", len(got))
		}
		x := got[0].Explanation
		if x.Params.Widened != 1 || x.Params.Threshold != 25 || x.Params.Value != 40 ||
			!strings.Contains(x.Render(catalog(t), "ja"), "誤検知が1件あったため") {
			t.Errorf("day 7: %+v %s", x.Params, x.Render(catalog(t), "ja"))
		}
	})
}

// TestBaselines_AlertsAreMailedWithTheirExplanation: the engine's
// notifier sends the baselines' alerts too, with the title and the
// explanation in Japanese and English.
func TestBaselines_AlertsAreMailedWithTheirExplanation(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		smtp := mailtest.Start(t, mailtest.Options{TLS: "none"})
		smtp.Config.From = "anzen@hospital.example.jp"
		mailer, err := mail.New(smtp.Config, nil)
		if err != nil {
			t.Fatal(err)
		}
		notify := detect.Notify{MinLevel: sigma.LevelHigh, Mail: []string{"csirt@hospital.example.jp"}, Mailer: mailer,
			Catalog: catalog(t), PublicURL: "https://anzen.hospital.example.jp"}
		clk := clock.NewFrozen(day0.AddDate(0, 0, 10))
		l := audit.New(d, clk)
		files, err := detect.LoadRuleFiles([]string{"builtin:medical"})
		if err != nil {
			t.Fatal(err)
		}
		en, err := detect.NewEngine(d, l, files, clk, discard, detect.WithNotify(notify))
		if err != nil {
			t.Fatal(err)
		}
		b, err := detect.NewBaselines(d, l, detect.BaselineConfig{}, clk, discard, detect.WithBaselineNotify(notify))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ctx, append(peerDays(0, 4), opens("n-9", 5, 60)...)); err != nil {
			t.Fatal(err)
		}
		drainBaselines(t, b)
		if sent, err := en.Deliver(ctx); err != nil || sent != 1 {
			t.Fatalf("%d sent: %v", sent, err)
		}
		p, err := smtp.Wait(t, 1, 5*time.Second)[0].Parse()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"この看護師は本日60人の患者の記録を開きました。通常は10〜10人です。",
			"This nurse opened 60 patients' records today; the usual is 10–10.", "1日に記録を開いた患者の数が通常より多い",
			"同じ施設の同じ職種の職員3人", fmt.Sprintf("https://anzen.hospital.example.jp/alerts/%d", userAlerts(t, d, "n-9")[0].ID)} {
			if !strings.Contains(p.Text, want) {
				t.Errorf("the mail lacks %q:\n%s", want, p.Text)
			}
		}
		if !strings.Contains(p.Subject, "1日に記録を開いた患者の数が通常より多い") {
			t.Errorf("subject %q", p.Subject)
		}
	})
}

// TestBaselines_ABatchRolledBackIsCountedOnceWhenDoneAgain: a batch whose
// transaction fails after the baselines counted it leaves nothing
// behind, in the database or in memory; done again, it is counted once.
func TestBaselines_ABatchRolledBackIsCountedOnceWhenDoneAgain(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFrozen(day0.AddDate(0, 0, 6))
		l := audit.New(d, clk)
		b := newBaselines(t, d, l, clk)
		if _, err := l.Append(ctx, append(peerDays(0, 4), opens("n-9", 5, 30)...)); err != nil {
			t.Fatal(err)
		}
		events, err := l.ReadAfter(ctx, -1, 10000)
		if err != nil {
			t.Fatal(err)
		}
		failed := errors.New("the disk is full")
		if err := d.InTx(ctx, func(tx *db.Tx) error {
			if err := b.Handle(ctx, tx, events); err != nil {
				return err
			}
			return failed
		}); !errors.Is(err, failed) {
			t.Fatal(err)
		}
		drainBaselines(t, b)
		var n, patients int
		if err := d.QueryRowContext(ctx, `SELECT events, patients FROM detect_baseline_days WHERE actor = 'n-9'`).Scan(&n, &patients); err != nil {
			t.Fatal(err)
		}
		if n != 30 || patients != 30 || len(userAlerts(t, d, "n-9")) != 1 {
			t.Errorf("n-9: %d events, %d patients, %d alerts; want 30, 30, 1", n, patients, len(userAlerts(t, d, "n-9")))
		}
	})
}

// TestBaselines_DaysBeyondTheHistoryAreDeleted: with 7 days of history,
// the days more than a week before it go when a new day begins.
func TestBaselines_DaysBeyondTheHistoryAreDeleted(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFrozen(day0.AddDate(0, 0, 20))
		l := audit.New(d, clk)
		b, err := detect.NewBaselines(d, l, detect.BaselineConfig{WarmupDays: 2, HistoryDays: 7}, clk, discard)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ctx, append(append(opens("n-1", 5, 3), opens("n-1", 6, 3)...), opens("n-1", 20, 3)...)); err != nil {
			t.Fatal(err)
		}
		drainBaselines(t, b)
		var days []int
		rows, err := d.QueryContext(ctx, `SELECT day FROM detect_baseline_days ORDER BY day`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var day int
			if err := rows.Scan(&day); err != nil {
				t.Fatal(err)
			}
			days = append(days, day-int((day0.Unix()+9*3600)/86400))
		}
		// Day 20 keeps days 6 and after (20 - 7 - 7).
		if fmt.Sprint(days) != "[6 20]" {
			t.Errorf("days kept %v, want [6 20]", days)
		}
	})
}
