package compliance

import (
	"net/url"
	"strings"
)

// Reading the checklist's form: one set of fields per question, named by
// the question's ref — value-<ref> (yes or no), checked_on-<ref>,
// target_on-<ref>, note-<ref> — so that a sheet is saved at once, or one
// question alone when the button pressed is only=<ref>. A question left
// without a value is not saved.

// FormAnswer is what the form holds for one question, as typed, so that a
// form sent back with an error shows it again.
type FormAnswer struct {
	Value, CheckedOn, TargetOn, Note string
	Err                              string // a message id, when refused
}

// answersFromForm reads the answers of checklist fw from a form. It
// returns the answers to save, what was typed for each question (by ref),
// and whether every date could be read (else the FormAnswer says which).
func answersFromForm(v url.Values, fw *Framework) ([]AnswerInput, map[string]*FormAnswer, bool) {
	only := strings.TrimSpace(v.Get("only"))
	typed := map[string]*FormAnswer{}
	var out []AnswerInput
	ok := true
	fw.Walk(func(it *Item, _ int) bool {
		if it.Kind != ItemQuestion {
			return true
		}
		fa := &FormAnswer{Value: strings.TrimSpace(v.Get("value-" + it.Ref)), CheckedOn: v.Get("checked_on-" + it.Ref),
			TargetOn: v.Get("target_on-" + it.Ref), Note: v.Get("note-" + it.Ref)}
		if fa.Value == "" && fa.CheckedOn == "" && fa.TargetOn == "" && fa.Note == "" {
			return true
		}
		typed[it.Ref] = fa
		if only != "" && only != it.Ref {
			return true
		}
		in := AnswerInput{Framework: fw.ID, Ref: it.Ref, Value: fa.Value, Note: fa.Note}
		checked, good := parseDate(fa.CheckedOn)
		target, good2 := parseDate(fa.TargetOn)
		switch {
		case !good || !good2:
			fa.Err, ok = "compliance.error.date", false
			return true
		case fa.Value == "":
			fa.Err, ok = "compliance.error.answer_value", false
			return true
		}
		in.CheckedOn = checked
		if !target.IsZero() {
			in.TargetOn = &target
		}
		out = append(out, in)
		return true
	})
	return out, typed, ok
}
