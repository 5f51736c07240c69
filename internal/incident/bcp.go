package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// The information-system BCP (guideline 6.10 B, and the MHLW template
// of a BCP for the IT department): one document per facility made of the
// sections below, kept in versions (every save is a new version, with
// who and when; a version may be approved, with by whom and on what
// date), and the offline procedures (手順書) that tell each department
// how to work while the systems are down. A section left empty is shown
// as missing.

// BCPSections are the keys of the BCP's sections, in document order.
var BCPSections = []string{
	"purpose",        // purpose and scope
	"criteria",       // emergency criteria and who declares (may refer to the emergency rules)
	"systems",        // systems, their priority, RTO and RPO
	"organisation",   // the response organisation
	"fallback",       // fallback (paper) operation per department
	"backup",         // backup and restore
	"contacts",       // contact channels when mail and phones fail
	"reconciliation", // entering what was written on paper after recovery (C-3)
	"training",       // training and drills (C-2)
	"review",         // review of the plan
}

// Actions of the audit log for the BCP.
const (
	ActionBCPUpdate          = "incident.bcp.update"
	ActionBCPApprove         = "incident.bcp.approve"
	ActionProcedureCreate    = "incident.bcp.procedure.create"
	ActionProcedureUpdate    = "incident.bcp.procedure.update"
	ActionProcedureDelete    = "incident.bcp.procedure.delete"
	maxSection               = 20000
	maxProcedure             = 8000
	prepMaxName              = 100
	maxBCPVersionsListed     = 200
	maxOfflineProceduresRead = 500
)

// BCP is one version of a facility's BCP. Version 0 is the empty plan of
// a facility that has written none yet.
type BCP struct {
	Facility   int64
	Version    int64
	Sections   map[string]string
	Created    time.Time
	CreatedBy  string
	Note       string
	ApprovedBy string
	ApprovedAt time.Time // the date of approval; zero: not approved
}

// Missing returns the keys of the sections left empty, in order.
func (b *BCP) Missing() []string {
	var out []string
	for _, k := range BCPSections {
		if strings.TrimSpace(b.Sections[k]) == "" {
			out = append(out, k)
		}
	}
	return out
}

const bcpColumns = `facility, version, sections, created, created_by, note, approved_by, approved_at`

func scanBCP(row interface{ Scan(...any) error }) (BCP, error) {
	var b BCP
	var sections string
	var created, approved int64
	if err := row.Scan(&b.Facility, &b.Version, &sections, &created, &b.CreatedBy, &b.Note, &b.ApprovedBy, &approved); err != nil {
		return b, err
	}
	if err := json.Unmarshal([]byte(sections), &b.Sections); err != nil {
		return b, fmt.Errorf("BCP version %d: %w", b.Version, err)
	}
	b.Created, b.ApprovedAt = db.Time(created), db.Time(approved)
	return b, nil
}

// CurrentBCP returns the newest version of facility's BCP, or version 0
// with every section empty.
func CurrentBCP(ctx context.Context, q db.Querier, facility int64) (BCP, error) {
	b, err := scanBCP(q.QueryRowContext(ctx, `SELECT `+bcpColumns+` FROM incident_bcp_versions WHERE facility = ?
		ORDER BY version DESC LIMIT 1`, facility))
	if errors.Is(db.NotFound(err), db.ErrNotFound) {
		return BCP{Facility: facility, Sections: map[string]string{}}, nil
	}
	if err != nil {
		return b, fmt.Errorf("read the BCP of facility %d: %w", facility, err)
	}
	return b, nil
}

