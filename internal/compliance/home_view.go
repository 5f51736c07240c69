package compliance

import (
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/chart"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// How the home page turns a facility's State and trend into what its
// template shows: the bars, the lists and the chart, in the page's
// language.

// readinessColor is each readiness's colour in bars and lines: ready
// green, attention orange, not ready red, not assessed grey. The page
// also says each in words and with an icon, never by colour alone.
var readinessColor = map[string]string{
	Ready:       "#1d7a3a",
	Attention:   "#e69f00",
	NotReady:    "#b3261e",
	NotAssessed: "#9aa5b1",
}

// homeBuilder holds what every part of the page needs.
type homeBuilder struct {
	srv   *web.Server
	r     *http.Request
	lang  string
	lib   *Library
	st    *State
	query string // "facility=N" when the request named the facility, for links
}

// facilityQuery is "facility=N" when the request named its facility, so
// that links keep to it; "" when it is the caller's own.
func facilityQuery(r *http.Request, facility int64) string {
	if !r.URL.Query().Has("facility") {
		return ""
	}
	return url.Values{"facility": {strconv.FormatInt(facility, 10)}}.Encode()
}

// link is path with the query parameters kv (name, value, ...) and the
// facility's, then the fragment.
func (b homeBuilder) link(path, fragment string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	if b.query != "" {
		extra, _ := url.ParseQuery(b.query)
		for k, vs := range extra {
			q[k] = vs
		}
	}
	s := path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	if fragment != "" {
		s += "#" + url.PathEscape(fragment)
	}
	return s
}

func (b homeBuilder) t(id string, data map[string]any) string { return b.srv.T(b.r, id, data) }

// readinessIcon is the sign each readiness shows beside its colour.
var readinessIcon = map[string]string{Ready: "✓", Attention: "!", NotReady: "✕", NotAssessed: "–", Excluded: "／"}

// chip is readiness as a chip; an unknown readiness shows as not assessed.
func (b homeBuilder) chip(readiness string) homeChip {
	if _, ok := readinessIcon[readiness]; !ok {
		readiness = NotAssessed
	}
	return homeChip{Class: readiness, Icon: readinessIcon[readiness], Label: b.t("compliance.home.readiness."+readiness, nil)}
}

// coverage is c with its bar; id makes the bar's ids unique on the page.
func (b homeBuilder) coverage(id string, c Coverage, link string) homeCoverage {
	out := homeCoverage{Ref: c.Ref, Title: c.Title.In(b.lang), Link: link,
		Ready: c.Counts[Ready], Attention: c.Counts[Attention], NotReady: c.Counts[NotReady],
		NotAssess: c.Counts[NotAssessed], Excluded: c.Counts[Excluded], Percent: c.Percent}
	out.Assessed = c.Total - out.Excluded
	if out.Title == "" && c.Ref != "" && b.lib != nil {
		if gl := b.lib.Framework(b.st.Framework); gl != nil && gl.Item(c.Ref) != nil {
			out.Title = gl.Item(c.Ref).Title.In(b.lang) // a state that names the chapter only
		}
	}
	if out.Title == "" {
		out.Title = b.t("compliance.home.overall.title", nil)
	}
	counts := map[string]any{"ready": out.Ready, "attention": out.Attention, "not_ready": out.NotReady,
		"not_assessed": out.NotAssess, "total": out.Assessed, "percent": out.Percent}
	bar := chart.Stack{ID: "bar-" + id, Title: out.Title, Desc: b.t("compliance.home.coverage.desc", counts)}
	for _, rd := range []string{Ready, Attention, NotReady, NotAssessed} {
		chip := b.chip(rd)
		bar.Parts = append(bar.Parts, chart.Part{Name: chip.Label, Color: readinessColor[rd], Value: float64(c.Counts[rd])})
		out.Counts = append(out.Counts, homeCount{Chip: chip, N: c.Counts[rd]})
	}
	out.Bar = bar.SVG()
	return out
}

// revised lists the items edition 5.1 revised, linked to their place in
// the catalog.
func (b homeBuilder) revised() []homeItem {
	out := make([]homeItem, 0, len(b.st.Revised))
	for _, rs := range b.st.Revised {
		if rs == nil || rs.Item == nil {
			continue
		}
		it := rs.Item
		out = append(out, homeItem{Number: it.Number, Title: it.Title.In(b.lang), Chip: b.chip(rs.Readiness),
			Link: b.link("/compliance/catalog", "item-"+it.Ref, "chapter", it.Top().Ref)})
	}
	return out
}

// attention is the week's to-do list, red before orange, the soonest due
// first (undated last), at most homeAttentionMax; and how many more there
// are.
func (b homeBuilder) attention() ([]homeAttention, int) {
	items := append([]AttentionItem(nil), b.st.Attention...)
	rank := func(level string) int {
		if level == NotReady {
			return 0
		}
		return 1
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, c := items[i], items[j]
		if rank(a.Level) != rank(c.Level) {
			return rank(a.Level) < rank(c.Level)
		}
		if a.Due.IsZero() != c.Due.IsZero() {
			return !a.Due.IsZero()
		}
		return a.Due.Before(c.Due)
	})
	more := 0
	if len(items) > homeAttentionMax {
		more = len(items) - homeAttentionMax
		items = items[:homeAttentionMax]
	}
	out := make([]homeAttention, 0, len(items))
	for _, a := range items {
		level := Attention
		if a.Level == NotReady {
			level = NotReady
		}
		title := a.Title.In(b.lang)
		if title == "" {
			title = a.Ref
		}
		kind := "compliance.home.attention.kind." + a.Kind
		if !b.srv.Catalog().Has(b.lang, kind) {
			kind = "compliance.home.attention.kind.other"
		}
		row := homeAttention{KindLabel: b.t(kind, nil), Level: level, Chip: b.chip(level), Title: title, Link: a.Link}
		if !a.Due.IsZero() {
			row.Overdue = a.Due.Before(b.st.At)
			msg := "compliance.home.attention.due"
			if row.Overdue {
				msg = "compliance.home.attention.overdue"
			}
			row.Due = b.t(msg, map[string]any{"date": a.Due.In(b.srv.Location()).Format(time.DateOnly)})
		}
		out = append(out, row)
	}
	return out, more
}

