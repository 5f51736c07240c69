package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/compliance"
	"github.com/anzen-health/anzen/internal/platform/authz"
)

// demoCompliance gives the fictional hospital a compliance record: the
// checks run against what the demo made, the hospital sheet of the
// checklist answered (two いいえ with their target dates), evidence
// uploaded by the administrator and approved by the CISO (one near its
// expiry, one still awaiting approval), owners for a few controls, and a
// snapshot of the fiscal year, so that the home page shows real figures.
func (a *App) demoCompliance(ctx context.Context, staff []demoPerson, now time.Time, main int64) error {
	svc := a.Compliance
	var ciso demoPerson
	for _, p := range staff {
		if p.role == authz.CISO {
			ciso = p
		}
	}
	admin := compliance.Actor{Login: "admin", Client: "local"}
	approver := compliance.Actor{Login: ciso.login, Client: "local"}
	if _, err := svc.RunChecks(ctx, admin, main); err != nil {
		return fmt.Errorf("demo compliance checks: %w", err)
	}

	today := svc.Today(now)
	fyEnd := time.Date(compliance.FiscalYear(today)+1, time.March, 31, 0, 0, 0, 0, time.UTC)
	target := today.AddDate(0, 2, 0)
	if target.After(fyEnd) {
		target = fyEnd
	}
	checked := today.AddDate(0, 0, -3)
	if compliance.FiscalYear(checked) != compliance.FiscalYear(today) {
		checked = today
	}
	fw := svc.Library().Checklist()
	pending := map[string]string{
		"hospital-2-8-network":  "外部接続の送信元制限を保守ベンダーと調整中。",
		"hospital-2-9-terminal": "外来端末の不要な常駐ソフトの棚卸しが未了。",
	}
	var answers []compliance.AnswerInput
	fw.Walk(func(it *compliance.Item, _ int) bool {
		if it.Kind == compliance.ItemSheet && !strings.HasPrefix(it.Ref, "hospital") {
			return false
		}
		if it.Kind != compliance.ItemQuestion {
			return true
		}
		in := compliance.AnswerInput{Framework: fw.ID, Ref: it.Ref, Value: compliance.AnswerYes, CheckedOn: checked}
		if note, ok := pending[it.Ref]; ok {
			in.Value, in.TargetOn, in.Note = compliance.AnswerNo, &target, note
		}
		answers = append(answers, in)
		return true
	})
	if _, err := svc.SetAnswers(ctx, admin, main, answers); err != nil {
		return fmt.Errorf("demo checklist: %w", err)
	}

	evidence := []struct {
		control, spec, title, file, body string
		effective                        time.Time
		approve                          bool
	}{
		{"ctl-asset-register", "asset-register", "機器台帳（サーバ・端末・ネットワーク機器）", "asset-register.csv",
			"種別,名称,設置場所,管理者\nサーバ,電子カルテサーバ,サーバ室,情報システム課\n端末,外来端末 1〜40,外来,情報システム課\nネットワーク機器,基幹スイッチ,サーバ室,ネットワーク保守（委託）\n",
			today.AddDate(0, 0, -20), true},
		{"ctl-mds-sds", "mds-sds", "電子カルテの MDS/SDS（製造業者・サービス事業者による開示書）", "mds-sds-ehr.txt",
			"電子カルテ保守ベンダーから受領した MDS/SDS。\n", today.AddDate(0, 0, -345), true},
		{"ctl-connection-restriction", "firewall-acl", "外部接続点のファイアウォール設定（ACL）", "firewall-acl.txt",
			"許可: 保守 VPN（送信元固定）→ 保守用端末のみ\n拒否: その他すべて\n", today.AddDate(0, 0, -40), true},
		{"ctl-operations-rules", "operations-rules", "医療情報システム運用管理規程（第3版）", "operations-rules.txt",
			"運用管理規程 第3版（院内承認済み）\n", today.AddDate(0, -6, 0), true},
		{"ctl-patching", "patch-record", "月次のセキュリティ更新記録", "patch-record.csv",
			"対象,適用日,内容\n外来端末,前月第2水曜,OS 累積更新\n", today.AddDate(0, 0, -5), false},
	}
	for _, ev := range evidence {
		att, err := svc.Attest(ctx, admin, main, compliance.NewAttestation{ControlID: ev.control, EvidenceID: ev.spec,
			Title: ev.title, FileName: ev.file, EffectiveOn: ev.effective}, []byte(ev.body))
		if err != nil {
			return fmt.Errorf("demo evidence %s: %w", ev.spec, err)
		}
		if ev.approve {
			if _, err := svc.Decide(ctx, approver, main, att.ID, true, ""); err != nil {
				return fmt.Errorf("demo approval of %s: %w", ev.spec, err)
			}
		}
	}
	for _, c := range []string{"ctl-asset-register", "ctl-mds-sds", "ctl-patching", "ctl-connection-restriction"} {
		if _, err := svc.SetControl(ctx, admin, main, c, compliance.ControlSetting{Owner: "admin",
			Impl: compliance.ImplInProgress}); err != nil {
			return fmt.Errorf("demo control %s: %w", c, err)
		}
	}
	if _, err := svc.RunDue(ctx, now); err != nil {
		return fmt.Errorf("demo compliance checks: %w", err)
	}
	_, err := svc.TakeSnapshot(ctx, approver, main, compliance.FiscalYear(today), "デモ: 年度途中の自己点検")
	return err
}
