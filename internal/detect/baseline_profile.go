package detect

import (
	"context"
	"fmt"
)

// A user's profile: what the baselines know of one user in a facility
// today — the usual of each metric, today's values, the usual hours, and
// the days of the history — learned on demand from the stored days of
// that facility (one query of its history), for the page
// /detect/users/{id} that an alert links to.

// Profile is a user's baselines and today's values.
type Profile struct {
	Facility   int64
	User       string
	Day        string // today, the Japan day
	Profession string
	Department string
	// Basis is basisUser, basisPeers, or "" when the user is not judged
	// (warming up without enough peers).
	Basis  string
	Days   int // the user's active days in the history
	Warmup int
	Peers  int
	// Metrics are the counted metrics, in order.
	Metrics []ProfileMetric
	// UsualHours are the hours (Japan time) at which activity is usual;
	// TodayHours today's actions per hour; HoursThreshold the unusual
	// actions a day may have.
	UsualHours     []int
	TodayHours     [24]int
	UnusualToday   int
	HoursThreshold float64
	// History are the user's active days of the history and today, oldest
	// first.
	History []ProfileDay
}

// ProfileMetric is the usual of one metric and today's value.
type ProfileMetric struct {
	Name      string // metricNames
	Today     int
	Lo, Hi    int // the 10th and 90th percentiles
	Median    float64
	Threshold float64 // with the feedback's widening
	Widened   int
	Beyond    bool // today's value is above the threshold
}

// ProfileDay is a day of the user's history.
type ProfileDay struct {
	Date                              string
	Patients, Events, Output, Outside int
	Today                             bool
}

// Profile returns what the baselines know of user in facility today;
// false when the user has no day in the history nor today.
func (b *Baselines) Profile(ctx context.Context, facility int64, user string) (Profile, bool, error) {
	today, _ := japanDayHour(b.clock.Now())
	p := Profile{Facility: facility, User: user, Day: japanDate(today), Warmup: b.cfg.WarmupDays}
	rows, err := b.db.QueryContext(ctx, `SELECT day, events, patients, output, outside, hours, profession, department
		FROM detect_baseline_days WHERE facility = ? AND actor = ? AND day >= ? AND day <= ? ORDER BY day`,
		facility, user, today-int32(b.cfg.HistoryDays), today)
	if err != nil {
		return p, false, fmt.Errorf("read the days of %s: %w", user, err)
	}
	defer rows.Close()
	now := &dayAgg{key: dayKey{facility, user, today}}
	var counts [nMetrics]int
	for rows.Next() {
		var day int32
		var d ProfileDay
		var hours, prof, dept string
		if err := rows.Scan(&day, &d.Events, &d.Patients, &d.Output, &d.Outside, &hours, &prof, &dept); err != nil {
			return p, false, fmt.Errorf("read the days of %s: %w", user, err)
		}
		d.Date, d.Today = japanDate(day), day == today
		if prof != "" {
			p.Profession, now.profession = prof, prof
		}
		if dept != "" {
			p.Department = dept
		}
		if d.Today {
			counts = [nMetrics]int{metricPatients: d.Patients, metricEvents: d.Events, metricOutput: d.Output, metricOutside: d.Outside}
			var h [24]int32
			if err := parseHours(hours, &h); err != nil {
				return p, false, err
			}
			for i, n := range h {
				p.TodayHours[i] = int(n)
			}
		}
		p.History = append(p.History, d)
	}
	if err := rows.Err(); err != nil {
		return p, false, fmt.Errorf("read the days of %s: %w", user, err)
	}
	if len(p.History) == 0 {
		return p, false, nil
	}
	ms, err := b.recompute(ctx, b.db, today, facility)
	if err != nil {
		return p, false, err
	}
	if u := ms.users[userKey{facility, user}]; u != nil {
		p.Days = u.days
	}
	bl, basis, peers := ms.usual(now, b.cfg)
	p.Basis, p.Peers = basis, peers
	if bl == nil {
		return p, true, nil
	}
	for m := range metricHours {
		if m == metricOutside && b.depts == nil {
			continue
		}
		factor, widened := ms.widen(feedbackKey{facility, user, m})
		bd := bl.bands[m]
		pm := ProfileMetric{Name: metricNames[m], Today: counts[m], Lo: bd.lo, Hi: bd.hi, Median: bd.median,
			Threshold: bd.median + (bd.threshold-bd.median)*factor, Widened: widened}
		pm.Beyond = float64(pm.Today) > pm.Threshold
		p.Metrics = append(p.Metrics, pm)
	}
	factor, _ := ms.widen(feedbackKey{facility, user, metricHours})
	p.HoursThreshold = metricFloors[metricHours] * Sensitivities[b.cfg.Sensitivity].Floor * factor
	for h := range 24 {
		if bl.hours&(1<<h) != 0 {
			p.UsualHours = append(p.UsualHours, h)
		} else {
			p.UnusualToday += p.TodayHours[h]
		}
	}
	return p, true, nil
}
