package detect

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/mail"
)

var checkParts = []db.Migrations{audit.Migrations(), Migrations()}

// checkNow is when the checks' tests run: 10:00 in Tokyo.
var checkNow = time.Date(2026, 6, 1, 1, 0, 0, 0, time.UTC)

func checksCatalog(t *testing.T) *i18n.Catalog {
	t.Helper()
	c := i18n.New()
	if err := c.Add(Locales()); err != nil {
		t.Fatal(err)
	}
	return c
}

// runDetectCheck runs check id of cfg for facility and asserts its status
// and detail, and that its messages exist in both languages.
func runDetectCheck(t *testing.T, cfg ChecksConfig, id string, facility int64, want check.Status, detail string) check.Result {
	t.Helper()
	for _, c := range Checks(cfg) {
		if c.ID != id {
			continue
		}
		r, err := c.Run(context.Background(), facility)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if r.Status != want || r.DetailID != detail {
			t.Fatalf("%s = %s %s %v, want %s %s", id, r.Status, r.DetailID, r.Data, want, detail)
		}
		cat := checksCatalog(t)
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, r.DetailID) {
				t.Errorf("%s: detail %s missing in %s", id, r.DetailID, lang)
			}
			if s := cat.T(lang, r.DetailID, r.Data); strings.Contains(s, "<no value>") || strings.HasPrefix(s, "[") {
				t.Errorf("%s: detail in %s renders as %q", id, lang, s)
			}
			for _, l := range r.Links {
				if !cat.Has(lang, l.LabelID) {
					t.Errorf("%s: link %s missing in %s", id, l.LabelID, lang)
				}
			}
		}
		return r
	}
	t.Fatalf("no check %s", id)
	return check.Result{}
}

