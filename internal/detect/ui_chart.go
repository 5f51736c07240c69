package detect

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/chart"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// chartDays is how many days the alerts-over-time chart shows.
const chartDays = 30

// levelBands group the levels for the chart: critical and high, medium,
// low and informational.
var levelBands = []struct {
	msgID, color string
	levels       []sigma.Level
}{
	{"detect.card.urgent", "#b3261e", []sigma.Level{sigma.LevelCritical, sigma.LevelHigh}},
	{"detect.card.medium", "#e69f00", []sigma.Level{sigma.LevelMedium}},
	{"detect.card.low", "#56b4e9", []sigma.Level{sigma.LevelLow, sigma.LevelInformational}},
}

// DailyCounts counts the alerts q selects (its states ignored) created on
// each of days days from start (midnight in loc), by level.
func DailyCounts(ctx context.Context, d db.Querier, q AlertQuery, start time.Time, days int, loc *time.Location) ([]map[sigma.Level]int, error) {
	out := make([]map[sigma.Level]int, days)
	for i := range out {
		out[i] = map[sigma.Level]int{}
	}
	where, args, none := q.scope()
	if none {
		return out, nil
	}
	rows, err := d.QueryContext(ctx, `SELECT created, level FROM detect_alerts WHERE `+where+` AND created >= ?`,
		append(args, start.UnixMilli())...)
	if err != nil {
		return nil, fmt.Errorf("count alerts by day: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var created int64
		var level int
		if err := rows.Scan(&created, &level); err != nil {
			return nil, fmt.Errorf("count alerts by day: %w", err)
		}
		t := time.UnixMilli(created).In(loc)
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		i := int(day.Sub(start).Hours()/24 + 0.5)
		if i >= 0 && i < days {
			out[i][sigma.Level(level)]++
		}
	}
	return out, rows.Err()
}

// alertsChart draws the alerts of the last 30 days by level.
func (h *handlers) alertsChart(r *http.Request, q AlertQuery) (chart.Bar, error) {
	loc := h.srv.Location()
	now := h.en.clock.Now().In(loc)
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, 1-chartDays)
	counts, err := DailyCounts(r.Context(), h.db, q, start, chartDays, loc)
	if err != nil {
		return chart.Bar{}, err
	}
	b := chart.Bar{ID: "alerts-chart", Title: h.srv.T(r, "detect.chart.title", map[string]any{"Days": chartDays}),
		Stacked: true, XLabel: h.srv.T(r, "detect.chart.x", nil), YLabel: h.srv.T(r, "detect.chart.y", nil),
		Empty: h.srv.T(r, "detect.chart.empty", nil)}
	total := 0
	for i := range chartDays {
		b.Categories = append(b.Categories, start.AddDate(0, 0, i).Format("01-02"))
	}
	for _, band := range levelBands {
		s := chart.Series{Name: h.srv.T(r, band.msgID, nil), Color: band.color, Values: make([]float64, chartDays)}
		for i, c := range counts {
			for _, l := range band.levels {
				s.Values[i] += float64(c[l])
				total += c[l]
			}
		}
		b.Series = append(b.Series, s)
	}
	b.Desc = h.srv.T(r, "detect.chart.desc", map[string]any{"Days": chartDays, "N": strconv.Itoa(total)})
	return b, nil
}
