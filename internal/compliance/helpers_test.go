package compliance

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/mail"
)

// The tests' own small library, so that they do not hang on the built-in
// catalogs' data.
var testCatalogs = fstest.MapFS{
	"cat/gl.yaml": {Data: []byte(`
id: mhlw-gl-5.1
kind: guideline
edition: "5.1"
version: 1
name: {ja: テスト指針, en: Test guideline}
publisher: {ja: 厚生労働省, en: MHLW}
published: "2021-01"
items:
  - ref: "6"
    number: "6"
    kind: chapter
    title: {ja: 第6章, en: Chapter 6}
    children:
      - {ref: 6.5-C-1, number: C-1, kind: C, title: {ja: 利用者の識別, en: Identify users}, summary: {ja: 利用者を識別する。, en: Identify users.}}
      - {ref: 6.5-C-15, number: C-15, kind: C, revised: true, title: {ja: 二要素認証, en: Two factors}, summary: {ja: 二要素で認証する。, en: Use two factors.}}
      - {ref: 6.5-D-2, number: D-2, kind: D, title: {ja: 推奨, en: Recommended}, summary: {ja: 推奨事項。, en: A recommendation.}}
  - ref: "7"
    number: "7"
    kind: chapter
    title: {ja: 第7章, en: Chapter 7}
    children:
      - {ref: 7.1-C-1, number: C-1, kind: C, title: {ja: 保存, en: Storage}, summary: {ja: 保存する。, en: Keep it.}}
`)},
	"cat/cl.yaml": {Data: []byte(`
id: mhlw-checklist-r6
kind: checklist
edition: FY2024
version: 1
name: {ja: チェックリスト, en: Checklist}
publisher: {ja: 厚生労働省, en: MHLW}
published: "2024-05"
items:
  - ref: hospital
    number: "医療機関"
    kind: sheet
    title: {ja: 医療機関確認用, en: For hospitals}
    children:
      - ref: hospital-1
        number: "1"
        kind: group
        title: {ja: 体制構築, en: Organisation}
        children:
          - {ref: hospital-1-1, number: "1-①", kind: question, title: {ja: 責任者の設置, en: A person in charge}, summary: {ja: 責任者を置いている。, en: There is one.}}
          - {ref: hospital-2-4-server, number: "2-④", kind: question, target: server, title: {ja: 二要素認証（サーバ）, en: Two factors (servers)}, summary: {ja: サーバで二要素。, en: Servers use two factors.}}
`)},
	"cat/controls.yaml": {Data: []byte(`
controls:
  - id: ctl-mfa
    title: {ja: 二要素認証, en: Two-factor authentication}
    description: {ja: 二要素でログインする。, en: Sign in with two factors.}
    requirements: ["mhlw-gl-5.1:6.5-C-15", "mhlw-checklist-r6:hospital-2-4-server"]
    checks: [t.mfa, t.lockout]
  - id: ctl-rules
    title: {ja: 運用管理規程, en: Operating rules}
    description: {ja: 規程を定める。, en: Have rules.}
    requirements: ["mhlw-gl-5.1:6.5-C-1"]
    evidence:
      - {id: rules, title: {ja: 承認済みの規程, en: The approved rules}, valid_days: 365}
  - id: ctl-store
    title: {ja: 保存, en: Storage}
    description: {ja: 保存する。, en: Keep it.}
    requirements: ["mhlw-gl-5.1:7.1-C-1", "mhlw-gl-5.1:6.5-C-1"]
    checks: [t.backup]
    evidence:
      - {id: plan, title: {ja: 保存計画, en: The storage plan}}
`)},
}

