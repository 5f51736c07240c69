package audit

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// cardSourceLines is how many source systems the dashboard card names; the
// sources page lists them all.
const cardSourceLines = 8

// sourceRow is one source system as the card and the sources page show it.
type sourceRow struct {
	SourceStatus
	Anchor  string // the row's id on the sources page
	Last24h int64  // events received in the current hour and the 23 before
	Silent  bool   // nothing received for longer than audit.source_silence
	Skewed  bool   // the last event's clock was off by more than audit.clock_tolerance
	Level   string // "ok", or "warn" when silent or skewed
	Skew    string // the last skew, such as +0:00:02
	Ago     string // how long ago the last event arrived, in the page's language
}

// activityHours is how many hours the sources' activity covers: the
// current hour and the 23 before, as the chart draws them.
const activityHours = 24

// activityStart is the start of the hours of activity shown at now: the
// hour (in the pages' time zone) 23 hours before the current one.
func (h *handlers) activityStart(now time.Time) time.Time {
	local := now.In(h.loc)
	hour := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), 0, 0, 0, h.loc)
	return hour.Add(-(activityHours - 1) * time.Hour)
}

// sourceRows reads the source systems of the caller's facilities and
// judges each at now: silent, clock off, events of the last 24 hours (the
// current hour and the 23 before). It also says how far the search index
// is behind the log.
func (h *handlers) sourceRows(r *http.Request, now time.Time) ([]sourceRow, IndexLag, error) {
	// The index keeps the sources' facts.
	lag, err := h.log.SyncUnlessFarBehind(r.Context())
	if err != nil {
		return nil, lag, err
	}
	all, ids := web.PrincipalOf(r).Facilities(PermRead)
	srcs, err := h.log.Sources(r.Context(), all, ids)
	if err != nil {
		return nil, lag, err
	}
	activity, err := h.log.SourceActivity(r.Context(), all, ids, h.activityStart(now), activityHours)
	if err != nil {
		return nil, lag, err
	}
	lang := h.srv.Lang(r)
	silence, tolerance := h.log.SourceSilence(), h.log.ClockTolerance()
	rows := make([]sourceRow, len(srcs))
	for i, s := range srcs {
		row := sourceRow{SourceStatus: s, Anchor: "source-" + strconv.Itoa(i+1), Silent: s.Silent(now, silence),
			Skewed: s.SkewTooLarge(tolerance), Skew: signedDuration(s.LastSkew), Ago: h.ago(lang, now.Sub(s.LastReceived)),
			Level: "ok"}
		for _, n := range activity[SourceKey{s.Facility, s.Source}] {
			row.Last24h += n
		}
		if row.Silent || row.Skewed {
			row.Level = "warn"
		}
		rows[i] = row
	}
	return rows, lag, nil
}

// ago writes how long ago something was, roughly, in lang.
func (h *handlers) ago(lang string, d time.Duration) string {
	cat := h.srv.Catalog()
	switch {
	case d < time.Minute:
		return cat.T(lang, "audit.sources.ago_now", nil)
	case d < time.Hour:
		return cat.T(lang, "audit.sources.ago_minutes", map[string]any{"N": int(d / time.Minute)})
	case d < 48*time.Hour:
		return cat.T(lang, "audit.sources.ago_hours", map[string]any{"N": int(d / time.Hour)})
	}
	return cat.T(lang, "audit.sources.ago_days", map[string]any{"N": int(d / (24 * time.Hour))})
}

// span writes a setting's duration in lang: whole hours, minutes or
// seconds ("1 時間", "2 min").
func (h *handlers) span(lang string, d time.Duration) string {
	cat := h.srv.Catalog()
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return cat.T(lang, "audit.span.hours", map[string]any{"N": int(d / time.Hour)})
	case d >= time.Minute && d%time.Minute == 0:
		return cat.T(lang, "audit.span.minutes", map[string]any{"N": int(d / time.Minute)})
	}
	return cat.T(lang, "audit.span.seconds", map[string]any{"N": strconv.FormatFloat(d.Seconds(), 'f', -1, 64)})
}

// sourcesCard fills the dashboard card "送信元システム / Sources": how many
// systems send events, how many are silent or have a clock off, the events
// of the last 24 hours, then each system (those with a warning first) with
// the age of its last event, its clock skew and its last 24 hours. When the
// search index is far behind the log, it says so.
func (h *handlers) sourcesCard(r *http.Request) ([]web.Stat, error) {
	now := h.log.clock.Now()
	rows, lag, err := h.sourceRows(r, now)
	if err != nil {
		return nil, err
	}
	silent, skewed, total := 0, 0, int64(0)
	for _, s := range rows {
		if s.Silent {
			silent++
		}
		if s.Skewed {
			skewed++
		}
		total += s.Last24h
	}
	level := func(n int) string {
		if n > 0 {
			return "warn"
		}
		return "ok"
	}
	lang := h.srv.Lang(r)
	stats := []web.Stat{
		{LabelID: "audit.sources.card.sources", Value: strconv.Itoa(len(rows)), Link: "/audit/sources"},
		{LabelID: "audit.sources.card.silent", Value: strconv.Itoa(silent), Level: level(silent), Link: "/audit/sources"},
		{LabelID: "audit.sources.card.skewed", Value: strconv.Itoa(skewed), Level: level(skewed), Link: "/audit/sources"},
		{LabelID: "audit.sources.card.events_24h", Value: groupDigits(int(total)), Link: "/audit/events"},
	}
	if b := lag.Behind(); b > IndexBehindWarning {
		stats = append(stats, web.Stat{LabelID: "audit.sources.card.index_behind", Value: groupDigits(int(b)),
			Level: "warn", Link: "/audit/sources"})
	}
	// Those with a warning first, then by name.
	slices.SortStableFunc(rows, func(a, b sourceRow) int {
		return cmp.Compare(boolRank(a.Level != "warn"), boolRank(b.Level != "warn"))
	})
	for _, s := range rows[:min(len(rows), cardSourceLines)] {
		stats = append(stats, web.Stat{Label: h.sourceLine(lang, s), Value: s.Ago, Level: s.Level,
			Link: "/audit/sources#" + s.Anchor})
	}
	return stats, nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sourceLine describes one source on the card: its name, its facility,
// its last 24 hours and its clock skew, with the reason of a warning.
func (h *handlers) sourceLine(lang string, s sourceRow) string {
	id := "audit.sources.card.line"
	switch {
	case s.Silent && s.Skewed:
		id = "audit.sources.card.line_silent_skewed"
	case s.Silent:
		id = "audit.sources.card.line_silent"
	case s.Skewed:
		id = "audit.sources.card.line_skewed"
	}
	return h.srv.Catalog().T(lang, id, map[string]any{"Source": s.Source, "Facility": s.Facility,
		"Events": groupDigits(int(s.Last24h)), "Skew": s.Skew})
}
