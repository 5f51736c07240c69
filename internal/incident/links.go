package incident

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Links from an incident to what it is about elsewhere in anzen: alerts
// (by their id; /alerts/{id}) and entries of the audit log (by their
// sequence number; /audit/events/{seq}). The incident part does not read
// those: it keeps the numbers and links to their pages.

// The kinds of link.
const (
	LinkAlert = "alert"
	LinkAudit = "audit"
)

// Link is one link of an incident.
type Link struct {
	ID     int64
	Kind   string
	Target int64
	Note   string
	At     time.Time
	By     string
}

// URL is the page of what the link points at.
func (l Link) URL() string {
	if l.Kind == LinkAlert {
		return "/alerts/" + strconv.FormatInt(l.Target, 10)
	}
	return "/audit/events/" + strconv.FormatInt(l.Target, 10)
}

// NewLink is a link a handler adds.
type NewLink struct {
	Kind   string `json:"kind"`
	Target int64  `json:"target"`
	Note   string `json:"note,omitempty"`
}

// Links returns the links of incident id.
func Links(ctx context.Context, q db.Querier, id int64) ([]Link, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, kind, target, note, at, by_login FROM incident_links WHERE incident_id = ?
		ORDER BY kind, target`, id)
	if err != nil {
		return nil, fmt.Errorf("read the links of incident %d: %w", id, err)
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		var (
			l  Link
			at int64
		)
		if err := rows.Scan(&l.ID, &l.Kind, &l.Target, &l.Note, &at, &l.By); err != nil {
			return nil, err
		}
		l.At = db.Time(at)
		out = append(out, l)
	}
	return out, rows.Err()
}

// AddLink links the incident id in scope to an alert or an audit entry;
// a link already there is answered as it is.
func AddLink(ctx context.Context, d *db.DB, rec selfaudit.Recorder, scope Scope, id int64, by Actor, n NewLink, now time.Time) (Link, error) {
	if n.Kind != LinkAlert && n.Kind != LinkAudit {
		return Link{}, invalid("kind", "incident.error.link_kind")
	}
	if n.Target <= 0 {
		return Link{}, invalid("target", "incident.error.link_target")
	}
	if err := text(&n.Note, "note", maxShort, false); err != nil {
		return Link{}, err
	}
	l := Link{Kind: n.Kind, Target: n.Target, Note: n.Note, At: now, By: by.Login}
	err := d.InTx(ctx, func(tx *db.Tx) error {
		i, err := Get(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO incident_links (incident_id, kind, target, note, at, by_login)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id, kind, target) DO NOTHING RETURNING id`,
			id, l.Kind, l.Target, l.Note, now.UnixMilli(), by.Login).Scan(&l.ID)
		if db.NotFound(err) == db.ErrNotFound {
			var at int64
			err := tx.QueryRowContext(ctx, `SELECT id, note, at, by_login FROM incident_links WHERE incident_id = ? AND kind = ?
				AND target = ?`, id, l.Kind, l.Target).Scan(&l.ID, &l.Note, &at, &l.By)
			l.At = db.Time(at)
			return err
		} else if err != nil {
			return fmt.Errorf("write a link: %w", err)
		}
		if err := autoEntry(ctx, tx, id, by, "link.add", l.Note, map[string]any{"kind": l.Kind, "target": l.Target}, now); err != nil {
			return err
		}
		return record(ctx, tx, rec, i, by, "incident.link.add", map[string]string{"ref": i.Ref(), "kind": l.Kind,
			"target": strconv.FormatInt(l.Target, 10)}, now)
	})
	return l, err
}
