package incident_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/mail"
	"github.com/anzen-health/anzen/internal/platform/mail/mailtest"
)

func TestReminders_EachIsMailedOnceBeforeTheDeadlineAndOnceWhenOverdue(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		srv := mailtest.Start(t, mailtest.Options{TLS: "none"})
		m, err := mail.New(srv.Config, nil)
		if err != nil {
			t.Fatal(err)
		}
		// A leak of one patient's record: PPC preliminary (3 days), final
		// (30 days), the people affected (5 days). No attack, no police.
		inc := insertIncident(t, d, incident.Incident{Facility: 1, Kind: incident.DataLeak, Severity: incident.Medium,
			State: incident.Triage, Title: "紹介状の誤送付", Commander: "csirt01", Leak: incident.LeakConfirmed,
			MedicalData: true, People: 1})
		// And a task of it due in 4 hours.
		if _, err := d.ExecContext(ctx, `INSERT INTO incident_tasks (facility, incident_id, title, owner, due, created)
			VALUES (1, ?, '送付先へ回収を依頼', 'nurse01', ?, ?)`, inc.ID, db.Millis(aware.Add(4*time.Hour)), db.Millis(aware)); err != nil {
			t.Fatal(err)
		}
		cfg := incident.Config{DB: d, Mailer: m, Addressees: incident.AddressList{"csirt@hospital.example.jp"},
			ReminderBefore: 24 * time.Hour, PublicURL: "https://anzen.hospital.example.jp/"}
		clk := clock.NewFrozen(aware)
		run := func(want int) {
			t.Helper()
			n, err := incident.NewReminder(cfg, catalog(t)).SendReminders(ctx, clk.Now())
			if err != nil || n != want {
				t.Fatalf("at %s sent %d (%v), want %d", clk.Now(), n, err, want)
			}
		}
		// At awareness only the task is within a day of its deadline.
		run(1)
		run(0) // not again, also from a new Reminder (a restart)
		got := srv.Wait(t, 1, 5*time.Second)
		p, err := got[0].Parse()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.Subject, "[anzen] "+inc.Ref()+"：タスク #") || !strings.Contains(p.Subject, " / [anzen] "+inc.Ref()+": task #") ||
			!strings.Contains(p.Text, "あと 4 時間 0 分") || !strings.Contains(p.Text, "https://anzen.hospital.example.jp/incidents/") ||
			strings.Index(p.Text, "期限") > strings.Index(p.Text, "Due:") || strings.Contains(p.Text, "紹介状") {
			t.Errorf("subject %q\n%s", p.Subject, p.Text)
		}
		// The task is reminded of again once it is overdue; at 2 days 1
		// minute the PPC's preliminary report (due at 3 days) is due soon.
		clk.Set(aware.Add(48*time.Hour + time.Minute))
		run(2)
		run(0)
		// At 4 days 1 minute: the people affected (5 days) are due soon and
		// the preliminary report is overdue — unless it was submitted.
		if _, err := incident.RecordSubmission(ctx, d, audit.New(d, clk), incident.Scope{All: true}, inc.ID, csirt,
			incident.NewSubmission{To: incident.ToPPCPreliminary, At: clk.Now(), Channel: "web", Reference: "PPC-1"}, clk.Now()); err != nil {
			t.Fatal(err)
		}
		clk.Set(aware.Add(4*24*time.Hour + time.Minute))
		run(1)
		msgs := srv.Wait(t, 4, 5*time.Second)
		last, _ := msgs[3].Parse()
		if !strings.Contains(last.Subject, "本人への通知") || !strings.Contains(last.Subject, "Notice to the people affected") {
			t.Errorf("last reminder %q", last.Subject)
		}
		// A refused mail gives its claim back and is sent on the next run.
		clk.Set(aware.Add(5*24*time.Hour + time.Minute))
		srv.FailNext(1)
		if n, err := incident.NewReminder(cfg, catalog(t)).SendReminders(ctx, clk.Now()); err == nil || n != 0 {
			t.Fatalf("a refused mail: sent %d, %v", n, err)
		}
		run(1)
		if n := len(srv.Wait(t, 5, 5*time.Second)); n != 5 {
			t.Errorf("%d mails in all, want 5", n)
		}
		var reminded int64
		if err := d.QueryRowContext(ctx, `SELECT reminded FROM incident_tasks`).Scan(&reminded); err != nil || reminded == 0 {
			t.Errorf("the task's reminded time is %d (%v)", reminded, err)
		}
	})
}

func TestReminders_WithoutMailOrAddresseesSendNothing(t *testing.T) {
	d := dbtest.SQLite(t, parts...)
	insertIncident(t, d, ransomware)
	n, err := incident.NewReminder(incident.Config{DB: d, ReminderBefore: time.Hour}, catalog(t)).
		SendReminders(context.Background(), aware.Add(time.Hour))
	if n != 0 || err != nil {
		t.Fatalf("sent %d, %v", n, err)
	}
}
