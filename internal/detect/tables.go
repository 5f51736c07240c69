package detect

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/ingest"
)

// Reference tables: what the hospital knows that the access log does not
// say, loaded by the hospital as CSV files (all optional), so that rules
// can ask whether a record opened is a VIP's, the user's own or a family
// member's, whether the account belongs to someone who has retired, whether
// the user cares for the patient, and whether a vendor works inside its
// maintenance window. Each table belongs to one facility, as the events do
// (patient ids and EHR user ids are a hospital's own), and is replaced
// whole by each load: a file is read and checked completely first, and a
// bad row refuses the file, naming its line and column, with nothing
// stored changed. tables_store.go keeps them, tables_snapshot.go turns
// them into the fields the rules see (enrichment).

// The kinds of reference table.
const (
	TableStaff       = "staff"       // the staff roster
	TablePatients    = "patients"    // patient attributes
	TableFlagged     = "flagged"     // flagged-patient lists (VIP, 職員患者, 要注意 ...)
	TableCareTeam    = "care_team"   // care-team assignments
	TableMaintenance = "maintenance" // vendors' maintenance windows
)

// TableKinds lists the kinds in the order the pages show them.
var TableKinds = []string{TableStaff, TablePatients, TableFlagged, TableCareTeam, TableMaintenance}

// Limits of a table file.
const (
	maxTableRows  = 1_000_000
	maxTableValue = 512 // characters in one value
)

// StaffMember is a row of the staff roster. UserID is the EHR's user id
// as access events carry it in actor.id. Dates are YYYY-MM-DD: the last
// day of employment and the last day the account may be used.
type StaffMember struct {
	UserID        string `json:"user_id"`
	Name          string `json:"name,omitempty"`
	FamilyName    string `json:"family_name,omitempty"`
	Address       string `json:"address,omitempty"`
	Department    string `json:"department,omitempty"`
	PatientID     string `json:"patient_id,omitempty"` // the staff member's own record, if also a patient
	EndDate       string `json:"end_date,omitempty"`
	ExpiryDate    string `json:"expiry_date,omitempty"`
	Vendor        bool   `json:"vendor,omitempty"`
	VendorCompany string `json:"vendor_company,omitempty"`
}

// PatientAttrs is a row of the patient attributes.
type PatientAttrs struct {
	PatientID  string `json:"patient_id"`
	FamilyName string `json:"family_name,omitempty"`
	Address    string `json:"address,omitempty"`
	Department string `json:"department,omitempty"` // ward or department in charge
}

// FlaggedPatient is a patient on one of the hospital's lists.
type FlaggedPatient struct {
	List      string `json:"list"`
	PatientID string `json:"patient_id"`
	Note      string `json:"note,omitempty"`
}

// CareAssignment says that a user, or a whole department, cares for a
// patient from a time to a time (either open).
type CareAssignment struct {
	PatientID  string `json:"patient_id"`
	UserID     string `json:"user_id,omitempty"`
	Department string `json:"department,omitempty"`
	From       string `json:"from,omitempty"`
	To         string `json:"to,omitempty"`
}

// MaintenanceWindow is when a vendor (an account's user id, or the
// company of the roster's vendor accounts) may work: once, from Start to
// End, or every week on Weekdays from StartTime to EndTime (past midnight
// when EndTime is earlier).
type MaintenanceWindow struct {
	Vendor    string `json:"vendor"`
	Start     string `json:"start,omitempty"`
	End       string `json:"end,omitempty"`
	Weekdays  string `json:"weekdays,omitempty"` // mon,tue,... as loaded
	StartTime string `json:"start_time,omitempty"`
	EndTime   string `json:"end_time,omitempty"`
}

// Table is one loaded reference table: the rows of its kind.
type Table struct {
	Kind     string              `json:"kind"`
	Staff    []StaffMember       `json:"staff,omitempty"`
	Patients []PatientAttrs      `json:"patients,omitempty"`
	Flagged  []FlaggedPatient    `json:"flagged,omitempty"`
	CareTeam []CareAssignment    `json:"care_team,omitempty"`
	Windows  []MaintenanceWindow `json:"maintenance,omitempty"`
}

