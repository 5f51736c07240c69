package detect

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/check"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// The detection part's live evidence for the compliance centre (guideline
// 6.5 C-7: access logs are not only kept but looked at): that detection
// rules run, the built-in high and critical ones among them; that alerts
// are taken up within their due time; and that a critical alert reaches a
// person. The checks read what the part already keeps (the rule catalog,
// the alerts and their history, the notification settings and outbox);
// internal/app hands them to the compliance part.

// Ids of the detection part's checks.
const (
	CheckRules        = "detect.rules"
	CheckAlertReview  = "detect.alert_review"
	CheckNotification = "detect.notification"
)

// DefaultReviewDue is how soon after it is raised an alert of each level
// must be taken up (taken, commented on or closed by someone): anzen's
// policy, since the guideline gives no figure. Informational alerts have
// no due time.
var DefaultReviewDue = map[sigma.Level]time.Duration{
	sigma.LevelCritical: 4 * time.Hour,
	sigma.LevelHigh:     24 * time.Hour,
	sigma.LevelMedium:   3 * 24 * time.Hour,
	sigma.LevelLow:      7 * 24 * time.Hour,
}

// ReviewWindow is how far back the alert review check looks.
const ReviewWindow = 30 * 24 * time.Hour

// maxNamed is how many alerts or rules a detail names; the count says
// how many there are.
const maxNamed = 5

// ChecksConfig is what the detection part's checks read.
type ChecksConfig struct {
	DB    *db.DB
	Clock clock.Clock
	// Rules are the rule files loaded at start (the built-in packs and
	// detect.rules; Engine.BaseRules); the stored rules are read from DB.
	Rules RuleFiles
	// Notify is where alerts are sent; nil: nowhere.
	Notify *Notify
	// ReviewDue overrides DefaultReviewDue; nil: the default.
	ReviewDue map[sigma.Level]time.Duration
}

// Checks returns the engine's checks: its rules, its database, its clock
// and where it sends alerts.
func (en *Engine) Checks() []check.Check {
	return Checks(ChecksConfig{DB: en.db, Clock: en.clock, Rules: en.base, Notify: en.notify})
}

// Checks returns the detection part's checks for the compliance centre.
// The rule check is of the whole installation (rules are not per
// facility); the alert and notification checks look at the facility
// asked, with the alerts of no known facility (every facility when it is
// 0).
func Checks(cfg ChecksConfig) []check.Check {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.ReviewDue == nil {
		cfg.ReviewDue = DefaultReviewDue
	}
	c := &checks{cfg}
	items := []string{"mhlw-gl-5.1:6.5-C-7"}
	return []check.Check{
		{ID: CheckRules, TitleID: "detect.check.rules.title", Items: items, Every: time.Hour, Run: c.rules},
		{ID: CheckAlertReview, TitleID: "detect.check.alert_review.title", Items: items, Every: time.Hour, Run: c.alertReview},
		{ID: CheckNotification, TitleID: "detect.check.notification.title", Items: items, Every: time.Hour, Run: c.notification},
	}
}

type checks struct{ cfg ChecksConfig }

var (
	linkRules  = check.Link{LabelID: "detect.check.link.rules", Href: "/alerts/rules"}
	linkAlerts = check.Link{LabelID: "detect.check.link.alerts", Href: "/alerts"}
	linkOnCall = check.Link{LabelID: "detect.check.link.oncall", Href: "/incident/org"}
)

// rules: some rule runs (none: fail); every built-in rule of level high
// or critical runs, and no rule file was rejected (else: warning, naming
// them).
func (c *checks) rules(ctx context.Context, _ int64) (check.Result, error) {
	cat, err := ReadRuleCatalog(ctx, c.cfg.DB, c.cfg.Rules)
	if err != nil {
		return check.Result{}, err
	}
	running, builtin := 0, 0
	var off []string
	for i := range cat.Entries {
		e := &cat.Entries[i]
		if e.Running() {
			running++
		}
		if !strings.HasPrefix(e.Source, builtinPrefix) || e.OwnLevel < sigma.LevelHigh {
			continue
		}
		builtin++
		if !e.Running() {
			off = append(off, e.Title)
		}
	}
	var rejected []string
	for _, f := range cat.Rejected {
		rejected = append(rejected, f.Path)
	}
	kv := []any{"rules", running, "builtin", builtin}
	switch {
	case running == 0:
		return check.Failed("detect.check.rules.none", kv...).WithLinks(linkRules), nil
	case len(off) > 0:
		return check.Warned("detect.check.rules.builtin_off", append(kv, "count", len(off), "names", names(off))...).
			WithLinks(linkRules), nil
	case len(rejected) > 0:
		return check.Warned("detect.check.rules.rejected", append(kv, "count", len(rejected), "names", names(rejected))...).
			WithLinks(linkRules), nil
	}
	return check.Passed("detect.check.rules.ok", kv...).WithLinks(linkRules), nil
}

// reviewedAlert is an alert of the review window with when it was first
// taken up (zero: not yet).
type reviewedAlert struct {
	id       int64
	level    sigma.Level
	title    string
	created  time.Time
	answered time.Time
}

