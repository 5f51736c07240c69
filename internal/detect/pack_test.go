package detect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/detect/sigma"
)

// The built-in medical pack is run over a generated day of a hospital's
// EHR traffic (300 staff in shifts, 2,000 patients, typing mistakes at
// login) with misuse planted in it, and must find every planted case and
// little else.

// The planted cases, by the rule that must find them.
var plantedRules = map[string]string{
	"night-clerk":     "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a01",
	"break-glass":     "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a02",
	"mass-print":      "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a04",
	"many-patients":   "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a06",
	"guessed":         "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a10",
	"spraying":        "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a12",
	"break-glass-2nd": "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0a02",
	// The cases the reference tables tell (hospitalTables).
	"vip":             "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0b01",
	"own-record":      "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0b02",
	"family":          "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0b03",
	"retired":         "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0b04",
	"expired":         "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0b04",
	"outside-dept":    "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0b05",
	"vendor-at-night": "5b0c3f2e-6f5a-4d0e-9b1a-2a7f1d8c0b06",
}

type dayEvent struct {
	at    time.Time
	json  map[string]any
	label string // the planted case, "" for normal work
}

type hospitalDay struct {
	rng    *rand.Rand
	day    time.Time // midnight JST, in UTC
	events []dayEvent
}

var jst = time.FixedZone("JST", 9*3600)

func (h *hospitalDay) add(at time.Time, user, profession, dept, action, patient, outcome, addr, label string) {
	ev := map[string]any{
		"facility": 1,
		"time":     at.UTC().Format(time.RFC3339),
		"source":   "ehr-main",
		"actor": map[string]any{"id": user, "profession": profession, "department": dept,
			"terminal": "T-" + dept, "address": addr},
		"action":  action,
		"outcome": outcome,
	}
	if patient != "" {
		ev["patient"] = map[string]any{"id": patient}
	}
	h.events = append(h.events, dayEvent{at: at, json: ev, label: label})
}

// shift adds a working shift: login (sometimes after a typing mistake),
// record views and a few prints spread over the hours, logout.
func (h *hospitalDay) shift(user, profession, dept string, startHour, hours, views, prints int) {
	start := h.day.Add(time.Duration(startHour)*time.Hour + time.Duration(h.rng.IntN(20))*time.Minute)
	addr := fmt.Sprintf("10.1.%d.%d", h.rng.IntN(20), 10+h.rng.IntN(200))
	if h.rng.IntN(20) == 0 {
		for i := range 1 + h.rng.IntN(2) {
			h.add(start.Add(time.Duration(i)*10*time.Second), user, profession, dept, "login_failed", "", "failure", addr, "")
		}
		start = start.Add(time.Minute)
	}
	h.add(start, user, profession, dept, "login", "", "success", addr, "")
	span := time.Duration(hours) * time.Hour
	for range views {
		at := start.Add(time.Duration(h.rng.Int64N(int64(span))))
		h.add(at, user, profession, dept, "view", fmt.Sprintf("P%05d", h.rng.IntN(2000)), "success", addr, "")
	}
	for range prints {
		at := start.Add(time.Duration(h.rng.Int64N(int64(span))))
		h.add(at, user, profession, dept, "print", fmt.Sprintf("P%05d", h.rng.IntN(2000)), "success", addr, "")
	}
	h.add(start.Add(span), user, profession, dept, "logout", "", "success", addr, "")
}

