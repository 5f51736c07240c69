package compliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Snapshots: at the end of a fiscal year (or before an inspection) the
// facility's whole State is kept as JSON with its SHA-256, and the taking
// is recorded in the audit log with that hash, so that what was shown
// then can be proven later. Two snapshots compare: the coverage of each
// chapter, each control's readiness and each checklist answer that
// changed.

// Snapshot is a kept State.
type Snapshot struct {
	ID         int64     `json:"id"`
	Facility   int64     `json:"facility"`
	FiscalYear int       `json:"fiscal_year"`
	Note       string    `json:"note,omitempty"`
	TakenAt    time.Time `json:"taken_at"`
	TakenBy    string    `json:"taken_by"`
	SHA256     string    `json:"sha256"`
	State      *State    `json:"state,omitempty"` // only when one is read
}

// TakeSnapshot keeps the facility's state now as the snapshot of a fiscal
// year (not one still to come).
func (s *Service) TakeSnapshot(ctx context.Context, a Actor, facility int64, fiscalYear int, note string) (Snapshot, error) {
	now := s.cfg.Clock.Now()
	if fiscalYear < 2000 || fiscalYear > FiscalYear(s.Today(now)) {
		return Snapshot{}, invalid("fiscal_year", "compliance.error.fiscal_year")
	}
	if err := text(&note, "note", maxNote, false); err != nil {
		return Snapshot{}, err
	}
	st, err := s.State(ctx, facility)
	if err != nil {
		return Snapshot{}, err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return Snapshot{}, fmt.Errorf("encode the state: %w", err)
	}
	sum := sha256.Sum256(b)
	sn := Snapshot{Facility: facility, FiscalYear: fiscalYear, Note: note, TakenAt: now.UTC().Truncate(time.Millisecond),
		TakenBy: a.Login, SHA256: hex.EncodeToString(sum[:])}
	err = s.cfg.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO compliance_snapshots (facility, fiscal_year, note, taken_at, taken_by,
			state, sha256) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, facility, fiscalYear, note, db.Millis(sn.TakenAt),
			sn.TakenBy, string(b), sn.SHA256).Scan(&sn.ID); err != nil {
			return fmt.Errorf("store the snapshot: %w", err)
		}
		return s.record(ctx, tx, a, facility, "compliance.snapshot.take", "snapshot:"+strconv.FormatInt(sn.ID, 10),
			map[string]string{"fiscal_year": strconv.Itoa(fiscalYear), "sha256": sn.SHA256,
				"ready": strconv.Itoa(st.Overall.Counts[Ready]), "total": strconv.Itoa(st.Overall.Total)}, now)
	})
	if err != nil {
		return Snapshot{}, err
	}
	sn.State = st
	return sn, nil
}

