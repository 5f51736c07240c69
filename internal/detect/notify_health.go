package detect

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// Notifications that were given up (retried for a day without success)
// mean that an alert may have reached no one: the dashboard's alerts card
// warns of those of the last week, with a link to their alerts.

// givenUpDays is how far back the dashboard looks for given-up
// notifications.
const givenUpDays = 7

// CountGivenUp counts the alerts within q's facilities created since
// whose notifications were given up, at least one each.
func CountGivenUp(ctx context.Context, d db.Querier, q AlertQuery, since time.Time) (int, error) {
	where, args, none := q.scope()
	if none {
		return 0, nil
	}
	var n int
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM detect_alerts WHERE `+where+
		` AND created >= ? AND id IN (SELECT alert_id FROM detect_notifications WHERE sent < 0)`,
		append(args, since.UnixMilli())...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count given-up notifications: %w", err)
	}
	return n, nil
}

// givenUpStat is the card's warning of given-up notifications; nil when
// there were none.
func (h *handlers) givenUpStat(r *http.Request) (*web.Stat, error) {
	n, err := CountGivenUp(r.Context(), h.db, query(r), h.en.clock.Now().Add(-givenUpDays*24*time.Hour))
	if err != nil || n == 0 {
		return nil, err
	}
	return &web.Stat{LabelID: "detect.card.given_up", Value: strconv.Itoa(n), Level: "bad",
		Link: "/alerts?state=all&delivery=given_up"}, nil
}