func generateDay(seed uint64) *hospitalDay {
	h := &hospitalDay{rng: rand.New(rand.NewPCG(seed, 1)), day: time.Date(2026, 12, 1, 0, 0, 0, 0, jst)}
	staff := []struct {
		profession, dept string
		n, views         int
	}{
		{"doctor", "internal", 60, 45}, {"nurse", "ward", 150, 35}, {"clerk", "office", 40, 25},
		{"pharmacist", "pharmacy", 20, 70}, {"technician", "radiology", 30, 30},
	}
	for _, s := range staff {
		for i := range s.n {
			user := fmt.Sprintf("%s-%03d", s.profession, i)
			start, hours := 8, 9
			if s.profession == "nurse" { // three shifts
				start, hours = []int{0, 8, 16}[i%3], 8
			}
			h.shift(user, s.profession, s.dept, start, hours, s.views/2+h.rng.IntN(s.views), h.rng.IntN(4))
		}
	}
	at := func(hour, minute int) time.Time {
		return h.day.Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
	}
	// A clerk opens three records late at night.
	for i := range 3 {
		h.add(at(23, 10+i*7), "clerk-007", "clerk", "office", "view", fmt.Sprintf("P%05d", 100+i), "success", "10.1.3.7", "night-clerk")
	}
	// Two doctors break the glass.
	h.add(at(3, 12), "doctor-011", "doctor", "internal", "emergency_access", "P01234", "success", "10.1.9.11", "break-glass")
	h.add(at(14, 40), "doctor-042", "doctor", "internal", "emergency_access", "P00077", "success", "10.1.9.42", "break-glass-2nd")
	// A clerk prints 60 records within 40 minutes.
	for i := range 60 {
		h.add(at(15, 0).Add(time.Duration(i)*40*time.Second), "clerk-021", "clerk", "office", "print",
			fmt.Sprintf("P%05d", 500+i), "success", "10.1.3.21", "mass-print")
	}
	// A technician browses 150 patients in three hours.
	for i := range 150 {
		h.add(at(10, 0).Add(time.Duration(i)*72*time.Second), "technician-005", "technician", "radiology", "view",
			fmt.Sprintf("P%05d", 1000+i), "success", "10.1.4.5", "many-patients")
	}
	// A nurse's password is guessed: seven failures, then a login.
	for i := range 7 {
		h.add(at(2, 0).Add(time.Duration(i)*20*time.Second), "nurse-120", "nurse", "ward", "login_failed", "", "failure", "198.51.100.4", "guessed")
	}
	h.add(at(2, 3), "nurse-120", "nurse", "ward", "login", "", "success", "198.51.100.4", "guessed")
	// One address tries 25 accounts within five minutes.
	for i := range 25 {
		h.add(at(4, 0).Add(time.Duration(i)*12*time.Second), fmt.Sprintf("doctor-%03d", i), "", "", "login_failed", "",
			"failure", "203.0.113.50", "spraying")
	}
	// Cases the reference tables tell (hospitalTables): a nurse opens a
	// VIP's record, another her own, a doctor his wife's; a retired
	// clerk's and an expired doctor's accounts are used; a surgeon opens
	// an internal patient he does not care for; a vendor works at night
	// (and, unremarked, inside its window in the afternoon).
	h.add(at(11, 5), "nurse-010", "nurse", "ward", "view", "P09001", "success", "10.1.2.10", "vip")
	h.add(at(12, 30), "nurse-013", "nurse", "ward", "view", "P09002", "success", "10.1.2.13", "own-record")
	h.add(at(13, 15), "doctor-005", "doctor", "internal", "view", "P09003", "success", "10.1.9.5", "family")
	h.add(at(9, 0), "clerk-900", "clerk", "office", "login", "", "success", "10.1.3.90", "retired")
	h.add(at(9, 4), "clerk-900", "clerk", "office", "view", "P00010", "success", "10.1.3.90", "retired")
	h.add(at(10, 20), "doctor-901", "doctor", "internal", "login", "", "success", "10.1.9.91", "expired")
	h.add(at(16, 45), "doctor-902", "doctor", "surgery", "view", "P00020", "success", "10.1.9.92", "outside-dept")
	h.add(at(14, 0), "vendor-01", "", "", "login", "", "success", "192.0.2.10", "")
	h.add(at(14, 50), "vendor-01", "", "", "logout", "", "success", "192.0.2.10", "")
	h.add(at(2, 30), "vendor-01", "", "", "login", "", "success", "192.0.2.10", "vendor-at-night")
	slices.SortStableFunc(h.events, func(a, b dayEvent) int { return a.at.Compare(b.at) })
	return h
}

