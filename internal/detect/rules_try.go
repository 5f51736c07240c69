package detect

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect/sigma"
)

// Trying a rule: before a rule is kept or enabled, it runs over the audit
// log's last hours, as the engine would have run it, and shows what it
// would have raised. Nothing is written. The log is read newest first
// through its search (audit.Log.SearchEvents), bounded in hours and in
// events scanned, and analysed oldest first.

// LogSearch is what trying a rule needs of the audit log: the events of a
// time range within a facility scope, newest first, page by page.
// *audit.Log is one.
type LogSearch interface {
	SearchEvents(ctx context.Context, q audit.EventQuery) (audit.EventPage, error)
}

// The bounds of a try.
const (
	TryMaxHours     = 168   // a week
	TryDefaultHours = 24    //
	TryMaxEvents    = 20000 // events scanned at most; the newest are kept
	tryMaxHits      = 200   // hits listed at most; all are counted
)

// TryScope is what a try reads: the last Hours of the log, within a
// facility scope as authz.Principal.Facilities returns it.
type TryScope struct {
	Hours         int
	AllFacilities bool
	Facilities    []int64
	MaxEvents     int // TryMaxEvents when 0
	// Tables enrich the events as the engine does (nil: none loaded).
	Tables *Snapshot
}

// TryHit is one alert the rules would have raised.
type TryHit struct {
	RuleKey, Title string
	Level          sigma.Level
	Correlation    string // the correlation type; "" for a rule's match
	Group          []sigma.GroupValue
	Seqs           []int64
	Time           time.Time // of the last event
}

// TryResult is what a try found.
type TryResult struct {
	Hits    []TryHit // the first tryMaxHits, oldest first
	Count   int      // how many hits in all
	Scanned int      // events read
	Capped  bool     // the events scanned reached the bound: older events were not read
	Took    time.Duration
	From    time.Time
	To      time.Time
}

// TryRules runs rules and corrs over the events of scope, and reports the
// matches of the rules and correlation rules whose keys are in shown (the
// others only feed the correlation rules). now ends the range.
func TryRules(ctx context.Context, log LogSearch, rules []*sigma.Rule, corrs []*sigma.Correlation, shown map[string]bool,
	scope TryScope, now time.Time) (TryResult, error) {
	started := time.Now()
	if scope.Hours < 1 || scope.Hours > TryMaxHours {
		return TryResult{}, &RuleError{Field: "hours", MsgID: "detect.rules.error.hours"}
	}
	maxEvents := scope.MaxEvents
	if maxEvents <= 0 {
		maxEvents = TryMaxEvents
	}
	corr, err := sigma.NewCorrelator(rules, corrs)
	if err != nil {
		return TryResult{}, &RuleError{Field: "yaml", MsgID: "detect.rules.error.cannot_run", Detail: err.Error()}
	}
	res := TryResult{From: now.Add(-time.Duration(scope.Hours) * time.Hour), To: now}
	// No upper bound: an event stamped at now, or by a source whose clock
	// runs ahead, is among the last hours too.
	q := audit.EventQuery{From: res.From, AllFacilities: scope.AllFacilities, Facilities: scope.Facilities,
		Limit: min(audit.MaxLimit, maxEvents)}
	var events []audit.Event
	for {
		page, err := log.SearchEvents(ctx, q)
		if err != nil {
			return res, fmt.Errorf("try rules: %w", err)
		}
		events = append(events, page.Events...)
		if len(events) >= maxEvents {
			res.Capped, events = len(events) > maxEvents || page.Next != 0, events[:maxEvents]
			break
		}
		if page.Next == 0 {
			break
		}
		q.Before, q.Limit = page.Next, min(audit.MaxLimit, maxEvents-len(events))
	}
	slices.Reverse(events)
	res.Scanned = len(events)
	add := func(h TryHit) {
		res.Count++
		if len(res.Hits) < tryMaxHits {
			res.Hits = append(res.Hits, h)
		}
	}
	addMatches := func(ms []sigma.Match) {
		for _, m := range ms {
			if shown[m.Correlation.Key()] {
				add(TryHit{RuleKey: m.Correlation.Key(), Title: m.Correlation.Title, Level: m.Correlation.Level,
					Correlation: m.Correlation.Type.String(), Group: m.Group, Seqs: m.Refs, Time: m.Last})
			}
		}
	}
	index := sigma.NewIndex(rules)
	var matched []*sigma.Rule
	for i := range events {
		ev := &events[i]
		ae := accessEvent{ev, scope.Tables}
		matched = index.Match(ae, matched[:0])
		for _, r := range matched {
			if shown[r.Key()] {
				add(TryHit{RuleKey: r.Key(), Title: r.Title, Level: r.Level, Seqs: []int64{ev.Seq}, Time: ev.Time})
			}
			addMatches(corr.Observe(r, ae, ev.Time, ev.Seq))
		}
	}
	if len(events) > 0 {
		addMatches(corr.Advance(events[len(events)-1].Time))
	}
	res.Took = time.Since(started)
	return res, nil
}

// TrySet returns what trying runs for a rule of the catalog (key) or for
// a pasted YAML file (text, when key is ""): the rules and correlation
// rules, and the keys whose matches are shown. The catalog's other rules
// are there for the correlation rules to refer to.
func TrySet(cat *RuleCatalog, key, text string) ([]*sigma.Rule, []*sigma.Correlation, map[string]bool, error) {
	var rules []*sigma.Rule
	var corrs []*sigma.Correlation
	shown := map[string]bool{}
	if key != "" {
		e := cat.Entry(key)
		if e == nil {
			return nil, nil, nil, &RuleError{MsgID: "detect.rules.error.no_rule", Detail: key, Status: 404}
		}
		shown[key] = true
		for i := range cat.Entries {
			c := &cat.Entries[i]
			switch {
			case c.rule != nil:
				rules = append(rules, c.rule)
			case c.Running() || c.Key == key:
				corrs = append(corrs, c.corr)
			}
		}
		return rules, corrs, shown, nil
	}
	f := ParseRuleText("try", []byte(text))
	if !f.Loaded() {
		return nil, nil, nil, &RuleError{Field: "yaml", MsgID: "detect.rules.error.cannot_run", Detail: f.Err.Error()}
	}
	if len(f.Rules)+len(f.Correlations) == 0 {
		return nil, nil, nil, &RuleError{Field: "yaml", MsgID: "detect.rules.error.empty"}
	}
	for _, k := range fileKeys(f) {
		shown[k] = true
	}
	rules, corrs = f.Rules, f.Correlations
	if len(f.Correlations) > 0 {
		for i := range cat.Entries {
			if c := &cat.Entries[i]; c.rule != nil && !shown[c.Key] {
				rules = append(rules, c.rule)
			}
		}
	}
	return rules, corrs, shown, nil
}
