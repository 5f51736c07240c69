package compliance

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

func TestAnswers_EachBadAnswerIsRefusedWithItsErrorAndNothingChanges(t *testing.T) {
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		good := AnswerInput{Framework: "mhlw-checklist-r6", Ref: "hospital-1-1", Value: AnswerNo, CheckedOn: day("2026-05-10"),
			TargetOn: dayp("2026-12-01"), Note: "規程を作成中"}
		if _, err := e.svc.SetAnswers(ctx, e.ciso, 1, []AnswerInput{good}); err != nil {
			t.Fatal(err)
		}
		before, _ := e.svc.Answers(ctx, 1, "")
		mod := func(f func(a *AnswerInput)) AnswerInput {
			a := good
			a.Ref = "hospital-2-4-server"
			f(&a)
			return a
		}
		tests := []struct {
			name  string
			in    AnswerInput
			field string
			msg   string
		}{
			{"unknown checklist", mod(func(a *AnswerInput) { a.Framework = "mhlw-checklist-r9" }), "framework", "compliance.error.checklist"},
			{"the guideline is not a checklist", mod(func(a *AnswerInput) { a.Framework = "mhlw-gl-5.1"; a.Ref = "6.5-C-1" }), "framework", "compliance.error.checklist"},
			{"unknown question", mod(func(a *AnswerInput) { a.Ref = "hospital-9-9" }), "ref", "compliance.error.question"},
			{"a heading is not a question", mod(func(a *AnswerInput) { a.Ref = "hospital-1" }), "ref", "compliance.error.question"},
			{"neither yes nor no", mod(func(a *AnswerInput) { a.Value = "はい" }), "value", "compliance.error.answer_value"},
			{"no date checked", mod(func(a *AnswerInput) { a.CheckedOn = day("0001-01-01") }), "checked_on", "compliance.error.checked_on_required"},
			{"checked in the future", mod(func(a *AnswerInput) { a.CheckedOn = day("2026-06-02") }), "checked_on", "compliance.error.checked_on"},
			{"no without a target", mod(func(a *AnswerInput) { a.TargetOn = nil }), "target_on", "compliance.error.target_on_required"},
			{"a target before the date checked", mod(func(a *AnswerInput) { a.TargetOn = dayp("2026-05-09") }), "target_on", "compliance.error.target_before_checked"},
			{"a target in the next fiscal year", mod(func(a *AnswerInput) { a.TargetOn = dayp("2027-04-01") }), "target_on", "compliance.error.target_fiscal_year"},
			{"checked in March, target in April", mod(func(a *AnswerInput) { a.CheckedOn = day("2026-03-20"); a.TargetOn = dayp("2026-04-02") }), "target_on", "compliance.error.target_fiscal_year"},
			{"a note too long", mod(func(a *AnswerInput) { a.Note = strings.Repeat("あ", maxNote+1) }), "note", "compliance.error.too_long"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// With a good answer before it: all or nothing.
				first := good
				first.Value, first.TargetOn = AnswerYes, nil
				_, err := e.svc.SetAnswers(ctx, e.ciso, 1, []AnswerInput{first, tt.in})
				var ae *AnswerError
				if !errors.As(err, &ae) || ae.Index != 1 || !isErr(err, tt.field, tt.msg) {
					t.Fatalf("got %v, want %s on %s", err, tt.msg, tt.field)
				}
				after, _ := e.svc.Answers(ctx, 1, "")
				if !reflect.DeepEqual(before, after) {
					t.Errorf("the answers changed: %+v → %+v", before, after)
				}
			})
		}
		// A yes drops a target date; the last day of the fiscal year is in it.
		ok := []AnswerInput{
			{Framework: "mhlw-checklist-r6", Ref: "hospital-1-1", Value: AnswerYes, CheckedOn: day("2026-05-10"), TargetOn: dayp("2026-06-01")},
			{Framework: "mhlw-checklist-r6", Ref: "hospital-2-4-server", Value: AnswerNo, CheckedOn: day("2026-04-01"), TargetOn: dayp("2027-03-31")},
		}
		got, err := e.svc.SetAnswers(ctx, e.ciso, 1, ok)
		if err != nil || got[0].TargetOn != nil || !got[1].TargetOn.Equal(day("2027-03-31")) {
			t.Fatalf("good answers: %+v %v", got, err)
		}
		list, _ := e.svc.Answers(ctx, 1, "mhlw-checklist-r6")
		if len(list) != 2 || list[0].Ref != "hospital-1-1" || list[0].Value != AnswerYes || list[0].AnsweredBy != "ciso01" {
			t.Errorf("answers %+v", list)
		}
		ev := e.events(t, "compliance.answer.set")
		if len(ev) != 3 || !strings.Contains(string(ev[1].Original), `"old":"no 2026-05-10 → 2026-12-01"`) {
			t.Errorf("audit: %d events, %s", len(ev), ev[1].Original)
		}
	})
}
