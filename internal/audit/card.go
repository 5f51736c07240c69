package audit

import (
	"net/http"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// card gives the dashboard the last 24 hours of sign-in trouble, within
// the viewer's facilities.
func (h *handlers) card(r *http.Request) ([]web.Stat, error) {
	// Once for the three counts, and not at all when the index is far
	// behind (the sources card says so): the dashboard must not wait.
	if _, err := h.log.SyncUnlessFarBehind(r.Context()); err != nil {
		return nil, err
	}
	all, ids := web.PrincipalOf(r).Facilities(PermRead)
	since := h.log.clock.Now().Add(-24 * time.Hour)
	scope := Filter{AllFacilities: all, Facilities: ids, From: since}
	count := func(action, outcome string) (int, error) {
		f := scope
		f.Action, f.Outcome = action, outcome
		return h.log.countIndexed(r.Context(), f)
	}
	failures, err := count("login.failure", selfaudit.Failure)
	if err != nil {
		return nil, err
	}
	locks, err := count("login.locked", "")
	if err != nil {
		return nil, err
	}
	logins, err := count("login.success", "")
	if err != nil {
		return nil, err
	}
	from := since.In(h.loc).Format("2006-01-02")
	level := func(n, warn, bad int) string {
		switch {
		case n >= bad:
			return "bad"
		case n >= warn:
			return "warn"
		}
		return "ok"
	}
	return []web.Stat{
		{LabelID: "audit.card.logins", Value: strconv.Itoa(logins),
			Link: "/audit/security-events?action=login.success&from=" + from},
		{LabelID: "audit.card.failures", Value: strconv.Itoa(failures), Level: level(failures, 10, 50),
			Link: "/audit/security-events?action=login.failure&from=" + from},
		{LabelID: "audit.card.lockouts", Value: strconv.Itoa(locks), Level: level(locks, 1, 5),
			Link: "/audit/security-events?action=login.locked&from=" + from},
	}, nil
}
