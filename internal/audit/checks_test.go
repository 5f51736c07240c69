package audit_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
)

// checkCatalog is the audit part's messages.
func checkCatalog(t *testing.T) *i18n.Catalog {
	t.Helper()
	c := i18n.New()
	if err := c.Add(audit.Locales()); err != nil {
		t.Fatal(err)
	}
	return c
}

// runCheck runs the check id of l for facility and asserts its status and
// detail, and that every message it names exists in both languages.
func runCheck(t *testing.T, l *audit.Log, id string, facility int64, want check.Status, detail string) check.Result {
	t.Helper()
	for _, c := range l.Checks() {
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
		cat := checkCatalog(t)
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, r.DetailID) {
				t.Errorf("%s: detail %s missing in %s", id, r.DetailID, lang)
			}
			if s := cat.T(lang, r.DetailID, r.Data); strings.Contains(s, "<no value>") || strings.HasPrefix(s, "[") {
				t.Errorf("%s: detail in %s renders as %q", id, lang, s)
			}
			for _, ln := range r.Links {
				if !cat.Has(lang, ln.LabelID) {
					t.Errorf("%s: link label %s missing in %s", id, ln.LabelID, lang)
				}
			}
		}
		return r
	}
	t.Fatalf("no check %s", id)
	return check.Result{}
}

