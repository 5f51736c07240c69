package app

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/anzen-health/anzen/internal/identity"
	"github.com/anzen-health/anzen/internal/keys"
	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// demoPerson is one fictional member of staff of the demo hospital.
type demoPerson struct {
	login, name, kana, dept string
	prof                    identity.Profession
	role                    authz.Role
}

var demoDepartments = []string{"内科", "外科", "小児科", "整形外科", "救急科", "放射線科", "薬剤部", "臨床検査部", "看護部", "医事課"}

var demoFamily = []struct{ kanji, kana, roma string }{
	{"佐藤", "サトウ", "sato"}, {"鈴木", "スズキ", "suzuki"}, {"高橋", "タカハシ", "takahashi"},
	{"田中", "タナカ", "tanaka"}, {"伊藤", "イトウ", "ito"}, {"渡辺", "ワタナベ", "watanabe"},
	{"山本", "ヤマモト", "yamamoto"}, {"中村", "ナカムラ", "nakamura"}, {"小林", "コバヤシ", "kobayashi"},
	{"加藤", "カトウ", "kato"}, {"吉田", "ヨシダ", "yoshida"}, {"山田", "ヤマダ", "yamada"},
}

var demoGiven = []struct{ kanji, kana, roma string }{
	{"陽子", "ヨウコ", "yoko"}, {"健一", "ケンイチ", "kenichi"}, {"美咲", "ミサキ", "misaki"},
	{"大輔", "ダイスケ", "daisuke"}, {"恵", "メグミ", "megumi"}, {"翔太", "ショウタ", "shota"},
	{"由美", "ユミ", "yumi"}, {"誠", "マコト", "makoto"}, {"彩", "アヤ", "aya"}, {"隆", "タカシ", "takashi"},
}

// demoStaff makes the fictional staff list: deterministic, so every demo
// looks the same.
func demoStaff() []demoPerson {
	plan := []struct {
		prof  identity.Profession
		role  authz.Role
		count int
		dept  string
	}{
		{"doctor", authz.Staff, 12, ""}, {"nurse", authz.Staff, 16, "看護部"}, {"pharmacist", authz.Staff, 4, "薬剤部"},
		{"radiological_technologist", authz.Staff, 3, "放射線科"},
		{"clinical_laboratory_technologist", authz.Staff, 3, "臨床検査部"}, {"clerk", authz.Staff, 5, "医事課"},
		{"it", authz.CSIRT, 2, "情報システム"}, {"other", authz.CISO, 1, "経営企画室"},
		{"other", authz.Auditor, 1, "監査室"},
	}
	var out []demoPerson
	n := 0
	for _, p := range plan {
		for i := 0; i < p.count; i++ {
			fam, giv := demoFamily[n%len(demoFamily)], demoGiven[(n*7+3)%len(demoGiven)]
			dept := p.dept
			if dept == "" {
				dept = demoDepartments[i%6]
			}
			out = append(out, demoPerson{
				login: fmt.Sprintf("%s.%s%d", giv.roma, fam.roma, n+1), name: fam.kanji + " " + giv.kanji,
				kana: fam.kana + " " + giv.kana, dept: dept, prof: p.prof, role: p.role})
			n++
		}
	}
	vendors := []demoPerson{
		{"ehr-vendor.kimura", "木村 電子カルテ保守", "キムラ", "電子カルテ保守（委託）", "vendor", authz.Vendor},
		{"pacs-vendor.ogawa", "小川 PACS保守", "オガワ", "PACS保守（委託）", "vendor", authz.Vendor},
		{"network-vendor.mori", "森 ネットワーク保守", "モリ", "ネットワーク保守（委託）", "vendor", authz.Vendor},
	}
	return append(out, vendors...)
}

