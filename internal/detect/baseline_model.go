package detect

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// The baselines: what is usual for a user, and for the users of a
// profession in a facility (the peers), learned from the days before
// today. They are recomputed once a day, when the first event of a new
// Japan day comes, from the stored days — never per event.
//
// A band is robust: the median and the median absolute deviation (MAD)
// of the daily values, so that one odd day in the history does not move
// it; the usual shown to people is the 10th to the 90th percentile. A day
// raises an alert only above the threshold
//
//	max(median + k·1.4826·MAD, median × factor, median + floor)
//
// where k and factor follow detect.baseline.sensitivity and floor is the
// metric's absolute floor: a clerk who prints 3 records instead of 1 is
// not an alert, however small the MAD.

// metric is what the baselines measure per user and day.
type metric int

const (
	metricPatients metric = iota // distinct patients whose records were opened
	metricEvents                 // events of any kind
	metricOutput                 // prints and exports
	metricOutside                // distinct patients outside the user's department
	metricHours                  // events at hours the user is never active at
	nMetrics
)

// metricNames are the metrics' names, in rule ids ("model:<name>") and
// explanations.
var metricNames = [nMetrics]string{"patients_per_day", "events_per_day", "output_per_day",
	"outside_department_per_day", "unusual_hours"}

// metricFloors are the absolute floors of the counted metrics at normal
// sensitivity; for hours, the events at unusual hours a day may have.
var metricFloors = [nMetrics]float64{10, 100, 10, 10, 4}

// metricTitles are the stored titles of the alerts (English; the pages
// and the mail show detect.baseline.title.<name> in the reader's
// language).
var metricTitles = [nMetrics]string{"More patients' records opened in a day than usual", "More activity in a day than usual",
	"More prints and exports in a day than usual", "More patients outside the user's department than usual",
	"Activity at hours the user is never active"}

// Sensitivity is how readily the baselines raise alerts.
type Sensitivity struct {
	K, Factor, Floor float64 // MADs, multiple of the median, multiple of the floors
}

// Sensitivities are the choices of detect.baseline.sensitivity.
var Sensitivities = map[string]Sensitivity{
	"low":    {K: 6, Factor: 3, Floor: 1.5},
	"normal": {K: 4, Factor: 2, Floor: 1},
	"high":   {K: 3, Factor: 1.5, Floor: 0.7},
}

// band is the usual of one metric.
type band struct {
	median, mad float64
	lo, hi      int // the 10th and 90th percentiles
	threshold   float64
}

// quantile is the nearest-rank q-quantile of sorted values.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// median of sorted values (the mean of the two middle ones for an even
// count).
func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// newBand computes the band of metric m from daily values.
func newBand(values []float64, m metric, s Sensitivity) band {
	v := slices.Clone(values)
	slices.Sort(v)
	b := band{median: median(v), lo: int(quantile(v, 0.1)), hi: int(quantile(v, 0.9))}
	dev := make([]float64, len(v))
	for i, x := range v {
		dev[i] = math.Abs(x - b.median)
	}
	slices.Sort(dev)
	b.mad = median(dev)
	b.threshold = max(b.median+s.K*1.4826*b.mad, b.median*s.Factor, b.median+metricFloors[m]*s.Floor)
	return b
}

// baseline is the usual of a user or of a peer group.
type baseline struct {
	bands [nMetrics]band
	hours uint32 // the hours of the day (bits) at which activity is usual
	days  int    // the user's active days, or the peers' user-days
	users int    // for peers: how many users
}

type userKey struct {
	facility int64
	actor    string
}

type peerKey struct {
	facility   int64
	profession string
}

type feedbackKey struct {
	facility int64
	actor    string
	metric   metric
}

// models are the baselines of one day.
type models struct {
	day      int32
	users    map[userKey]*baseline
	peers    map[peerKey]*baseline
	feedback map[feedbackKey]int
}

// peerHourShare is the share of the peers' days with activity at an hour
// from which the hour is usual for the profession.
const peerHourShare = 0.05

// feedbackDays is how far back alerts resolved as false positives widen a
// user's band.
const feedbackDays = 90

// maxWiden is the most false positives that widen a band: each one
// multiplies the threshold by 1.5, so at most by 3.375.
const maxWiden = 3

// allFacilities asks recompute for the baselines of every facility.
const allFacilities = -1

