package detect_test

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/detect"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
	"github.com/anzen-health/anzen/internal/platform/i18n"
)

// A month of a small hospital's work, generated from a fixed seed: four
// ward nurses, three internists, three clerks, each on their own hours,
// with their own numbers of patients a day; then a last day ("today")
// with planted misuse.

var jst = time.FixedZone("JST", 9*3600)

// day0 is the first generated day, a Japan midnight.
var day0 = time.Date(2026, 11, 2, 0, 0, 0, 0, jst)

// wards are the patients' departments by the prefix of their ids.
var wards = map[string]string{"4A": "4A病棟", "5B": "5B病棟", "IM": "内科"}

// fakeDepts is the hospital's reference table of patients' departments.
type fakeDepts struct{}

func (fakeDepts) PatientDepartment(_ int64, patient string) (string, bool) {
	ward, _, ok := strings.Cut(patient, "-")
	d, known := wards[ward]
	return d, ok && known
}

type staff struct {
	id, profession, ward string
	patients             [2]int // a day, from–to
	hours                [2]int // Japan time, from–to (exclusive)
	prints               int    // a day, at most
}

var hospital = []staff{
	{"n-1", "nurse", "4A", [2]int{12, 20}, [2]int{8, 17}, 2},
	{"n-2", "nurse", "4A", [2]int{10, 18}, [2]int{8, 17}, 2},
	{"n-3", "nurse", "5B", [2]int{12, 22}, [2]int{8, 17}, 2},
	{"n-4", "nurse", "5B", [2]int{14, 20}, [2]int{8, 17}, 2},
	{"d-1", "doctor", "IM", [2]int{15, 25}, [2]int{9, 19}, 3},
	{"d-2", "doctor", "IM", [2]int{15, 25}, [2]int{9, 19}, 3},
	{"d-3", "doctor", "IM", [2]int{10, 20}, [2]int{9, 19}, 3},
	{"c-1", "clerk", "", [2]int{20, 30}, [2]int{8, 17}, 1},
	{"c-2", "clerk", "", [2]int{20, 30}, [2]int{8, 17}, 1},
	{"c-3", "clerk", "", [2]int{20, 30}, [2]int{8, 17}, 1},
}

func patientID(ward string, n int) string { return fmt.Sprintf("%s-P%03d", ward, n) }

func event(id, profession, dept, action, patient string, at time.Time) audit.Event {
	return audit.Event{Seq: -1, Time: at, Received: at, Facility: 1, Source: "ehr-main", Action: action,
		Actor:   audit.Actor{ID: id, Profession: profession, Department: dept},
		Patient: audit.Patient{ID: patient}, Outcome: audit.OutcomeSuccess}
}

