package incident

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

func TestEvidence_HashCustodyAndVerifyFindsATamperedRow(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnv(t, d)
		i := e.create(t, NewIncident{})
		content := []byte("身代金要求画面のスクリーンショット")
		sum := sha256.Sum256(content)
		ev, err := AddEvidence(ctx, d, e.log, fac1, i.ID, csirt, NewEvidence{Name: `C:\Users\n\ransom note.png`}, content, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if ev.SHA256 != hex.EncodeToString(sum[:]) || ev.Size != int64(len(content)) || ev.Name != "ransom note.png" || ev.Holder != "csirt01" {
			t.Fatalf("%+v", ev)
		}
		if _, err := AddEvidence(ctx, d, e.log, fac1, i.ID, csirt, NewEvidence{Name: "empty"}, nil, e.clk.Now()); !isField(err, "content") {
			t.Errorf("empty file: %v", err)
		}
		if _, err := TransferEvidence(ctx, d, e.log, fac1, i.ID, ev.ID, csirt, Transfer{To: "警察署", Note: "押収"}, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		got, body, err := DownloadEvidence(ctx, d, e.log, fac1, i.ID, ev.ID, Actor{UserID: 9, Login: "auditor01"}, e.clk.Now())
		if err != nil || string(body) != string(content) || got.Holder != "警察署" {
			t.Fatalf("%+v %q %v", got, body, err)
		}
		if _, _, err := DownloadEvidence(ctx, d, e.log, Scope{Facilities: []int64{2}}, i.ID, ev.ID, csirt, e.clk.Now()); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("download from another facility: %v", err)
		}
		if ok, err := VerifyEvidence(ctx, d, e.log, fac1, i.ID, ev.ID, csirt, e.clk.Now()); err != nil || !ok {
			t.Fatalf("verify untouched: %v %v", ok, err)
		}
		// Someone changes the stored file behind anzen's back.
		if _, err := d.ExecContext(ctx, `UPDATE incident_evidence SET content = ? WHERE id = ?`, []byte("差し替え"), ev.ID); err != nil {
			t.Fatal(err)
		}
		if ok, err := VerifyEvidence(ctx, d, e.log, fac1, i.ID, ev.ID, csirt, e.clk.Now()); err != nil || ok {
			t.Fatalf("verify tampered: %v %v", ok, err)
		}
		chain, err := CustodyLog(ctx, d, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{CustodyCollected, CustodyTransferred, CustodyDownloaded, CustodyVerified, CustodyVerified}
		if len(chain) != len(want) {
			t.Fatalf("chain %+v", chain)
		}
		for n, c := range chain {
			if c.Action != want[n] {
				t.Errorf("custody %d: %s, want %s", n, c.Action, want[n])
			}
		}
		if chain[1].From != "csirt01" || chain[1].To != "警察署" || chain[2].Actor != "auditor01" || chain[3].Note != "ok" || chain[4].Note == "ok" {
			t.Errorf("chain %+v", chain)
		}
		acts := e.actions(t)
		for a, n := range map[string]int{"incident.evidence.add": 1, "incident.evidence.transfer": 1, "incident.evidence.download": 1,
			"incident.evidence.verify": 2} {
			if count(acts, a) != n {
				t.Errorf("%s recorded %d times, want %d", a, count(acts, a), n)
			}
		}
	})
}

func TestLinks_ToAlertsAndAuditEntries(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnv(t, d)
		i := e.create(t, NewIncident{})
		for _, n := range []NewLink{{Kind: LinkAlert, Target: 42}, {Kind: LinkAudit, Target: 1234, Note: "最初の不審なログイン"}, {Kind: LinkAlert, Target: 42}} {
			if _, err := AddLink(ctx, d, e.log, fac1, i.ID, csirt, n, e.clk.Now()); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range []NewLink{{Kind: "ticket", Target: 1}, {Kind: LinkAlert, Target: 0}} {
			if _, err := AddLink(ctx, d, e.log, fac1, i.ID, csirt, n, e.clk.Now()); err == nil {
				t.Errorf("%+v accepted", n)
			}
		}
		links, err := Links(ctx, d, i.ID)
		if err != nil || len(links) != 2 || links[0].URL() != "/alerts/42" || links[1].URL() != "/audit/events/1234" {
			t.Errorf("%+v %v", links, err)
		}
		if n := count(e.actions(t), "incident.link.add"); n != 2 {
			t.Errorf("link.add recorded %d times", n)
		}
	})
}