func testLibrary(t testing.TB) *Library {
	t.Helper()
	lib, err := Load(testCatalogs, "cat")
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

var parts = []db.Migrations{audit.Migrations(), Migrations()}

// start is 10:00 in Tokyo on 1 June 2026 (fiscal year 2026).
var start = time.Date(2026, 6, 1, 1, 0, 0, 0, time.UTC)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func dayp(s string) *time.Time { t := day(s); return &t }

// fakeChecks are checks whose results the test sets.
type fakeChecks struct {
	mu      sync.Mutex
	results map[string]check.Result
	errs    map[string]error
	calls   map[string]int
}

func (f *fakeChecks) set(id string, r check.Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results[id] = r
	delete(f.errs, id)
}

func (f *fakeChecks) fail(id string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[id] = err
}

func (f *fakeChecks) checks() []check.Check {
	var out []check.Check
	for _, c := range []struct {
		id    string
		every time.Duration
	}{{"t.mfa", 0}, {"t.lockout", time.Hour}, {"t.backup", 0}} {
		id := c.id
		out = append(out, check.Check{ID: id, TitleID: "test.check." + id, Items: []string{"mhlw-gl-5.1:6.5-C-15"},
			Every: c.every, Run: func(ctx context.Context, facility int64) (check.Result, error) {
				f.mu.Lock()
				defer f.mu.Unlock()
				f.calls[id]++
				if err := f.errs[id]; err != nil {
					return check.Result{}, err
				}
				if r, ok := f.results[id]; ok {
					return r, nil
				}
				return check.Passed("test.ok"), nil
			}})
	}
	return out
}

// sentMail keeps the mail sent.
type sentMail struct {
	mu   sync.Mutex
	msgs []mail.Message
	fail error
}

func (m *sentMail) Send(_ context.Context, msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.msgs = append(m.msgs, msg)
	return nil
}

type env struct {
	d     *db.DB
	log   *audit.Log
	clk   *clock.Frozen
	fake  *fakeChecks
	mail  *sentMail
	svc   *Service
	cat   *i18n.Catalog
	ciso  Actor
	admin Actor
}

func testCatalog(t testing.TB) *i18n.Catalog {
	t.Helper()
	cat := i18n.New()
	if err := cat.Add(Locales()); err != nil {
		t.Fatal(err)
	}
	if err := cat.Add(fstest.MapFS{"test.ja.toml": {Data: []byte(`"test.check.t.mfa" = "二要素の登録"
"test.check.t.lockout" = "ロックアウト"
"test.check.t.backup" = "バックアップ"
"test.ok" = "問題ありません"
"test.bad" = "{{.count}} 人が未登録です"
`)}, "test.en.toml": {Data: []byte(`"test.check.t.mfa" = "Second factors enrolled"
"test.check.t.lockout" = "Lockout"
"test.check.t.backup" = "Backups"
"test.ok" = "All well"
"test.bad" = "{{.count}} people have not enrolled"
`)}}); err != nil {
		t.Fatal(err)
	}
	return cat
}

func newEnv(t testing.TB, d *db.DB) *env {
	t.Helper()
	clk := clock.NewFrozen(start)
	e := &env{d: d, log: audit.New(d, clk), clk: clk, mail: &sentMail{},
		fake:  &fakeChecks{results: map[string]check.Result{}, errs: map[string]error{}, calls: map[string]int{}},
		cat:   testCatalog(t),
		ciso:  Actor{UserID: 2, Login: "ciso01", Client: "10.0.0.2"},
		admin: Actor{UserID: 3, Login: "admin01", Client: "10.0.0.3"}}
	svc, err := NewWithLibrary(Config{DB: d, Recorder: e.log, Clock: clk, Checks: e.fake.checks(), Translator: e.cat,
		Mailer: e.mail, Location: japan, PublicURL: "https://anzen.example",
		Addressees: func(context.Context, int64) ([]string, error) { return []string{"ciso@hospital.example"}, nil },
		Facilities: func(context.Context) ([]Facility, error) {
			return []Facility{{ID: 1, Code: "H1", Name: Text{JA: "中央病院", EN: "Central Hospital"}}}, nil
		}}, testLibrary(t))
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	return e
}

// actions returns the actions the audit log holds, in order.
func (e *env) actions(t testing.TB) []string {
	t.Helper()
	ctx := context.Background()
	if err := e.log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	events, err := e.log.ReadAfter(ctx, -1, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range events {
		out = append(out, ev.Action)
	}
	return out
}

// events returns the audit events of an action.
func (e *env) events(t testing.TB, action string) []audit.Event {
	t.Helper()
	ctx := context.Background()
	if err := e.log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	events, err := e.log.ReadAfter(ctx, -1, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, ev := range events {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

func isErr(err error, field, msgID string) bool {
	var ce *Error
	return errors.As(err, &ce) && ce.Field == field && (msgID == "" || ce.MsgID == msgID)
}