// hospitalTables are the generated hospital's reference tables as CSV:
// every user of the day in the roster (their own addresses), the planted
// ones with what makes them stand out, patients with addresses of their
// own, a VIP list, care teams giving every department of the day every
// patient (surgery none), and a vendor's weekly window.
func hospitalTables(t testing.TB) map[int64]map[string]*Table {
	var staff, patients, care strings.Builder
	staff.WriteString("user_id,family_name,address,department,patient_id,end_date,expiry_date,vendor,vendor_company\n")
	for _, s := range []struct {
		prof, dept string
		n          int
	}{{"doctor", "internal", 60}, {"nurse", "ward", 150}, {"clerk", "office", 40}, {"pharmacist", "pharmacy", 20}, {"technician", "radiology", 30}} {
		for i := range s.n {
			user := fmt.Sprintf("%s-%03d", s.prof, i)
			family, patient := "職員"+user, ""
			switch user {
			case "doctor-005":
				family = "佐藤"
			case "nurse-013":
				patient = "P09002"
			}
			fmt.Fprintf(&staff, "%s,%s,東京都千代田区%d丁目%d番,%s,%s,,,,\n", user, family, 1+i%9, i, s.dept, patient)
		}
	}
	staff.WriteString("clerk-900,鈴木,東京都港区1-1,office,,2026-11-30,,,\n")
	staff.WriteString("doctor-901,高橋,東京都港区2-2,internal,,,2026-11-15,,\n")
	staff.WriteString("doctor-902,田中,東京都港区3-3,surgery,,,,,\n")
	staff.WriteString("vendor-01,保守,大阪府大阪市1-1,,,,,1,ACME メディカル\n")
	patients.WriteString("patient_id,family_name,address,department\n")
	for i := range 2000 {
		fmt.Fprintf(&patients, "P%05d,患者%d,埼玉県さいたま市%d-%d,internal\n", i, i, i%50, i)
	}
	// Doctor-005's wife, her address written another way.
	patients.WriteString("P09003,佐藤,東京都千代田区　６－５,internal\n")
	care.WriteString("patient_id,user_id,department,from,to\n")
	for _, id := range []string{"P09001", "P09002", "P09003"} {
		fmt.Fprintf(&care, "%s,,ward,,\n%s,,internal,,\n", id, id)
	}
	for i := range 2000 {
		for _, dept := range []string{"ward", "office", "pharmacy", "radiology"} {
			fmt.Fprintf(&care, "P%05d,,%s,2026-11-01,\n", i, dept)
		}
	}
	files := map[string]string{TableStaff: staff.String(), TablePatients: patients.String(), TableCareTeam: care.String(),
		TableFlagged:     "list,patient_id,note\nVIP,P09001,著名人\n",
		TableMaintenance: "vendor,weekdays,start_time,end_time\nACME メディカル,火,13:00,15:00\n"}
	tables := map[string]*Table{}
	for kind, text := range files {
		tb, _, err := ParseTable(kind, strings.NewReader(text), "")
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		tables[kind] = tb
	}
	return map[int64]map[string]*Table{1: tables}
}

func TestMedicalPack_FindsPlantedMisuseInADayOfTraffic(t *testing.T) {
	day := generateDay(7)
	var jsonl bytes.Buffer
	for _, e := range day.events {
		b, _ := json.Marshal(e.json)
		jsonl.Write(append(b, '\n'))
	}
	files, err := LoadRuleFiles([]string{"builtin:medical"})
	if err != nil {
		t.Fatal(err)
	}
	fields, err := sigma.FieldMapNamed("anzen")
	if err != nil {
		t.Fatal(err)
	}
	hunt, err := NewHunt(files, fields)
	if err != nil {
		t.Fatal(err)
	}
	hunt.tables = buildSnapshot(1, hospitalTables(t), jst)
	var matches []HuntMatch
	st, err := hunt.Run(context.Background(), &jsonl, func(m HuntMatch) error { matches = append(matches, m); return nil }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != int64(len(day.events)) || st.BadLines != 0 {
		t.Fatalf("read %+v of %d events", st, len(day.events))
	}
	labelOf := func(line int64) string { return day.events[line-1].label }
	found := map[string]bool{}
	truePositives := 0
	for _, m := range matches {
		lines := m.Lines
		if len(lines) == 0 {
			lines = []int64{m.Line}
		}
		tp := false
		for _, l := range lines {
			if label := labelOf(l); label != "" && plantedRules[label] == m.RuleID {
				found[label], tp = true, true
			}
		}
		if tp {
			truePositives++
		} else {
			t.Logf("false positive: %s at line %d (%v)", m.Title, m.Line, m.Group)
		}
	}
	precision := float64(truePositives) / float64(max(len(matches), 1))
	recall := float64(len(found)) / float64(len(plantedRules))
	t.Logf("%d events, %d alerts: precision %.2f, recall %.2f (%d of %d planted cases)",
		len(day.events), len(matches), precision, recall, len(found), len(plantedRules))
	for label := range plantedRules {
		if !found[label] {
			t.Errorf("the planted case %s was not found", label)
		}
	}
	if precision < 0.95 || recall < 0.95 {
		t.Errorf("precision %.2f, recall %.2f: want both at least 0.95", precision, recall)
	}
}
