package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Tables keeps the reference tables (table detect_tables) and the
// snapshot of them the engine enriches events with. A load replaces one
// table of one facility and counts a generation in the same transaction,
// with its record in the audit log; every instance compares the stored
// generation with its snapshot's, at most every TablesCheckEvery, and
// rebuilds the snapshot when they differ.
type Tables struct {
	db   *db.DB
	loc  *time.Location
	snap atomic.Pointer[Snapshot]

	mu      sync.Mutex
	checked time.Time
	stale   atomic.Bool // a load of this instance: check at once
}

// TablesCheckEvery is how often an instance looks for loads made by
// others.
const TablesCheckEvery = 2 * time.Second

// ActionTablesLoad is the audit log's action for a load of a table.
const ActionTablesLoad = "detect.tables.load"

// ActionTablesExport is the audit log's action for an export of a table:
// the tables hold personal data, so who took a copy is kept.
const ActionTablesExport = "detect.tables.export"

// NewTables keeps the tables of d; dates and times without an offset are
// the hospital's, in loc.
func NewTables(d *db.DB, loc *time.Location) *Tables {
	if loc == nil {
		loc = time.UTC
	}
	t := &Tables{db: d, loc: loc}
	t.stale.Store(true)
	return t
}

// Snapshot returns the tables as last read (nil before the first read,
// or when none are loaded).
func (t *Tables) Snapshot() *Snapshot {
	if t == nil {
		return nil
	}
	return t.snap.Load()
}

// PatientDepartment returns the ward or department of a patient as the
// tables last read say (the behaviour baselines' PatientDepartments).
func (t *Tables) PatientDepartment(facility int64, patient string) (string, bool) {
	return t.Snapshot().PatientDepartment(facility, patient)
}

// Refresh reads the tables again when they changed since the snapshot:
// at once after a load of this instance, else when TablesCheckEvery has
// passed since the last look at the generation. It reads outside the
// caller's transaction: a failed read leaves the snapshot as it was.
func (t *Tables) Refresh(ctx context.Context, now time.Time) error {
	if t == nil {
		return nil
	}
	q := t.db
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stale.Load() && !t.checked.IsZero() && now.Sub(t.checked) < TablesCheckEvery && !now.Before(t.checked) {
		return nil
	}
	t.stale.Store(false)
	var gen int64
	if err := q.QueryRowContext(ctx, `SELECT n FROM detect_tables_generation WHERE id = 1`).Scan(&gen); err != nil {
		t.stale.Store(true)
		return fmt.Errorf("read the reference tables' generation: %w", err)
	}
	t.checked = now
	if cur := t.snap.Load(); cur != nil && cur.generation == gen || cur == nil && gen == 0 {
		return nil
	}
	tables, err := readTables(ctx, q)
	if err != nil {
		t.stale.Store(true)
		return err
	}
	t.snap.Store(buildSnapshot(gen, tables, t.loc))
	return nil
}

// readTables reads every stored table, by facility and kind.
func readTables(ctx context.Context, q db.Querier) (map[int64]map[string]*Table, error) {
	rows, err := q.QueryContext(ctx, `SELECT facility, kind, data FROM detect_tables`)
	if err != nil {
		return nil, fmt.Errorf("read the reference tables: %w", err)
	}
	defer rows.Close()
	out := map[int64]map[string]*Table{}
	for rows.Next() {
		var fac int64
		var kind string
		var data []byte
		if err := rows.Scan(&fac, &kind, &data); err != nil {
			return nil, fmt.Errorf("read the reference tables: %w", err)
		}
		var tb Table
		if err := json.Unmarshal(data, &tb); err != nil {
			return nil, fmt.Errorf("read the reference table %s of facility %d: %w", kind, fac, err)
		}
		if out[fac] == nil {
			out[fac] = map[string]*Table{}
		}
		out[fac][kind] = &tb
	}
	return out, rows.Err()
}

// Loader is who loads a table.
type Loader struct {
	UserID int64
	Login  string
	Client string
}

// TableInfo describes a stored table.
type TableInfo struct {
	Facility int64     `json:"facility"`
	Kind     string    `json:"kind"`
	Rows     int       `json:"rows"`
	Loaded   time.Time `json:"loaded"`
	LoadedBy string    `json:"loaded_by"`
}

