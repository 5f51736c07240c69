package detect_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/mail"
	"github.com/anzen-health/anzen/internal/platform/mail/mailtest"
)

// vendorExport is a hospital's critical rule: a vendor account exports.
const vendorExport = "title: Export by a vendor account\nid: hospital-vendor-export\nlogsource: {product: anzen, category: access}\n" +
	"detection:\n  selection: {action: export, user|startswith: 'vendor-'}\n  condition: selection\nlevel: critical\ntags: [attack.exfiltration]\n"

// TestNotify_RoutesByLevelAndTagAndCriticalToTheOnCall raises the pack's
// alerts, a medium one and a critical one of the hospital's rule, with
// routes by tag and an on-call list, and checks who gets what.
func TestNotify_RoutesByLevelAndTagAndCriticalToTheOnCall(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		smtp := mailtest.Start(t, mailtest.Options{TLS: "none"})
		smtp.Config.From = "anzen@hospital.example.jp"
		mailer, err := mail.New(smtp.Config, nil)
		if err != nil {
			t.Fatal(err)
		}
		sink := &webhookSink{}
		hook := httptest.NewServer(sink)
		t.Cleanup(hook.Close)
		cat := i18n.New()
		if err := cat.Add(detect.Locales()); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "vendor.yml"), []byte(vendorExport), 0o644); err != nil {
			t.Fatal(err)
		}
		files, err := detect.LoadRuleFiles([]string{"builtin:medical", dir})
		if err != nil {
			t.Fatal(err)
		}
		clk := clock.NewFrozen(audittest.Start)
		l := audit.New(d, clock.NewFrozen(audittest.Start.Add(time.Hour)))
		en, err := detect.NewEngine(d, l, files, clk, discard, detect.WithNotify(detect.Notify{
			// The default route takes only critical alerts.
			MinLevel: sigma.LevelCritical, Mail: []string{"csirt@hospital.example.jp"}, Mailer: mailer,
			WebhookSecret: []byte("a-shared-secret-of-the-csirt"), Catalog: cat, PublicURL: "https://anzen.hospital.example.jp",
			Routes: []detect.Route{
				{MinLevel: sigma.LevelMedium, Tags: []string{"attack.t1110"}, Mail: []string{"it@hospital.example.jp"}},
				{MinLevel: sigma.LevelHigh, Tags: []string{"attack.t1110*"}, Mail: []string{"ciso@hospital.example.jp"}},
				{MinLevel: sigma.LevelMedium, Tags: []string{"attack.collection"}, Webhooks: []string{hook.URL + "/privacy"}},
			},
			OnCall: detect.OnCallList{"oncall@hospital.example.jp"}}))
		if err != nil {
			t.Fatal(err)
		}
		events := misuseDay()
		at := audittest.Start.Add(14 * time.Hour)
		events = append(events,
			audit.Event{Seq: -1, Time: at, Received: at, Facility: 1, Source: "ehr-main", Action: "view",
				Actor: audit.Actor{ID: "clerk-1", Profession: "clerk"}, Patient: audit.Patient{ID: "P9"}, Outcome: audit.OutcomeSuccess},
			audit.Event{Seq: -1, Time: at, Received: at, Facility: 1, Source: "ehr-main", Action: "export",
				Actor: audit.Actor{ID: "vendor-3"}, Outcome: audit.OutcomeSuccess})
		if _, err := l.Append(ctx, events); err != nil {
			t.Fatal(err)
		}
		drain(t, en)
		alerts, _ := detect.Alerts(ctx, d, 100)
		targets := map[string][]string{} // by the rule id's end
		for _, a := range alerts {
			dls, err := detect.Deliveries(ctx, d, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			key := a.RuleID[len(a.RuleID)-2:]
			for _, dl := range dls {
				targets[key] = append(targets[key], strings.TrimPrefix(dl.Target, "webhook:"+hook.URL))
			}
			slices.Sort(targets[key])
		}
		want := map[string][]string{
			"10": {"mailto:ciso@hospital.example.jp", "mailto:it@hospital.example.jp"}, // attack.t1110, high
			"12": {"mailto:ciso@hospital.example.jp"},                                  // attack.t1110.003, high
			"01": {"/privacy"},                                                         // attack.collection, medium
			"rt": {"mail", "oncall"},                                                   // critical: default route and on-call
		}
		for k, w := range want {
			if !slices.Equal(targets[k], w) {
				t.Errorf("alert %s: targets %v, want %v", k, targets[k], w)
			}
		}
		if len(targets["02"])+len(targets["04"]) != 0 {
			t.Errorf("alerts of no route were queued: %v", targets)
		}
		if sent, err := en.Deliver(ctx); err != nil || sent != 6 {
			t.Fatalf("sent %d: %v", sent, err)
		}
		to := map[string]int{}
		for _, m := range smtp.Wait(t, 5, 5*time.Second) {
			for _, r := range m.To {
				to[r]++
			}
		}
		if to["oncall@hospital.example.jp"] != 1 || to["ciso@hospital.example.jp"] != 2 || to["it@hospital.example.jp"] != 1 ||
			to["csirt@hospital.example.jp"] != 1 {
			t.Errorf("mail went to %v", to)
		}
		if got := sink.got(); len(got) != 1 || got[0].Level != "medium" {
			t.Errorf("the privacy webhook got %+v", got)
		}
	})
}

// TestNotify_NoOneOnCallIsAFailureToRetry: an on-call roster that names
// no one leaves the notification to be retried, with the reason.
func TestNotify_NoOneOnCallIsAFailureToRetry(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		smtp := mailtest.Start(t, mailtest.Options{TLS: "none"})
		smtp.Config.From = "anzen@hospital.example.jp"
		mailer, err := mail.New(smtp.Config, nil)
		if err != nil {
			t.Fatal(err)
		}
		cat := i18n.New()
		if err := cat.Add(detect.Locales()); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "vendor.yml"), []byte(vendorExport), 0o644); err != nil {
			t.Fatal(err)
		}
		files, err := detect.LoadRuleFiles([]string{dir})
		if err != nil {
			t.Fatal(err)
		}
		l := audit.New(d, clock.NewFrozen(audittest.Start))
		en, err := detect.NewEngine(d, l, files, clock.NewFrozen(audittest.Start), discard, detect.WithNotify(detect.Notify{
			MinLevel: sigma.LevelCritical, Mailer: mailer, Catalog: cat, OnCall: detect.OnCallList{}}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ctx, []audit.Event{{Time: audittest.Start, Facility: 1, Source: "ehr-main", Action: "export",
			Actor: audit.Actor{ID: "vendor-3"}, Outcome: audit.OutcomeSuccess}}); err != nil {
			t.Fatal(err)
		}
		drain(t, en)
		if sent, err := en.Deliver(ctx); err != nil || sent != 0 {
			t.Fatalf("sent %d: %v", sent, err)
		}
		alerts, _ := detect.Alerts(ctx, d, 1)
		dls, _ := detect.Deliveries(ctx, d, alerts[0].ID)
		if len(dls) != 1 || dls[0].Target != "oncall" || !strings.Contains(dls[0].LastError, "no one is on call") || dls[0].Attempts != 1 {
			t.Errorf("deliveries %+v", dls)
		}
	})
}
