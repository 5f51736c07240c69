package incident_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/audit/audittest"
	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

func TestBCP_EmptySectionsAreMissingAndEverySaveIsAVersion(t *testing.T) {
	dbtest.Each(t, prepParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := audittest.Start
		l := audit.New(d, clock.NewFrozen(now))
		b, err := incident.CurrentBCP(ctx, d, 1)
		if err != nil || b.Version != 0 || !slices.Equal(b.Missing(), incident.BCPSections) {
			t.Fatalf("no BCP yet: %+v %v", b, err)
		}
		b, err = incident.SaveBCP(ctx, d, l, prepActor, 1, map[string]string{"purpose": "当院の情報システムの事業継続計画", "systems": "電子カルテ：RTO 24 時間"}, "初版", now)
		if err != nil || b.Version != 1 {
			t.Fatal(b.Version, err)
		}
		b, err = incident.SaveBCP(ctx, d, l, prepActor, 1, map[string]string{"contacts": "携帯電話と院内 PHS の一覧は各部署に掲示", "systems": "  "}, "", now.Add(time.Hour))
		if err != nil || b.Version != 2 {
			t.Fatal(b.Version, err)
		}
		cur, err := incident.CurrentBCP(ctx, d, 1)
		if err != nil || cur.Version != 2 || cur.Sections["purpose"] == "" || cur.CreatedBy != "ciso01" {
			t.Fatalf("current: %+v %v", cur, err)
		}
		missing := cur.Missing()
		if slices.Contains(missing, "purpose") || slices.Contains(missing, "contacts") || !slices.Contains(missing, "systems") ||
			len(missing) != len(incident.BCPSections)-2 {
			t.Errorf("missing = %v", missing)
		}
		// An unknown section, or a control character, changes nothing.
		if _, err := incident.SaveBCP(ctx, d, l, prepActor, 1, map[string]string{"secret": "x"}, "", now); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("unknown section: %v", err)
		}
		var pe *incident.PrepError
		if _, err := incident.SaveBCP(ctx, d, l, prepActor, 1, map[string]string{"review": "a\x00b"}, "", now); !errors.As(err, &pe) {
			t.Errorf("NUL in a section: %v", err)
		}
		// Another facility has its own.
		if other, _ := incident.CurrentBCP(ctx, d, 2); other.Version != 0 {
			t.Errorf("facility 2 sees version %d", other.Version)
		}
		if err := incident.ApproveBCP(ctx, d, l, prepActor, 1, 2, "病院長 山田", now, now); err != nil {
			t.Fatal(err)
		}
		if err := incident.ApproveBCP(ctx, d, l, prepActor, 2, 2, "病院長", now, now); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("approving another facility's version: %v", err)
		}
		versions, err := incident.BCPVersions(ctx, d, 1)
		if err != nil || len(versions) != 2 || versions[0].ApprovedBy != "病院長 山田" || !versions[1].ApprovedAt.IsZero() {
			t.Fatalf("versions: %+v %v", versions, err)
		}
		if ev := prepRecorded(t, l, incident.ActionBCPUpdate); len(ev) != 2 {
			t.Errorf("%d update events", len(ev))
		}
		if ev := prepRecorded(t, l, incident.ActionBCPApprove); len(ev) != 1 {
			t.Errorf("%d approve events", len(ev))
		}
	})
}

func TestOfflineProcedures_PerFacilityAndAudited(t *testing.T) {
	dbtest.Each(t, prepParts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := audittest.Start
		l := audit.New(d, clock.NewFrozen(now))
		p, err := incident.SaveOfflineProcedure(ctx, d, l, prepActor, 1, incident.OfflineProcedure{Department: "医事課",
			Title: "外来受付（紙運用）", Body: "1. 受付票に記入する\n2. 診察券番号を控える"}, now)
		if err != nil || p.ID == 0 {
			t.Fatal(p, err)
		}
		if _, err := incident.SaveOfflineProcedure(ctx, d, l, prepActor, 1, incident.OfflineProcedure{Department: "薬剤部", Title: "処方（紙の処方箋）"}, now); err != nil {
			t.Fatal(err)
		}
		p.Title = "外来受付（紙運用・第 2 版）"
		if _, err := incident.SaveOfflineProcedure(ctx, d, l, prepActor, 2, p, now); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("changing facility 1's procedure as facility 2: %v", err)
		}
		if _, err := incident.SaveOfflineProcedure(ctx, d, l, prepActor, 1, p, now); err != nil {
			t.Fatal(err)
		}
		if _, err := incident.SaveOfflineProcedure(ctx, d, l, prepActor, 1, incident.OfflineProcedure{Department: strings.Repeat("部", 101), Title: "x"}, now); err == nil {
			t.Error("a 101-character department was accepted")
		}
		list, err := incident.OfflineProcedures(ctx, d, 1)
		if err != nil || len(list) != 2 || list[0].Title != "外来受付（紙運用・第 2 版）" || list[1].Department != "薬剤部" {
			t.Fatalf("%+v %v", list, err)
		}
		if err := incident.DeleteOfflineProcedure(ctx, d, l, prepActor, 1, p.ID, now); err != nil {
			t.Fatal(err)
		}
		if err := incident.DeleteOfflineProcedure(ctx, d, l, prepActor, 1, p.ID, now); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("deleting twice: %v", err)
		}
		if n := len(prepRecorded(t, l, incident.ActionProcedureCreate)) + len(prepRecorded(t, l, incident.ActionProcedureUpdate)) +
			len(prepRecorded(t, l, incident.ActionProcedureDelete)); n != 4 {
			t.Errorf("%d procedure events, want 4", n)
		}
	})
}