// Load reads a kind's CSV file (encoding "" detects it) and, when every
// row is good, replaces the facility's table of that kind with it,
// recording the load (kind, rows, encoding; never the content) through
// rec in the same transaction. A bad file returns a *TableError, changes
// nothing, and is recorded as a failed load (kind, line, column, reason).
func (t *Tables) Load(ctx context.Context, rec selfaudit.Recorder, facility int64, kind string, r io.Reader, encoding string,
	by Loader, now time.Time) (TableInfo, error) {
	tb, enc, err := ParseTable(kind, r, encoding)
	var te *TableError
	if errors.As(err, &te) {
		// A refused file is recorded too: who tried, and where it was
		// wrong; never its content.
		detail := map[string]string{"kind": kind, "reason": strings.TrimPrefix(te.MsgID, "detect.tables.error."), "encoding": enc}
		if te.Line > 0 {
			detail["line"] = strconv.Itoa(te.Line)
		}
		if te.Column != "" {
			detail["column"] = te.Column
		}
		if rerr := rec.Record(ctx, t.db, selfaudit.Event{Time: now, Facility: facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: ActionTablesLoad, Target: "table:" + kind, Outcome: selfaudit.Failure, ClientAddr: by.Client,
			Detail: detail}); rerr != nil {
			return TableInfo{}, errors.Join(err, rerr)
		}
	}
	if err != nil {
		return TableInfo{}, err
	}
	data, err := json.Marshal(tb)
	if err != nil {
		return TableInfo{}, fmt.Errorf("encode the reference table %s: %w", kind, err)
	}
	info := TableInfo{Facility: facility, Kind: kind, Rows: tb.Len(), Loaded: now.UTC().Truncate(time.Millisecond), LoadedBy: by.Login}
	err = t.db.InTx(ctx, func(tx *db.Tx) error {
		var gen int64
		if err := tx.QueryRowContext(ctx, `UPDATE detect_tables_generation SET n = n + 1 WHERE id = 1 RETURNING n`).Scan(&gen); err != nil {
			return fmt.Errorf("count the reference tables' generation: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO detect_tables (facility, kind, row_count, data, loaded, loaded_by, generation)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (facility, kind) DO UPDATE SET row_count = excluded.row_count, data = excluded.data,
			loaded = excluded.loaded, loaded_by = excluded.loaded_by, generation = excluded.generation`,
			facility, kind, info.Rows, data, db.Millis(now), by.Login, gen); err != nil {
			return fmt.Errorf("store the reference table %s: %w", kind, err)
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: ActionTablesLoad, Target: "table:" + kind, Outcome: selfaudit.Success, ClientAddr: by.Client,
			Detail: map[string]string{"kind": kind, "rows": strconv.Itoa(info.Rows), "encoding": enc}})
	})
	if err != nil {
		return TableInfo{}, err
	}
	t.stale.Store(true)
	return info, nil
}

// TableInfos lists the stored tables of the facilities (all: every one).
func TableInfos(ctx context.Context, q db.Querier, all bool, facilities []int64) ([]TableInfo, error) {
	rows, err := q.QueryContext(ctx, `SELECT facility, kind, row_count, loaded, loaded_by FROM detect_tables ORDER BY facility, kind`)
	if err != nil {
		return nil, fmt.Errorf("list the reference tables: %w", err)
	}
	defer rows.Close()
	var out []TableInfo
	for rows.Next() {
		var i TableInfo
		var loaded int64
		if err := rows.Scan(&i.Facility, &i.Kind, &i.Rows, &loaded, &i.LoadedBy); err != nil {
			return nil, fmt.Errorf("list the reference tables: %w", err)
		}
		if !all && !slices.Contains(facilities, i.Facility) {
			continue
		}
		i.Loaded = db.Time(loaded)
		out = append(out, i)
	}
	return out, rows.Err()
}

// ExportTable reads a facility's table of a kind to hand it out, and
// records who took it (kind and rows, never the content) in the audit
// log; db.ErrNotFound when none was loaded.
func ExportTable(ctx context.Context, d *db.DB, rec selfaudit.Recorder, facility int64, kind string, by Loader, now time.Time) (*Table, error) {
	tb, err := StoredTable(ctx, d, facility, kind)
	if err != nil {
		return nil, err
	}
	if err := rec.Record(ctx, d, selfaudit.Event{Time: now, Facility: facility, ActorID: by.UserID, ActorLogin: by.Login,
		Action: ActionTablesExport, Target: "table:" + kind, Outcome: selfaudit.Success, ClientAddr: by.Client,
		Detail: map[string]string{"kind": kind, "rows": strconv.Itoa(tb.Len())}}); err != nil {
		return nil, fmt.Errorf("record the export of the reference table %s: %w", kind, err)
	}
	return tb, nil
}

// StoredTable reads a facility's table of a kind; db.ErrNotFound when
// none was loaded.
func StoredTable(ctx context.Context, q db.Querier, facility int64, kind string) (*Table, error) {
	var data []byte
	err := q.QueryRowContext(ctx, `SELECT data FROM detect_tables WHERE facility = ? AND kind = ?`, facility, kind).Scan(&data)
	if err != nil {
		if errors.Is(db.NotFound(err), db.ErrNotFound) {
			return nil, db.ErrNotFound
		}
		return nil, fmt.Errorf("read the reference table %s: %w", kind, err)
	}
	var tb Table
	if err := json.Unmarshal(data, &tb); err != nil {
		return nil, fmt.Errorf("read the reference table %s: %w", kind, err)
	}
	return &tb, nil
}
