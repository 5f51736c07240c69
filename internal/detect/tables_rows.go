package detect

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
)

// The rows of each kind of reference table: how a line of a file becomes
// one (with the checks that need more than one column or more than one
// line), and how a table is written back as CSV.

// rowParser adds the rows of one file, remembering what must be unique.
type rowParser struct {
	kind string
	seen map[string]int // key → the line that gave it
}

func newRowParser(kind string) *rowParser {
	return &rowParser{kind: kind, seen: map[string]int{}}
}

// unique refuses a key given by an earlier line.
func (p *rowParser) unique(r tableRow, col, key string) error {
	if _, dup := p.seen[key]; dup {
		return r.err(col, "duplicate")
	}
	p.seen[key] = r.line
	return nil
}

func (p *rowParser) add(t *Table, r tableRow) error {
	v := r.vals
	switch p.kind {
	case TableStaff:
		m := StaffMember{UserID: v["user_id"], Name: v["name"], FamilyName: v["family_name"], Address: v["address"],
			Department: v["department"], PatientID: v["patient_id"], VendorCompany: v["vendor_company"]}
		var err error
		if m.EndDate, err = r.date("end_date"); err != nil {
			return err
		}
		if m.ExpiryDate, err = r.date("expiry_date"); err != nil {
			return err
		}
		if m.Vendor, err = r.boolValue("vendor"); err != nil {
			return err
		}
		if m.VendorCompany != "" {
			m.Vendor = true
		}
		if err := p.unique(r, "user_id", m.UserID); err != nil {
			return err
		}
		t.Staff = append(t.Staff, m)
	case TablePatients:
		a := PatientAttrs{PatientID: v["patient_id"], FamilyName: v["family_name"], Address: v["address"], Department: v["department"]}
		if err := p.unique(r, "patient_id", a.PatientID); err != nil {
			return err
		}
		t.Patients = append(t.Patients, a)
	case TableFlagged:
		f := FlaggedPatient{List: v["list"], PatientID: v["patient_id"], Note: v["note"]}
		if err := p.unique(r, "patient_id", f.List+"\x00"+f.PatientID); err != nil {
			return err
		}
		t.Flagged = append(t.Flagged, f)
	case TableCareTeam:
		c := CareAssignment{PatientID: v["patient_id"], UserID: v["user_id"], Department: v["department"]}
		if (c.UserID == "") == (c.Department == "") {
			return r.err("user_id", "user_or_department")
		}
		var err error
		if c.From, err = r.instant("from"); err != nil {
			return err
		}
		if c.To, err = r.instant("to"); err != nil {
			return err
		}
		t.CareTeam = append(t.CareTeam, c)
	case TableMaintenance:
		w, err := maintenanceRow(r)
		if err != nil {
			return err
		}
		t.Windows = append(t.Windows, w)
	}
	return nil
}

// maintenanceRow reads a window: start and end, or weekdays with start
// and end times.
func maintenanceRow(r tableRow) (MaintenanceWindow, error) {
	v := r.vals
	w := MaintenanceWindow{Vendor: v["vendor"]}
	var err error
	if v["weekdays"] == "" {
		if v["start"] == "" {
			return w, r.err("start", "window")
		}
		if v["end"] == "" {
			return w, r.err("end", "window")
		}
		if w.Start, err = r.instant("start"); err != nil {
			return w, err
		}
		if w.End, err = r.instant("end"); err != nil {
			return w, err
		}
		return w, nil
	}
	if v["start"] != "" || v["end"] != "" {
		return w, r.err("weekdays", "window")
	}
	days, ok := parseWeekdays(v["weekdays"])
	if !ok {
		return w, r.err("weekdays", "weekdays")
	}
	w.Weekdays = formatWeekdays(days)
	for _, col := range []string{"start_time", "end_time"} {
		if _, ok := parseClock(v[col]); !ok {
			return w, r.err(col, "clock")
		}
	}
	w.StartTime, w.EndTime = v["start_time"], v["end_time"]
	return w, nil
}

var weekdayNames = [...][3]string{
	{"sun", "日", "sunday"}, {"mon", "月", "monday"}, {"tue", "火", "tuesday"}, {"wed", "水", "wednesday"},
	{"thu", "木", "thursday"}, {"fri", "金", "friday"}, {"sat", "土", "saturday"},
}

// parseWeekdays reads "mon,tue", "月・火" or "月火水" as a set of days.
func parseWeekdays(s string) (days [7]bool, ok bool) {
	s = strings.ToLower(s)
	for _, sep := range []string{"・", "、", " ", ";", "/"} {
		s = strings.ReplaceAll(s, sep, ",")
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSuffix(strings.TrimSpace(part), "曜日")
		part = strings.TrimSuffix(part, "曜")
		if part == "" {
			continue
		}
		found := false
		for d, names := range weekdayNames {
			if part == names[0] || part == names[1] || part == names[2] {
				days[d], found, ok = true, true, true
			}
		}
		if found {
			continue
		}
		// Japanese days written together: 月火水.
		for _, c := range part {
			hit := false
			for d, names := range weekdayNames {
				if string(c) == names[1] {
					days[d], hit, ok = true, true, true
				}
			}
			if !hit {
				return days, false
			}
		}
	}
	return days, ok
}

func formatWeekdays(days [7]bool) string {
	var out []string
	for d, on := range days {
		if on {
			out = append(out, weekdayNames[d][0])
		}
	}
	return strings.Join(out, ",")
}

// parseClock reads hh:mm (00:00–24:00) as minutes after midnight.
func parseClock(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(m) != 2 || len(h) < 1 || len(h) > 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, false
	}
	return hh*60 + mm, true
}

// WriteCSV writes the table as a CSV file in UTF-8 with its header row,
// the form ParseTable reads.
func (t *Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(TableColumns(t.Kind)); err != nil {
		return err
	}
	yes := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	var rec []string
	write := func(vals ...string) error { rec = append(rec[:0], vals...); return cw.Write(rec) }
	for _, m := range t.Staff {
		if err := write(m.UserID, m.Name, m.FamilyName, m.Address, m.Department, m.PatientID, m.EndDate, m.ExpiryDate,
			yes(m.Vendor), m.VendorCompany); err != nil {
			return err
		}
	}
	for _, a := range t.Patients {
		if err := write(a.PatientID, a.FamilyName, a.Address, a.Department); err != nil {
			return err
		}
	}
	for _, f := range t.Flagged {
		if err := write(f.List, f.PatientID, f.Note); err != nil {
			return err
		}
	}
	for _, c := range t.CareTeam {
		if err := write(c.PatientID, c.UserID, c.Department, c.From, c.To); err != nil {
			return err
		}
	}
	for _, m := range t.Windows {
		if err := write(m.Vendor, m.Start, m.End, m.Weekdays, m.StartTime, m.EndTime); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// instantOf reads what tableRow.instant kept: RFC 3339, a local date and
// time, or a date (its start, or with end its end: the next day's start),
// in loc.
func instantOf(s string, loc *time.Location, end bool) time.Time {
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05", s, loc); err == nil {
		return t
	}
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d
}
