package app

import (
	"context"
	"sort"
	"strings"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// configPrefix marks the settings in a config.change event's detail.
const configPrefix = "setting:"

// recordConfiguration writes a "config.change" event when the settings in
// force differ from those of the last start (or on the first start), so
// that the audit log shows who-changed-what for configuration too: the
// event names the changed keys and holds every setting (database password
// hidden).
func (a *App) recordConfiguration(ctx context.Context) error {
	now := a.Cfg.Values()
	last, _, err := a.Audit.Search(ctx, audit.Filter{Action: "config.change", AllFacilities: true, Limit: 1})
	if err != nil {
		return err
	}
	var changed []string
	if len(last) == 0 {
		changed = []string{"(first start)"}
	} else {
		before := last[0].Detail
		for k, v := range now {
			if old, ok := before[configPrefix+k]; !ok || old != v {
				changed = append(changed, k)
			}
		}
		if len(changed) == 0 {
			return nil
		}
	}
	sort.Strings(changed)
	detail := map[string]string{"changed": strings.Join(changed, ",")}
	for k, v := range now {
		detail[configPrefix+k] = v
	}
	return a.Audit.Record(ctx, a.DB, selfaudit.Event{ActorLogin: "system", Action: "config.change",
		Target: "config", Outcome: selfaudit.Success, Detail: detail})
}