func TestChecks_DetectDeclaredOnceWithMessagesInBothLanguages(t *testing.T) {
	cat := checksCatalog(t)
	seen := map[string]bool{}
	for _, c := range Checks(ChecksConfig{}) {
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
		if seen[c.ID] {
			t.Errorf("check %s declared twice", c.ID)
		}
		seen[c.ID] = true
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, c.TitleID) {
				t.Errorf("%s: title missing in %s", c.ID, lang)
			}
		}
	}
	if len(seen) != 3 || !seen[CheckRules] || !seen[CheckAlertReview] || !seen[CheckNotification] {
		t.Errorf("checks = %v", seen)
	}
	src, err := os.ReadFile("checks.go")
	if err != nil {
		t.Fatal(err)
	}
	ids := regexp.MustCompile(`"(detect\.check\.[a-z_.]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(ids) < 15 {
		t.Fatalf("found only %d message ids in checks.go", len(ids))
	}
	for _, m := range ids {
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, m[1]) {
				t.Errorf("message %s missing in %s", m[1], lang)
			}
		}
	}
}

func TestCheckRules_BuiltinHighRulesMustRun(t *testing.T) {
	base, err := LoadRuleFiles(BuiltinPacks())
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Each(t, checkParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFrozen(checkNow)
		cfg := ChecksConfig{DB: d, Clock: clk, Rules: base}
		r := runDetectCheck(t, cfg, CheckRules, 0, check.Pass, "detect.check.rules.ok")
		if r.Data["builtin"] != 8 || r.Data["rules"].(int) < 13 {
			t.Errorf("data = %v", r.Data)
		}
		off := false
		by := Changer{UserID: 1, Login: "ciso"}
		if _, err := SetRule(ctx, d, audit.New(d, clk), base, "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a20", RulePatch{Enabled: &off}, by, checkNow); err != nil {
			t.Fatal(err)
		}
		r = runDetectCheck(t, cfg, CheckRules, 0, check.Warning, "detect.check.rules.builtin_off")
		if r.Data["count"] != 1 || r.Data["names"] != "An emergency account was used" {
			t.Errorf("data = %v", r.Data)
		}
		// A medium rule turned off is the hospital's choice.
		on := true
		if _, err := SetRule(ctx, d, audit.New(d, clk), base, "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a20", RulePatch{Enabled: &on}, by, checkNow); err != nil {
			t.Fatal(err)
		}
		if _, err := SetRule(ctx, d, audit.New(d, clk), base, "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0b02", RulePatch{Enabled: &off}, by, checkNow); err != nil {
			t.Fatal(err)
		}
		runDetectCheck(t, cfg, CheckRules, 0, check.Pass, "detect.check.rules.ok")

		bad := append(RuleFiles{{Path: "/etc/anzen/rules/broken.yml", Err: os.ErrInvalid}}, base...)
		r = runDetectCheck(t, ChecksConfig{DB: d, Clock: clk, Rules: bad}, CheckRules, 0, check.Warning, "detect.check.rules.rejected")
		if r.Data["names"] != "/etc/anzen/rules/broken.yml" {
			t.Errorf("data = %v", r.Data)
		}
		runDetectCheck(t, ChecksConfig{DB: d, Clock: clk}, CheckRules, 0, check.Fail, "detect.check.rules.none")
	})
}

// raise writes an alert of level in facility, created ago before checkNow.
func raise(t *testing.T, d *db.DB, facility int64, level sigma.Level, title string, ago time.Duration) Alert {
	t.Helper()
	created := checkNow.Add(-ago)
	a := Alert{Facility: facility, RuleID: "r-" + title, Title: title, Level: level, Seqs: []int64{1}, Total: 1,
		FirstTime: created, LastTime: created, dedup: "test|" + title}
	err := d.InTx(context.Background(), func(tx *db.Tx) error {
		_, err := insertAlert(context.Background(), tx, &a, created)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// takeUp records a reviewer taking alert a up at at.
func takeUp(t *testing.T, d *db.DB, a Alert, at time.Time) {
	t.Helper()
	_, err := ReviewAlert(context.Background(), d, audit.New(d, clock.NewFrozen(at)), AlertQuery{AllFacilities: true}, a.ID,
		Reviewer{UserID: 2, Login: "csirt1"}, Review{State: StateAcknowledged, Comment: "確認中"}, at)
	if err != nil {
		t.Fatal(err)
	}
}

func TestCheckAlertReview_UntouchedPastDueFailsLateWarns(t *testing.T) {
	dbtest.Each(t, checkParts, func(t *testing.T, d *db.DB) {
		cfg := ChecksConfig{DB: d, Clock: clock.NewFrozen(checkNow)}
		runDetectCheck(t, cfg, CheckAlertReview, 1, check.Pass, "detect.check.alert_review.quiet")

		// Facility 1: a high alert taken up after 2 hours; an
		// informational one nobody looks at; one older than the window.
		high := raise(t, d, 1, sigma.LevelHigh, "mass export", 10*time.Hour)
		takeUp(t, d, high, high.Created.Add(2*time.Hour))
		raise(t, d, 1, sigma.LevelInformational, "login", 48*time.Hour)
		raise(t, d, 1, sigma.LevelCritical, "old", 40*24*time.Hour)
		r := runDetectCheck(t, cfg, CheckAlertReview, 1, check.Pass, "detect.check.alert_review.ok")
		if r.Data["alerts"] != 1 || r.Data["days"] != 30 {
			t.Errorf("data = %v", r.Data)
		}

		// A critical alert taken up 6 hours after (due in 4): late.
		crit := raise(t, d, 1, sigma.LevelCritical, "emergency account", 20*time.Hour)
		takeUp(t, d, crit, crit.Created.Add(6*time.Hour))
		r = runDetectCheck(t, cfg, CheckAlertReview, 1, check.Warning, "detect.check.alert_review.late")
		if r.Data["count"] != 1 || r.Data["names"] != "#4 emergency account" {
			t.Errorf("data = %v", r.Data)
		}

		// An alert of facility 2 left untouched 2 days past its day: only
		// facility 2 (and every facility) fails.
		raise(t, d, 2, sigma.LevelHigh, "retired account", 3*24*time.Hour)
		runDetectCheck(t, cfg, CheckAlertReview, 1, check.Warning, "detect.check.alert_review.late")
		r = runDetectCheck(t, cfg, CheckAlertReview, 2, check.Fail, "detect.check.alert_review.overdue")
		if r.Data["count"] != 1 || r.Data["names"] != "#5 retired account" || r.Data["alerts"] != 1 {
			t.Errorf("data = %v", r.Data)
		}
		r = runDetectCheck(t, cfg, CheckAlertReview, 0, check.Fail, "detect.check.alert_review.overdue")
		if r.Data["alerts"] != 3 {
			t.Errorf("every facility: data = %v", r.Data)
		}
		// An alert of no known facility counts for every facility; a
		// medium one within its 3 days is not yet due.
		raise(t, d, 0, sigma.LevelMedium, "flagged patient", 24*time.Hour)
		r = runDetectCheck(t, cfg, CheckAlertReview, 1, check.Warning, "detect.check.alert_review.late")
		if r.Data["alerts"] != 3 {
			t.Errorf("data = %v", r.Data)
		}
	})
}

type nopMailer struct{}

func (nopMailer) Send(context.Context, mail.Message) error { return nil }

func TestCheckNotification_CriticalAlertsMustReachSomeone(t *testing.T) {
	dbtest.Each(t, checkParts, func(t *testing.T, d *db.DB) {
		clk := clock.NewFrozen(checkNow)
		cfg := func(n *Notify) ChecksConfig { return ChecksConfig{DB: d, Clock: clk, Notify: n} }
		runDetectCheck(t, cfg(nil), CheckNotification, 1, check.Fail, "detect.check.notification.none")
		// Only high and above by webhook: critical alerts go there.
		r := runDetectCheck(t, cfg(&Notify{MinLevel: sigma.LevelHigh, Webhooks: []string{"https://siem.example.jp/hook"}}),
			CheckNotification, 1, check.Pass, "detect.check.notification.ok")
		if r.Data["webhooks"] != 1 || r.Data["mail"] != 0 {
			t.Errorf("data = %v", r.Data)
		}
		// Addresses but no mail server: no one hears.
		runDetectCheck(t, cfg(&Notify{MinLevel: sigma.LevelLow, Mail: []string{"csirt@hospital.example.jp"}, OnCall: OnCallList{"oncall@hospital.example.jp"}}),
			CheckNotification, 1, check.Fail, "detect.check.notification.no_mailer")
		// A route for medical tags only does not carry every critical alert.
		runDetectCheck(t, cfg(&Notify{MinLevel: sigma.LevelCritical + 1, Routes: []Route{{MinLevel: sigma.LevelHigh, Tags: []string{"medical.*"},
			Webhooks: []string{"https://x.example.jp"}}}}), CheckNotification, 1, check.Fail, "detect.check.notification.none")
		// The on-call roster with mail.
		onCall := &Notify{MinLevel: sigma.LevelCritical + 1, Mailer: nopMailer{}, OnCall: OnCallList{"a@hospital.example.jp", "b@hospital.example.jp"}}
		r = runDetectCheck(t, cfg(onCall), CheckNotification, 1, check.Pass, "detect.check.notification.ok")
		if r.Data["oncall"] != 2 {
			t.Errorf("data = %v", r.Data)
		}
		// An untagged route.
		runDetectCheck(t, cfg(&Notify{MinLevel: sigma.LevelCritical + 1, Mailer: nopMailer{}, Routes: []Route{{MinLevel: sigma.LevelMedium,
			Mail: []string{"ciso@hospital.example.jp"}}}}), CheckNotification, 1, check.Pass, "detect.check.notification.ok")

		// A notification given up this week warns.
		a := raise(t, d, 1, sigma.LevelCritical, "emergency account", 2*24*time.Hour)
		if _, err := d.ExecContext(context.Background(), `INSERT INTO detect_notifications (alert_id, target, attempts, next_at, sent, last_error)
			VALUES (?, 'oncall', 12, 0, -1, 'connection refused')`, a.ID); err != nil {
			t.Fatal(err)
		}
		r = runDetectCheck(t, cfg(onCall), CheckNotification, 1, check.Warning, "detect.check.notification.given_up")
		if r.Data["count"] != 1 {
			t.Errorf("data = %v", r.Data)
		}
		runDetectCheck(t, cfg(onCall), CheckNotification, 2, check.Pass, "detect.check.notification.ok")
	})
}
