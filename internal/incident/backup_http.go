package incident

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The backup attestations' page (/incident/backups: each system's status
// and the attestations, with the form that adds one), API
// (/api/v1/incident/backups) and dashboard card.

func (h *handlers) registerBackups() {
	read, prep := web.Perm(PermRead), web.Perm(PermPrepare)
	h.srv.Handle(http.MethodGet, "/incident/backups", read, h.backupsPage)
	h.srv.Handle(http.MethodPost, "/incident/backups", prep, h.backupPost)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/backups", read, h.apiBackups)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/backups", prep, h.apiBackupCreate)
}

// BackupNewJSON is the body of POST /api/v1/incident/backups.
type BackupNewJSON struct {
	System          string     `json:"system"`
	Generation      int64      `json:"generation"`
	TakenAt         time.Time  `json:"taken_at"`
	Method          string     `json:"method"`
	Offline         bool       `json:"offline"`
	Immutable       bool       `json:"immutable"`
	RestoreTestedAt *time.Time `json:"restore_tested_at,omitempty"`
	RestoreResult   string     `json:"restore_result,omitempty"`
	Note            string     `json:"note,omitempty"`
}

// BackupJSON is an attestation in the JSON API.
type BackupJSON struct {
	ID              int64      `json:"id,omitempty"`
	Facility        int64      `json:"facility,omitempty"`
	System          string     `json:"system"`
	Generation      int64      `json:"generation"`
	TakenAt         time.Time  `json:"taken_at"`
	Method          string     `json:"method"`
	Offline         bool       `json:"offline"`
	Immutable       bool       `json:"immutable"`
	RestoreTestedAt *time.Time `json:"restore_tested_at,omitempty"`
	RestoreResult   string     `json:"restore_result,omitempty"`
	Note            string     `json:"note,omitempty"`
	AttestedBy      string     `json:"attested_by,omitempty"`
	Created         *time.Time `json:"created,omitempty"`
}

// BackupStatusJSON is a system's backup status in the JSON API.
type BackupStatusJSON struct {
	Facility        int64      `json:"facility"`
	System          string     `json:"system"`
	Latest          time.Time  `json:"latest"`
	LatestOffline   *time.Time `json:"latest_offline,omitempty"`
	LastRestoreTest *time.Time `json:"last_restore_test,omitempty"`
	RestoreResult   string     `json:"restore_result,omitempty"`
	Generations     int        `json:"generations"`
	Methods         []string   `json:"methods"`
	Offline         string     `json:"offline"`
	Restore         string     `json:"restore"`
	Level           string     `json:"level"`
}

func backupJSON(b Backup) BackupJSON {
	j := BackupJSON{ID: b.ID, Facility: b.Facility, System: b.System, Generation: b.Generation, TakenAt: b.TakenAt, Method: b.Method,
		Offline: b.Offline, Immutable: b.Immutable, RestoreResult: b.RestoreResult, Note: b.Note, AttestedBy: b.AttestedBy}
	if !b.RestoreTestedAt.IsZero() {
		t := b.RestoreTestedAt
		j.RestoreTestedAt = &t
	}
	if !b.Created.IsZero() {
		t := b.Created
		j.Created = &t
	}
	return j
}

func statusJSON(s BackupStatus) BackupStatusJSON {
	j := BackupStatusJSON{Facility: s.Facility, System: s.System, Latest: s.Latest, RestoreResult: s.RestoreResult,
		Generations: s.Generations, Methods: s.Methods, Offline: s.Offline, Restore: s.Restore, Level: s.Level()}
	if !s.LatestOffline.IsZero() {
		t := s.LatestOffline
		j.LatestOffline = &t
	}
	if !s.LastRestoreTest.IsZero() {
		t := s.LastRestoreTest
		j.LastRestoreTest = &t
	}
	return j
}

func (h *handlers) apiBackups(w http.ResponseWriter, r *http.Request) {
	f, ok := h.apiFacility(w, r, PermRead)
	if !ok {
		return
	}
	list, err := Backups(r.Context(), h.cfg.DB, false, []int64{f})
	if h.prepProblem(w, r, err) {
		return
	}
	out := struct {
		Systems      []BackupStatusJSON `json:"systems"`
		Attestations []BackupJSON       `json:"attestations"`
	}{[]BackupStatusJSON{}, []BackupJSON{}}
	for _, s := range BackupStatuses(list, h.cfg.Clock.Now()) {
		out.Systems = append(out.Systems, statusJSON(s))
	}
	for _, b := range list {
		out.Attestations = append(out.Attestations, backupJSON(b))
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiBackupCreate(w http.ResponseWriter, r *http.Request) {
	var body BackupNewJSON
	if err := web.DecodeJSON(r, &body); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	f, ok := h.apiFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	b := Backup{System: body.System, Generation: body.Generation, TakenAt: body.TakenAt.UTC(), Method: body.Method,
		Offline: body.Offline, Immutable: body.Immutable, RestoreResult: body.RestoreResult, Note: body.Note}
	if body.RestoreTestedAt != nil {
		b.RestoreTestedAt = body.RestoreTestedAt.UTC()
	}
	b, err := AttestBackup(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, b, h.cfg.Clock.Now())
	if h.prepProblem(w, r, err) {
		return
	}
	w.Header().Set("Location", "/api/v1/incident/backups/"+strconv.FormatInt(b.ID, 10))
	web.JSON(w, http.StatusCreated, backupJSON(b))
}

// backupStatusView is a system's status as the page shows it.
type backupStatusView struct {
	BackupStatus
	OfflineDays int
	Level       string
}

// backupsView is what templates/backups.html sees.
type backupsView struct {
	Facility     int64
	Query        string
	Systems      []backupStatusView
	Attestations []Backup
	Methods      []string
	Results      []string
	CanEdit      bool
	Error        string
	Form         map[string]string
	OfflineDays  int // MaxOfflineAge in days
	RestoreDays  int // MaxRestoreTestAge in days
}

func (h *handlers) backupsPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermRead)
	if !ok {
		return
	}
	h.renderBackups(w, r, http.StatusOK, f, "", map[string]string{"generation": "1", "method": "disk",
		"taken_at": h.cfg.Clock.Now().In(h.srv.Location()).Format("2006-01-02T15:04")})
}

