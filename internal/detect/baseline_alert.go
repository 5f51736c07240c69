package detect

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// Scoring as the day goes: after each batch, each user's day so far is
// compared with the usual. A metric beyond its threshold raises one alert
// per user, metric and day (its dedup key); as the day's value grows the
// alert is updated — value, score, level, explanation — not repeated. An
// alert a reviewer closed is left as they closed it.

// Basis of a day's usual.
const (
	basisUser  = "user"
	basisPeers = "peers"
)

// levelOf is an alert's level from its score (1 at the threshold).
func levelOf(score float64) sigma.Level {
	switch {
	case score >= 3:
		return sigma.LevelHigh
	case score >= 1.5:
		return sigma.LevelMedium
	}
	return sigma.LevelLow
}

// score compares the days counted since the last flush that are today's
// (the models' day) with their usual, and writes the alerts.
func (b *Baselines) score(ctx context.Context, tx *db.Tx) error {
	ms := b.models
	if ms == nil {
		return nil
	}
	now := b.clock.Now()
	for _, a := range b.dirty {
		if a.key.day != ms.day {
			continue // a late event of an earlier day: counted, not scored
		}
		bl, basis, peers := ms.usual(a, b.cfg)
		if bl == nil {
			continue
		}
		for m := range nMetrics {
			if m == metricOutside && (b.depts == nil || a.department == "") {
				continue
			}
			x, score, ok := b.judge(a, m, bl, ms)
			if !ok || x.Params.Value <= a.raised[m] {
				continue
			}
			x.Params.Basis, x.Params.Peers = basis, peers
			if err := b.raise(ctx, tx, a, m, x, score, now); err != nil {
				return err
			}
			a.raised[m] = x.Params.Value
		}
	}
	return nil
}

// usual returns the baseline a user's day is judged by: the user's own
// after the warm-up, else the peers' when there are enough of them, else
// none.
func (ms *models) usual(a *dayAgg, cfg BaselineConfig) (*baseline, string, int) {
	if u := ms.users[userKey{a.key.facility, a.key.actor}]; u != nil && u.days >= cfg.WarmupDays {
		return u, basisUser, 0
	}
	if a.profession == "" {
		return nil, "", 0
	}
	p := ms.peers[peerKey{a.key.facility, a.profession}]
	if p == nil || p.users < cfg.MinPeers || p.days < cfg.WarmupDays {
		return nil, "", 0
	}
	return p, basisPeers, p.users
}

// judge returns the explanation and score of metric m of the day when it
// is beyond the usual.
func (b *Baselines) judge(a *dayAgg, m metric, bl *baseline, ms *models) (*Explanation, float64, bool) {
	factor, widened := ms.widen(feedbackKey{a.key.facility, a.key.actor, m})
	days := 0
	if u := ms.users[userKey{a.key.facility, a.key.actor}]; u != nil {
		days = u.days
	}
	p := ExplanationParams{Metric: metricNames[m], Day: japanDate(a.key.day), Profession: a.profession,
		Department: a.department, Days: days, Warmup: b.cfg.WarmupDays, Widened: widened}
	var score float64
	if m == metricHours {
		var unusual int32
		for h, n := range a.hours {
			if bl.hours&(1<<h) == 0 && n > 0 {
				unusual += n
				p.Hours = append(p.Hours, h)
			}
		}
		threshold := metricFloors[m] * Sensitivities[b.cfg.Sensitivity].Floor * factor
		if float64(unusual) <= threshold {
			return nil, 0, false
		}
		p.Value, p.Threshold, p.Lo, p.Hi = int(unusual), int(threshold), 0, 0
		score = float64(unusual) / max(threshold, 1)
		return &Explanation{ID: explainHours, Params: p}, score, true
	}
	bd := bl.bands[m]
	v := float64(a.value(m))
	threshold := bd.median + (bd.threshold-bd.median)*factor
	if v <= threshold {
		return nil, 0, false
	}
	p.Value, p.Lo, p.Hi, p.Threshold = int(v), bd.lo, bd.hi, int(threshold)
	score = (v - bd.median) / max(threshold-bd.median, 1)
	id := map[metric]string{metricPatients: explainPatients, metricEvents: explainEvents, metricOutput: explainOutput,
		metricOutside: explainOutside}[m]
	if m == metricPatients && a.outside > 0 {
		id, p.Outside = explainPatientsOutside, a.outside
	}
	return &Explanation{ID: id, Params: p}, score, true
}

// raise writes the alert of metric m of a user's day, or updates it.
func (b *Baselines) raise(ctx context.Context, tx *db.Tx, a *dayAgg, m metric, x *Explanation, score float64, now time.Time) error {
	al := Alert{Facility: a.key.facility, RuleID: "model:" + metricNames[m], Title: metricTitles[m], Level: levelOf(score),
		Group: []sigma.GroupValue{{Field: "user", Value: a.key.actor}}, Value: float64(x.Params.Value),
		Seqs: a.seqs, Total: a.events, FirstSeq: a.firstSeq, LastSeq: a.lastSeq,
		FirstTime: time.UnixMilli(a.firstTime).UTC(), LastTime: time.UnixMilli(a.lastTime).UTC(),
		Explanation: x, Score: score,
		dedup: fmt.Sprintf("b|%s|%d|%s|%s", metricNames[m], a.key.facility, a.key.actor, x.Params.Day)}
	if a.profession != "" {
		al.Group = append(al.Group, sigma.GroupValue{Field: "profession", Value: a.profession})
	}
	var id int64
	var level int
	var state string
	err := tx.QueryRowContext(ctx, `SELECT id, level, state FROM detect_alerts WHERE dedup = ?`, al.dedup).Scan(&id, &level, &state)
	if errors.Is(err, sql.ErrNoRows) {
		inserted, err := insertAlert(ctx, tx, &al, now)
		if err != nil || !inserted {
			return err
		}
		return b.notify.enqueue(ctx, tx, al.ID, al.Level, now)
	}
	if err != nil {
		return fmt.Errorf("find the alert %s: %w", al.dedup, err)
	}
	if state != StateNew && state != StateAcknowledged {
		return nil // closed by a reviewer
	}
	al.Level = max(al.Level, sigma.Level(level))
	seqs, _ := json.Marshal(al.Seqs)
	if _, err := tx.ExecContext(ctx, `UPDATE detect_alerts SET value = ?, score = ?, explanation = ?, level = ?, seqs = ?,
		total = ?, last_seq = ?, last_time = ? WHERE id = ?`, al.Value, al.Score, x.encode(), int(al.Level), string(seqs),
		al.Total, al.LastSeq, al.LastTime.UnixMilli(), id); err != nil {
		return fmt.Errorf("update alert %d: %w", id, err)
	}
	if al.Level > sigma.Level(level) {
		// Risen to a level that may be notified.
		return b.notify.enqueue(ctx, tx, id, al.Level, now)
	}
	return nil
}