// workDay is one ordinary day of the hospital.
func workDay(rng *rand.Rand, day int) []audit.Event {
	start := day0.AddDate(0, 0, day)
	var out []audit.Event
	for i, s := range hospital {
		if (day+i)%7 == 0 {
			continue // a day off
		}
		dept := wards[s.ward]
		if s.profession == "clerk" {
			dept = "医事課"
		}
		at := func() time.Time {
			h := s.hours[0] + rng.IntN(s.hours[1]-s.hours[0])
			return start.Add(time.Duration(h)*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
		}
		n := s.patients[0] + rng.IntN(s.patients[1]-s.patients[0]+1)
		var seen []string
		for _, p := range rng.Perm(80)[:n] {
			ward := s.ward
			if ward == "" {
				ward = []string{"4A", "5B", "IM"}[rng.IntN(3)]
			}
			seen = append(seen, patientID(ward, p))
			for range 1 + rng.IntN(3) {
				out = append(out, event(s.id, s.profession, dept, []string{"view", "view", "update"}[rng.IntN(3)], seen[len(seen)-1], at()))
			}
		}
		for range rng.IntN(s.prints + 1) {
			out = append(out, event(s.id, s.profession, dept, "print", seen[rng.IntN(len(seen))], at()))
		}
	}
	slices.SortStableFunc(out, func(a, b audit.Event) int { return a.Time.Compare(b.Time) })
	return out
}

// plantedDay is today: ordinary work, and n-1 opens 68 more patients (61
// of another ward), d-1 prints 30 records, c-1 works at 2 at night, a new
// nurse opens 60 patients on her first day, a new pharmacist (no peers)
// too.
func plantedDay(rng *rand.Rand, day int) []audit.Event {
	out := workDay(rng, day)
	start := day0.AddDate(0, 0, day)
	at := func(h, i int) time.Time { return start.Add(time.Duration(h)*time.Hour + time.Duration(i)*time.Second) }
	// Up to 84 patients in all, whatever her ordinary day held.
	ordinary, _ := dayCounts(out, "n-1")
	for i := range 61 {
		out = append(out, event("n-1", "nurse", "4A病棟", "view", patientID("5B", i), at(10+i%6, 100+i)))
	}
	for i := range 84 - 61 - ordinary[day] {
		out = append(out, event("n-1", "nurse", "4A病棟", "view", patientID("4A", 200+i), at(15, i)))
	}
	var seen []string // d-1 prints the records he opened today
	for _, e := range out {
		if e.Actor.ID == "d-1" {
			seen = append(seen, e.Patient.ID)
		}
	}
	for i := range 30 {
		out = append(out, event("d-1", "doctor", "内科", "print", seen[i%len(seen)], at(11+i%4, 200+i)))
	}
	for i := range 8 {
		out = append(out, event("c-1", "clerk", "医事課", "view", patientID("IM", i), at(2, i*60)))
	}
	for i := range 60 {
		out = append(out, event("n-9", "nurse", "4A病棟", "view", patientID("4A", i), at(9+i%8, 300+i)))
		out = append(out, event("ph-1", "pharmacist", "薬剤部", "view", patientID("IM", i), at(9+i%8, 300+i)))
	}
	slices.SortStableFunc(out, func(a, b audit.Event) int { return a.Time.Compare(b.Time) })
	return out
}

// month is the 29 ordinary days and today's, of a fixed seed.
func month() (history, today []audit.Event) {
	rng := rand.New(rand.NewPCG(5, 1))
	for day := range 29 {
		history = append(history, workDay(rng, day)...)
	}
	return history, plantedDay(rng, 29)
}

// dayCounts counts, from the generated events, a user's distinct patients
// and prints on each day.
func dayCounts(events []audit.Event, user string) (patients, prints map[int]int) {
	sets := map[int]map[string]bool{}
	prints = map[int]int{}
	for _, e := range events {
		if e.Actor.ID != user {
			continue
		}
		d := int(e.Time.In(jst).Sub(day0).Hours() / 24)
		if sets[d] == nil {
			sets[d] = map[string]bool{}
		}
		sets[d][e.Patient.ID] = true
		if e.Action == "print" {
			prints[d]++
		} else {
			prints[d] += 0 // an active day without prints counts as 0
		}
	}
	patients = map[int]int{}
	for d, s := range sets {
		patients[d] = len(s)
	}
	return patients, prints
}

// percentiles are the nearest-rank 10th and 90th percentiles of the
// values on days from–to.
func percentiles(byDay map[int]int, from, to int) (int, int) {
	var v []int
	for d := from; d < to; d++ {
		if n, ok := byDay[d]; ok {
			v = append(v, n)
		}
	}
	slices.Sort(v)
	rank := func(q float64) int { return v[int(math.Ceil(q*float64(len(v))))-1] }
	return rank(0.1), rank(0.9)
}

func newBaselines(t *testing.T, d *db.DB, l *audit.Log, clk clock.Clock) *detect.Baselines {
	t.Helper()
	b, err := detect.NewBaselines(d, l, detect.BaselineConfig{}, clk, discard, detect.WithPatientDepartments(fakeDepts{}),
		detect.WithBaselineNotify(detect.Notify{Webhooks: []string{"https://siem.hospital.example.jp/hook"}}))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func drainBaselines(t *testing.T, b *detect.Baselines) {
	t.Helper()
	for {
		n, err := b.Process(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func catalog(t *testing.T) *i18n.Catalog {
	t.Helper()
	cat := i18n.New()
	if err := cat.Add(detect.Locales()); err != nil {
		t.Fatal(err)
	}
	return cat
}

func TestBaselines_AMonthOfWorkRaisesOnlyThePlantedDaysAlertsWithTheirNumbers(t *testing.T) {
	history, today := month()
	// Restart in the middle of today: before 13:00 with one process,
	// after with another.
	noon := day0.AddDate(0, 0, 29).Add(13 * time.Hour)
	cut, _ := slices.BinarySearchFunc(today, noon, func(e audit.Event, t time.Time) int { return e.Time.Compare(t) })
	cat := catalog(t)
	dbtest.Each(t, parts, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFrozen(day0.AddDate(0, 0, 30).Add(-time.Minute))
		l := audit.New(d, clk)
		if _, err := l.Append(ctx, history); err != nil {
			t.Fatal(err)
		}
		b := newBaselines(t, d, l, clk)
		drainBaselines(t, b)
		// 29 ordinary days, the first two weeks judged by peers: nothing.
		if alerts, _ := detect.Alerts(ctx, d, 100); len(alerts) != 0 {
			for _, a := range alerts {
				t.Errorf("ordinary day: %s %v %s", a.RuleID, a.Group, a.Explanation.Render(cat, "en"))
			}
			t.FailNow()
		}
		if _, err := l.Append(ctx, today[:cut]); err != nil {
			t.Fatal(err)
		}
		drainBaselines(t, b)
		// By 13:00 n-1 has crossed her band: the alert is raised, and
		// updated as the day goes on rather than raised again.
		morning, err := detect.Alerts(ctx, d, 100)
		if err != nil {
			t.Fatal(err)
		}
		var first detect.Alert
		for _, a := range morning {
			if a.RuleID == "model:patients_per_day" && a.Group[0].Value == "n-1" {
				first = a
			}
		}
		if first.ID == 0 || first.Value >= 84 {
			t.Fatalf("by 13:00: %+v", first)
		}
		if _, err := l.Append(ctx, today[cut:]); err != nil {
			t.Fatal(err)
		}
		drainBaselines(t, newBaselines(t, d, l, clk)) // restarted
		alerts, err := detect.Alerts(ctx, d, 100)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]detect.Alert{}
		for _, a := range alerts {
			got[a.RuleID+" "+a.Group[0].Value] = a
		}
		want := []string{"model:outside_department_per_day n-1", "model:output_per_day d-1", "model:patients_per_day n-1",
			"model:patients_per_day n-9", "model:unusual_hours c-1"}
		slices.Sort(want)
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) || len(alerts) != len(want) {
			t.Fatalf("alerts %v, want %v", keys, want)
		}
		all := append(slices.Clone(history), today...)
		patients, _ := dayCounts(all, "n-1")
		lo, hi := percentiles(patients, 1, 29)
		checkText := func(key, ja, en string) {
			t.Helper()
			x := got[key].Explanation
			if r := x.Render(cat, "ja"); r != ja {
				t.Errorf("%s ja:\n got %s\nwant %s", key, r, ja)
			}
			if r := x.Render(cat, "en"); r != en {
				t.Errorf("%s en:\n got %s\nwant %s", key, r, en)
			}
		}
		checkText("model:patients_per_day n-1",
			fmt.Sprintf("この看護師は本日84人の患者の記録を開きました。通常は%d〜%d人です。そのうち61人は所属部署（4A病棟）以外の患者です。", lo, hi),
			fmt.Sprintf("This nurse opened 84 patients' records today; the usual is %d–%d; 61 are outside their department (4A病棟).", lo, hi))
		if a := got["model:patients_per_day n-1"]; patients[29] != 84 || a.Level.String() != "high" || a.Score < 3 ||
			a.ID != first.ID || a.Value != 84 {
			t.Errorf("n-1: %d patients, alert %d (morning %d) of %v, level %s, score %.2f", patients[29], a.ID, first.ID, a.Value, a.Level, a.Score)
		}
		checkText("model:outside_department_per_day n-1",
			"この看護師は本日、所属部署（4A病棟）以外の患者61人の記録を開きました。通常は0〜0人です。",
			"This nurse opened the records of 61 patients outside their department (4A病棟) today; the usual is 0–0.")
		_, dprints := dayCounts(all, "d-1")
		plo, phi := percentiles(dprints, 1, 29)
		if x := got["model:output_per_day d-1"].Explanation.Params; x.Value != dprints[29] || x.Lo != plo || x.Hi != phi || x.Basis != "user" {
			t.Errorf("d-1 prints: %+v, want %d of %d–%d", x, dprints[29], plo, phi)
		}
		checkText("model:unusual_hours c-1", "この事務職員は本日、普段は操作のない時間帯（2時台）に8件の操作をしました。",
			"This clerk performed 8 actions today at hours they are never active (02:00–02:59).")
		// The new nurse is judged by her four peers; the new pharmacist,
		// who has none, is not judged.
		if x := got["model:patients_per_day n-9"].Explanation.Params; x.Value != 60 || x.Basis != "peers" || x.Peers != 4 || x.Days != 0 {
			t.Errorf("n-9: %+v", x)
		}
		if r := got["model:patients_per_day n-9"].Explanation.Render(cat, "en"); !strings.Contains(r, "the 4 users of the same profession") {
			t.Errorf("n-9: %s", r)
		}
		// The restart neither counted twice nor lost: today's stored
		// day of n-1 is what was generated; and each alert was
		// notified once.
		var events, stored int
		for _, e := range today {
			if e.Actor.ID == "n-1" {
				events++
			}
		}
		var storedPatients int
		if err := d.QueryRowContext(ctx, `SELECT events, patients FROM detect_baseline_days WHERE actor = 'n-1' AND day = ?`,
			(day0.AddDate(0, 0, 29).Unix()+9*3600)/86400).Scan(&stored, &storedPatients); err != nil {
			t.Fatal(err)
		}
		if stored != events || storedPatients != 84 {
			t.Errorf("n-1 today: %d events, %d patients stored; %d events, 84 patients generated", stored, storedPatients, events)
		}
		var notes int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM detect_notifications`).Scan(&notes); err != nil || notes != len(want) {
			t.Errorf("%d notifications (%v), want %d", notes, err, len(want))
		}
	})
}
