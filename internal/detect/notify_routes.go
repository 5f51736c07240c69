package detect

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/detect/sigma"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// Routing alerts by level and tag: besides the default route (Notify's
// MinLevel, Mail, Webhooks, Syslog), each Route sends the alerts of at
// least its level whose rule has any of its tags to its own mail
// addresses and webhooks; and every critical alert goes to whoever is on
// call. The notifications go through the same outbox (notify.go): a mail
// to one address of a route is the target "mailto:<address>", the
// on-call mail the target "oncall", whose addresses are asked of OnCall
// when it is sent, for the time the alert was raised.

// Route sends alerts of a level and tags to its own destinations.
type Route struct {
	MinLevel sigma.Level
	// Tags: any of them (lower case; a trailing * for a prefix such as
	// medical.*); none for every alert of the level.
	Tags     []string
	Mail     []string
	Webhooks []string
}

// OnCall says who is on call. The incident part implements it with its
// roster (internal/app wires it); OnCallList is a fixed list.
type OnCall interface {
	// OnCallMail returns the mail addresses of who was on call at t for
	// facility (0: an alert of no known facility).
	OnCallMail(ctx context.Context, facility int64, t time.Time) ([]string, error)
}

// OnCallList is an OnCall of fixed addresses, on call at every hour.
type OnCallList []string

// OnCallMail returns the list.
func (l OnCallList) OnCallMail(context.Context, int64, time.Time) ([]string, error) { return l, nil }

// Targets of the routes in the outbox.
const (
	targetMailTo = "mailto:"
	targetOnCall = "oncall"
)

// matches reports whether the route takes an alert of level l whose rule
// has tags.
func (rt *Route) matches(l sigma.Level, tags []string) bool {
	if l < rt.MinLevel {
		return false
	}
	if len(rt.Tags) == 0 {
		return true
	}
	for _, want := range rt.Tags {
		prefix, isPrefix := strings.CutSuffix(want, "*")
		for _, t := range tags {
			t = strings.ToLower(t)
			if t == want || (isPrefix && strings.HasPrefix(t, prefix)) {
				return true
			}
		}
	}
	return false
}

// routeTargets returns the targets of the routes and of the on-call for
// an alert of level l whose rule has tags.
func (n *Notify) routeTargets(l sigma.Level, tags []string) []string {
	var out []string
	for i := range n.Routes {
		rt := &n.Routes[i]
		if !rt.matches(l, tags) {
			continue
		}
		if n.Mailer != nil {
			for _, m := range rt.Mail {
				out = append(out, targetMailTo+m)
			}
		}
		for _, u := range rt.Webhooks {
			out = append(out, "webhook:"+u)
		}
	}
	if l >= sigma.LevelCritical && n.OnCall != nil && n.Mailer != nil {
		out = append(out, targetOnCall)
	}
	return out
}

// enqueue writes the notifications of the alert a: of the default route
// and of the others.
func (en *Engine) enqueue(ctx context.Context, tx *db.Tx, a *Alert, now time.Time) error {
	n := en.notify
	if err := n.enqueue(ctx, tx, a.ID, a.Level, now); err != nil {
		return err
	}
	for _, t := range n.routeTargets(a.Level, en.tagsOf(a.RuleID)) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO detect_notifications (alert_id, target, next_at) VALUES (?, ?, ?)
			ON CONFLICT (alert_id, target) DO NOTHING`, a.ID, t, now.UnixMilli()); err != nil {
			return fmt.Errorf("queue the notification of alert %d: %w", a.ID, err)
		}
	}
	return nil
}

// tagsOf returns the tags of a rule or correlation rule by its key.
func (en *Engine) tagsOf(key string) []string {
	en.mu.RLock()
	defer en.mu.RUnlock()
	for _, r := range en.rules {
		if r.Key() == key {
			return r.Tags
		}
	}
	for _, c := range en.corrs {
		if c.Key() == key {
			return c.Tags
		}
	}
	return nil
}

// sendRouted sends the notifications of the routes and the on-call, and
// reports whether target was one of theirs.
func (n *Notify) sendRouted(ctx context.Context, en *Engine, target string, a Alert) (bool, error) {
	var to []string
	if addr, ok := strings.CutPrefix(target, targetMailTo); ok {
		to = []string{addr}
	} else if target == targetOnCall {
		if n.OnCall == nil {
			return true, fmt.Errorf("no on-call is known")
		}
		var err error
		if to, err = n.OnCall.OnCallMail(ctx, a.Facility, a.Created); err != nil {
			return true, fmt.Errorf("who is on call: %w", err)
		}
		if len(to) == 0 {
			return true, fmt.Errorf("no one is on call at %s", a.Created.Format(time.RFC3339))
		}
	} else {
		return false, nil
	}
	if n.Mailer == nil {
		return true, fmt.Errorf("mail is not configured")
	}
	msg := n.message(en, a)
	msg.To = to
	return true, n.Mailer.Send(ctx, msg)
}
