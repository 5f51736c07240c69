package detect

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/db"
)

// What each user did each day: the baselines' aggregates. A day is a
// Japan day (Asia/Tokyo, UTC+9 with no summer time, so a fixed offset);
// the audit log's times are UTC. Each day of a user in a facility is a row
// of detect_baseline_days, written with the baseline reader's cursor in
// one transaction and read back after a restart, so that no event is
// counted twice or lost.

// japanOffset is Japan's offset from UTC, in seconds.
const japanOffset = 9 * 3600

// japanDayHour returns the Japan day of t (days since 1970-01-01) and the
// hour of that day.
func japanDayHour(t time.Time) (int32, int) {
	sec := t.Unix() + japanOffset
	day := sec / 86400
	if sec < 0 && sec%86400 != 0 {
		day--
	}
	return int32(day), int((sec - day*86400) / 3600)
}

// japanDate returns the date of a Japan day, YYYY-MM-DD.
func japanDate(day int32) string {
	return time.Unix(int64(day)*86400, 0).UTC().Format(time.DateOnly)
}

// maxDayPatients is how many distinct patients of a user's day are
// counted exactly (by 64-bit hashes of their ids, 8 bytes each); beyond
// it the count stays at the cap and the day is marked saturated. No one
// opens that many records in a day without being far above any usual.
const maxDayPatients = 4096

// maxDaySeqs is how many of a day's events an alert lists (its first).
const maxDaySeqs = maxSeqs

// dayKey names a user's Japan day in a facility.
type dayKey struct {
	facility int64
	actor    string
	day      int32
}

// dayAgg is what a user did in a day.
type dayAgg struct {
	key                    dayKey
	profession, department string
	events, outside        int
	output                 int // prints and exports
	saturated              bool
	hours                  [24]int32
	patients               map[uint64]struct{}
	firstSeq, lastSeq      int64
	firstTime, lastTime    int64 // Unix milliseconds
	seqs                   []int64
	dirty                  bool
	// raised is, per metric, the value its alert was last written with
	// (0: not written by this process).
	raised [nMetrics]int
}

// value returns the day's value of a counted metric.
func (a *dayAgg) value(m metric) int {
	switch m {
	case metricPatients:
		return len(a.patients)
	case metricEvents:
		return a.events
	case metricOutput:
		return a.output
	case metricOutside:
		return a.outside
	}
	return 0
}

// hashID is FNV-1a of s, 64 bits.
func hashID(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// observe adds an event to the day. depts, when not nil, tells the
// department of a patient seen for the first time that day.
func (a *dayAgg) observe(e *audit.Event, hour int, depts PatientDepartments) {
	if a.events == 0 {
		a.firstSeq, a.firstTime = e.Seq, e.Time.UnixMilli()
	}
	a.events++
	a.hours[hour]++
	a.lastSeq = e.Seq
	if ms := e.Time.UnixMilli(); ms > a.lastTime {
		a.lastTime = ms
	}
	if len(a.seqs) < maxDaySeqs {
		a.seqs = append(a.seqs, e.Seq)
	}
	if e.Actor.Profession != "" {
		a.profession = e.Actor.Profession
	}
	if e.Actor.Department != "" {
		a.department = e.Actor.Department
	}
	switch e.Action {
	case "print", "export":
		a.output++
	}
	if e.Patient.ID != "" && !a.saturated {
		h := hashID(e.Patient.ID)
		if _, seen := a.patients[h]; !seen {
			if len(a.patients) >= maxDayPatients {
				a.saturated = true
			} else {
				a.patients[h] = struct{}{}
				if depts != nil && a.department != "" {
					if d, ok := depts.PatientDepartment(e.Facility, e.Patient.ID); ok && d != "" && d != a.department {
						a.outside++
					}
				}
			}
		}
	}
	a.dirty = true
}

const dayColumns = `profession, department, events, patients, saturated, outside, output, hours,
	first_seq, last_seq, first_time, last_time, seqs, patient_set`

// loadDay reads a user's day, or returns an empty one.
func loadDay(ctx context.Context, q db.Querier, k dayKey) (*dayAgg, error) {
	a := &dayAgg{key: k, patients: map[uint64]struct{}{}}
	var patients, saturated int
	var hours, seqs string
	var set []byte
	err := q.QueryRowContext(ctx, `SELECT `+dayColumns+` FROM detect_baseline_days WHERE facility = ? AND actor = ? AND day = ?`,
		k.facility, k.actor, k.day).Scan(&a.profession, &a.department, &a.events, &patients, &saturated, &a.outside, &a.output,
		&hours, &a.firstSeq, &a.lastSeq, &a.firstTime, &a.lastTime, &seqs, &set)
	if errors.Is(err, sql.ErrNoRows) {
		return a, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the day %s of %s: %w", japanDate(k.day), k.actor, err)
	}
	a.saturated = saturated != 0
	if err := parseHours(hours, &a.hours); err != nil {
		return nil, fmt.Errorf("the day %s of %s: %w", japanDate(k.day), k.actor, err)
	}
	if err := json.Unmarshal([]byte(seqs), &a.seqs); err != nil {
		return nil, fmt.Errorf("the day %s of %s: events: %w", japanDate(k.day), k.actor, err)
	}
	for i := 0; i+8 <= len(set); i += 8 {
		a.patients[binary.LittleEndian.Uint64(set[i:])] = struct{}{}
	}
	return a, nil
}

// save writes the day.
func (a *dayAgg) save(ctx context.Context, tx *db.Tx) error {
	set := make([]byte, 0, 8*len(a.patients))
	for h := range a.patients {
		set = binary.LittleEndian.AppendUint64(set, h)
	}
	seqs, _ := json.Marshal(a.seqs)
	saturated := 0
	if a.saturated {
		saturated = 1
	}
	k := a.key
	_, err := tx.ExecContext(ctx, `INSERT INTO detect_baseline_days (facility, actor, day, `+dayColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (facility, actor, day) DO UPDATE SET profession = excluded.profession, department = excluded.department,
		events = excluded.events, patients = excluded.patients, saturated = excluded.saturated, outside = excluded.outside,
		output = excluded.output, hours = excluded.hours, first_seq = excluded.first_seq, last_seq = excluded.last_seq,
		first_time = excluded.first_time, last_time = excluded.last_time, seqs = excluded.seqs, patient_set = excluded.patient_set`,
		k.facility, k.actor, k.day, a.profession, a.department, a.events, len(a.patients), saturated, a.outside, a.output,
		formatHours(&a.hours), a.firstSeq, a.lastSeq, a.firstTime, a.lastTime, string(seqs), set)
	if err != nil {
		return fmt.Errorf("write the day %s of %s: %w", japanDate(k.day), k.actor, err)
	}
	a.dirty = false
	return nil
}

// formatHours writes the 24 hourly counts, comma-separated.
func formatHours(h *[24]int32) string {
	b := make([]byte, 0, 72)
	for i, n := range h {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return string(b)
}

// parseHours reads what formatHours wrote.
func parseHours(s string, h *[24]int32) error {
	parts := strings.Split(s, ",")
	if len(parts) != 24 {
		return fmt.Errorf("hours: %d numbers, not 24", len(parts))
	}
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("hours: %q is not a count", p)
		}
		h[i] = int32(n)
	}
	return nil
}
