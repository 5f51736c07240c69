package audit

import (
	"cmp"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/chart"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// chartSeries is how many source systems the chart draws apart; the
// others share one series.
const chartSeries = 6

// sourcesView is what templates/sources.html sees as .Data.
type sourcesView struct {
	Rows       []sourceRow
	Silence    string // audit.source_silence
	Tolerance  string // audit.clock_tolerance
	Behind     string // events the search index has still to take
	BehindWarn bool
	Chart      template.HTML
	ChartTable template.HTML
}

// sourcesPage serves GET /audit/sources: every source system of the
// caller's facilities with the facts the dashboard card gives, and a chart
// of the events each sent per hour over the last 24 hours.
func (h *handlers) sourcesPage(w http.ResponseWriter, r *http.Request) {
	now := h.log.clock.Now()
	rows, lag, err := h.sourceRows(r, now)
	if err != nil {
		h.pageFailed(w, r, "list the source systems", err)
		return
	}
	bar, err := h.activityChart(r, now)
	if err != nil {
		h.pageFailed(w, r, "read the source activity", err)
		return
	}
	lang := h.srv.Lang(r)
	v := &sourcesView{Rows: rows, Silence: h.span(lang, h.log.SourceSilence()), Tolerance: h.span(lang, h.log.ClockTolerance()),
		Behind: groupDigits(int(lag.Behind())), BehindWarn: lag.Behind() > IndexBehindWarning, Chart: bar.SVG(), ChartTable: bar.Table()}
	h.srv.Render(w, r, http.StatusOK, "audit/sources", v)
}

// activityChart draws the events received per hour over the last 24 hours
// (Japan time, the last bar the current hour), a stacked segment per
// source system: the busiest chartSeries apart, the rest together.
func (h *handlers) activityChart(r *http.Request, now time.Time) (chart.Bar, error) {
	start, hours := h.activityStart(now), activityHours
	all, ids := web.PrincipalOf(r).Facilities(PermRead)
	activity, err := h.log.SourceActivity(r.Context(), all, ids, start, hours)
	if err != nil {
		return chart.Bar{}, err
	}
	// One series per source name, whatever the facility.
	bySource := map[string][]float64{}
	totals := map[string]float64{}
	for k, counts := range activity {
		s := bySource[k.Source]
		if s == nil {
			s = make([]float64, hours)
			bySource[k.Source] = s
		}
		for i, n := range counts {
			s[i] += float64(n)
			totals[k.Source] += float64(n)
		}
	}
	names := make([]string, 0, len(bySource))
	for n := range bySource {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(totals[b], totals[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	var series []chart.Series
	var others []float64
	var total float64
	for i, n := range names {
		total += totals[n]
		if i < chartSeries {
			series = append(series, chart.Series{Name: n, Values: bySource[n]})
			continue
		}
		if others == nil {
			others = make([]float64, hours)
		}
		for j, x := range bySource[n] {
			others[j] += x
		}
	}
	if others != nil {
		series = append(series, chart.Series{Name: h.srv.T(r, "audit.sources.chart.others", nil), Values: others})
	}
	cats := make([]string, hours)
	for i := range cats {
		cats[i] = start.Add(time.Duration(i) * time.Hour).Format("15:04")
	}
	desc := h.srv.T(r, "audit.sources.chart.desc_empty", nil)
	if total > 0 {
		desc = h.srv.T(r, "audit.sources.chart.desc", map[string]any{"Total": groupDigits(int(total)),
			"Sources": strconv.Itoa(len(names))})
	}
	return chart.Bar{ID: "sources-chart", Stacked: true, Categories: cats, Series: series, Width: 960, Height: 280,
		Title:  h.srv.T(r, "audit.sources.chart.title", nil),
		Desc:   desc,
		XLabel: h.srv.T(r, "audit.sources.chart.x", map[string]any{"Zone": now.In(h.loc).Format("MST")}),
		YLabel: h.srv.T(r, "audit.sources.chart.y", nil),
		Empty:  h.srv.T(r, "audit.sources.chart.empty", nil)}, nil
}