func TestChecks_DeclaredOnceWithMessagesInBothLanguages(t *testing.T) {
	l := audit.New(nil, clock.NewFrozen(t0))
	cat := checkCatalog(t)
	seen := map[string]bool{}
	for _, c := range l.Checks() {
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
		if seen[c.ID] {
			t.Errorf("check %s declared twice", c.ID)
		}
		seen[c.ID] = true
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, c.TitleID) {
				t.Errorf("%s: title %s missing in %s", c.ID, c.TitleID, lang)
			}
		}
	}
	for _, id := range []string{audit.CheckVerified, audit.CheckCheckpoints, audit.CheckSilent, audit.CheckClockSkew, audit.CheckRetention} {
		if !seen[id] {
			t.Errorf("check %s not declared", id)
		}
	}
	// Every message id the checks' code names exists in both languages.
	src, err := os.ReadFile("checks.go")
	if err != nil {
		t.Fatal(err)
	}
	ids := regexp.MustCompile(`"(audit\.check\.[a-z_.]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(ids) < 20 {
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

func TestCheckVerified_NeverGoodOldStaleAndTampered(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFrozen(t0)
		l := audit.New(d, clk, audit.WithVerifyInterval(24*time.Hour))
		runCheck(t, l, audit.CheckVerified, 0, check.Fail, "audit.check.verified.never")

		good := &audit.VerifyResult{Size: 120, OK: true, FirstBad: -1, Started: t0.Add(-time.Minute), Duration: time.Second}
		if _, err := l.RecordVerification(ctx, good, audit.VerificationOrigin{}); err != nil {
			t.Fatal(err)
		}
		r := runCheck(t, l, audit.CheckVerified, 0, check.Pass, "audit.check.verified.ok")
		if r.Data["size"] != int64(120) || r.Data["date"] != "2026-04-01 08:59" {
			t.Errorf("data = %v", r.Data)
		}
		clk.Advance(3 * 24 * time.Hour)
		r = runCheck(t, l, audit.CheckVerified, 0, check.Warning, "audit.check.verified.old")
		if r.Data["days"] != 3 {
			t.Errorf("days = %v", r.Data["days"])
		}
		clk.Advance(5 * 24 * time.Hour)
		runCheck(t, l, audit.CheckVerified, 0, check.Fail, "audit.check.verified.stale")

		bad := &audit.VerifyResult{Size: 130, FirstBad: 42, Kind: "altered", Started: clk.Now(), Duration: time.Second}
		if _, err := l.RecordVerification(ctx, bad, audit.VerificationOrigin{Via: "cli"}); err != nil {
			t.Fatal(err)
		}
		r = runCheck(t, l, audit.CheckVerified, 0, check.Fail, "audit.check.verified.bad")
		if r.Data["position"] != int64(42) || r.Data["kind"] != "altered" {
			t.Errorf("data = %v", r.Data)
		}
	})
}

func TestCheckCheckpoints_CoverTheLogOrSayHowFarBehind(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFrozen(audittest.Start.Add(time.Hour))
		unsigned := audit.New(d, clk)
		runCheck(t, unsigned, audit.CheckCheckpoints, 0, check.NotApplicable, "audit.check.checkpoints.empty")
		if _, err := unsigned.Append(ctx, audittest.Events(0, 5)); err != nil {
			t.Fatal(err)
		}
		r := runCheck(t, unsigned, audit.CheckCheckpoints, 0, check.Fail, "audit.check.checkpoints.no_key")
		if r.Data["events"] != int64(5) {
			t.Errorf("data = %v", r.Data)
		}

		l := audit.New(d, clk, audit.WithCheckpoints(audittest.NewSigner(), 1000), audit.WithCheckpointInterval(time.Minute))
		runCheck(t, l, audit.CheckCheckpoints, 0, check.Fail, "audit.check.checkpoints.none")
		if _, err := l.SignCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		r = runCheck(t, l, audit.CheckCheckpoints, 0, check.Pass, "audit.check.checkpoints.ok")
		if r.Data["size"] != int64(5) || r.Data["behind"] != int64(0) {
			t.Errorf("data = %v", r.Data)
		}
		// Quiet for a day with nothing new: still covered.
		clk.Advance(30 * time.Hour)
		runCheck(t, l, audit.CheckCheckpoints, 0, check.Pass, "audit.check.checkpoints.ok")

		more := audittest.Events(5, 3)
		for i := range more {
			more[i].Received = time.Time{} // received now
		}
		if _, err := l.Append(ctx, more); err != nil {
			t.Fatal(err)
		}
		runCheck(t, l, audit.CheckCheckpoints, 0, check.Pass, "audit.check.checkpoints.ok")
		clk.Advance(15 * time.Minute)
		r = runCheck(t, l, audit.CheckCheckpoints, 0, check.Warning, "audit.check.checkpoints.behind")
		if r.Data["behind"] != int64(3) || r.Data["minutes"] != 15 {
			t.Errorf("data = %v", r.Data)
		}
		clk.Advance(24 * time.Hour)
		runCheck(t, l, audit.CheckCheckpoints, 0, check.Fail, "audit.check.checkpoints.stale")
	})
}

// sourceEvents are one event each of three systems: ehr (facility 1, in
// time), pacs (facility 1, 90 s ahead) and lab (facility 2, 5 min ahead),
// all received at t0.
func sourceEvents() []audit.Event {
	ev := func(fac int64, src string, ahead time.Duration) audit.Event {
		return audit.Event{Time: t0.Add(ahead), Received: t0, Facility: fac, Source: src, Action: "view",
			Actor: audit.Actor{ID: "u-" + src}}
	}
	return []audit.Event{ev(1, "ehr", 0), ev(1, "pacs", 90*time.Second), ev(2, "lab", 5*time.Minute)}
}

func TestCheckSources_SilentAndSkewedSystemsAreNamed(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFrozen(t0.Add(10 * time.Minute))
		l := audit.New(d, clk, audit.WithSourceSilence(time.Hour), audit.WithClockTolerance(2*time.Minute))
		runCheck(t, l, audit.CheckSilent, 1, check.NotApplicable, "audit.check.sources_silent.none")
		runCheck(t, l, audit.CheckClockSkew, 1, check.NotApplicable, "audit.check.clock_skew.none")
		if _, err := l.Append(ctx, sourceEvents()); err != nil {
			t.Fatal(err)
		}
		syncAll(t, l)

		r := runCheck(t, l, audit.CheckSilent, 1, check.Pass, "audit.check.sources_silent.ok")
		if r.Data["sources"] != 2 {
			t.Errorf("data = %v", r.Data)
		}
		r = runCheck(t, l, audit.CheckClockSkew, 1, check.Warning, "audit.check.clock_skew.near")
		if r.Data["count"] != 1 || r.Data["names"] != "pacs (+90s)" {
			t.Errorf("data = %v", r.Data)
		}
		r = runCheck(t, l, audit.CheckClockSkew, 2, check.Fail, "audit.check.clock_skew.bad")
		if r.Data["names"] != "lab (+300s)" {
			t.Errorf("data = %v", r.Data)
		}
		r = runCheck(t, l, audit.CheckClockSkew, 0, check.Fail, "audit.check.clock_skew.bad")
		if r.Data["sources"] != 3 {
			t.Errorf("every facility: data = %v", r.Data)
		}
		runCheck(t, audit.New(d, clk, audit.WithClockTolerance(10*time.Minute)), audit.CheckClockSkew, 0, check.Pass, "audit.check.clock_skew.ok")

		clk.Advance(2 * time.Hour)
		r = runCheck(t, l, audit.CheckSilent, 1, check.Warning, "audit.check.sources_silent.some")
		if r.Data["count"] != 2 || r.Data["names"] != "ehr (2026-04-01 09:00), pacs (2026-04-01 09:00)" {
			t.Errorf("data = %v", r.Data)
		}
		clk.Advance(2 * 24 * time.Hour)
		r = runCheck(t, l, audit.CheckSilent, 2, check.Fail, "audit.check.sources_silent.bad")
		if r.Data["count"] != 1 || r.Data["names"] != "lab (2026-04-01 09:00)" {
			t.Errorf("data = %v", r.Data)
		}
	})
}

func TestCheckRetention_FiveYearsByPolicy(t *testing.T) {
	clk := clock.NewFrozen(t0)
	r := runCheck(t, audit.New(nil, clk, audit.WithRetention(5, t.TempDir())), audit.CheckRetention, 0, check.Pass, "audit.check.retention.ok")
	if r.Data["years"] != 5 || r.Data["policy"] != audit.PolicyRetentionYears {
		t.Errorf("data = %v", r.Data)
	}
	runCheck(t, audit.New(nil, clk), audit.CheckRetention, 0, check.Pass, "audit.check.retention.forever")
	r = runCheck(t, audit.New(nil, clk, audit.WithRetention(3, t.TempDir())), audit.CheckRetention, 0, check.Warning, "audit.check.retention.short")
	if r.Data["years"] != 3 {
		t.Errorf("data = %v", r.Data)
	}
}
