package detect

import (
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// A Snapshot is the reference tables of every facility as the rules use
// them, indexed for the lookups of each event, and never changed once
// built: a load builds a new one (Tables). The fields it adds to events
// (enrichment) are documented in docs/detect.md and listed in the anzen
// field map.

// Snapshot is the reference tables, ready for lookups. A nil *Snapshot
// has no tables.
type Snapshot struct {
	generation int64
	facilities map[int64]*facilityTables
}

// facilityTables are a facility's tables, by the keys events give: what
// is known of a patient (attributes, lists, care teams) is in one entry,
// so that an event's fields cost one lookup of its user and one of its
// patient.
type facilityTables struct {
	staff    map[string]*staffEntry
	patients map[string]*patientEntry
	hasCare  bool
	windows  map[string][]windowEntry // by vendor account, and by normalised company
}

type staffEntry struct {
	dept, family, address string // normalised
	patientID             string
	retired, expires      time.Time // the first instant no longer employed / valid; zero: none
	vendor                bool
	company               string // normalised
}

type patientEntry struct {
	dept, family, address string // normalised
	deptName              string // as loaded
	flags                 []any  // the names of the lists the patient is on
	care                  []careEntry
}

type careEntry struct {
	user, dept string // one of them; dept normalised
	from, to   time.Time
}

type windowEntry struct {
	start, end time.Time // a one-off window; zero for a weekly one
	days       [7]bool
	from, to   int // minutes after midnight, in loc
	loc        *time.Location
}

// buildSnapshot indexes tables (by facility and kind); dates without an
// offset are read in loc.
func buildSnapshot(gen int64, tables map[int64]map[string]*Table, loc *time.Location) *Snapshot {
	s := &Snapshot{generation: gen, facilities: make(map[int64]*facilityTables, len(tables))}
	for fac, kinds := range tables {
		ft := &facilityTables{staff: map[string]*staffEntry{}, patients: map[string]*patientEntry{},
			windows: map[string][]windowEntry{}}
		patient := func(id string) *patientEntry {
			p := ft.patients[id]
			if p == nil {
				p = &patientEntry{}
				ft.patients[id] = p
			}
			return p
		}
		if t := kinds[TableStaff]; t != nil {
			for _, m := range t.Staff {
				ft.staff[m.UserID] = &staffEntry{dept: normName(m.Department), family: normName(m.FamilyName),
					address: normAddress(m.Address), patientID: m.PatientID, retired: instantOf(m.EndDate, loc, true),
					expires: instantOf(m.ExpiryDate, loc, true), vendor: m.Vendor, company: normName(m.VendorCompany)}
			}
		}
		if t := kinds[TablePatients]; t != nil {
			for _, a := range t.Patients {
				p := patient(a.PatientID)
				p.dept, p.family, p.address, p.deptName = normName(a.Department), normName(a.FamilyName), normAddress(a.Address), a.Department
			}
		}
		if t := kinds[TableFlagged]; t != nil {
			for _, f := range t.Flagged {
				if p := patient(f.PatientID); !slices.Contains(p.flags, any(f.List)) {
					p.flags = append(p.flags, f.List)
				}
			}
		}
		if t := kinds[TableCareTeam]; t != nil {
			ft.hasCare = len(t.CareTeam) > 0
			for _, c := range t.CareTeam {
				p := patient(c.PatientID)
				p.care = append(p.care, careEntry{user: c.UserID, dept: normName(c.Department),
					from: instantOf(c.From, loc, false), to: instantOf(c.To, loc, true)})
			}
		}
		if t := kinds[TableMaintenance]; t != nil {
			for _, w := range t.Windows {
				e := windowEntry{start: instantOf(w.Start, loc, false), end: instantOf(w.End, loc, true), loc: loc}
				if w.Weekdays != "" {
					e.days, _ = parseWeekdays(w.Weekdays)
					e.from, _ = parseClock(w.StartTime)
					e.to, _ = parseClock(w.EndTime)
				}
				ft.windows[w.Vendor] = append(ft.windows[w.Vendor], e)
				if k := normName(w.Vendor); k != w.Vendor {
					ft.windows[k] = append(ft.windows[k], e)
				}
			}
		}
		s.facilities[fac] = ft
	}
	return s
}

// Generation is the tables' generation the snapshot was built from.
func (s *Snapshot) Generation() int64 {
	if s == nil {
		return 0
	}
	return s.generation
}

// PatientDepartment returns the ward or department of a patient of a
// facility, as the patient attributes give it.
func (s *Snapshot) PatientDepartment(facility int64, patient string) (string, bool) {
	if s == nil {
		return "", false
	}
	ft := s.facilities[facility]
	if ft == nil {
		return "", false
	}
	p := ft.patients[patient]
	if p == nil || p.deptName == "" {
		return "", false
	}
	return p.deptName, true
}

// The fields the snapshot adds to an access event; each has a short name
// too (fieldmaps/anzen.yml).
const (
	fieldPatientFlags  = "patient.flags"
	fieldPatientDept   = "patient.department"
	fieldOwnRecord     = "actor.own_record"
	fieldFamily        = "actor.family_of_patient"
	fieldStatus        = "actor.status"
	fieldVendor        = "actor.vendor"
	fieldVendorCompany = "actor.vendor_company"
	fieldInWindow      = "actor.in_maintenance_window"
	fieldCareRelation  = "care.relation"
)

// The statuses of actor.status and the relations of care.relation.
const (
	StatusActive  = "active"
	StatusRetired = "retired"
	StatusExpired = "expired"

	CareAssigned   = "assigned"   // the user is in the patient's care team
	CareDepartment = "department" // the user's department cares for the patient
	CareNone       = "none"
)

// eventKeys are what enrichment reads of an event.
type eventKeys struct {
	facility        int64
	actor, patient  string
	actorDepartment string // as the event says; the roster's wins
	at              time.Time
}

// field returns the enriched field name of the event k, if the tables
// give it. Empty tables cost a nil check.
func (s *Snapshot) field(k *eventKeys, name string) (any, bool) {
	if s == nil {
		return nil, false
	}
	ft := s.facilities[k.facility]
	if ft == nil {
		return nil, false
	}
	switch name {
	case fieldPatientFlags, "patient_flags":
		if p := ft.patient(k.patient); p != nil && len(p.flags) > 0 {
			return p.flags, true
		}
	case fieldPatientDept, "patient_department":
		if p := ft.patient(k.patient); p != nil && p.deptName != "" {
			return p.deptName, true
		}
	case fieldOwnRecord, "own_record":
		if staff := ft.staff[k.actor]; staff != nil && k.patient != "" {
			return staff.patientID == k.patient, true
		}
	case fieldFamily, "family_of_patient":
		staff := ft.staff[k.actor]
		if staff == nil || staff.family == "" || staff.address == "" {
			return nil, false
		}
		p := ft.patient(k.patient)
		if p == nil || p.family == "" || p.address == "" {
			return nil, false
		}
		return staff.patientID != k.patient && staff.family == p.family && staff.address == p.address, true
	case fieldStatus, "user_status":
		staff := ft.staff[k.actor]
		if staff == nil {
			return nil, false
		}
		switch {
		case !staff.retired.IsZero() && !k.at.Before(staff.retired):
			return StatusRetired, true
		case !staff.expires.IsZero() && !k.at.Before(staff.expires):
			return StatusExpired, true
		}
		return StatusActive, true
	case fieldVendor, "vendor":
		if staff := ft.staff[k.actor]; staff != nil {
			return staff.vendor, true
		}
	case fieldVendorCompany, "vendor_company":
		if staff := ft.staff[k.actor]; staff != nil && staff.vendor && staff.company != "" {
			return staff.company, true
		}
	case fieldInWindow, "in_maintenance_window":
		staff := ft.staff[k.actor]
		if staff == nil || !staff.vendor {
			return nil, false
		}
		return ft.inWindow(k.actor, staff.company, k.at), true
	case fieldCareRelation, "care_relation":
		if !ft.hasCare {
			return nil, false
		}
		return ft.relation(k)
	}
	return nil, false
}

// patient is what the tables know of a patient; nil for none.
func (ft *facilityTables) patient(id string) *patientEntry {
	if id == "" {
		return nil
	}
	return ft.patients[id]
}

// inWindow says whether a vendor's account (or its company) is inside
// one of its maintenance windows at t.
func (ft *facilityTables) inWindow(account, company string, t time.Time) bool {
	for _, key := range []string{account, company} {
		if key == "" {
			continue
		}
		for _, w := range ft.windows[key] {
			if w.contains(t) {
				return true
			}
		}
	}
	return false
}

func (w windowEntry) contains(t time.Time) bool {
	if !w.start.IsZero() {
		return !t.Before(w.start) && t.Before(w.end)
	}
	lt := t.In(w.loc)
	minute := lt.Hour()*60 + lt.Minute()
	day := int(lt.Weekday())
	if w.from < w.to {
		return w.days[day] && minute >= w.from && minute < w.to
	}
	// Past midnight: the evening of a listed day, or the morning after.
	return (w.days[day] && minute >= w.from) || (w.days[(day+6)%7] && minute < w.to)
}

// relation is the user's care relation to the event's patient, when the
// care teams name the patient: of a patient they do not name (an
// outpatient, say) nothing is known.
func (ft *facilityTables) relation(k *eventKeys) (any, bool) {
	p := ft.patient(k.patient)
	if p == nil || len(p.care) == 0 {
		return nil, false
	}
	dept := ""
	if staff := ft.staff[k.actor]; staff != nil && staff.dept != "" {
		dept = staff.dept
	} else {
		dept = normName(k.actorDepartment)
	}
	rel := CareNone
	for _, c := range p.care {
		if (!c.from.IsZero() && k.at.Before(c.from)) || (!c.to.IsZero() && !k.at.Before(c.to)) {
			continue
		}
		if c.user != "" && c.user == k.actor {
			return CareAssigned, true
		}
		if c.dept != "" && c.dept == dept {
			rel = CareDepartment
		}
	}
	if rel == CareNone && p.dept != "" && p.dept == dept {
		rel = CareDepartment
	}
	return rel, true
}

// normName normalises a name, department or company for comparison: NFKC
// (full-width letters and digits, half-width kana), no spaces of any
// width, lower case.
func normName(s string) string {
	if s == "" {
		return ""
	}
	s = norm.NFKC.String(s)
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

// addressMarks are the ways of writing an address's block and number
// that mean "-": 1丁目2番3号 is 1-2-3.
var addressMarks = strings.NewReplacer("丁目", "-", "番地", "-", "番", "-", "号", "", "‐", "-", "‑", "-", "–", "-",
	"—", "-", "―", "-", "−", "-", "の", "-")

// normAddress normalises an address for comparison: as normName, with
// block numbers written as digits and hyphens.
func normAddress(s string) string {
	s = normName(s)
	if s == "" {
		return ""
	}
	return strings.TrimRight(addressMarks.Replace(s), "-")
}