func (h *handlers) renderBackups(w http.ResponseWriter, r *http.Request, status int, f int64, msg string, form map[string]string) {
	list, err := Backups(r.Context(), h.cfg.DB, false, []int64{f})
	if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	now := h.cfg.Clock.Now()
	v := &backupsView{Facility: f, Query: prepFacilityQuery(f), Attestations: list, Methods: BackupMethods, Results: RestoreResults,
		CanEdit: web.PrincipalOf(r).CanIn(PermPrepare, f), Error: msg, Form: form,
		OfflineDays: int(MaxOfflineAge / (24 * time.Hour)), RestoreDays: int(MaxRestoreTestAge / (24 * time.Hour))}
	for _, s := range BackupStatuses(list, now) {
		v.Systems = append(v.Systems, backupStatusView{BackupStatus: s, OfflineDays: s.OfflineAgeDays(now), Level: s.Level()})
	}
	h.srv.Render(w, r, status, "incident/backups", v)
}

// backupPost adds an attestation from the form; times are local
// (datetime-local), a restore test's a date.
func (h *handlers) backupPost(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFacility(w, r, PermPrepare)
	if !ok {
		return
	}
	form := map[string]string{}
	for _, k := range []string{"system", "generation", "taken_at", "method", "offline", "immutable", "restore_tested_on",
		"restore_result", "note"} {
		form[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	loc := h.srv.Location()
	b := Backup{System: form["system"], Method: form["method"], Offline: form["offline"] != "", Immutable: form["immutable"] != "",
		RestoreResult: form["restore_result"], Note: form["note"]}
	var err error
	if b.Generation, err = strconv.ParseInt(form["generation"], 10, 64); err != nil {
		err = prepErr("generation", "incident.prep.error.generation")
	} else if b.TakenAt, err = time.ParseInLocation("2006-01-02T15:04", form["taken_at"], loc); err != nil {
		err = prepErr("taken_at", "incident.prep.error.date")
	} else if s := form["restore_tested_on"]; s != "" {
		if b.RestoreTestedAt, err = time.ParseInLocation(time.DateOnly, s, loc); err != nil {
			err = prepErr("restore_tested_on", "incident.prep.error.date")
		}
	}
	if err == nil {
		b.TakenAt, b.RestoreTestedAt = b.TakenAt.UTC(), b.RestoreTestedAt.UTC()
		_, err = AttestBackup(r.Context(), h.cfg.DB, h.cfg.Recorder, prepActor(r), f, b, h.cfg.Clock.Now())
	}
	if msg := h.prepMessage(r, err); msg != "" {
		h.renderBackups(w, r, http.StatusUnprocessableEntity, f, msg, form)
		return
	} else if err != nil {
		h.prepPageError(w, r, err)
		return
	}
	h.srv.Flash(w, "incident.prep.backup.saved")
	http.Redirect(w, r, "/incident/backups"+prepFacilityQuery(f), http.StatusSeeOther)
}

// backupCard fills the dashboard card: each system's backup status in the
// facilities the viewer reads, the worst first, at most eight.
func (h *handlers) backupCard(r *http.Request) ([]web.Stat, error) {
	all, ids := web.PrincipalOf(r).Facilities(PermRead)
	list, err := Backups(r.Context(), h.cfg.DB, all, ids)
	if err != nil {
		return nil, err
	}
	now := h.cfg.Clock.Now()
	sts := BackupStatuses(list, now)
	if len(sts) == 0 {
		return []web.Stat{{LabelID: "incident.prep.backup.card_none", Value: "—", Level: LevelWarn, Link: "/incident/backups"}}, nil
	}
	rank := map[string]int{LevelBad: 0, LevelWarn: 1, LevelOK: 2}
	prepSortBy(sts, func(s BackupStatus) int { return rank[s.Level()] })
	var out []web.Stat
	lang := h.srv.Lang(r)
	for _, s := range sts[:min(len(sts), 8)] {
		val := h.srv.Catalog().T(lang, "incident.prep.backup.card_none_offline", nil)
		if d := s.OfflineAgeDays(now); d >= 0 {
			val = h.srv.Catalog().T(lang, "incident.prep.backup.card_days", map[string]any{"Days": d})
		}
		out = append(out, web.Stat{Label: s.System, Value: val, Level: s.Level(), Link: "/incident/backups" + prepFacilityQuery(s.Facility)})
	}
	return out, nil
}

// prepSortBy sorts s by key, keeping the order of equal keys.
func prepSortBy[T any](s []T, key func(T) int) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && key(s[j]) < key(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
