package incident

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Evidence: the files a CSIRT keeps of an incident (a screenshot of the
// ransom note, an exported log, a suspicious mail), each with its SHA-256
// and size taken when it was stored, who collected it and when, and who
// holds the original now; and the chain of custody, a log of everything
// done with it: collected, transferred from one holder to another,
// downloaded (every download, also recorded in the audit log), and
// verified (the hash computed again from what is stored and the result).
// The size of a file is limited by the server's body limit.

// The custody actions.
const (
	CustodyCollected   = "collected"
	CustodyTransferred = "transferred"
	CustodyDownloaded  = "downloaded"
	CustodyVerified    = "verified"
)

// Evidence is one evidence file of an incident, without its content.
type Evidence struct {
	ID          int64
	Incident    int64
	Name        string
	MediaType   string
	Size        int64
	SHA256      string
	Description string
	CollectedAt time.Time
	CollectedBy string
	Holder      string
	Created     time.Time
}

// Custody is one entry of an evidence file's chain of custody.
type Custody struct {
	ID     int64
	At     time.Time
	Actor  string
	Action string
	From   string
	To     string
	Note   string
}

// NewEvidence describes a file being stored.
type NewEvidence struct {
	Name        string
	Description string
	CollectedAt time.Time // zero: now
	CollectedBy string    // "": who stores it
	Holder      string    // who holds the original; "": who collected it
}

const evidenceColumns = `id, incident_id, name, media_type, size, sha256, description, collected_at, collected_by, holder, created`

func scanEvidence(row scanner) (Evidence, error) {
	var (
		e                  Evidence
		collected, created int64
	)
	err := row.Scan(&e.ID, &e.Incident, &e.Name, &e.MediaType, &e.Size, &e.SHA256, &e.Description, &collected,
		&e.CollectedBy, &e.Holder, &created)
	e.CollectedAt, e.Created = db.Time(collected), db.Time(created)
	return e, err
}

// cleanName keeps the base name of a file, without control characters.
func cleanName(s string) (string, error) {
	s = strings.TrimSpace(path.Base(strings.ReplaceAll(s, "\\", "/")))
	if s == "" || s == "." || s == "/" || len(s) > 255 || !utf8.ValidString(s) ||
		strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' }) {
		return "", invalid("name", "incident.error.evidence_name")
	}
	return s, nil
}