// checklist is the progress of the answered checklist's hospital sheet:
// its questions answered はい, いいえ, and not yet.
func (b homeBuilder) checklist() *homeChecklist {
	fw := b.lib.Framework(b.st.Checklist)
	if fw == nil || fw.Kind != KindChecklist {
		fw = b.lib.Checklist()
	}
	if fw == nil {
		return nil
	}
	var sheet *Item
	for _, it := range fw.Items {
		if it.Kind != ItemSheet {
			continue
		}
		if sheet == nil || it.Ref == "hospital" {
			sheet = it
		}
		if it.Ref == "hospital" {
			break
		}
	}
	if sheet == nil {
		return nil
	}
	questions := map[string]bool{}
	var walk func([]*Item)
	walk = func(items []*Item) {
		for _, it := range items {
			if it.Assessable() {
				questions[it.Ref] = true
			}
			walk(it.Children)
		}
	}
	walk(sheet.Children)
	answers := map[string]string{}
	for _, a := range b.st.Answers {
		if a.Framework == fw.ID && questions[a.Ref] && (a.Value == AnswerYes || a.Value == AnswerNo) {
			answers[a.Ref] = a.Value
		}
	}
	c := &homeChecklist{Name: fw.Name.In(b.lang), Sheet: sheet.Title.In(b.lang), Total: len(questions),
		Link: b.link("/compliance/checklist", "sheet-"+sheet.Ref)}
	for _, v := range answers {
		if v == AnswerYes {
			c.Yes++
		} else {
			c.No++
		}
	}
	c.Answered = c.Yes + c.No
	c.Open = c.Total - c.Answered
	if c.Total > 0 {
		c.PercentAnswered = c.Answered * 100 / c.Total
	}
	bar := chart.Stack{ID: "bar-checklist", Title: c.Sheet, Desc: b.t("compliance.home.checklist.desc",
		map[string]any{"yes": c.Yes, "no": c.No, "open": c.Open, "total": c.Total})}
	// はい reads as ready, いいえ as not ready, unanswered as not assessed.
	for _, a := range []struct {
		readiness, msg string
		n              int
	}{{Ready, "yes", c.Yes}, {NotReady, "no", c.No}, {NotAssessed, "open", c.Open}} {
		chip := homeChip{Class: a.readiness, Icon: readinessIcon[a.readiness], Label: b.t("compliance.home.answer."+a.msg, nil)}
		bar.Parts = append(bar.Parts, chart.Part{Name: chip.Label, Color: readinessColor[a.readiness], Value: float64(a.n)})
		c.Counts = append(c.Counts, homeCount{Chip: chip, N: a.n})
	}
	c.Bar = bar.SVG()
	return c
}

// trend draws the share of the assessed items that were ready, needed
// attention and were not ready on each of the last trendDays days up to
// the state's day; a day without a score is a gap. Nil when no day of
// the window has a score.
func (b homeBuilder) trend(scores []DayScore) *chart.Line {
	loc := b.srv.Location()
	day := func(t time.Time) string { return t.In(loc).Format(time.DateOnly) }
	end := b.st.At.In(loc)
	if n := len(scores); n > 0 && day(scores[n-1].Day) > day(end) {
		end = scores[n-1].Day.In(loc)
	}
	end = time.Date(end.Year(), end.Month(), end.Day(), 12, 0, 0, 0, loc)
	byDay := make(map[string]DayScore, len(scores))
	for _, s := range scores {
		byDay[day(s.Day)] = s
	}
	l := &chart.Line{ID: "trend", Top: 100, Unit: "%", Categories: make([]string, trendDays),
		Title:  b.t("compliance.home.trend.title", map[string]any{"days": trendDays}),
		XLabel: b.t("compliance.home.trend.x", nil), YLabel: b.t("compliance.home.trend.y", nil),
		Empty: b.t("compliance.home.trend.empty", nil)}
	levels := []string{Ready, Attention, NotReady}
	for _, rd := range levels {
		l.Series = append(l.Series, chart.Series{Name: b.t("compliance.home.readiness."+rd, nil),
			Color: readinessColor[rd], Values: make([]float64, trendDays)})
	}
	var first, last string
	var firstPct, lastPct float64
	for i := range trendDays {
		d := end.AddDate(0, 0, i-trendDays+1)
		l.Categories[i] = d.Format("1/2")
		s, ok := byDay[d.Format(time.DateOnly)]
		assessed := s.Total - s.Counts[Excluded]
		for j, rd := range levels {
			l.Series[j].Values[i] = math.NaN()
			if ok && assessed > 0 {
				l.Series[j].Values[i] = math.Round(float64(s.Counts[rd])*1000/float64(assessed)) / 10
			}
		}
		if ok && assessed > 0 {
			if first == "" {
				first, firstPct = d.Format(time.DateOnly), l.Series[0].Values[i]
			}
			last, lastPct = d.Format(time.DateOnly), l.Series[0].Values[i]
		}
	}
	if first == "" {
		return nil
	}
	l.Desc = b.t("compliance.home.trend.desc", map[string]any{"first": first, "from": chart.Format(firstPct),
		"last": last, "to": chart.Format(lastPct)})
	return l
}