// Len is the table's number of rows.
func (t *Table) Len() int {
	return len(t.Staff) + len(t.Patients) + len(t.Flagged) + len(t.CareTeam) + len(t.Windows)
}

// TableError is a file that cannot be loaded: MsgID says why (a message
// of the catalog, detect.tables.error.*), at Line (from 1, the header
// being line 1) and Column (its header name), when known. It never holds
// the value, which may be personal data.
type TableError struct {
	Line   int
	Column string
	MsgID  string
	Err    error // the reader's error, when there is one
}

func (e *TableError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d", e.Line)
		if e.Column != "" {
			fmt.Fprintf(&b, ", column %s", e.Column)
		}
		b.WriteString(": ")
	}
	b.WriteString(strings.TrimPrefix(e.MsgID, "detect.tables.error."))
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *TableError) Unwrap() error { return e.Err }

// column is a column of a kind's CSV file: its header name in English and
// in Japanese, and whether every row must give it.
type column struct {
	name, ja string
	required bool
}

var tableColumns = map[string][]column{
	TableStaff: {{"user_id", "利用者ID", true}, {"name", "氏名", false}, {"family_name", "姓", false},
		{"address", "住所", false}, {"department", "所属", false}, {"patient_id", "患者ID", false},
		{"end_date", "退職日", false}, {"expiry_date", "有効期限", false}, {"vendor", "業者", false},
		{"vendor_company", "業者名", false}},
	TablePatients: {{"patient_id", "患者ID", true}, {"family_name", "姓", false}, {"address", "住所", false},
		{"department", "診療科", false}},
	TableFlagged:  {{"list", "リスト", true}, {"patient_id", "患者ID", true}, {"note", "備考", false}},
	TableCareTeam: {{"patient_id", "患者ID", true}, {"user_id", "利用者ID", false}, {"department", "診療科", false}, {"from", "開始", false}, {"to", "終了", false}},
	TableMaintenance: {{"vendor", "業者", true}, {"start", "開始", false}, {"end", "終了", false},
		{"weekdays", "曜日", false}, {"start_time", "開始時刻", false}, {"end_time", "終了時刻", false}},
}

// TableColumns returns the header names of a kind's CSV file.
func TableColumns(kind string) []string {
	var out []string
	for _, c := range tableColumns[kind] {
		out = append(out, c.name)
	}
	return out
}

// ValidTableKind says whether kind is a kind of reference table.
func ValidTableKind(kind string) bool {
	_, ok := tableColumns[kind]
	return ok
}

// ErrTableKind is a kind that is not one of TableKinds.
var ErrTableKind = errors.New("unknown reference table kind")

// ParseTable reads a kind's CSV file: a header row naming the columns
// (in any order, English or Japanese names; unknown columns refused), then
// one row per line, in UTF-8 (with or without BOM) or Shift_JIS, detected
// unless encoding names one. It returns the table and the encoding read,
// or a *TableError for the first bad line.
func ParseTable(kind string, r io.Reader, encoding string) (*Table, string, error) {
	cols, ok := tableColumns[kind]
	if !ok {
		return nil, "", fmt.Errorf("%w %q: one of %s", ErrTableKind, kind, strings.Join(TableKinds, ", "))
	}
	text, enc, err := ingest.DecodeText(r, encoding)
	if err != nil {
		if errors.Is(err, ingest.ErrEncoding) {
			return nil, "", &TableError{MsgID: "detect.tables.error.encoding", Err: err}
		}
		return nil, "", err
	}
	cr := csv.NewReader(text)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, enc, &TableError{Line: 1, MsgID: "detect.tables.error.no_header"}
	}
	if err != nil {
		return nil, enc, csvError(err)
	}
	index, err := headerIndex(cols, header)
	if err != nil {
		return nil, enc, err
	}
	cr.FieldsPerRecord = len(header)
	t := &Table{Kind: kind}
	p := newRowParser(kind)
	rows := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, enc, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue
		}
		if rows++; rows > maxTableRows {
			return nil, enc, &TableError{Line: line, MsgID: "detect.tables.error.too_many_rows"}
		}
		row := tableRow{line: line, vals: make(map[string]string, len(cols))}
		for name, i := range index {
			v := strings.TrimSpace(rec[i])
			if !utf8.ValidString(v) {
				return nil, enc, &TableError{Line: line, Column: name, MsgID: "detect.tables.error.encoding"}
			}
			if utf8.RuneCountInString(v) > maxTableValue {
				return nil, enc, &TableError{Line: line, Column: name, MsgID: "detect.tables.error.too_long"}
			}
			row.vals[name] = v
		}
		for _, c := range cols {
			if c.required && row.vals[c.name] == "" {
				return nil, enc, &TableError{Line: line, Column: c.name, MsgID: "detect.tables.error.required"}
			}
		}
		if err := p.add(t, row); err != nil {
			return nil, enc, err
		}
	}
	return t, enc, nil
}

