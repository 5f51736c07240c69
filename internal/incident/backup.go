package incident

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Backup attestations (guideline 6.10 C-6: backups in several
// generations, by several methods, with copies kept offline or where they
// cannot be written): someone who checked a backup attests, per system,
// that generation N was taken at T by method M, whether the copy is
// offline or immutable, and when a restore from it was last tested and
// with what result. From the attestations anzen shows each system's
// status: how old its newest offline copy is and how long ago a restore
// was tested.

// The ages past which a system's backup status warns. A week without a
// fresh offline copy means a ransomware attack could cost a week of
// records (the attacks on Handa Hospital and Osaka General Medical Center
// encrypted the online backups too); a restore not tried for a year may
// no longer work.
const (
	MaxOfflineAge     = 7 * 24 * time.Hour
	MaxRestoreTestAge = 365 * 24 * time.Hour
)

// BackupMethods are the methods a backup may be taken by.
var BackupMethods = []string{"disk", "tape", "cloud", "optical", "other"}

// RestoreResults are the results of a restore test ("" for none).
var RestoreResults = []string{"ok", "partial", "failed"}

// ActionBackupAttest is the audit log's action for an attestation.
const ActionBackupAttest = "incident.backup.attest"

const maxBackupsRead = 500

// Backup is one attestation of one backup generation of one system.
type Backup struct {
	ID              int64
	Facility        int64
	System          string
	Generation      int64
	TakenAt         time.Time
	Method          string
	Offline         bool
	Immutable       bool
	RestoreTestedAt time.Time // zero: no restore test attested
	RestoreResult   string
	Note            string
	AttestedBy      string
	Created         time.Time
}

func (b *Backup) check(now time.Time) error {
	b.System, b.Note, b.Method = strings.TrimSpace(b.System), strings.TrimSpace(b.Note), strings.TrimSpace(b.Method)
	switch {
	case b.System == "" || !prepCheckText(b.System, prepMaxName):
		return prepErr("system", "incident.prep.error.name", "Max", prepMaxName)
	case b.Generation < 1 || b.Generation > 10000:
		return prepErr("generation", "incident.prep.error.generation")
	case b.TakenAt.IsZero() || b.TakenAt.After(now.Add(time.Hour)):
		return prepErr("taken_at", "incident.prep.error.date")
	case !slices.Contains(BackupMethods, b.Method):
		return prepErr("method", "incident.prep.error.method")
	case b.RestoreTestedAt.After(now.Add(time.Hour)):
		return prepErr("restore_tested_at", "incident.prep.error.date")
	case b.RestoreTestedAt.IsZero() != (b.RestoreResult == "") || (b.RestoreResult != "" && !slices.Contains(RestoreResults, b.RestoreResult)):
		return prepErr("restore_result", "incident.prep.error.restore")
	case !prepCheckText(b.Note, prepMaxTitle*5):
		return prepErr("note", "incident.prep.error.text", "Max", prepMaxTitle*5)
	}
	return nil
}

// AttestBackup writes the attestation b in facility, recorded in the
// audit log.
func AttestBackup(ctx context.Context, d *db.DB, rec selfaudit.Recorder, by Actor, facility int64, b Backup, now time.Time) (Backup, error) {
	if err := b.check(now); err != nil {
		return b, err
	}
	b.Facility, b.AttestedBy, b.Created = facility, by.Login, now
	err := d.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO incident_backups (facility, system, generation, taken_at, method, offline, immutable,
			restore_tested_at, restore_result, note, attested_by, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			facility, b.System, b.Generation, b.TakenAt.UnixMilli(), b.Method, prepInt(b.Offline), prepInt(b.Immutable), db.Millis(b.RestoreTestedAt),
			b.RestoreResult, b.Note, by.Login, now.UnixMilli()).Scan(&b.ID); err != nil {
			return fmt.Errorf("write a backup attestation: %w", err)
		}
		detail := map[string]string{"system": b.System, "generation": strconv.FormatInt(b.Generation, 10), "method": b.Method,
			"offline": strconv.FormatBool(b.Offline), "immutable": strconv.FormatBool(b.Immutable)}
		if b.RestoreResult != "" {
			detail["restore_result"] = b.RestoreResult
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: ActionBackupAttest, Target: "backup:" + strconv.FormatInt(b.ID, 10), Outcome: selfaudit.Success,
			ClientAddr: by.Client, Detail: detail})
	})
	return b, err
}

