package audit

import (
	"context"
	"net/http"
	"strconv"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The dashboard card of the log's keeping: whether checkpoints reach the
// outside witnesses (a warning when none is configured, an alarm when one
// keeps failing), and how much has been archived.

// witnessFailing is how many failed attempts in a row make a witness count
// as failing on the dashboard, before the delivery is given up.
const witnessFailing = 3

// WitnessStatus is how one configured witness is doing.
type WitnessStatus struct {
	Target  string           `json:"target"`
	Last    *WitnessDelivery `json:"last,omitempty"`    // the newest delivery
	LastOK  *WitnessDelivery `json:"last_ok,omitempty"` // the newest one delivered
	Failing bool             `json:"failing"`
}

// WitnessStatuses returns the state of every configured witness.
func (l *Log) WitnessStatuses(ctx context.Context) ([]WitnessStatus, error) {
	var out []WitnessStatus
	for _, t := range l.WitnessTargets() {
		s := WitnessStatus{Target: t}
		last, err := l.lastDelivery(ctx, t)
		if err != nil {
			return nil, err
		}
		s.Last = last
		rows, err := l.db.QueryContext(ctx, `SELECT `+deliveryCols+` FROM audit_witness_deliveries
			WHERE target = ? AND status = ? ORDER BY id DESC LIMIT 1`, t, WitnessSent)
		if err != nil {
			return nil, err
		}
		ok, err := scanDeliveries(rows)
		rows.Close()
		if err != nil {
			return nil, err
		}
		if len(ok) > 0 {
			s.LastOK = &ok[0]
		}
		s.Failing = last != nil && (last.Status == WitnessFailed || last.Status == WitnessPending && last.Attempts >= witnessFailing)
		out = append(out, s)
	}
	return out, nil
}

// ArchivedEvents returns how many events retention has archived.
func (l *Log) ArchivedEvents(ctx context.Context) (int64, error) {
	var n int64
	err := l.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(end_seq - first_seq), 0) FROM audit_segments`).Scan(&n)
	return n, err
}

// keepCard fills the card.
func (h *handlers) keepCard(r *http.Request) ([]web.Stat, error) {
	ctx := r.Context()
	sts, err := h.log.WitnessStatuses(ctx)
	if err != nil {
		return nil, err
	}
	working, failing := 0, 0
	var lastOK *WitnessDelivery
	for _, s := range sts {
		if s.Failing {
			failing++
		} else if s.LastOK != nil {
			working++
		}
		if s.LastOK != nil && (lastOK == nil || s.LastOK.Updated.After(lastOK.Updated)) {
			lastOK = s.LastOK
		}
	}
	var stats []web.Stat
	if len(sts) == 0 {
		stats = append(stats, web.Stat{LabelID: "audit.keep.card.witnesses", Value: h.srv.T(r, "audit.keep.card.none", nil), Level: "warn"})
	} else {
		stats = append(stats, web.Stat{LabelID: "audit.keep.card.witnesses",
			Value: strconv.Itoa(working) + " / " + strconv.Itoa(len(sts)), Level: "ok"})
		level := "ok"
		if failing > 0 {
			level = "bad"
		}
		stats = append(stats, web.Stat{LabelID: "audit.keep.card.failing", Value: strconv.Itoa(failing), Level: level})
		when := h.srv.T(r, "audit.keep.card.never", nil)
		if lastOK != nil {
			when = lastOK.Updated.In(h.loc).Format("2006-01-02 15:04")
		}
		stats = append(stats, web.Stat{LabelID: "audit.keep.card.last_sent", Value: when})
	}
	archived, err := h.log.ArchivedEvents(ctx)
	if err != nil {
		return nil, err
	}
	stats = append(stats, web.Stat{LabelID: "audit.keep.card.archived", Value: groupDigits(int(archived))})
	return stats, nil
}

// registerKeep adds the card of the log's keeping to the dashboard.
func registerKeep(srv *web.Server, h *handlers, read web.Access) {
	srv.AddCard(web.Card{ID: "audit-keep", TitleID: "audit.keep.card.title", Access: read, Order: 21, Stats: h.keepCard})
}
