package incident

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Reading incidents: the scope of facilities a caller may see, and the
// row of an incident as every room of this part reads it. Writing them is
// in incidents_write.go.

// Scope is the facilities a query may see.
type Scope struct {
	All        bool    // every facility
	Facilities []int64 // else these
}

// Has reports whether facility f is in the scope.
func (s Scope) Has(f int64) bool {
	if s.All {
		return true
	}
	for _, id := range s.Facilities {
		if id == f {
			return true
		}
	}
	return false
}

// where returns the SQL condition on column col for the scope and its
// arguments; none is true when the scope holds no facility.
func (s Scope) where(col string) (cond string, args []any, none bool) {
	if s.All {
		return "1 = 1", nil, false
	}
	if len(s.Facilities) == 0 {
		return "", nil, true
	}
	for _, f := range s.Facilities {
		args = append(args, f)
	}
	return col + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(s.Facilities)), ", ") + ")", args, false
}

// incidentColumns are the columns scanIncident reads, in its order.
const incidentColumns = `id, facility, kind, severity, state, title, summary, aware_at, occurred_at, created, created_by,
	updated, closed, resolution, commander, affected_systems, affected_data, people, medical_data, leak, malicious,
	crime, cyberattack, care_impact, encrypted, source_alert`

type scanner interface{ Scan(dest ...any) error }

func scanIncident(row scanner) (Incident, error) {
	var (
		i                                                 Incident
		aware, occurred, created, updated, closed         int64
		medical, malicious, crime, cyber, care, encrypted int
		kind, severity, state, leak                       string
		source                                            sql.NullInt64
	)
	err := row.Scan(&i.ID, &i.Facility, &kind, &severity, &state, &i.Title, &i.Summary, &aware, &occurred, &created,
		&i.CreatedBy, &updated, &closed, &i.Resolution, &i.Commander, &i.AffectedSystems, &i.AffectedData, &i.People,
		&medical, &leak, &malicious, &crime, &cyber, &care, &encrypted, &source)
	if err != nil {
		return i, err
	}
	i.Kind, i.Severity, i.State, i.Leak = Kind(kind), Severity(severity), State(state), Leak(leak)
	i.AwareAt, i.Created, i.Updated = db.Time(aware), db.Time(created), db.Time(updated)
	if occurred != 0 {
		i.OccurredAt = db.Time(occurred)
	}
	if closed != 0 {
		i.Closed = db.Time(closed)
	}
	i.MedicalData, i.Malicious, i.Crime, i.Cyberattack, i.CareImpact, i.Encrypted =
		medical != 0, malicious != 0, crime != 0, cyber != 0, care != 0, encrypted != 0
	i.SourceAlert = source.Int64
	return i, nil
}

// Get returns the incident id if it is in the scope; db.ErrNotFound when
// there is none there.
func Get(ctx context.Context, q db.Querier, s Scope, id int64) (Incident, error) {
	cond, args, none := s.where("facility")
	if none {
		return Incident{}, db.ErrNotFound
	}
	row := q.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incident_incidents WHERE id = ? AND `+cond,
		append([]any{id}, args...)...)
	i, err := scanIncident(row)
	if errors.Is(err, sql.ErrNoRows) {
		return i, db.ErrNotFound
	}
	if err != nil {
		return i, fmt.Errorf("read incident %d: %w", id, err)
	}
	return i, nil
}

// ListQuery selects incidents.
type ListQuery struct {
	Scope
	Open   bool  // only those not closed
	Before int64 // only ids below this
	Limit  int   // at most; 0 for 100
}

// List returns the incidents q selects, newest first.
func List(ctx context.Context, d db.Querier, q ListQuery) ([]Incident, error) {
	cond, args, none := q.where("facility")
	if none {
		return nil, nil
	}
	if q.Open {
		cond += " AND state <> 'closed'"
	}
	if q.Before > 0 {
		cond += " AND id < ?"
		args = append(args, q.Before)
	}
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := d.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM incident_incidents WHERE %s ORDER BY id DESC LIMIT %d`,
		incidentColumns, cond, limit), args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	var out []Incident
	for rows.Next() {
		i, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		out = append(out, i)
	}
	return out, rows.Err()
}
