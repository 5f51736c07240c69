package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// The emergency rules of a facility (guideline 6.10 C-1, C-3): the
// criteria for declaring an emergency, who declares it and who stands
// in, the procedure, the criteria and procedure for returning to normal,
// and how data written on paper during the emergency is reconciled after
// recovery. Every member of staff may read them; each change is a new
// version, and the old ones are kept with who wrote them and when.

// ActionRulesSet is the audit log's action for a new version of the rules.
const ActionRulesSet = "incident.emergency_rules.set"

// MaxCriteria is how many criteria the rules may list.
const MaxCriteria = 30

// EmergencyRules is one version of a facility's emergency rules.
type EmergencyRules struct {
	Facility       int64
	Version        int64
	Criteria       []string
	Declarer       string
	Deputy         string
	Steps          string
	ReturnCriteria string
	ReturnSteps    string
	Reconcile      string
	Created        time.Time
	CreatedBy      string
}

// RulesInput is the rules as a form or the API gives them.
type RulesInput struct {
	Facility       int64    `json:"facility"`
	Criteria       []string `json:"criteria"`
	Declarer       string   `json:"declarer"`
	Deputy         string   `json:"deputy,omitempty"`
	Steps          string   `json:"steps,omitempty"`
	ReturnCriteria string   `json:"return_criteria,omitempty"`
	ReturnSteps    string   `json:"return_steps,omitempty"`
	Reconcile      string   `json:"reconcile,omitempty"`
}

func (in *RulesInput) check() (EmergencyRules, error) {
	r := EmergencyRules{Facility: in.Facility}
	for _, c := range in.Criteria {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		if !orgText(c, 500) {
			return r, &OrgError{"criteria", "incident.org.error.text"}
		}
		r.Criteria = append(r.Criteria, c)
	}
	if len(r.Criteria) == 0 || len(r.Criteria) > MaxCriteria {
		return r, &OrgError{"criteria", "incident.org.error.criteria"}
	}
	fields := []struct {
		name string
		in   string
		out  *string
		max  int
	}{
		{"declarer", in.Declarer, &r.Declarer, MaxOrgName}, {"deputy", in.Deputy, &r.Deputy, MaxOrgName},
		{"steps", in.Steps, &r.Steps, MaxOrgText}, {"return_criteria", in.ReturnCriteria, &r.ReturnCriteria, MaxOrgText},
		{"return_steps", in.ReturnSteps, &r.ReturnSteps, MaxOrgText}, {"reconcile", in.Reconcile, &r.Reconcile, MaxOrgText},
	}
	for _, f := range fields {
		*f.out = strings.TrimSpace(f.in)
		if !orgText(*f.out, f.max) {
			return r, &OrgError{f.name, "incident.org.error.text"}
		}
	}
	if r.Declarer == "" {
		return r, &OrgError{"declarer", "incident.org.error.declarer"}
	}
	return r, nil
}

// SetEmergencyRules writes a new version of in.Facility's rules.
func SetEmergencyRules(ctx context.Context, d *db.DB, rec selfaudit.Recorder, sc Scope, by Actor, in RulesInput, now time.Time) (EmergencyRules, error) {
	if err := sc.check(in.Facility); err != nil {
		return EmergencyRules{}, err
	}
	r, err := in.check()
	if err != nil {
		return r, err
	}
	r.Created, r.CreatedBy = now, by.Login
	crit, _ := json.Marshal(r.Criteria)
	err = d.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM incident_emergency_rules WHERE facility = ?`,
			r.Facility).Scan(&r.Version); err != nil {
			return fmt.Errorf("read the rules' version: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_emergency_rules (facility, version, criteria, declarer, deputy, steps,
			return_criteria, return_steps, reconcile, created, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.Facility, r.Version, string(crit), r.Declarer, r.Deputy, r.Steps, r.ReturnCriteria, r.ReturnSteps, r.Reconcile,
			now.UnixMilli(), by.Login); err != nil {
			if db.IsUniqueViolation(err) {
				return &OrgError{"", "incident.org.error.concurrent"}
			}
			return fmt.Errorf("write the emergency rules: %w", err)
		}
		return orgRecord(ctx, tx, rec, by, now, r.Facility, ActionRulesSet, "incident.emergency_rules:"+strconv.FormatInt(r.Facility, 10),
			map[string]string{"version": strconv.FormatInt(r.Version, 10), "criteria": strconv.Itoa(len(r.Criteria))})
	})
	return r, err
}

// RulesVersions returns every version of facility f's rules, the newest
// first; none when the facility has not written any.
func RulesVersions(ctx context.Context, q db.Querier, f int64) ([]EmergencyRules, error) {
	rows, err := q.QueryContext(ctx, `SELECT facility, version, criteria, declarer, deputy, steps, return_criteria, return_steps,
		reconcile, created, created_by FROM incident_emergency_rules WHERE facility = ? ORDER BY version DESC`, f)
	if err != nil {
		return nil, fmt.Errorf("read the emergency rules: %w", err)
	}
	defer rows.Close()
	var out []EmergencyRules
	for rows.Next() {
		var r EmergencyRules
		var crit string
		var created int64
		if err := rows.Scan(&r.Facility, &r.Version, &crit, &r.Declarer, &r.Deputy, &r.Steps, &r.ReturnCriteria, &r.ReturnSteps,
			&r.Reconcile, &created, &r.CreatedBy); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(crit), &r.Criteria); err != nil {
			return nil, fmt.Errorf("emergency rules %d/%d: %w", r.Facility, r.Version, err)
		}
		r.Created = db.Time(created)
		out = append(out, r)
	}
	return out, rows.Err()
}
