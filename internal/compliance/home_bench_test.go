package compliance

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/anzen-health/anzen/internal/platform/authz"
)

// The home page is the first page everyone opens. BenchmarkHome measures
// its rendering — the bars, the revised items, the week's list, the
// checklist's progress and the 90-day trend, then the cards — for a
// facility the size of a hospital's: the guideline's four chapters with
// 160 assessed items, 30 revised ones, 25 things to do this week, the
// hospital sheet's questions answered and a score for each of the 90 days.
// The state itself comes from a fake: the Service's State has its own
// benchmark (docs/benchmarks.md).

func benchState(lib *Library) (*State, []DayScore) {
	gl := lib.Guideline()
	st := &State{Facility: 1, FacilityName: Text{JA: "中央病院", EN: "Central Hospital"}, At: homeAt, Framework: gl.ID,
		Checklist: "mhlw-checklist-r6"}
	for i, ch := range []string{"4", "6", "7", "8"} {
		c := Coverage{Ref: ch, Title: Text{JA: "第" + ch + "章の見出し", EN: "Chapter " + ch}, Counts: counts(20-i, 5, 8+i, 6, 1), Total: 40}
		c.Percent = c.Counts[Ready] * 100 / (c.Total - c.Counts[Excluded])
		st.Chapters = append(st.Chapters, c)
	}
	st.Overall = Coverage{Counts: counts(74, 20, 38, 24, 4), Total: 160, Percent: 47}
	items := []*Item{}
	gl.Walk(func(it *Item, _ int) bool {
		if it.Assessable() {
			items = append(items, it)
		}
		return true
	})
	levels := []string{Ready, Attention, NotReady, NotAssessed}
	for i := range 30 {
		st.Revised = append(st.Revised, &RequirementState{Framework: gl.ID, Item: items[i%len(items)], Readiness: levels[i%4]})
	}
	for i := range 25 {
		lvl := Attention
		if i%3 == 0 {
			lvl = NotReady
		}
		st.Attention = append(st.Attention, AttentionItem{Kind: []string{"check", "evidence", "approval", "answer"}[i%4], Level: lvl,
			Ref: fmt.Sprint("ctl-", i), Title: Text{JA: fmt.Sprint("対策 ", i, " の証跡"), EN: fmt.Sprint("Evidence of control ", i)},
			Due: homeAt.AddDate(0, 0, i%9-2), Link: fmt.Sprint("/compliance/controls/ctl-", i)})
	}
	for _, q := range []string{"hospital-1-1", "hospital-2-1", "hospital-2-4-server"} {
		st.Answers = append(st.Answers, Answer{Facility: 1, Framework: "mhlw-checklist-r6", Ref: q, Value: AnswerYes})
	}
	var trend []DayScore
	for d := range trendDays {
		trend = append(trend, DayScore{Day: homeAt.AddDate(0, 0, d-trendDays+1), Counts: counts(30+d/2, 20, 60-d/2, 46, 4), Total: 160})
	}
	return st, trend
}

func BenchmarkHome(b *testing.B) {
	lib := homeLibrary(b)
	st, trend := benchState(lib)
	h, _ := newHomeSite(b, &fakeHome{lib: lib, state: st, trend: trend})
	if w := getHome(b, h, authz.CISO, "ja", "/"); w.Code != http.StatusOK {
		b.Fatalf("status %d", w.Code)
	}
	b.ReportAllocs()
	for b.Loop() {
		getHome(b, h, authz.CISO, "ja", "/")
	}
}