// csvError turns the CSV reader's error into a TableError at its line;
// an error of reading stays one.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := "detect.tables.error.csv"
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			msg = "detect.tables.error.field_count"
		}
		return &TableError{Line: pe.Line, MsgID: msg, Err: pe.Err}
	}
	return fmt.Errorf("read the file: %w", err) // reading failed (a body too large, ...), not the file
}

// headerIndex maps the kind's columns to their places in the header.
func headerIndex(cols []column, header []string) (map[string]int, error) {
	index := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF")))
		name := ""
		for _, c := range cols {
			if h == c.name || h == strings.ToLower(c.ja) {
				name = c.name
			}
		}
		if name == "" {
			return nil, &TableError{Line: 1, Column: fmt.Sprintf("#%d", i+1), MsgID: "detect.tables.error.unknown_column"}
		}
		if _, dup := index[name]; dup {
			return nil, &TableError{Line: 1, Column: name, MsgID: "detect.tables.error.duplicate_column"}
		}
		index[name] = i
	}
	for _, c := range cols {
		if _, ok := index[c.name]; c.required && !ok {
			return nil, &TableError{Line: 1, Column: c.name, MsgID: "detect.tables.error.missing_column"}
		}
	}
	return index, nil
}

func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// tableRow is one line of a file, by column name.
type tableRow struct {
	line int
	vals map[string]string
}

func (r tableRow) err(col, msg string) error {
	return &TableError{Line: r.line, Column: col, MsgID: "detect.tables.error." + msg}
}

// date reads a column as a date (YYYY-MM-DD or YYYY/MM/DD) and returns it
// as YYYY-MM-DD.
func (r tableRow) date(col string) (string, error) {
	v := r.vals[col]
	if v == "" {
		return "", nil
	}
	d, ok := parseDate(v)
	if !ok {
		return "", r.err(col, "date")
	}
	return d.Format(time.DateOnly), nil
}

// instant reads a column as a date or a date and time: RFC 3339 with its
// offset, or "YYYY-MM-DD hh:mm" in the hospital's time, kept as written
// in canonical form.
func (r tableRow) instant(col string) (string, error) {
	v := r.vals[col]
	if v == "" {
		return "", nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.Format(time.RFC3339), nil
	}
	v = strings.ReplaceAll(v, "/", "-")
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.Format("2006-01-02T15:04:05"), nil
		}
	}
	if d, ok := parseDate(v); ok {
		return d.Format(time.DateOnly), nil
	}
	return "", r.err(col, "time")
}

func parseDate(v string) (time.Time, bool) {
	for _, layout := range []string{time.DateOnly, "2006/01/02", "2006/1/2", "2006-1-2"} {
		if d, err := time.Parse(layout, v); err == nil {
			return d, true
		}
	}
	return time.Time{}, false
}

// boolValue reads yes/no in the ways a spreadsheet writes them.
func (r tableRow) boolValue(col string) (bool, error) {
	switch strings.ToLower(r.vals[col]) {
	case "", "0", "false", "no", "n", "いいえ", "×":
		return false, nil
	case "1", "true", "yes", "y", "はい", "○", "〇":
		return true, nil
	}
	return false, r.err(col, "bool")
}
