package compliance

import (
	"context"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The reports' tests read a small hand-built library (a guideline with
// two chapters, a checklist with the form's three sheets) and a
// hand-built State, so that every figure the reports show is known.

const reportTestGuideline = `
id: mhlw-gl-5.1
kind: guideline
edition: "5.1"
version: 1
name: {ja: 医療情報システムの安全管理に関するガイドライン 第5.1版, en: "Safety Management Guideline, edition 5.1"}
publisher: {ja: 厚生労働省, en: MHLW}
published: "2021-01"
items:
  - ref: "6"
    number: "6"
    kind: chapter
    title: {ja: 情報システムの基本的な安全管理, en: Basic safety management}
    children:
      - ref: "6.5"
        number: "6.5"
        kind: section
        title: {ja: 技術的安全対策, en: Technical safeguards}
        children:
          - ref: 6.5-C-1
            number: C-1
            kind: C
            title: {ja: 利用者の識別と認証, en: Identify and authenticate users}
            summary: {ja: 利用者ごとに ID を発行して本人を確かめる。, en: Give each user an ID and confirm who they are.}
          - ref: 6.5-C-15
            number: C-15
            kind: C
            revised: true
            title: {ja: 二要素認証, en: Two-factor authentication}
            summary: {ja: 端末が対応し次第、二要素認証を採用する。, en: Adopt two-factor authentication as terminals allow.}
  - ref: "7"
    number: "7"
    kind: chapter
    title: {ja: 電子保存の要求事項, en: Electronic storage}
    children:
      - ref: "7.1"
        number: "7.1"
        kind: section
        title: {ja: 真正性の確保, en: Authenticity}
        children:
          - ref: 7.1-C-1
            number: C-1
            kind: C
            title: {ja: 記録の改ざん防止, en: Tamper-evident records}
            summary: {ja: 記録の変更を検知できるようにする。, en: Make changes to records detectable.}
`

const reportTestChecklist = `
id: mhlw-checklist-r6
kind: checklist
edition: 令和6年度
version: 1
name: {ja: 医療機関におけるサイバーセキュリティ対策チェックリスト（令和6年度）, en: Cybersecurity checklist FY2024}
publisher: {ja: 厚生労働省, en: MHLW}
published: "2024-05"
items:
  - ref: hospital
    number: "医療機関"
    kind: sheet
    title: {ja: 医療機関確認用, en: Hospital}
    children:
      - ref: hospital-1
        number: "1"
        kind: group
        title: {ja: 体制構築, en: Organisation}
        children:
          - ref: hospital-1-1
            number: "1-①"
            kind: question
            title: {ja: 医療情報システム安全管理責任者を設置している, en: A security manager is appointed}
            summary: {ja: 責任者を置く。, en: Appoint a manager.}
      - ref: hospital-2
        number: "2"
        kind: group
        title: {ja: 医療情報システムの管理・運用, en: Managing the systems}
        children:
          - ref: hospital-2-4-server
            number: "2-④"
            kind: question
            target: server
            title: {ja: 利用者の職種・担当業務別の情報区分毎のアクセス利用権限を設定している, en: Access rights by role}
            summary: {ja: 権限を設定する。, en: Set access rights.}
          - ref: hospital-2-4-terminal
            number: "2-④"
            kind: question
            target: terminal
            title: {ja: 利用者の職種・担当業務別の情報区分毎のアクセス利用権限を設定している, en: Access rights by role}
            summary: {ja: 権限を設定する。, en: Set access rights.}
  - ref: pharmacy
    number: "薬局"
    kind: sheet
    title: {ja: 薬局確認用, en: Pharmacy}
    children:
      - ref: pharmacy-1-1
        number: "1-①"
        kind: question
        title: {ja: 責任者を設置している, en: A manager is appointed}
        summary: {ja: 責任者を置く。, en: Appoint a manager.}
  - ref: vendor
    number: "事業者"
    kind: sheet
    title: {ja: 事業者確認用, en: Vendor}
    children:
      - ref: vendor-1-1
        number: "1-①"
        kind: question
        title: {ja: 事業者内に責任者を設置している, en: The vendor appointed a manager}
        summary: {ja: 責任者を置く。, en: Appoint a manager.}
`

const reportTestControls = `
controls:
  - id: ctl-mfa
    title: {ja: 二要素認証, en: Two-factor authentication}
    description: {ja: 利用者は二要素でログインする。, en: Users sign in with two factors.}
    requirements: ["mhlw-gl-5.1:6.5-C-15", "mhlw-gl-5.1:6.5-C-1"]
    checks: [identity.mfa_enrolment]
  - id: ctl-rules
    title: {ja: 運用管理規程, en: Operating rules}
    description: {ja: 運用管理規程を定めて見直す。, en: Keep operating rules.}
    requirements: ["mhlw-gl-5.1:6.5-C-1"]
    evidence:
      - id: rules
        title: {ja: 運用管理規程, en: Operating rules}
        valid_days: 365
  - id: ctl-audit
    title: {ja: 監査ログの改ざん検知, en: Tamper-evident audit log}
    description: {ja: 監査ログの完全性を毎日検証する。, en: Verify the audit log daily.}
    requirements: ["mhlw-gl-5.1:7.1-C-1"]
    checks: [audit.verified]
`

// reportLibrary is the test library.
func reportLibrary(t testing.TB) *Library {
	t.Helper()
	lib, err := Load(fstest.MapFS{
		"c/mhlw-gl-5.1.yaml":       {Data: []byte(reportTestGuideline)},
		"c/mhlw-checklist-r6.yaml": {Data: []byte(reportTestChecklist)},
		"c/controls.yaml":          {Data: []byte(reportTestControls)},
	}, "c")
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// reportCatalog is the i18n catalog with the web shell's, the part's and
// a test part's messages (a check's detail).
func reportCatalog(t testing.TB) *i18n.Catalog {
	t.Helper()
	cat := i18n.New()
	if err := cat.Add(web.Locales()); err != nil {
		t.Fatal(err)
	}
	if err := cat.Add(Locales()); err != nil {
		t.Fatal(err)
	}
	if err := cat.Add(fstest.MapFS{
		"t.ja.toml": {Data: []byte(`"test.mfa.detail" = "二要素認証の登録：{{.total}} 人中 {{.enrolled}} 人"` + "\n" +
			`"test.audit.detail" = "改ざん検証が {{.days}} 日間行われていません"` + "\n")},
		"t.en.toml": {Data: []byte(`"test.mfa.detail" = "Second factors enrolled: {{.enrolled}} of {{.total}}"` + "\n" +
			`"test.audit.detail" = "The log has not been verified for {{.days}} days"` + "\n")},
	}); err != nil {
		t.Fatal(err)
	}
	return cat
}

var reportTestAt = time.Date(2026, 4, 10, 3, 0, 0, 0, time.UTC) // 12:00 in Tokyo

func reportDay(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// reportState is a facility's hand-built state: two factors pass, the
// operating rules are approved but near expiry, the audit log check
// fails; the checklist has one はい and one いいえ with a target date.
func reportState(t testing.TB, lib *Library) *State {
	t.Helper()
	gl := lib.Framework("mhlw-gl-5.1")
	exp := reportDay(2026, 4, 30)
	decided := time.Date(2025, 4, 3, 1, 0, 0, 0, time.UTC)
	target := reportDay(2026, 9, 30)
	st := &State{Facility: 1, FacilityName: Text{JA: "中央市民病院", EN: "Central City Hospital"}, At: reportTestAt,
		Framework: "mhlw-gl-5.1", Checklist: "mhlw-checklist-r6",
		Controls: []*ControlState{
			{Control: lib.Control("ctl-mfa"), Owner: "ciso01", Impl: ImplImplemented, Readiness: Ready,
				Checks: []CheckRun{{CheckID: "identity.mfa_enrolment", Facility: 1, Status: check.Pass, DetailID: "test.mfa.detail",
					Data: map[string]any{"enrolled": 45, "total": 45}, RanAt: reportTestAt.Add(-time.Hour),
					Links: []check.Link{{LabelID: "identity.users", Href: "/admin/users"}}}}},
			{Control: lib.Control("ctl-rules"), Owner: "ciso01", Impl: ImplImplemented, Readiness: Attention,
				Attestations: []Attestation{{ID: 7, Facility: 1, ControlID: "ctl-rules", EvidenceID: "rules", Title: "運用管理規程 第3版",
					FileName: "unyou-kitei-v3.pdf", ContentType: "application/pdf", Size: 1234,
					SHA256:      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
					EffectiveOn: reportDay(2025, 4, 1), ExpiresOn: &exp, UploadedBy: "admin01",
					UploadedAt: time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC), State: AttestApproved, DecidedBy: "ciso02",
					DecidedAt: &decided}},
				Reasons: []string{"compliance.report.expiry.near_expiry"}},
			{Control: lib.Control("ctl-audit"), Impl: ImplInProgress, Readiness: NotReady,
				Checks: []CheckRun{{CheckID: "audit.verified", Facility: 1, Status: check.Fail, DetailID: "test.audit.detail",
					Data: map[string]any{"days": 3}, RanAt: reportTestAt.Add(-2 * time.Hour)}}},
		},
		Answers: []Answer{
			{Facility: 1, Framework: "mhlw-checklist-r6", Ref: "hospital-1-1", Value: AnswerYes, CheckedOn: reportDay(2026, 4, 1),
				AnsweredBy: "ciso01", AnsweredAt: reportTestAt.Add(-24 * time.Hour)},
			{Facility: 1, Framework: "mhlw-checklist-r6", Ref: "hospital-2-4-server", Value: AnswerNo, CheckedOn: reportDay(2026, 4, 2),
				TargetOn: &target, Note: "電子カルテ更新時に対応", AnsweredBy: "ciso01", AnsweredAt: reportTestAt.Add(-23 * time.Hour)},
		},
		Attention: []AttentionItem{
			{Kind: "evidence", Level: Attention, Ref: "ctl-rules", Title: Text{JA: "運用管理規程の更新", EN: "Renew the operating rules"},
				Due: exp, Link: "/compliance/controls/ctl-rules"},
			{Kind: "check", Level: NotReady, Ref: "audit.verified", Title: Text{JA: "監査ログの改ざん検証", EN: "Audit log verification"},
				Link: "/compliance/controls/ctl-audit"},
		},
	}
	ready := map[string]string{"6.5-C-1": Attention, "6.5-C-15": Ready, "7.1-C-1": NotReady}
	ctl := map[string][]string{"6.5-C-1": {"ctl-mfa", "ctl-rules"}, "6.5-C-15": {"ctl-mfa"}, "7.1-C-1": {"ctl-audit"}}
	gl.Walk(func(it *Item, _ int) bool {
		if it.Assessable() {
			rs := &RequirementState{Framework: gl.ID, Item: it, Controls: ctl[it.Ref], Readiness: ready[it.Ref]}
			st.Requirements = append(st.Requirements, rs)
			if it.Revised {
				st.Revised = append(st.Revised, rs)
			}
		}
		return true
	})
	st.Chapters = []Coverage{
		{Ref: "6", Title: gl.Item("6").Title, Counts: map[string]int{Ready: 1, Attention: 1}, Total: 2, Percent: 50},
		{Ref: "7", Title: gl.Item("7").Title, Counts: map[string]int{NotReady: 1}, Total: 1, Percent: 0},
	}
	st.Overall = Coverage{Ref: "", Counts: map[string]int{Ready: 1, Attention: 1, NotReady: 1}, Total: 3, Percent: 33}
	return st
}

// reportTrend is three days of figures.
func reportTrend() []DayScore {
	return []DayScore{
		{Day: reportDay(2026, 4, 8), Counts: map[string]int{NotAssessed: 2, NotReady: 1}, Total: 3},
		{Day: reportDay(2026, 4, 9), Counts: map[string]int{Ready: 1, NotReady: 2}, Total: 3},
		{Day: reportDay(2026, 4, 10), Counts: map[string]int{Ready: 1, Attention: 1, NotReady: 1}, Total: 3},
	}
}

// reportProof is the audit log's integrity.
func reportProof() IntegrityProof {
	return IntegrityProof{TreeSize: 48213, RootHash: "5d41402abc4b2a76b9719d911017c592ae2f9e7e1b2c3d4e5f60718293a4b5c6",
		Checkpoint:   "anzen.example/audit\n48213\nXUFAKrxLKna5cZ2REBfFkg==\n\n— anzen-audit Az3sQ…\n",
		CheckpointAt: reportTestAt.Add(-10 * time.Minute), VerifiedAt: reportTestAt.Add(-3 * time.Hour), VerifiedOK: true,
		VerifiedEvents: 48100}
}

// fakeReportSource is a ReportSource over the hand-built state.
type fakeReportSource struct {
	lib   *Library
	st    *State
	prev  *State
	cfg   Config
	trend []DayScore
}

func (s *fakeReportSource) State(_ context.Context, facility int64) (*State, error) {
	if facility != s.st.Facility {
		return nil, db.ErrNotFound
	}
	return s.st, nil
}

func (s *fakeReportSource) Trend(context.Context, int64, int) ([]DayScore, error) {
	return s.trend, nil
}
func (s *fakeReportSource) Library() *Library { return s.lib }
func (s *fakeReportSource) Config() Config    { return s.cfg }
func (s *fakeReportSource) PreviousState(context.Context, int64) (*State, error) {
	return s.prev, nil
}

type fakeProof struct{ p IntegrityProof }

func (f fakeProof) IntegrityProof(context.Context) (IntegrityProof, error) { return f.p, nil }

// memRecorder keeps the audit events it is given.
type memRecorder struct {
	mu     sync.Mutex
	events []selfaudit.Event
}

func (m *memRecorder) Record(_ context.Context, _ db.Querier, e selfaudit.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, e)
	return nil
}

func (m *memRecorder) all() []selfaudit.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]selfaudit.Event(nil), m.events...)
}

// fakePDF "renders" by wrapping the HTML, so handler tests need no Chromium.
type fakePDF struct{}

func (fakePDF) Render(_ context.Context, html []byte) ([]byte, error) {
	return append([]byte("%PDF-1.7\n"), html...), nil
}

// newReportSource is the fake source with a catalog, a recorder and a
// frozen clock.
func newReportSource(t testing.TB) (*fakeReportSource, *memRecorder) {
	lib := reportLibrary(t)
	rec := &memRecorder{}
	return &fakeReportSource{lib: lib, st: reportState(t, lib), trend: reportTrend(),
		cfg: Config{Translator: reportCatalog(t), Recorder: rec, Clock: clock.NewFrozen(reportTestAt),
			AuditProof: fakeProof{reportProof()}, Location: time.FixedZone("JST", 9*3600)}}, rec
}
