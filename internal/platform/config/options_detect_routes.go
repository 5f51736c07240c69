package config

import (
	"errors"
	"fmt"
	"strings"
)

// Routing of alerts by level and tag (detect.notify.routes) and the
// on-call addresses for critical alerts (detect.notify.oncall). A route
// is written on one line, so that it fits an environment variable and a
// TOML list alike:
//
//	min_level=high; tags=attack.t1078 medical.*; to=soc@hospital.example.jp https://siem.example/hook
//
// min_level is required; tags (any of them, a trailing * for a prefix)
// may be left out for every alert of the level; to names at least one
// mail address or http(s) URL, separated by spaces.

// NotifyRoute is one route of detect.notify.routes.
type NotifyRoute struct {
	MinLevel string
	Tags     []string
	Mail     []string
	Webhooks []string
}

// maxRouteItems bounds the tags and the destinations of a route.
const maxRouteItems = 50

// ParseNotifyRoute reads one route of detect.notify.routes. Its errors
// do not quote the route, whose URLs may carry a secret.
func ParseNotifyRoute(s string) (NotifyRoute, error) {
	var r NotifyRoute
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, ok := strings.Cut(part, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || seen[key] {
			return r, errors.New("a route: write min_level=...; tags=...; to=..., each once")
		}
		seen[key] = true
		items := strings.Fields(val)
		if len(items) > maxRouteItems {
			return r, fmt.Errorf("a route: at most %d values in %s", maxRouteItems, key)
		}
		switch key {
		case "min_level":
			if err := alertLevel(val); err != nil {
				return r, fmt.Errorf("a route: min_level: %w", err)
			}
			r.MinLevel = val
		case "tags":
			for _, t := range items {
				if err := routeTag(t); err != nil {
					return r, fmt.Errorf("a route: %w", err)
				}
				r.Tags = append(r.Tags, strings.ToLower(t))
			}
		case "to":
			for _, d := range items {
				if strings.Contains(d, "://") {
					if err := webhookURL(d); err != nil {
						return r, fmt.Errorf("a route: %w", err)
					}
					r.Webhooks = append(r.Webhooks, d)
				} else {
					if err := mailAddress(d); err != nil {
						return r, fmt.Errorf("a route: %w", err)
					}
					r.Mail = append(r.Mail, d)
				}
			}
		default:
			return r, fmt.Errorf("a route: unknown %q; use min_level, tags and to", key)
		}
	}
	if r.MinLevel == "" {
		return r, errors.New("a route: min_level is required")
	}
	if len(r.Mail)+len(r.Webhooks) == 0 {
		return r, errors.New("a route: to= needs a mail address or a webhook URL")
	}
	return r, nil
}

// routeTag checks a tag of a route: a Sigma tag (namespace.name), with
// an optional trailing * for every tag that begins so.
func routeTag(t string) error {
	name := strings.TrimSuffix(t, "*")
	if name == "" || strings.ContainsAny(name, "*?") || len(t) > 100 {
		return fmt.Errorf("tag %q: use a Sigma tag such as attack.t1078, or a prefix such as medical.*", t)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("tag %q: use letters, digits, '.', '_' and '-'", t)
		}
	}
	return nil
}

// notifyRoute checks one entry of detect.notify.routes.
func notifyRoute(s string) error {
	_, err := ParseNotifyRoute(s)
	return err
}

// NotifyRoutes returns the routes of detect.notify.routes, which were
// checked when the configuration was read.
func (c DetectConfig) NotifyRoutes() ([]NotifyRoute, error) {
	var out []NotifyRoute
	for _, s := range c.NotifyRouteList {
		r, err := ParseNotifyRoute(s)
		if err != nil {
			return nil, errors.New("detect.notify.routes: " + err.Error())
		}
		out = append(out, r)
	}
	return out, nil
}

// validateDetectRoutes checks that the routes' and the on-call's mail can
// be sent.
func (c *Config) validateDetectRoutes() error {
	if c.Mail.Host != "" {
		return nil
	}
	if len(c.Detect.NotifyOnCall) > 0 {
		return errors.New("detect.notify.oncall: set mail.smtp.host (and mail.from) to send mail, or leave detect.notify.oncall empty")
	}
	routes, err := c.Detect.NotifyRoutes()
	if err != nil {
		return err
	}
	for _, r := range routes {
		if len(r.Mail) > 0 {
			return errors.New("detect.notify.routes: a route sends mail; set mail.smtp.host (and mail.from), or route to webhooks only")
		}
	}
	return nil
}
