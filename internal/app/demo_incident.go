package app

import (
	"context"
	"fmt"
	"time"

	"github.com/anzen-health/anzen/internal/incident"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// The demo's emergency organisation and incident work for the main
// hospital: the CISO and the security manager, a CSIRT of five with an
// on-call week, the systems' vendors and the authorities on the contact
// diagram, the emergency rules, an emergency account in the safe, the
// BCP half written, backup attestations, a ransomware tabletop drill with
// its lessons, and two incidents: an insider's browsing under way with the
// PPC's clock running, and a lost USB stick closed without a report
// because it was encrypted. Names, numbers and mail addresses are
// fictional (example.jp, 0120-000-xxx).

// demoIncident writes it for facility main at now.
func (a *App) demoIncident(ctx context.Context, staff []demoPerson, now time.Time, main int64) error {
	d, rec := a.DB, a.Audit
	sc := incident.Scope{Facilities: []int64{main}}
	org := incident.Actor{Login: "demo", Client: "local"}
	var csirt, ciso, clerk demoPerson
	var it []demoPerson
	for _, p := range staff {
		switch {
		case p.role == authz.CSIRT:
			it = append(it, p)
		case p.role == authz.CISO:
			ciso = p
		case p.prof == "clerk" && clerk.login == "":
			clerk = p
		}
	}
	if len(it) < 2 || ciso.login == "" {
		return fmt.Errorf("demo incident: the staff list has no CSIRT or CISO")
	}
	csirt = it[0]
	person := func(p demoPerson, n int) incident.Person {
		return incident.Person{Name: p.name, Department: p.dept, PhoneOffice: fmt.Sprintf("内線 %d", 2100+n),
			PhoneMobile: fmt.Sprintf("090-0000-%04d", 1000+n), Mail: p.login + "@hospital.example.jp"}
	}
	officers := []struct {
		role incident.OfficerRole
		p    incident.Person
	}{
		{incident.CISO, func() incident.Person {
			x := person(ciso, 1)
			x.Title = "副院長・最高情報セキュリティ責任者"
			return x
		}()},
		{incident.SecurityManager, func() incident.Person { x := person(it[1], 2); x.Title = "情報システム課長"; return x }()},
	}
	for _, o := range officers {
		if _, err := incident.SetOfficer(ctx, d, rec, sc, org, o.role, incident.OfficerInput{Facility: main, Person: o.p}, now); err != nil {
			return fmt.Errorf("demo officer: %w", err)
		}
	}
	members := []struct {
		p     incident.Person
		login string
		roles []string
	}{
		{person(csirt, 3), csirt.login, []string{"commander", "handler"}},
		{person(it[1], 4), it[1].login, []string{"manager", "it"}},
		{person(clerk, 5), clerk.login, []string{"poc", "pr"}},
		{incident.Person{Name: "顧問弁護士 架空法律事務所", PhoneOffice: "0120-000-301", Mail: "legal@law.example.jp"}, "", []string{"legal"}},
		{incident.Person{Name: staff[16].name, Department: staff[16].dept, PhoneMobile: "090-0000-1006"}, staff[16].login, []string{"medical"}},
	}
	var ids []int64
	for _, m := range members {
		got, err := incident.CreateMember(ctx, d, rec, sc, org, incident.MemberInput{Facility: main, Login: m.login, Roles: m.roles,
			Person: m.p}, now)
		if err != nil {
			return fmt.Errorf("demo CSIRT member: %w", err)
		}
		ids = append(ids, got.ID)
	}
	day := now.Truncate(24 * time.Hour)
	for i := -1; i < 7; i++ {
		from := day.AddDate(0, 0, i)
		if _, err := incident.CreateShift(ctx, d, rec, sc, org, incident.ShiftInput{Facility: main, MemberID: ids[(i+2)%2],
			Starts: from, Ends: from.Add(24 * time.Hour), Tier: "primary"}, now); err != nil {
			return fmt.Errorf("demo on-call: %w", err)
		}
	}
	for _, c := range []incident.ContactInput{
		{Kind: "vendor", Organisation: "架空メディカルシステムズ株式会社", System: "電子カルテ", Person: "保守窓口",
			Phone: "0120-000-101", Phone2: "090-0000-2101", Mail: "support@ehr-vendor.example.jp", WhenToCall: "電子カルテの停止・不審な動作"},
		{Kind: "vendor", Organisation: "架空画像システム株式会社", System: "PACS", Phone: "0120-000-102", Mail: "pacs@pacs-vendor.example.jp"},
		{Kind: "vendor", Organisation: "架空ネットワーク株式会社", System: "院内ネットワーク・VPN", Phone: "0120-000-103",
			WhenToCall: "外部回線の遮断、VPN 装置の確認"},
		{Kind: "insurer", Organisation: "架空損害保険株式会社（サイバー保険）", Phone: "0120-000-201", WhenToCall: "事故受付（24 時間）"},
	} {
		c.Facility = main
		if _, err := incident.CreateContact(ctx, d, rec, sc, org, c, now); err != nil {
			return fmt.Errorf("demo contact: %w", err)
		}
	}
	if _, err := incident.AddStandardAuthorities(ctx, d, rec, sc, org, main, now); err != nil {
		return fmt.Errorf("demo authorities: %w", err)
	}
	if _, err := incident.SetEmergencyRules(ctx, d, rec, sc, org, incident.RulesInput{Facility: main,
		Criteria: []string{"電子カルテが 1 時間以上使えず、復旧の見込みが立たない", "ランサムウェアの感染が疑われる（身代金要求画面、大量のファイル暗号化）",
			"外部への患者情報の漏えいが疑われる"},
		Declarer: "病院長", Deputy: "副院長（CISO）",
		Steps:          "CSIRT 統括責任者が状況を病院長に報告し、病院長が非常時を宣言します。宣言は院内放送と各部署の連絡網で伝えます。",
		ReturnCriteria: "電子カルテが安定して稼働し、感染の拡大がないことを CSIRT とベンダーが確認したとき",
		ReturnSteps:    "部署ごとに段階的に電子カルテの利用を再開し、再開時刻を記録します。",
		Reconcile:      "紙で記録した内容は復旧後 3 日以内に電子カルテへ入力し、入力者と別の職員が照合します。"}, now); err != nil {
		return fmt.Errorf("demo emergency rules: %w", err)
	}
	if _, err := incident.CreateAccount(ctx, d, rec, sc, org, incident.AccountInput{Facility: main, System: "電子カルテ",
		Source: "ehr-main", Account: "ehr-emergency01", Location: "事務部長室の金庫（封筒に封印）", Custodian: "事務部長"}, now); err != nil {
		return fmt.Errorf("demo emergency account: %w", err)
	}
	return a.demoPreparation(ctx, csirt, now, main)
}

// demoPreparation writes the BCP, backups, a drill and two incidents.
func (a *App) demoPreparation(ctx context.Context, csirt demoPerson, now time.Time, main int64) error {
	d, rec := a.DB, a.Audit
	prep := incident.Actor{Login: "demo", Client: "local"}
	if _, err := incident.SaveBCP(ctx, d, rec, prep, main, map[string]string{
		"purpose":  "サイバー攻撃や障害で医療情報システムが使えなくなったときも、診療を安全に続け、速やかに復旧するための計画です。",
		"criteria": "非常時の判断基準と宣言者は「緊急時の規程」のとおりです。",
		"systems":  "電子カルテ（最優先。目標復旧時間 24 時間、目標復旧時点 1 日前）、PACS（48 時間）、医事会計（72 時間）。",
		"fallback": "外来・病棟は紙カルテと紙の伝票で運用します。様式は各部署の非常用キャビネットにあります。",
		"backup":   "電子カルテは毎日テープにバックアップし、週に一度オフラインの保管庫へ移します。",
	}, "デモ：初版（未完成）", now); err != nil {
		return fmt.Errorf("demo BCP: %w", err)
	}
	if _, err := incident.SaveOfflineProcedure(ctx, d, rec, prep, main, incident.OfflineProcedure{Department: "外来受付",
		Title: "電子カルテ停止時の外来受付", Body: "1. 紙の受付票に氏名・生年月日・診療科を記入します。\n2. 受付番号は手書きの台帳で管理します。"}, now); err != nil {
		return fmt.Errorf("demo offline procedure: %w", err)
	}
	for _, b := range []incident.Backup{
		{System: "電子カルテ", Generation: 30, TakenAt: now.Add(-26 * time.Hour), Method: "tape", Offline: true,
			RestoreTestedAt: now.AddDate(0, -3, 0), RestoreResult: "ok", Note: "テープ 30 世代をローテーション"},
		{System: "PACS", Generation: 7, TakenAt: now.AddDate(0, 0, -12), Method: "disk", Immutable: true},
	} {
		if _, err := incident.AttestBackup(ctx, d, rec, prep, main, b, now); err != nil {
			return fmt.Errorf("demo backup: %w", err)
		}
	}
	if _, err := incident.CreateDrill(ctx, d, rec, prep, main, incident.Drill{HeldAt: now.AddDate(0, 0, -20), Kind: "tabletop",
		Title: "ランサムウェア感染を想定した机上訓練", ScenarioKind: incident.Ransomware,
		Scenario:     "夜間に電子カルテ端末へ身代金要求画面が表示され、翌朝には複数の部署で電子カルテが使えない。",
		Participants: []incident.Participant{{Name: csirt.name, Role: "CSIRT 統括責任者"}, {Name: "病院長"}, {Name: "看護部長"}},
		Minutes:      90, Findings: "VPN 装置の保守ベンダーの夜間連絡先が分からなかった。紙の伝票の保管場所を知らない部署があった。",
		Lessons: []incident.Lesson{{Title: "ベンダーの夜間連絡先を連絡体制図に載せる", Owner: csirt.login, Due: now.AddDate(0, 0, 10)},
			{Title: "紙運用の様式の保管場所を全部署に周知する", Owner: csirt.login, Due: now.AddDate(0, 0, -2)}}}, now); err != nil {
		return fmt.Errorf("demo drill: %w", err)
	}
	return a.demoIncidents(ctx, csirt, now, main)
}

// demoIncidents opens the two incidents.
func (a *App) demoIncidents(ctx context.Context, csirt demoPerson, now time.Time, main int64) error {
	d, rec := a.DB, a.Audit
	sc := incident.Scope{Facilities: []int64{main}}
	by := incident.Actor{Login: csirt.login, Client: "local", Lang: "ja"}
	open, err := incident.Create(ctx, d, rec, sc, by, incident.NewIncident{Facility: main, Kind: incident.InsiderMisuse,
		Severity: incident.High, Title: "退職した看護師のアカウントでの患者記録の閲覧", AwareAt: now.Add(-30 * time.Hour),
		Summary:   "退職者アカウントの利用を検知しました。閲覧された記録と、閲覧者を確認しています。",
		Commander: csirt.login, AffectedSystems: "電子カルテ", AffectedData: "氏名、病名、検査結果", People: 3,
		MedicalData: true, Leak: incident.LeakPossible}, now.Add(-29*time.Hour))
	if err != nil {
		return fmt.Errorf("demo incident: %w", err)
	}
	for _, to := range []incident.State{incident.Triage, incident.Containment} {
		if _, err := incident.ChangeState(ctx, d, rec, sc, open.ID, by, incident.Transition{To: to}, now.Add(-20*time.Hour)); err != nil {
			return fmt.Errorf("demo incident state: %w", err)
		}
	}
	if _, err := incident.AddNote(ctx, d, rec, sc, open.ID, by, incident.Note{Text: "アカウントを停止し、パスワードを変更しました。",
		At: now.Add(-22 * time.Hour)}, now.Add(-20*time.Hour)); err != nil {
		return fmt.Errorf("demo incident note: %w", err)
	}
	lost, err := incident.Create(ctx, d, rec, sc, by, incident.NewIncident{Facility: main, Kind: incident.LostDevice,
		Severity: incident.Low, Title: "暗号化 USB メモリの紛失", AwareAt: now.AddDate(0, 0, -6),
		AffectedData: "紹介状の下書き（患者 2 名）", People: 2, MedicalData: true, Leak: incident.LeakPossible, Encrypted: true},
		now.AddDate(0, 0, -6))
	if err != nil {
		return fmt.Errorf("demo incident: %w", err)
	}
	if _, err := incident.ChangeState(ctx, d, rec, sc, lost.ID, by, incident.Transition{To: incident.Closed,
		Resolution: incident.ResolutionResolved, Comment: "ハードウェア暗号化のため個人情報保護委員会への報告は不要と判断しました。"},
		now.AddDate(0, 0, -5)); err != nil {
		return fmt.Errorf("demo incident close: %w", err)
	}
	return nil
}
