package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/compliance"
	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
)

var complianceTestCatalogs = fstest.MapFS{
	"c/gl.yaml": {Data: []byte(`id: mhlw-gl-5.1
kind: guideline
name: {ja: 指針, en: Guideline}
published: "2021-01"
items:
  - ref: "6"
    kind: chapter
    title: {ja: 第6章, en: Chapter 6}
    children:
      - {ref: 6.5-C-15, kind: C, revised: true, title: {ja: 二要素認証, en: Two factors}, summary: {ja: 二要素, en: Two factors.}}
      - {ref: 6.5-C-1, kind: C, title: {ja: 識別, en: Identify}, summary: {ja: 識別, en: Identify.}}
`)},
	"c/controls.yaml": {Data: []byte(`controls:
  - {id: ctl-mfa, title: {ja: 二要素認証, en: Two-factor authentication}, description: {ja: 説明, en: D}, requirements: ["mhlw-gl-5.1:6.5-C-15"], checks: [t.mfa]}
  - {id: ctl-id, title: {ja: 識別, en: Identification}, description: {ja: 説明, en: D}, requirements: ["mhlw-gl-5.1:6.5-C-1"], checks: [t.id]}
`)},
}

func TestComplianceStatus_PrintsCoverageRevisedItemsFailingChecksAndTheToDoList(t *testing.T) {
	d := dbtest.SQLite(t, audit.Migrations(), compliance.Migrations())
	clk := clock.NewFrozen(time.Date(2026, 6, 1, 1, 0, 0, 0, time.UTC))
	lib, err := compliance.Load(complianceTestCatalogs, "c")
	if err != nil {
		t.Fatal(err)
	}
	cat := i18n.New()
	if err := cat.Add(fstest.MapFS{"t.ja.toml": {Data: []byte("\"t.mfa\" = \"二要素の登録\"\n\"t.id\" = \"ID\"\n\"t.bad\" = \"{{.count}} 人が未登録\"\n\"t.ok\" = \"良好\"\n")},
		"t.en.toml": {Data: []byte("\"t.mfa\" = \"Second factors\"\n\"t.id\" = \"IDs\"\n\"t.bad\" = \"{{.count}} have not enrolled\"\n\"t.ok\" = \"Fine\"\n")}}); err != nil {
		t.Fatal(err)
	}
	run := func(r check.Result) func(context.Context, int64) (check.Result, error) {
		return func(context.Context, int64) (check.Result, error) { return r, nil }
	}
	svc, err := compliance.NewWithLibrary(compliance.Config{DB: d, Recorder: audit.New(d, clk), Clock: clk, Translator: cat,
		Location: time.FixedZone("JST", 9*3600), Checks: []check.Check{
			{ID: "t.mfa", TitleID: "t.mfa", Items: []string{"mhlw-gl-5.1:6.5-C-15"}, Run: run(check.Failed("t.bad", "count", 4))},
			{ID: "t.id", TitleID: "t.id", Items: []string{"mhlw-gl-5.1:6.5-C-1"}, Run: run(check.Passed("t.ok"))}}}, lib)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.RunChecks(ctx, compliance.Actor{Login: "cli:root"}, 1); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := printComplianceStatus(ctx, &out, svc, 1, "ja", cat, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"全体", "50%", "1/2", "第6章", "5.1 版の改定項目", "6.5-C-15", "未対応", "t.mfa", "二要素の登録",
		"4 人が未登録", "今週の対応事項", "/compliance/controls/ctl-mfa", "2026-06-01 10:00 JST"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the status lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := printComplianceStatus(ctx, &out, svc, 1, "en", cat, false); err != nil || !strings.Contains(out.String(), "4 have not enrolled") ||
		!strings.Contains(out.String(), "Items revised in 5.1") {
		t.Errorf("in English: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := printComplianceStatus(ctx, &out, svc, 1, "en", cat, true); err != nil {
		t.Fatal(err)
	}
	var st compliance.State
	if err := json.Unmarshal(out.Bytes(), &st); err != nil || st.Overall.Total != 2 || st.Overall.Percent != 50 {
		t.Errorf("--json: %v %+v", err, st.Overall)
	}
}
