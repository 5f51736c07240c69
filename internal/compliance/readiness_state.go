package compliance

import (
	"context"
	"sort"
	"time"

	"github.com/anzen-health/anzen/internal/platform/check"
)

// The facility's State: every control with its readiness, every
// assessable item of the guideline with its controls' worst, the
// coverage per chapter, the revised items, the checklist's answers and
// the week's to-do list. Four queries whatever the size of the library:
// the controls' settings, the latest runs, the attestations (without
// their files) and the answers.

// attentionDays is how far ahead the to-do list looks.
const attentionDays = 7

// State returns where the facility stands now.
// A facility the group does not have is db.ErrNotFound.
func (s *Service) State(ctx context.Context, facility int64) (*State, error) {
	name, err := s.facilityName(ctx, facility)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Clock.Now()
	q := s.cfg.DB
	settings, err := controlSettings(ctx, q, facility)
	if err != nil {
		return nil, err
	}
	runs, err := LatestRuns(ctx, q, facility)
	if err != nil {
		return nil, err
	}
	atts, err := listAttestations(ctx, q, "facility = ?", []any{facility})
	if err != nil {
		return nil, err
	}
	cl := s.lib.Checklist()
	clID := ""
	var ans []Answer
	if cl != nil {
		clID = cl.ID
		if ans, err = answers(ctx, q, s.lib, facility, clID); err != nil {
			return nil, err
		}
	}
	st := s.assemble(facility, now, settings, runs, atts, ans)
	st.FacilityName = name
	st.Checklist = clID
	return st, nil
}

// assemble computes the state from the records read.
func (s *Service) assemble(facility int64, now time.Time, settings map[string]ControlSetting, runs map[string]*CheckRun,
	atts []Attestation, ans []Answer) *State {
	today := s.Today(now)
	gl := s.lib.Guideline()
	st := &State{Facility: facility, At: now, Framework: gl.ID, Answers: ans, Attention: []AttentionItem{}}
	if st.Answers == nil {
		st.Answers = []Answer{}
	}
	byControl := map[string][]Attestation{}
	for _, a := range atts { // newest first
		byControl[a.ControlID] = append(byControl[a.ControlID], a)
	}
	readiness := map[string]string{}
	for _, c := range s.lib.Controls {
		set, ok := settings[c.ID]
		if !ok {
			set.Impl = ImplNotStarted
		}
		cs := &ControlState{Control: c, Owner: set.Owner, Impl: set.Impl, Attestations: byControl[c.ID], Checks: []CheckRun{}}
		if cs.Attestations == nil {
			cs.Attestations = []Attestation{}
		}
		for _, id := range c.Checks {
			if r := runs[id]; r != nil {
				cs.Checks = append(cs.Checks, *r)
			}
		}
		cs.Readiness, cs.Missing, cs.Reasons = ControlReadiness(c, set.Impl, runs, cs.Attestations, today)
		readiness[c.ID] = cs.Readiness
		st.Controls = append(st.Controls, cs)
		if cs.Readiness != Excluded {
			s.evidenceAttention(st, cs, today)
		}
	}
	chapterOf := map[*Item]int{}
	var chapterReadiness [][]string
	for _, top := range gl.Items {
		chapterOf[top] = len(st.Chapters)
		st.Chapters = append(st.Chapters, Coverage{Ref: top.Ref, Title: top.Title})
		chapterReadiness = append(chapterReadiness, nil)
	}
	var all []string
	gl.Walk(func(it *Item, _ int) bool {
		if !it.Assessable() {
			return true
		}
		ids := s.reqControls[gl.ID+":"+it.Ref]
		rs := make([]string, len(ids))
		for i, id := range ids {
			rs[i] = readiness[id]
		}
		req := &RequirementState{Framework: gl.ID, Item: it, Controls: ids, Readiness: RequirementReadiness(rs)}
		if req.Controls == nil {
			req.Controls = []string{}
		}
		st.Requirements = append(st.Requirements, req)
		if it.Revised {
			st.Revised = append(st.Revised, req)
		}
		ch := chapterOf[it.Top()]
		chapterReadiness[ch] = append(chapterReadiness[ch], req.Readiness)
		all = append(all, req.Readiness)
		return true
	})
	for i := range st.Chapters {
		st.Chapters[i] = coverageOf(st.Chapters[i].Ref, st.Chapters[i].Title, chapterReadiness[i])
	}
	st.Overall = coverageOf(gl.ID, gl.Name, all)
	if st.Revised == nil {
		st.Revised = []*RequirementState{}
	}
	s.checkAttention(st, runs)
	s.answerAttention(st, today)
	sort.SliceStable(st.Attention, func(i, j int) bool {
		a, b := st.Attention[i], st.Attention[j]
		if a.Level != b.Level {
			return a.Level == NotReady
		}
		if a.Due.IsZero() != b.Due.IsZero() {
			return !a.Due.IsZero()
		}
		return a.Due.Before(b.Due)
	})
	return st
}