// BCPVersions returns the versions of facility's BCP, newest first.
func BCPVersions(ctx context.Context, q db.Querier, facility int64) ([]BCP, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+bcpColumns+` FROM incident_bcp_versions WHERE facility = ?
		ORDER BY version DESC LIMIT ?`, facility, maxBCPVersionsListed)
	if err != nil {
		return nil, fmt.Errorf("read the BCP versions of facility %d: %w", facility, err)
	}
	defer rows.Close()
	var out []BCP
	for rows.Next() {
		b, err := scanBCP(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// SaveBCP writes a new version of facility's BCP: the current one with
// the sections in changes replaced. It records the change in the audit
// log (which sections, not their text) and returns the new version.
func SaveBCP(ctx context.Context, d *db.DB, rec selfaudit.Recorder, by Actor, facility int64, changes map[string]string, note string, now time.Time) (BCP, error) {
	note = strings.TrimSpace(note)
	if !prepCheckText(note, prepMaxTitle) {
		return BCP{}, prepErr("note", "incident.prep.error.text", "Max", prepMaxTitle)
	}
	if len(changes) == 0 {
		return BCP{}, prepErr("sections", "incident.prep.error.section")
	}
	keys := make([]string, 0, len(changes))
	for k, v := range changes {
		if !slices.Contains(BCPSections, k) {
			return BCP{}, db.ErrNotFound
		}
		if !prepCheckText(v, maxSection) {
			return BCP{}, prepErr(k, "incident.prep.error.text", "Max", maxSection)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out BCP
	err := d.InTx(ctx, func(tx *db.Tx) error {
		cur, err := CurrentBCP(ctx, tx, facility)
		if err != nil {
			return err
		}
		out = BCP{Facility: facility, Version: cur.Version + 1, Sections: map[string]string{}, Created: now,
			CreatedBy: by.Login, Note: note}
		for k, v := range cur.Sections {
			out.Sections[k] = v
		}
		for k, v := range changes {
			out.Sections[k] = strings.TrimSpace(strings.ReplaceAll(v, "\r\n", "\n"))
		}
		b, _ := json.Marshal(out.Sections)
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_bcp_versions (facility, version, sections, created, created_by, note)
			VALUES (?, ?, ?, ?, ?, ?)`, facility, out.Version, string(b), now.UnixMilli(), by.Login, note); err != nil {
			return fmt.Errorf("write BCP version %d of facility %d: %w", out.Version, facility, err)
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: ActionBCPUpdate, Target: "bcp:" + strconv.FormatInt(out.Version, 10), Outcome: selfaudit.Success,
			ClientAddr: by.Client, Detail: map[string]string{"sections": strings.Join(keys, ","),
				"missing": strconv.Itoa(len(out.Missing()))}})
	})
	return out, err
}

// ApproveBCP notes that version of facility's BCP was approved by
// approver (a name or post, such as the director) on the day on.
func ApproveBCP(ctx context.Context, d *db.DB, rec selfaudit.Recorder, by Actor, facility, version int64, approver string, on, now time.Time) error {
	approver = strings.TrimSpace(approver)
	if approver == "" || !prepCheckText(approver, prepMaxName) {
		return prepErr("approved_by", "incident.prep.error.name", "Max", prepMaxName)
	}
	if on.IsZero() || on.After(now.Add(24*time.Hour)) {
		return prepErr("approved_on", "incident.prep.error.date")
	}
	return d.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE incident_bcp_versions SET approved_by = ?, approved_at = ? WHERE facility = ? AND version = ?`,
			approver, on.UnixMilli(), facility, version)
		if err != nil {
			return fmt.Errorf("approve BCP version %d: %w", version, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return db.ErrNotFound
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: ActionBCPApprove, Target: "bcp:" + strconv.FormatInt(version, 10), Outcome: selfaudit.Success,
			ClientAddr: by.Client, Detail: map[string]string{"approved_by": approver, "approved_on": on.Format(time.DateOnly)}})
	})
}

// OfflineProcedure is one department's procedure for working without
// the systems (手順書), such as outpatient reception on paper.
type OfflineProcedure struct {
	ID         int64
	Facility   int64
	Department string
	Title      string
	Body       string
	Updated    time.Time
	UpdatedBy  string
}

func (p *OfflineProcedure) check() error {
	p.Department, p.Title, p.Body = strings.TrimSpace(p.Department), strings.TrimSpace(p.Title), strings.TrimSpace(p.Body)
	if p.Department == "" || !prepCheckText(p.Department, prepMaxName) {
		return prepErr("department", "incident.prep.error.name", "Max", prepMaxName)
	}
	if p.Title == "" || !prepCheckText(p.Title, prepMaxTitle) {
		return prepErr("title", "incident.prep.error.title", "Max", prepMaxTitle)
	}
	if !prepCheckText(p.Body, maxProcedure) {
		return prepErr("body", "incident.prep.error.text", "Max", maxProcedure)
	}
	return nil
}

// OfflineProcedures returns facility's offline procedures by department.
func OfflineProcedures(ctx context.Context, q db.Querier, facility int64) ([]OfflineProcedure, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, facility, department, title, body, updated, updated_by FROM incident_offline_procedures
		WHERE facility = ? ORDER BY department, id LIMIT ?`, facility, maxOfflineProceduresRead)
	if err != nil {
		return nil, fmt.Errorf("read the offline procedures of facility %d: %w", facility, err)
	}
	defer rows.Close()
	var out []OfflineProcedure
	for rows.Next() {
		var p OfflineProcedure
		var updated int64
		if err := rows.Scan(&p.ID, &p.Facility, &p.Department, &p.Title, &p.Body, &updated, &p.UpdatedBy); err != nil {
			return nil, err
		}
		p.Updated = db.Time(updated)
		out = append(out, p)
	}
	return out, rows.Err()
}

// SaveOfflineProcedure creates p in facility (p.ID 0) or changes the
// procedure p.ID of facility, recorded in the audit log; db.ErrNotFound
// when facility has no procedure p.ID.
func SaveOfflineProcedure(ctx context.Context, d *db.DB, rec selfaudit.Recorder, by Actor, facility int64, p OfflineProcedure, now time.Time) (OfflineProcedure, error) {
	if err := p.check(); err != nil {
		return p, err
	}
	p.Facility, p.Updated, p.UpdatedBy = facility, now, by.Login
	action := ActionProcedureUpdate
	err := d.InTx(ctx, func(tx *db.Tx) error {
		if p.ID == 0 {
			action = ActionProcedureCreate
			if err := tx.QueryRowContext(ctx, `INSERT INTO incident_offline_procedures (facility, department, title, body, updated, updated_by)
				VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, facility, p.Department, p.Title, p.Body, now.UnixMilli(), by.Login).Scan(&p.ID); err != nil {
				return fmt.Errorf("write an offline procedure: %w", err)
			}
		} else {
			res, err := tx.ExecContext(ctx, `UPDATE incident_offline_procedures SET department = ?, title = ?, body = ?, updated = ?, updated_by = ?
				WHERE id = ? AND facility = ?`, p.Department, p.Title, p.Body, now.UnixMilli(), by.Login, p.ID, facility)
			if err != nil {
				return fmt.Errorf("change offline procedure %d: %w", p.ID, err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return db.ErrNotFound
			}
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: action, Target: "procedure:" + strconv.FormatInt(p.ID, 10), Outcome: selfaudit.Success, ClientAddr: by.Client,
			Detail: map[string]string{"department": p.Department, "title": p.Title}})
	})
	return p, err
}

// DeleteOfflineProcedure removes facility's procedure id, recorded in the
// audit log; db.ErrNotFound when there is none.
func DeleteOfflineProcedure(ctx context.Context, d *db.DB, rec selfaudit.Recorder, by Actor, facility, id int64, now time.Time) error {
	return d.InTx(ctx, func(tx *db.Tx) error {
		var dept, title string
		err := tx.QueryRowContext(ctx, `SELECT department, title FROM incident_offline_procedures WHERE id = ? AND facility = ?`,
			id, facility).Scan(&dept, &title)
		if err != nil {
			return db.NotFound(err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM incident_offline_procedures WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete offline procedure %d: %w", id, err)
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: ActionProcedureDelete, Target: "procedure:" + strconv.FormatInt(id, 10), Outcome: selfaudit.Success,
			ClientAddr: by.Client, Detail: map[string]string{"department": dept, "title": title}})
	})
}
