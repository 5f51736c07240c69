package incident

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// The on-call schedule: shifts of CSIRT members (primary or secondary)
// per facility, from which anzen answers "who is on call now" on the
// pages and, through OnCall, sends critical alerts to whoever is on call
// (detect.OnCall, wired by internal/app).

// Actions of the audit log for the on-call schedule.
const (
	ActionShiftCreate = "incident.oncall.create"
	ActionShiftDelete = "incident.oncall.delete"
)

// Tier says whether a shift is the first to call or the second.
type Tier string

// The tiers.
const (
	Primary   Tier = "primary"
	Secondary Tier = "secondary"
)

// MaxShift is the longest one shift may last.
const MaxShift = 31 * 24 * time.Hour

// Shift is a member's time on call.
type Shift struct {
	ID        int64
	Facility  int64
	MemberID  int64
	Starts    time.Time
	Ends      time.Time
	Tier      Tier
	Created   time.Time
	CreatedBy string
	// Member is the member on call (filled by the reads).
	Member Member
}

// Covers reports whether the shift holds at t.
func (s *Shift) Covers(t time.Time) bool { return !t.Before(s.Starts) && t.Before(s.Ends) }

// ShiftInput is a new shift.
type ShiftInput struct {
	Facility int64     `json:"facility"`
	MemberID int64     `json:"member_id"`
	Starts   time.Time `json:"starts"`
	Ends     time.Time `json:"ends"`
	Tier     string    `json:"tier"`
}