// Snapshots lists the facility's snapshots, newest first, without their
// states.
func (s *Service) Snapshots(ctx context.Context, facility int64) ([]Snapshot, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT id, facility, fiscal_year, note, taken_at, taken_by, sha256
		FROM compliance_snapshots WHERE facility = ? ORDER BY id DESC`, facility)
	if err != nil {
		return nil, fmt.Errorf("list the snapshots: %w", err)
	}
	defer rows.Close()
	out := []Snapshot{}
	for rows.Next() {
		var (
			sn Snapshot
			at int64
		)
		if err := rows.Scan(&sn.ID, &sn.Facility, &sn.FiscalYear, &sn.Note, &at, &sn.TakenBy, &sn.SHA256); err != nil {
			return nil, err
		}
		sn.TakenAt = db.Time(at)
		out = append(out, sn)
	}
	return out, rows.Err()
}

// Snapshot returns the facility's snapshot id with its state. The state's
// hash is computed again: a stored state that no longer matches is an
// error, not a snapshot.
func (s *Service) Snapshot(ctx context.Context, facility, id int64) (Snapshot, error) {
	var (
		sn    Snapshot
		at    int64
		state string
	)
	err := s.cfg.DB.QueryRowContext(ctx, `SELECT id, facility, fiscal_year, note, taken_at, taken_by, sha256, state
		FROM compliance_snapshots WHERE id = ? AND facility = ?`, id, facility).Scan(&sn.ID, &sn.Facility, &sn.FiscalYear,
		&sn.Note, &at, &sn.TakenBy, &sn.SHA256, &state)
	if err != nil {
		return Snapshot{}, db.NotFound(err)
	}
	sn.TakenAt = db.Time(at)
	sum := sha256.Sum256([]byte(state))
	if hex.EncodeToString(sum[:]) != sn.SHA256 {
		return Snapshot{}, fmt.Errorf("snapshot %d: the stored state does not match its SHA-256", id)
	}
	sn.State = &State{}
	if err := json.Unmarshal([]byte(state), sn.State); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %d: %w", id, err)
	}
	return sn, nil
}

// Change is one thing that differs between two states.
type Change struct {
	Ref   string `json:"ref"`
	Title Text   `json:"title"`
	From  string `json:"from"` // "" when it was not there
	To    string `json:"to"`
}

// ChapterChange is a chapter's coverage in two states.
type ChapterChange struct {
	Ref         string         `json:"ref"`
	Title       Text           `json:"title"`
	FromPercent int            `json:"from_percent"`
	ToPercent   int            `json:"to_percent"`
	FromCounts  map[string]int `json:"from_counts"`
	ToCounts    map[string]int `json:"to_counts"`
}

// Comparison is what changed from one state to another.
type Comparison struct {
	From     Snapshot        `json:"from"`
	To       Snapshot        `json:"to"`
	Overall  ChapterChange   `json:"overall"`
	Chapters []ChapterChange `json:"chapters"`
	Controls []Change        `json:"controls"` // readiness
	Answers  []Change        `json:"answers"`  // answer text
}

// Compare says what changed from a to b: every chapter's coverage, and
// the controls and answers that differ.
func Compare(a, b *State) Comparison {
	cmp := Comparison{Chapters: []ChapterChange{}, Controls: []Change{}, Answers: []Change{}}
	cmp.Overall = ChapterChange{Ref: b.Overall.Ref, Title: b.Overall.Title, FromPercent: a.Overall.Percent,
		ToPercent: b.Overall.Percent, FromCounts: a.Overall.Counts, ToCounts: b.Overall.Counts}
	fromCh := map[string]Coverage{}
	for _, c := range a.Chapters {
		fromCh[c.Ref] = c
	}
	for _, c := range b.Chapters {
		f := fromCh[c.Ref]
		cmp.Chapters = append(cmp.Chapters, ChapterChange{Ref: c.Ref, Title: c.Title, FromPercent: f.Percent,
			ToPercent: c.Percent, FromCounts: f.Counts, ToCounts: c.Counts})
	}
	fromCtl := map[string]string{}
	for _, c := range a.Controls {
		fromCtl[c.Control.ID] = c.Readiness
	}
	seen := map[string]bool{}
	for _, c := range b.Controls {
		seen[c.Control.ID] = true
		if f := fromCtl[c.Control.ID]; f != c.Readiness {
			cmp.Controls = append(cmp.Controls, Change{Ref: c.Control.ID, Title: c.Control.Title, From: f, To: c.Readiness})
		}
	}
	for _, c := range a.Controls {
		if !seen[c.Control.ID] {
			cmp.Controls = append(cmp.Controls, Change{Ref: c.Control.ID, Title: c.Control.Title, From: c.Readiness})
		}
	}
	fromAns := map[string]Answer{}
	for _, x := range a.Answers {
		fromAns[x.Framework+":"+x.Ref] = x
	}
	seenAns := map[string]bool{}
	for _, x := range b.Answers {
		k := x.Framework + ":" + x.Ref
		seenAns[k] = true
		f, had := fromAns[k]
		switch {
		case !had:
			cmp.Answers = append(cmp.Answers, Change{Ref: k, To: answerText(x)})
		case answerText(f) != answerText(x):
			cmp.Answers = append(cmp.Answers, Change{Ref: k, From: answerText(f), To: answerText(x)})
		}
	}
	for k, x := range fromAns {
		if !seenAns[k] {
			cmp.Answers = append(cmp.Answers, Change{Ref: k, From: answerText(x)})
		}
	}
	sort.SliceStable(cmp.Answers, func(i, j int) bool { return cmp.Answers[i].Ref < cmp.Answers[j].Ref })
	return cmp
}

// CompareSnapshots compares the facility's snapshots from and to.
func (s *Service) CompareSnapshots(ctx context.Context, facility, from, to int64) (Comparison, error) {
	a, err := s.Snapshot(ctx, facility, from)
	if err != nil {
		return Comparison{}, err
	}
	b, err := s.Snapshot(ctx, facility, to)
	if err != nil {
		return Comparison{}, err
	}
	cmp := Compare(a.State, b.State)
	for i := range cmp.Answers {
		if fw, ref, ok := cutRef(cmp.Answers[i].Ref); ok {
			if f := s.lib.Framework(fw); f != nil {
				if it := f.Item(ref); it != nil {
					cmp.Answers[i].Title = it.Title
				}
			}
		}
	}
	a.State, b.State = nil, nil
	cmp.From, cmp.To = a, b
	return cmp, nil
}

func cutRef(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// PreviousState returns the State of the facility's newest snapshot, for
// the management report's "what changed since"; nil, nil when the
// facility has none.
func (s *Service) PreviousState(ctx context.Context, facility int64) (*State, error) {
	list, err := s.Snapshots(ctx, facility)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	sn, err := s.Snapshot(ctx, facility, list[0].ID)
	if err != nil {
		return nil, err
	}
	return sn.State, nil
}
