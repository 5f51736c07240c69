package detect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
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
		"time":   at.UTC().Format(time.RFC3339),
		"source": "ehr-main",
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
	slices.SortStableFunc(h.events, func(a, b dayEvent) int { return a.at.Compare(b.at) })
	return h
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
	if precision < 0.9 {
		t.Errorf("precision %.2f, want at least 0.90", precision)
	}
}