// alertReview: every alert of the last ReviewWindow with a due time was
// taken up by it. Alerts still untouched past their due time: fail; alerts
// taken up late: warning; no alert: pass.
func (c *checks) alertReview(ctx context.Context, facility int64) (check.Result, error) {
	now := c.cfg.Clock.Now()
	where, args := "1 = 1", []any{}
	if facility > 0 {
		where, args = "a.facility IN (?, 0)", []any{facility}
	}
	rows, err := c.cfg.DB.QueryContext(ctx, `SELECT a.id, a.level, a.title, a.created,
		COALESCE((SELECT MIN(n.at) FROM detect_alert_notes n WHERE n.alert_id = a.id), 0)
		FROM detect_alerts a WHERE `+where+` AND a.created >= ? ORDER BY a.id`, append(args, now.Add(-ReviewWindow).UnixMilli())...)
	if err != nil {
		return check.Result{}, fmt.Errorf("read the alerts to review: %w", err)
	}
	defer rows.Close()
	var list []reviewedAlert
	for rows.Next() {
		var a reviewedAlert
		var level int
		var created, answered int64
		if err := rows.Scan(&a.id, &level, &a.title, &created, &answered); err != nil {
			return check.Result{}, fmt.Errorf("read the alerts to review: %w", err)
		}
		a.level, a.created = sigma.Level(level), db.Time(created)
		if answered > 0 {
			a.answered = db.Time(answered)
		}
		list = append(list, a)
	}
	if err := rows.Err(); err != nil {
		return check.Result{}, fmt.Errorf("read the alerts to review: %w", err)
	}
	var due, overdue, late []string
	for _, a := range list {
		limit, ok := c.cfg.ReviewDue[a.level]
		if !ok || limit <= 0 {
			continue
		}
		name := fmt.Sprintf("#%d %s", a.id, a.title)
		due = append(due, name)
		deadline := a.created.Add(limit)
		switch {
		case a.answered.IsZero() && now.After(deadline):
			overdue = append(overdue, name)
		case !a.answered.IsZero() && a.answered.After(deadline):
			late = append(late, name)
		}
	}
	kv := []any{"alerts", len(due), "days", int(ReviewWindow / (24 * time.Hour))}
	switch {
	case len(overdue) > 0:
		return check.Failed("detect.check.alert_review.overdue", append(kv, "count", len(overdue), "names", names(overdue))...).
			WithLinks(linkAlerts), nil
	case len(late) > 0:
		return check.Warned("detect.check.alert_review.late", append(kv, "count", len(late), "names", names(late))...).
			WithLinks(linkAlerts), nil
	case len(due) == 0:
		return check.Passed("detect.check.alert_review.quiet", kv...).WithLinks(linkAlerts), nil
	}
	return check.Passed("detect.check.alert_review.ok", kv...).WithLinks(linkAlerts), nil
}

// notification: a critical alert of the facility reaches someone: by
// mail, webhook or syslog on the default route, by an untagged route, or
// by mail to whoever is on call now. None: fail (mail addresses without
// mail set up count as none, with their own message). Notifications given
// up in the last week: warning.
func (c *checks) notification(ctx context.Context, facility int64) (check.Result, error) {
	n := c.cfg.Notify
	if n == nil {
		return check.Failed("detect.check.notification.none").WithLinks(linkOnCall), nil
	}
	now := c.cfg.Clock.Now()
	var mails, hooks, siems, oncall int
	addresses := len(n.Mail) > 0 || n.OnCall != nil
	if n.MinLevel <= sigma.LevelCritical {
		if n.Mailer != nil {
			mails += len(n.Mail)
		}
		hooks += len(n.Webhooks)
		siems += len(n.Syslog)
	}
	for i := range n.Routes {
		rt := &n.Routes[i]
		if len(rt.Tags) > 0 || !rt.matches(sigma.LevelCritical, nil) {
			continue
		}
		addresses = addresses || len(rt.Mail) > 0
		if n.Mailer != nil {
			mails += len(rt.Mail)
		}
		hooks += len(rt.Webhooks)
	}
	if n.OnCall != nil && n.Mailer != nil {
		to, err := n.OnCall.OnCallMail(ctx, facility, now)
		if err != nil {
			return check.Result{}, fmt.Errorf("who is on call: %w", err)
		}
		oncall = len(to)
	}
	kv := []any{"mail", mails, "webhooks", hooks, "syslog", siems, "oncall", oncall}
	if mails+hooks+siems+oncall == 0 {
		if addresses && n.Mailer == nil {
			return check.Failed("detect.check.notification.no_mailer", kv...).WithLinks(linkOnCall), nil
		}
		return check.Failed("detect.check.notification.none", kv...).WithLinks(linkOnCall), nil
	}
	q := AlertQuery{AllFacilities: true}
	if facility > 0 {
		q = AlertQuery{Facilities: []int64{facility, 0}}
	}
	given, err := CountGivenUp(ctx, c.cfg.DB, q, now.Add(-givenUpDays*24*time.Hour))
	if err != nil {
		return check.Result{}, err
	}
	if given > 0 {
		return check.Warned("detect.check.notification.given_up", append(kv, "count", given, "days", givenUpDays)...).
			WithLinks(linkAlerts), nil
	}
	return check.Passed("detect.check.notification.ok", kv...).WithLinks(linkOnCall), nil
}

// names joins the first maxNamed of list, and says how many more there
// are.
func names(list []string) string {
	if len(list) <= maxNamed {
		return strings.Join(list, ", ")
	}
	return strings.Join(slices.Clip(list[:maxNamed]), ", ") + fmt.Sprintf(" (+%d)", len(list)-maxNamed)
}