// Backups returns the attestations of the facilities given (all: every
// facility), newest backup first.
func Backups(ctx context.Context, q db.Querier, all bool, facilities []int64) ([]Backup, error) {
	where, args := prepFacilityScope(all, facilities)
	rows, err := q.QueryContext(ctx, `SELECT id, facility, system, generation, taken_at, method, offline, immutable, restore_tested_at,
		restore_result, note, attested_by, created FROM incident_backups WHERE `+where+` ORDER BY taken_at DESC, id DESC LIMIT ?`,
		append(args, maxBackupsRead)...)
	if err != nil {
		return nil, fmt.Errorf("read backup attestations: %w", err)
	}
	defer rows.Close()
	var out []Backup
	for rows.Next() {
		var b Backup
		var taken, tested, created int64
		var offline, immutable int
		if err := rows.Scan(&b.ID, &b.Facility, &b.System, &b.Generation, &taken, &b.Method, &offline, &immutable, &tested,
			&b.RestoreResult, &b.Note, &b.AttestedBy, &created); err != nil {
			return nil, err
		}
		b.Offline, b.Immutable = offline != 0, immutable != 0
		b.TakenAt, b.RestoreTestedAt, b.Created = db.Time(taken), db.Time(tested), db.Time(created)
		out = append(out, b)
	}
	return out, rows.Err()
}

// prepFacilityScope is the WHERE clause of a query of the facilities given.
func prepFacilityScope(all bool, ids []int64) (string, []any) {
	if all {
		return "1 = 1", nil
	}
	if len(ids) == 0 {
		return "1 = 0", nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "facility IN (?" + strings.Repeat(", ?", len(ids)-1) + ")", args
}

// Levels of a status, as the dashboard names them.
const (
	LevelOK   = "ok"
	LevelWarn = "warn"
	LevelBad  = "bad"
)

// BackupStatus is the state of one system's backups.
type BackupStatus struct {
	Facility        int64
	System          string
	Latest          time.Time // newest backup of any kind
	LatestOffline   time.Time // newest offline or immutable copy; zero: none attested
	LastRestoreTest time.Time
	RestoreResult   string
	Generations     int      // distinct generations attested
	Methods         []string // distinct methods attested
	Offline         string   // level of the offline copy's age
	Restore         string   // level of the restore test
}

// Level is the worse of the two levels.
func (s *BackupStatus) Level() string {
	if s.Offline == LevelBad || s.Restore == LevelBad {
		return LevelBad
	}
	if s.Offline == LevelWarn || s.Restore == LevelWarn {
		return LevelWarn
	}
	return LevelOK
}

// OfflineAgeDays is the age of the newest offline copy in whole days at
// now; -1 when there is none.
func (s *BackupStatus) OfflineAgeDays(now time.Time) int {
	if s.LatestOffline.IsZero() {
		return -1
	}
	return int(now.Sub(s.LatestOffline) / (24 * time.Hour))
}

// BackupStatuses sums attestations up per facility and system at now,
// ordered by facility and system: no offline copy, or no restore test, or
// a failed last restore is bad; an offline copy older than MaxOfflineAge,
// or a restore test older than MaxRestoreTestAge or only partly
// successful, warns.
func BackupStatuses(list []Backup, now time.Time) []BackupStatus {
	type key struct {
		f int64
		s string
	}
	byKey := map[key]*BackupStatus{}
	gens := map[key]map[int64]bool{}
	var keys []key
	for _, b := range list {
		k := key{b.Facility, b.System}
		st := byKey[k]
		if st == nil {
			st = &BackupStatus{Facility: b.Facility, System: b.System}
			byKey[k], gens[k] = st, map[int64]bool{}
			keys = append(keys, k)
		}
		gens[k][b.Generation] = true
		if !slices.Contains(st.Methods, b.Method) {
			st.Methods = append(st.Methods, b.Method)
		}
		if b.TakenAt.After(st.Latest) {
			st.Latest = b.TakenAt
		}
		if (b.Offline || b.Immutable) && b.TakenAt.After(st.LatestOffline) {
			st.LatestOffline = b.TakenAt
		}
		if !b.RestoreTestedAt.IsZero() && b.RestoreTestedAt.After(st.LastRestoreTest) {
			st.LastRestoreTest, st.RestoreResult = b.RestoreTestedAt, b.RestoreResult
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.f != b.f {
			return int(a.f - b.f)
		}
		return strings.Compare(a.s, b.s)
	})
	out := make([]BackupStatus, 0, len(keys))
	for _, k := range keys {
		st := byKey[k]
		st.Generations = len(gens[k])
		slices.Sort(st.Methods)
		switch {
		case st.LatestOffline.IsZero():
			st.Offline = LevelBad
		case now.Sub(st.LatestOffline) > MaxOfflineAge:
			st.Offline = LevelWarn
		default:
			st.Offline = LevelOK
		}
		switch {
		case st.LastRestoreTest.IsZero() || st.RestoreResult == "failed":
			st.Restore = LevelBad
		case now.Sub(st.LastRestoreTest) > MaxRestoreTestAge || st.RestoreResult == "partial":
			st.Restore = LevelWarn
		default:
			st.Restore = LevelOK
		}
		out = append(out, *st)
	}
	return out
}

// prepInt stores a flag as the schema's INTEGER.
func prepInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
