package incident_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

func TestBackupStatuses_ThresholdsWithAFrozenClock(t *testing.T) {
	dbtest.Each(t, prepParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		start := audittest.Start
		clk := clock.NewFrozen(start)
		l := audit.New(d, clk)
		day := 24 * time.Hour
		attest := func(f int64, b incident.Backup) {
			t.Helper()
			if _, err := incident.AttestBackup(ctx, d, l, prepActor, f, b, clk.Now()); err != nil {
				t.Fatal(err)
			}
		}
		// The EHR: an offline tape today, restored successfully 30 days ago.
		attest(1, incident.Backup{System: "電子カルテ", Generation: 1, TakenAt: start.Add(-time.Hour), Method: "tape", Offline: true,
			RestoreTestedAt: start.Add(-30 * day), RestoreResult: "ok"})
		attest(1, incident.Backup{System: "電子カルテ", Generation: 2, TakenAt: start.Add(-2 * time.Hour), Method: "disk"})
		// PACS: only online copies.
		attest(1, incident.Backup{System: "PACS", Generation: 1, TakenAt: start.Add(-time.Hour), Method: "disk",
			RestoreTestedAt: start.Add(-day), RestoreResult: "ok"})
		// Accounting, in another facility: immutable cloud copy, restore failed.
		attest(2, incident.Backup{System: "医事会計", Generation: 1, TakenAt: start.Add(-time.Hour), Method: "cloud", Immutable: true,
			RestoreTestedAt: start.Add(-day), RestoreResult: "failed"})

		status := func(at time.Time, f int64) map[string]incident.BackupStatus {
			t.Helper()
			list, err := incident.Backups(ctx, d, false, []int64{f})
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]incident.BackupStatus{}
			for _, s := range incident.BackupStatuses(list, at) {
				out[s.System] = s
			}
			return out
		}
		s := status(start, 1)
		if ehr := s["電子カルテ"]; ehr.Level() != incident.LevelOK || ehr.Generations != 2 || len(ehr.Methods) != 2 {
			t.Errorf("EHR today: %+v", ehr)
		}
		if pacs := s["PACS"]; pacs.Offline != incident.LevelBad || pacs.Level() != incident.LevelBad {
			t.Errorf("PACS without an offline copy: %+v", pacs)
		}
		if _, ok := s["医事会計"]; ok {
			t.Error("facility 2's system shows in facility 1")
		}
		if acc := status(start, 2)["医事会計"]; acc.Offline != incident.LevelOK || acc.Restore != incident.LevelBad {
			t.Errorf("accounting with a failed restore: %+v", acc)
		}
		// Just inside and just past the offline copy's limit.
		if ehr := status(start.Add(incident.MaxOfflineAge-time.Hour-time.Minute), 1)["電子カルテ"]; ehr.Offline != incident.LevelOK {
			t.Errorf("inside %v: %s", incident.MaxOfflineAge, ehr.Offline)
		}
		clk.Set(start.Add(incident.MaxOfflineAge))
		if ehr := status(clk.Now(), 1)["電子カルテ"]; ehr.Offline != incident.LevelWarn || ehr.Restore != incident.LevelOK || ehr.OfflineAgeDays(clk.Now()) != 7 {
			t.Errorf("past %v: %+v (%d days)", incident.MaxOfflineAge, ehr, ehr.OfflineAgeDays(clk.Now()))
		}
		// A year and a day after the restore test.
		if ehr := status(start.Add(incident.MaxRestoreTestAge-30*day+day), 1)["電子カルテ"]; ehr.Restore != incident.LevelWarn {
			t.Errorf("restore test over a year old: %s", ehr.Restore)
		}
		// Refused: a restore result without its date, a method not known.
		var pe *incident.PrepError
		for _, bad := range []incident.Backup{
			{System: "PACS", Generation: 1, TakenAt: start, Method: "disk", RestoreResult: "ok"},
			{System: "PACS", Generation: 1, TakenAt: start, Method: "usb-stick"},
			{System: "PACS", Generation: 0, TakenAt: start, Method: "disk"},
			{System: "", Generation: 1, TakenAt: start, Method: "disk"},
		} {
			if _, err := incident.AttestBackup(ctx, d, l, prepActor, 1, bad, clk.Now()); !errors.As(err, &pe) {
				t.Errorf("%+v: %v", bad, err)
			}
		}
		if n := len(prepRecorded(t, l, incident.ActionBackupAttest)); n != 4 {
			t.Errorf("%d attest events, want 4", n)
		}
	})
}
