package incident

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// The reports' fields and their drafts. Each report asks for what its
// authority's form asks for (guideline §9; the PPC's nine items, MHLW's
// questions under the 2018 notice, what a police cyber unit asks when a
// crime is reported). anzen fills them first from the incident (people,
// data and systems affected, times, kind, what was submitted to whom);
// the CSIRT edits them and saves the draft, which then wins over the
// incident's facts field by field until it is changed again.

// ReportFields lists the fields of the report to recipient to, in the
// order the report shows them; nil for a recipient without a report
// document (Recipient.Reported).
func ReportFields(to Recipient) []string {
	switch to {
	case ToMHLW:
		return []string{"contact", "overview", "systems", "care_impact", "response_status", "personal_data", "notified"}
	case ToPPCPreliminary, ToPPCFinal:
		return []string{"contact", "overview", "data_items", "people", "cause", "secondary_harm", "individuals_response",
			"publication", "prevention", "other"}
	case ToPolice:
		return []string{"contact", "what_happened", "damage", "evidence", "notified"}
	}
	return nil
}

// maxFieldText is the longest text of one field, in characters.
const maxFieldText = 10000

// Draft is what the CSIRT has written of a report so far.
type Draft struct {
	IncidentID int64
	To         Recipient
	Fields     map[string]string
	Updated    time.Time // zero when nothing has been saved
	UpdatedBy  string
}

// ReadDraft returns the draft of the report to to about incident id (which
// the caller has read within its scope); an empty one when none is saved.
func ReadDraft(ctx context.Context, q db.Querier, id int64, to Recipient) (Draft, error) {
	d := Draft{IncidentID: id, To: to, Fields: map[string]string{}}
	var (
		fields  string
		updated int64
	)
	err := q.QueryRowContext(ctx, `SELECT fields, updated, updated_by FROM incident_report_drafts
		WHERE incident_id = ? AND recipient = ?`, id, string(to)).Scan(&fields, &updated, &d.UpdatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return d, nil
	}
	if err != nil {
		return d, fmt.Errorf("read the %s draft of incident %d: %w", to, id, err)
	}
	if err := json.Unmarshal([]byte(fields), &d.Fields); err != nil {
		return d, fmt.Errorf("read the %s draft of incident %d: %w", to, id, err)
	}
	d.Updated = db.Time(updated)
	return d, nil
}

// SaveDraft saves fields as the draft of the report to to about incident
// id within scope, replacing the fields it names (a field given empty is
// kept empty, not filled from the incident again), with its record in the
// audit log (the names of the fields changed, not their text).
// db.ErrNotFound when the incident is not in the scope; a *ReportError for
// a recipient without a report, an unknown field or a text too long.
func SaveDraft(ctx context.Context, d *db.DB, rec selfaudit.Recorder, s Scope, id int64, to Recipient, by Actor,
	fields map[string]string, now time.Time) (Draft, error) {
	if !to.Reported() {
		return Draft{}, &ReportError{"recipient", "incident.report.error.recipient"}
	}
	keys := ReportFields(to)
	for k, v := range fields {
		switch {
		case !slices.Contains(keys, k):
			return Draft{}, &ReportError{k, "incident.report.error.field"}
		case !utf8.ValidString(v) || utf8.RuneCountInString(v) > maxFieldText:
			return Draft{}, &ReportError{k, "incident.report.error.text"}
		}
	}
	var out Draft
	err := d.InTx(ctx, func(tx *db.Tx) error {
		inc, err := Get(ctx, tx, s, id)
		if err != nil {
			return err
		}
		if out, err = ReadDraft(ctx, tx, inc.ID, to); err != nil {
			return err
		}
		var changed []string
		for k, v := range fields {
			v = strings.TrimSpace(strings.ReplaceAll(v, "\r\n", "\n"))
			if old, ok := out.Fields[k]; !ok || old != v {
				changed = append(changed, k)
			}
			out.Fields[k] = v
		}
		sort.Strings(changed)
		b, _ := json.Marshal(out.Fields)
		out.Updated, out.UpdatedBy = now, by.Login
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_report_drafts (incident_id, recipient, fields, updated, updated_by)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (incident_id, recipient) DO UPDATE SET fields = excluded.fields,
			updated = excluded.updated, updated_by = excluded.updated_by`,
			inc.ID, string(to), string(b), db.Millis(now), by.Login); err != nil {
			return fmt.Errorf("save the %s draft of incident %d: %w", to, inc.ID, err)
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: inc.Facility, ActorID: by.UserID,
			ActorLogin: by.Login, Action: ActionReportDraft, Target: "incident:" + strconv.FormatInt(inc.ID, 10),
			Outcome: selfaudit.Success, ClientAddr: by.Client,
			Detail: map[string]string{"incident": inc.Ref(), "recipient": string(to), "fields": strings.Join(changed, ",")}})
	})
	return out, err
}

// evidenceList returns the evidence kept for incident id, one line each
// (name, SHA-256, who holds it), for the police report.
func evidenceList(ctx context.Context, q db.Querier, id int64) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, sha256, holder FROM incident_evidence WHERE incident_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("read the evidence of incident %d: %w", id, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, sum, holder string
		if err := rows.Scan(&name, &sum, &holder); err != nil {
			return nil, fmt.Errorf("read the evidence of incident %d: %w", id, err)
		}
		out = append(out, fmt.Sprintf("%s (SHA-256 %s; %s)", name, sum, holder))
	}
	return out, rows.Err()
}