// AddEvidence stores content as evidence of the incident id in scope,
// with its hash, and starts its chain of custody.
func AddEvidence(ctx context.Context, d *db.DB, rec selfaudit.Recorder, scope Scope, id int64, by Actor, n NewEvidence, content []byte, now time.Time) (Evidence, error) {
	var err error
	if n.Name, err = cleanName(n.Name); err != nil {
		return Evidence{}, err
	}
	if len(content) == 0 {
		return Evidence{}, invalid("content", "incident.error.evidence_empty")
	}
	if err := text(&n.Description, "description", maxShort, false); err != nil {
		return Evidence{}, err
	}
	if n.CollectedBy == "" {
		n.CollectedBy = by.Login
	}
	if err := text(&n.CollectedBy, "collected_by", maxLogin, true); err != nil {
		return Evidence{}, err
	}
	if n.Holder == "" {
		n.Holder = n.CollectedBy
	}
	if err := text(&n.Holder, "holder", maxLogin, true); err != nil {
		return Evidence{}, err
	}
	if n.CollectedAt.IsZero() {
		n.CollectedAt = now
	}
	if n.CollectedAt.After(now.Add(futureSlip)) || n.CollectedAt.Year() < 2000 {
		return Evidence{}, invalid("collected_at", "incident.error.collected_at")
	}
	sum := sha256.Sum256(content)
	e := Evidence{Incident: id, Name: n.Name, MediaType: http.DetectContentType(content), Size: int64(len(content)),
		SHA256: hex.EncodeToString(sum[:]), Description: n.Description, CollectedAt: n.CollectedAt.UTC().Truncate(time.Millisecond),
		CollectedBy: n.CollectedBy, Holder: n.Holder, Created: now}
	err = d.InTx(ctx, func(tx *db.Tx) error {
		i, err := Get(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO incident_evidence (incident_id, name, media_type, size, sha256, content,
			description, collected_at, collected_by, holder, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			id, e.Name, e.MediaType, e.Size, e.SHA256, content, e.Description, e.CollectedAt.UnixMilli(), e.CollectedBy,
			e.Holder, now.UnixMilli()).Scan(&e.ID); err != nil {
			return fmt.Errorf("store evidence: %w", err)
		}
		if err := custody(ctx, tx, e.ID, by, CustodyCollected, "", e.Holder, "", now); err != nil {
			return err
		}
		if err := autoEntry(ctx, tx, id, by, "evidence.add", e.Name, map[string]any{"evidence": e.ID, "sha256": e.SHA256,
			"size": e.Size}, now); err != nil {
			return err
		}
		return record(ctx, tx, rec, i, by, "incident.evidence.add", map[string]string{"ref": i.Ref(),
			"evidence": strconv.FormatInt(e.ID, 10), "sha256": e.SHA256, "size": strconv.FormatInt(e.Size, 10)}, now)
	})
	return e, err
}

func custody(ctx context.Context, tx *db.Tx, ev int64, by Actor, action, from, to, note string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO incident_custody (evidence_id, at, actor, action, from_holder, to_holder, note)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, ev, now.UnixMilli(), by.Login, action, from, to, note)
	if err != nil {
		return fmt.Errorf("write the chain of custody: %w", err)
	}
	return nil
}