// evidenceAttention adds a control's evidence that expires within the
// week or has expired (unless renewed), and its uploads awaiting
// approval.
func (s *Service) evidenceAttention(st *State, cs *ControlState, today time.Time) {
	link := "/compliance/controls/" + cs.Control.ID
	for i := range cs.Attestations {
		a := &cs.Attestations[i]
		if a.State == AttestPending {
			// Awaiting a second person's approval: there is no date by
			// which it must be done, only that it waits.
			st.Attention = append(st.Attention, AttentionItem{Kind: "approval", Level: Attention, Ref: cs.Control.ID,
				Title: Text{JA: a.Title, EN: a.Title}, Link: link + "#attestations"})
		}
	}
	for _, spec := range cs.Control.Evidence {
		var best *Attestation
		for i := range cs.Attestations {
			a := &cs.Attestations[i]
			if a.EvidenceID == spec.ID && a.State == AttestApproved && (best == nil || later(a.ExpiresOn, best.ExpiresOn)) {
				best = a
			}
		}
		if best == nil || best.ExpiresOn == nil || best.ExpiresOn.Sub(today) > attentionDays*24*time.Hour {
			continue
		}
		level := Attention
		if ExpiryLevel(best.ExpiresOn, today) == Expired {
			level = NotReady
		}
		st.Attention = append(st.Attention, AttentionItem{Kind: "evidence", Level: level, Ref: cs.Control.ID,
			Title: spec.Title, Due: *best.ExpiresOn, Link: link + "#attestations"})
	}
}

// checkAttention adds the checks that fail or could not run.
func (s *Service) checkAttention(st *State, runs map[string]*CheckRun) {
	ids := make([]string, 0, len(runs))
	for id := range runs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := runs[id]
		if r.Status != check.Fail && r.Error == "" {
			continue
		}
		link := "/compliance/controls"
		if cs := s.checkControls[id]; len(cs) > 0 {
			link += "/" + cs[0]
		}
		st.Attention = append(st.Attention, AttentionItem{Kind: "check", Level: NotReady, Ref: id,
			Title: s.checkTitle(id), Link: link})
	}
}

// checkTitle is a check's name in both languages.
func (s *Service) checkTitle(id string) Text {
	c, ok := s.checks[id]
	if !ok || s.cfg.Translator == nil {
		return Text{JA: id, EN: id}
	}
	return Text{JA: s.cfg.Translator.T("ja", c.TitleID, nil), EN: s.cfg.Translator.T("en", c.TitleID, nil)}
}

// answerAttention adds the checklist's いいえ whose target date is within
// the week or past.
func (s *Service) answerAttention(st *State, today time.Time) {
	for _, a := range st.Answers {
		if a.Value != AnswerNo || a.TargetOn == nil || a.TargetOn.Sub(today) > attentionDays*24*time.Hour {
			continue
		}
		level := Attention
		if a.TargetOn.Before(today) {
			level = NotReady
		}
		title := Text{JA: a.Ref, EN: a.Ref}
		if fw := s.lib.Framework(a.Framework); fw != nil {
			if it := fw.Item(a.Ref); it != nil {
				title = it.Title
			}
		}
		st.Attention = append(st.Attention, AttentionItem{Kind: "answer", Level: level, Ref: a.Framework + ":" + a.Ref,
			Title: title, Due: *a.TargetOn, Link: "/compliance/checklist?framework=" + a.Framework + "#q-" + a.Ref})
	}
}

// Score is the state's day score.
func (st *State) Score(day time.Time) DayScore {
	counts := map[string]int{}
	for k, v := range st.Overall.Counts {
		counts[k] = v
	}
	return DayScore{Day: day, Counts: counts, Total: st.Overall.Total}
}
