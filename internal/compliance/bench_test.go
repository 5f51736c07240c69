package compliance

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// benchLibrary is a guideline of 4 chapters × 30 items, a checklist of 40
// questions, and 40 controls over 25 checks, each control with two checks
// and one kind of evidence.
func benchLibrary(b *testing.B) *Library {
	var gl, cl, ctl strings.Builder
	gl.WriteString("id: mhlw-gl-5.1\nkind: guideline\nname: {ja: 指針, en: G}\npublished: \"2021-01\"\nitems:\n")
	for ch := 1; ch <= 4; ch++ {
		fmt.Fprintf(&gl, "  - {ref: \"%d\", kind: chapter, title: {ja: 章%d, en: C%d}, children: [\n", ch, ch, ch)
		for i := 1; i <= 30; i++ {
			fmt.Fprintf(&gl, "    {ref: %d-C-%d, kind: C, revised: %v, title: {ja: 項目, en: Item}, summary: {ja: 要約, en: Summary}},\n", ch, i, i%7 == 0)
		}
		gl.WriteString("  ]}\n")
	}
	cl.WriteString("id: mhlw-checklist-r6\nkind: checklist\nname: {ja: CL, en: CL}\npublished: \"2024-05\"\nitems:\n  - {ref: hospital, kind: sheet, title: {ja: 病院, en: H}, children: [\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&cl, "    {ref: q-%d, kind: question, title: {ja: 設問, en: Q}, summary: {ja: 要約, en: S}},\n", i)
	}
	cl.WriteString("  ]}\n")
	ctl.WriteString("controls:\n")
	for c := 0; c < 40; c++ {
		fmt.Fprintf(&ctl, "  - {id: ctl-%d, title: {ja: 管理策, en: Control}, description: {ja: 説明, en: D}, requirements: [\"mhlw-gl-5.1:%d-C-%d\", \"mhlw-gl-5.1:%d-C-%d\", \"mhlw-checklist-r6:q-%d\"], checks: [b.c%d, b.c%d], evidence: [{id: doc, title: {ja: 文書, en: Doc}, valid_days: 365}]}\n",
			c, c%4+1, c%30+1, (c+1)%4+1, (c*3)%30+1, c+1, c%25, (c+7)%25)
	}
	lib, err := Load(fstest.MapFS{"b/gl.yaml": {Data: []byte(gl.String())}, "b/cl.yaml": {Data: []byte(cl.String())},
		"b/controls.yaml": {Data: []byte(ctl.String())}}, "b")
	if err != nil {
		b.Fatal(err)
	}
	return lib
}

func BenchmarkState(b *testing.B) {
	d := dbtest.SQLite(b, parts...)
	e := newEnv(b, d)
	var checks []check.Check
	for i := 0; i < 25; i++ {
		status := []check.Status{check.Pass, check.Pass, check.Warning, check.Fail}[i%4]
		checks = append(checks, check.Check{ID: fmt.Sprintf("b.c%d", i), TitleID: "test.ok", Items: []string{"mhlw-gl-5.1:1-C-1"},
			Run: func(context.Context, int64) (check.Result, error) {
				return check.Result{Status: status, DetailID: "test.ok"}, nil
			}})
	}
	svc, err := NewWithLibrary(Config{DB: d, Recorder: e.log, Clock: e.clk, Checks: checks, Translator: e.cat}, benchLibrary(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 30; i++ { // a month of daily runs
		if _, err := svc.RunChecks(ctx, e.ciso, 1); err != nil {
			b.Fatal(err)
		}
		e.clk.Advance(24 * time.Hour)
	}
	content := []byte(strings.Repeat("x", 64<<10))
	for c := 0; c < 40; c++ {
		for k := 0; k < 2; k++ {
			a, err := svc.Attest(ctx, e.ciso, 1, NewAttestation{ControlID: fmt.Sprintf("ctl-%d", c), EvidenceID: "doc",
				FileName: "doc.pdf", EffectiveOn: day("2026-04-01")}, content)
			if err != nil {
				b.Fatal(err)
			}
			if c%3 != 0 {
				if _, err := svc.Decide(ctx, e.admin, 1, a.ID, true, ""); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	var answers []AnswerInput
	for i := 1; i <= 40; i++ {
		answers = append(answers, AnswerInput{Framework: "mhlw-checklist-r6", Ref: fmt.Sprintf("q-%d", i), Value: AnswerNo,
			CheckedOn: day("2026-06-01"), TargetOn: dayp("2026-09-01")})
	}
	if _, err := svc.SetAnswers(ctx, e.ciso, 1, answers); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		st, err := svc.State(ctx, 1)
		if err != nil || len(st.Controls) != 40 || st.Overall.Total != 120 {
			b.Fatalf("state: %v", err)
		}
	}
}