// recompute learns the baselines of day from the history_days days
// before it, of one facility or of allFacilities.
func (b *Baselines) recompute(ctx context.Context, q db.Querier, day int32, facility int64) (*models, error) {
	where, args := "", []any{day - int32(b.cfg.HistoryDays), day}
	if facility != allFacilities {
		where, args = " AND facility = ?", append(args, facility)
	}
	rows, err := q.QueryContext(ctx, `SELECT facility, actor, profession, events, patients, output, outside, hours
		FROM detect_baseline_days WHERE day >= ? AND day < ?`+where+` ORDER BY facility, actor, day`, args...)
	if err != nil {
		return nil, fmt.Errorf("read the baselines' history: %w", err)
	}
	defer rows.Close()
	type series struct {
		values     [nMetrics][]float64
		hourDays   [24]int
		days       int
		profession string
	}
	users := map[userKey]*series{}
	peers := map[peerKey]*series{}
	peerUsers := map[peerKey]int{}
	for rows.Next() {
		var k userKey
		var prof, hours string
		var counts [nMetrics]float64
		if err := rows.Scan(&k.facility, &k.actor, &prof, &counts[metricEvents], &counts[metricPatients],
			&counts[metricOutput], &counts[metricOutside], &hours); err != nil {
			return nil, fmt.Errorf("read the baselines' history: %w", err)
		}
		var h [24]int32
		if err := parseHours(hours, &h); err != nil {
			return nil, err
		}
		u := users[k]
		if u == nil {
			u = &series{}
			users[k] = u
		}
		if prof != "" {
			u.profession = prof
		}
		add := func(s *series) {
			s.days++
			for m := range metricHours {
				s.values[m] = append(s.values[m], counts[m])
			}
			for i, n := range h {
				if n > 0 {
					s.hourDays[i]++
				}
			}
		}
		add(u)
		if prof != "" {
			pk := peerKey{k.facility, prof}
			p := peers[pk]
			if p == nil {
				p = &series{}
				peers[pk] = p
			}
			add(p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the baselines' history: %w", err)
	}
	s := Sensitivities[b.cfg.Sensitivity]
	build := func(sr *series, share float64) *baseline {
		bl := &baseline{days: sr.days}
		for m := range metricHours {
			bl.bands[m] = newBand(sr.values[m], m, s)
		}
		for i, n := range sr.hourDays {
			if n > 0 && float64(n) >= share*float64(sr.days) {
				bl.hours |= 1 << i
			}
		}
		return bl
	}
	out := &models{day: day, users: make(map[userKey]*baseline, len(users)), peers: make(map[peerKey]*baseline, len(peers))}
	for k, u := range users {
		out.users[k] = build(u, 0)
		if u.profession != "" {
			peerUsers[peerKey{k.facility, u.profession}]++
		}
	}
	for k, p := range peers {
		out.peers[k] = build(p, peerHourShare)
		out.peers[k].users = peerUsers[k]
	}
	if out.feedback, err = readFeedback(ctx, q, day); err != nil {
		return nil, err
	}
	return out, nil
}

// readFeedback counts, per user and metric, the baseline alerts resolved
// as false positives in the feedbackDays before day.
func readFeedback(ctx context.Context, q db.Querier, day int32) (map[feedbackKey]int, error) {
	since := (int64(day-feedbackDays)*86400 - japanOffset) * 1000
	rows, err := q.QueryContext(ctx, `SELECT facility, rule_id, grp, COUNT(*) FROM detect_alerts
		WHERE rule_id LIKE 'model:%' AND state = ? AND first_time >= ? GROUP BY facility, rule_id, grp`, StateFalse, since)
	if err != nil {
		return nil, fmt.Errorf("read the false positives of the baselines: %w", err)
	}
	defer rows.Close()
	out := map[feedbackKey]int{}
	for rows.Next() {
		var k feedbackKey
		var rule, grp string
		var n int
		if err := rows.Scan(&k.facility, &rule, &grp, &n); err != nil {
			return nil, fmt.Errorf("read the false positives of the baselines: %w", err)
		}
		m := slices.Index(metricNames[:], strings.TrimPrefix(rule, "model:"))
		var group []sigma.GroupValue
		if m < 0 || json.Unmarshal([]byte(grp), &group) != nil {
			continue
		}
		for _, g := range group {
			if g.Field == "user" {
				k.actor, k.metric = g.Value, metric(m)
				out[k] += n
			}
		}
	}
	return out, rows.Err()
}

// widen returns the feedback's factor on a threshold and how many false
// positives made it.
func (ms *models) widen(k feedbackKey) (float64, int) {
	n := min(ms.feedback[k], maxWiden)
	return math.Pow(1.5, float64(n)), n
}