// LoadDemo fills a database that has only the first administrator with a
// fictional hospital group: two facilities, about fifty staff across
// professions, vendor accounts with an end date, a week of sign-in
// history, a week of access events of the hospital's systems, and the
// reference tables the detection rules use, so that a newcomer sees a
// living system at once.
func (a *App) LoadDemo(ctx context.Context, out io.Writer) error {
	n, err := a.Identity.CountUsers(ctx)
	if err != nil {
		return err
	}
	if n > 1 {
		fmt.Fprintln(out, "demo: the database already has users; nothing added")
		return nil
	}
	facilities, err := a.Identity.Facilities(ctx)
	if err != nil || len(facilities) == 0 {
		return fmt.Errorf("demo: no facility (run bootstrap first): %v", err)
	}
	main := facilities[0]
	clinic, err := a.Identity.CreateFacility(ctx, identity.SystemActor,
		identity.Facility{Code: "clinic-east", NameJA: "東町クリニック", NameEN: "Higashimachi Clinic"})
	if err != nil {
		return err
	}
	now := a.Clock.Now()
	staff := demoStaff()
	fmt.Fprintf(out, "demo: creating %d fictional staff accounts ...\n", len(staff))
	for i, p := range staff {
		facility := main.ID
		if i%9 == 8 && p.role == authz.Staff {
			facility = clinic.ID
		}
		grantFacility := facility
		if p.role == authz.CSIRT || p.role == authz.CISO || p.role == authz.Auditor {
			grantFacility = authz.AllFacilities
		}
		nu := identity.NewUser{Facility: facility, Login: p.login, Name: p.name, NameKana: p.kana, Department: p.dept,
			Profession: p.prof, Grants: []authz.Grant{{Role: p.role, Facility: grantFacility}}}
		if p.role == authz.Vendor {
			nu.ValidUntil = now.AddDate(0, 3, 0)
		}
		if _, _, err := a.Identity.CreateUser(ctx, identity.SystemActor, nu); err != nil {
			return fmt.Errorf("demo user %s: %w", p.login, err)
		}
	}
	// A retired nurse whose account is kept for the record, and one on leave.
	if err := a.Identity.SetStatus(ctx, identity.SystemActor, staff[14].login, identity.Retired); err != nil {
		return err
	}
	if err := a.Identity.SetStatus(ctx, identity.SystemActor, staff[20].login, identity.OnLeave); err != nil {
		return err
	}
	if err := a.demoKeys(ctx); err != nil {
		return err
	}
	if err := a.demoHistory(ctx, staff, now); err != nil {
		return err
	}
	fmt.Fprintln(out, "demo: writing a week of access events of the hospital's systems ...")
	if err := a.demoAccess(ctx, staff, now, main.ID, clinic.ID); err != nil {
		return err
	}
	fmt.Fprintln(out, "demo: loading the reference tables (roster, patients, VIP list, care teams, maintenance windows) ...")
	if err := a.demoTables(ctx, staff, now, main.ID); err != nil {
		return err
	}
	fmt.Fprintln(out, "demo: writing the emergency organisation, the contact diagram, the BCP, a drill and two incidents ...")
	if err := a.demoIncident(ctx, staff, now, main.ID); err != nil {
		return err
	}
	fmt.Fprintln(out, "demo: running the guideline checks, answering the checklist and uploading evidence ...")
	return a.demoCompliance(ctx, staff, now, main.ID)
}

// demoKeys makes the keys a hospital typically keeps, and uses them a
// little, so that the key pages show states, a grant and a usage chart.
func (a *App) demoKeys(ctx context.Context) error {
	by := keys.Actor{Login: "system", Client: "local"}
	year := 365 * 24 * time.Hour
	for _, nk := range []keys.NewKey{
		{Name: "ehr-records", Purpose: keys.PurposeStorage, Owner: "情報システム室", RotationPeriod: year},
		{Name: "pacs-transfer", Purpose: keys.PurposeTransport, Owner: "放射線科", RotationPeriod: 90 * 24 * time.Hour},
		{Name: "backup-2026", Purpose: keys.PurposeBackup, Owner: "情報システム室"},
		{Name: "document-signing", Purpose: keys.PurposeSigning, Algorithm: keys.ECDSAP256, Owner: "医事課"},
		{Name: "patient-pseudonyms", Purpose: keys.PurposeIntegration, Algorithm: keys.HMACSHA256, Owner: "地域連携室"},
	} {
		if _, err := a.Keys.Create(ctx, by, nk); err != nil {
			return fmt.Errorf("demo key %s: %w", nk.Name, err)
		}
	}
	if _, err := a.Keys.Rotate(ctx, by, "ehr-records"); err != nil {
		return err
	}
	if err := a.Keys.SetGrants(ctx, by, "ehr-records", []keys.Grant{
		{Kind: "role", Subject: "staff", Operations: []keys.Operation{keys.OpEncrypt, keys.OpDecrypt}}}); err != nil {
		return err
	}
	system := keys.SystemCaller("demo")
	for i := 0; i < 40; i++ {
		ec := keys.Context{"patient": fmt.Sprintf("P-%06d", 1000+i), "table": "notes"}
		ct, err := a.Keys.Encrypt(ctx, system, "ehr-records", []byte("経過記録"), ec)
		if err != nil {
			return err
		}
		if _, err := a.Keys.Decrypt(ctx, system, ct, ec); err != nil {
			return err
		}
	}
	if _, err := a.Keys.Sign(ctx, system, "document-signing", []byte("診療情報提供書")); err != nil {
		return err
	}
	return a.Keys.FlushUsage(ctx, true)
}

// demoHistory writes a week of fictional sign-ins and failures.
func (a *App) demoHistory(ctx context.Context, staff []demoPerson, now time.Time) error {
	rng := rand.New(rand.NewPCG(2026, 11))
	for day := 7; day >= 1; day-- {
		for i := 0; i < 40; i++ {
			p := staff[rng.IntN(len(staff))]
			at := now.AddDate(0, 0, -day).Add(time.Duration(rng.IntN(24*60)) * time.Minute)
			client := fmt.Sprintf("10.20.%d.%d", 1+rng.IntN(8), 10+rng.IntN(200))
			ev := selfaudit.Event{Time: at, ActorLogin: p.login, Action: "login.success", Target: "user:" + p.login,
				Outcome: selfaudit.Success, ClientAddr: client, Detail: map[string]string{"method": "totp", "demo": "true"}}
			if rng.IntN(8) == 0 {
				ev.Action, ev.Outcome = "login.failure", selfaudit.Failure
				ev.Detail = map[string]string{"reason": "wrong_password", "demo": "true"}
			}
			if err := a.Audit.Record(ctx, a.DB, ev); err != nil {
				return err
			}
		}
	}
	return nil
}