// CreateShift adds a shift to the schedule of in.Facility.
func CreateShift(ctx context.Context, d *db.DB, rec selfaudit.Recorder, sc Scope, by Actor, in ShiftInput, now time.Time) (Shift, error) {
	if err := sc.check(in.Facility); err != nil {
		return Shift{}, err
	}
	if in.Tier == "" {
		in.Tier = string(Primary)
	}
	if in.Tier != string(Primary) && in.Tier != string(Secondary) {
		return Shift{}, &OrgError{"tier", "incident.org.error.tier"}
	}
	if in.Starts.IsZero() || !in.Ends.After(in.Starts) || in.Ends.Sub(in.Starts) > MaxShift {
		return Shift{}, &OrgError{"ends", "incident.org.error.shift"}
	}
	s := Shift{Facility: in.Facility, MemberID: in.MemberID, Starts: in.Starts.UTC(), Ends: in.Ends.UTC(), Tier: Tier(in.Tier),
		Created: now, CreatedBy: by.Login}
	err := d.InTx(ctx, func(tx *db.Tx) error {
		m, err := MemberByID(ctx, tx, sc, in.MemberID)
		if err != nil || m.Facility != in.Facility {
			return &OrgError{"member_id", "incident.org.error.member"}
		}
		s.Member = m
		if err := tx.QueryRowContext(ctx, `INSERT INTO incident_oncall (facility, member_id, starts, ends, tier, created, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, s.Facility, s.MemberID, s.Starts.UnixMilli(), s.Ends.UnixMilli(), string(s.Tier),
			now.UnixMilli(), by.Login).Scan(&s.ID); err != nil {
			return fmt.Errorf("write a shift: %w", err)
		}
		return orgRecord(ctx, tx, rec, by, now, s.Facility, ActionShiftCreate, shiftTarget(s.ID), map[string]string{
			"member": strconv.FormatInt(s.MemberID, 10), "tier": string(s.Tier),
			"starts": s.Starts.Format(time.RFC3339), "ends": s.Ends.Format(time.RFC3339)})
	})
	return s, err
}

func shiftTarget(id int64) string { return "incident.oncall:" + strconv.FormatInt(id, 10) }

// DeleteShift removes shift id (within sc) from the schedule.
func DeleteShift(ctx context.Context, d *db.DB, rec selfaudit.Recorder, sc Scope, by Actor, id int64, now time.Time) error {
	return d.InTx(ctx, func(tx *db.Tx) error {
		var facility int64
		err := db.NotFound(tx.QueryRowContext(ctx, `SELECT facility FROM incident_oncall WHERE id = ?`, id).Scan(&facility))
		if err != nil {
			return err
		}
		if !sc.Has(facility) {
			return db.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM incident_oncall WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete shift %d: %w", id, err)
		}
		return orgRecord(ctx, tx, rec, by, now, facility, ActionShiftDelete, shiftTarget(id), nil)
	})
}

// shiftsWhere returns the shifts (with their members) that meet the
// condition, primary before secondary, then by start.
func shiftsWhere(ctx context.Context, q db.Querier, where string, args ...any) ([]Shift, error) {
	rows, err := q.QueryContext(ctx, `SELECT s.id, s.facility, s.member_id, s.starts, s.ends, s.tier, s.created, s.created_by,
		`+prefixed("m.", memberColumns)+` FROM incident_oncall s JOIN incident_members m ON m.id = s.member_id WHERE `+where+`
		ORDER BY s.tier, s.starts, s.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read the on-call schedule: %w", err)
	}
	defer rows.Close()
	var out []Shift
	for rows.Next() {
		var s Shift
		var tier string
		var starts, ends, created int64
		var m Member
		var roles string
		var updated int64
		if err := rows.Scan(&s.ID, &s.Facility, &s.MemberID, &starts, &ends, &tier, &created, &s.CreatedBy,
			&m.ID, &m.Facility, &m.Login, &m.Name, &m.Department, &roles, &m.PhoneOffice, &m.PhoneMobile, &m.Mail,
			&m.Deputy, &updated, &m.UpdatedBy); err != nil {
			return nil, err
		}
		m.Roles = splitRoles(roles)
		m.Updated = db.Time(updated)
		s.Member, s.Tier = m, Tier(tier)
		s.Starts, s.Ends, s.Created = db.Time(starts), db.Time(ends), db.Time(created)
		out = append(out, s)
	}
	return out, rows.Err()
}

func splitRoles(s string) []CSIRTRole {
	var out []CSIRTRole
	for _, r := range splitComma(s) {
		out = append(out, CSIRTRole(r))
	}
	return out
}

func splitComma(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func prefixed(p, cols string) string {
	list := splitComma(cols)
	for i, c := range list {
		list[i] = p + c
	}
	return strings.Join(list, ", ")
}

// OnCallAt returns the shifts of facility f that hold at t, primary
// first.
func OnCallAt(ctx context.Context, q db.Querier, f int64, t time.Time) ([]Shift, error) {
	ms := t.UnixMilli()
	return shiftsWhere(ctx, q, `s.facility = ? AND s.starts <= ? AND s.ends > ?`, f, ms, ms)
}

// Shifts returns the shifts of facility f that end after from, in the
// order of their start.
func Shifts(ctx context.Context, q db.Querier, f int64, from time.Time) ([]Shift, error) {
	list, err := shiftsWhere(ctx, q, `s.facility = ? AND s.ends > ?`, f, from.UnixMilli())
	slices.SortStableFunc(list, func(a, b Shift) int { return a.Starts.Compare(b.Starts) })
	return list, err
}

// OnCall answers who is on call from the roster, for the detection
// part's notifications of critical alerts (detect.OnCall). Fallback are
// the addresses of detect.notify.oncall, used when no member with a mail
// address is on call at that time.
type OnCall struct {
	DB       *db.DB
	Fallback []string
}

// OnCallMail returns the mail addresses of the members on call at t for
// facility (primary before secondary, each once); when the facility has
// none on call (or is 0, unknown), those on call in any facility of the
// group; then Fallback; then the whole CSIRT.
func (o OnCall) OnCallMail(ctx context.Context, facility int64, t time.Time) ([]string, error) {
	ms := t.UnixMilli()
	shifts, err := shiftsWhere(ctx, o.DB, `s.starts <= ? AND s.ends > ?`, ms, ms)
	if err != nil {
		return nil, err
	}
	mails := func(own bool) []string {
		var out []string
		for _, s := range shifts {
			if s.Member.Mail != "" && (!own || s.Facility == facility) && !slices.Contains(out, s.Member.Mail) {
				out = append(out, s.Member.Mail)
			}
		}
		return out
	}
	out := mails(facility != 0)
	if len(out) == 0 {
		out = mails(false)
	}
	if len(out) == 0 && len(o.Fallback) > 0 {
		return o.Fallback, nil
	}
	if len(out) == 0 {
		// No roster at that hour and no fallback: the whole CSIRT, rather
		// than no one, hears of a critical alert.
		return rosterMail(ctx, o.DB, `mail <> ''`)
	}
	return out, nil
}

// RosterMail says whom to mail about a facility's incidents (Addressees)
// from the organisation's roster: the facility's CSIRT members with a
// mail address, and any member whose anzen login is asked (the
// commander, a task's owner) wherever they are; Fallback (the addresses
// of detect.notify.oncall) when the roster gives none.
type RosterMail struct {
	DB       *db.DB
	Fallback []string
}

// IncidentMail returns the addresses, each once.
func (m RosterMail) IncidentMail(ctx context.Context, facility int64, logins []string) ([]string, error) {
	cond, args := `mail <> '' AND facility = ?`, []any{facility}
	if len(logins) > 0 {
		cond = `mail <> '' AND (facility = ? OR login IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(logins)), ", ") + `))`
		for _, l := range logins {
			args = append(args, l)
		}
	}
	out, err := rosterMail(ctx, m.DB, cond, args...)
	if err != nil || len(out) > 0 {
		return out, err
	}
	return m.Fallback, nil
}

// rosterMail returns the distinct mail addresses of the members cond
// selects, in the order they were added.
func rosterMail(ctx context.Context, q db.Querier, cond string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT mail FROM incident_members WHERE `+cond+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read the roster's mail addresses: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, err
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, rows.Err()
}