// EvidenceList returns the evidence of incident id.
func EvidenceList(ctx context.Context, q db.Querier, id int64) ([]Evidence, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+evidenceColumns+` FROM incident_evidence WHERE incident_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("read the evidence of incident %d: %w", id, err)
	}
	defer rows.Close()
	var out []Evidence
	for rows.Next() {
		e, err := scanEvidence(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EvidenceByID returns the evidence ev of the incident id in scope.
func EvidenceByID(ctx context.Context, q db.Querier, scope Scope, id, ev int64) (Evidence, error) {
	if _, err := Get(ctx, q, scope, id); err != nil {
		return Evidence{}, err
	}
	e, err := scanEvidence(q.QueryRowContext(ctx, `SELECT `+evidenceColumns+` FROM incident_evidence WHERE id = ? AND incident_id = ?`, ev, id))
	return e, db.NotFound(err)
}

// CustodyLog returns the chain of custody of evidence ev, oldest first.
func CustodyLog(ctx context.Context, q db.Querier, ev int64) ([]Custody, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, at, actor, action, from_holder, to_holder, note FROM incident_custody
		WHERE evidence_id = ? ORDER BY id`, ev)
	if err != nil {
		return nil, fmt.Errorf("read the chain of custody: %w", err)
	}
	defer rows.Close()
	var out []Custody
	for rows.Next() {
		var (
			c  Custody
			at int64
		)
		if err := rows.Scan(&c.ID, &at, &c.Actor, &c.Action, &c.From, &c.To, &c.Note); err != nil {
			return nil, err
		}
		c.At = db.Time(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// DownloadEvidence returns the evidence ev of incident id in scope with
// its content, and writes the download in its chain of custody and the
// audit log. The content is not checked here: Verify does that.
func DownloadEvidence(ctx context.Context, d *db.DB, rec selfaudit.Recorder, scope Scope, id, ev int64, by Actor, now time.Time) (Evidence, []byte, error) {
	var (
		e       Evidence
		content []byte
	)
	err := d.InTx(ctx, func(tx *db.Tx) error {
		i, err := Get(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		if e, err = EvidenceByID(ctx, tx, scope, id, ev); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT content FROM incident_evidence WHERE id = ?`, ev).Scan(&content); err != nil {
			return err
		}
		if err := custody(ctx, tx, ev, by, CustodyDownloaded, "", "", "", now); err != nil {
			return err
		}
		return record(ctx, tx, rec, i, by, "incident.evidence.download", map[string]string{"ref": i.Ref(),
			"evidence": strconv.FormatInt(ev, 10), "sha256": e.SHA256}, now)
	})
	return e, content, err
}

// Transfer is a hand-over of an evidence file's original.
type Transfer struct {
	To   string `json:"to"`
	Note string `json:"note,omitempty"`
}

// TransferEvidence records that the original of evidence ev passed from
// its holder to t.To.
func TransferEvidence(ctx context.Context, d *db.DB, rec selfaudit.Recorder, scope Scope, id, ev int64, by Actor, t Transfer, now time.Time) (Evidence, error) {
	if err := text(&t.To, "to", maxLogin, true); err != nil {
		return Evidence{}, err
	}
	if err := text(&t.Note, "note", maxShort, false); err != nil {
		return Evidence{}, err
	}
	var e Evidence
	err := d.InTx(ctx, func(tx *db.Tx) error {
		i, err := Get(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		if e, err = EvidenceByID(ctx, tx, scope, id, ev); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incident_evidence SET holder = ? WHERE id = ?`, t.To, ev); err != nil {
			return err
		}
		if err := custody(ctx, tx, ev, by, CustodyTransferred, e.Holder, t.To, t.Note, now); err != nil {
			return err
		}
		if err := autoEntry(ctx, tx, id, by, "evidence.transfer", e.Name, map[string]any{"evidence": ev, "old": e.Holder,
			"new": t.To}, now); err != nil {
			return err
		}
		e.Holder = t.To
		return record(ctx, tx, rec, i, by, "incident.evidence.transfer", map[string]string{"ref": i.Ref(),
			"evidence": strconv.FormatInt(ev, 10)}, now)
	})
	return e, err
}

// VerifyEvidence computes the hash of evidence ev from what is stored
// again, compares it (and the size) with those taken when it was stored,
// and writes the result in its chain of custody and the audit log.
func VerifyEvidence(ctx context.Context, d *db.DB, rec selfaudit.Recorder, scope Scope, id, ev int64, by Actor, now time.Time) (bool, error) {
	var ok bool
	err := d.InTx(ctx, func(tx *db.Tx) error {
		i, err := Get(ctx, tx, scope, id)
		if err != nil {
			return err
		}
		e, err := EvidenceByID(ctx, tx, scope, id, ev)
		if err != nil {
			return err
		}
		var content []byte
		if err := tx.QueryRowContext(ctx, `SELECT content FROM incident_evidence WHERE id = ?`, ev).Scan(&content); err != nil {
			return err
		}
		sum := sha256.Sum256(content)
		got := hex.EncodeToString(sum[:])
		ok = got == e.SHA256 && int64(len(content)) == e.Size
		note, outcome := "ok", selfaudit.Success
		if !ok {
			note, outcome = "mismatch: sha256 "+got+", size "+strconv.Itoa(len(content)), selfaudit.Failure
		}
		if err := custody(ctx, tx, ev, by, CustodyVerified, "", "", note, now); err != nil {
			return err
		}
		if err := autoEntry(ctx, tx, id, by, "evidence.verify", e.Name, map[string]any{"evidence": ev, "ok": ok}, now); err != nil {
			return err
		}
		return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: i.Facility, ActorID: by.UserID, ActorLogin: by.Login,
			Action: "incident.evidence.verify", Target: "incident:" + strconv.FormatInt(id, 10), Outcome: outcome,
			ClientAddr: by.Client, Detail: map[string]string{"ref": i.Ref(), "evidence": strconv.FormatInt(ev, 10),
				"result": strconv.FormatBool(ok)}})
	})
	return ok, err
}
