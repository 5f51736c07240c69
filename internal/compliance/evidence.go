package compliance

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
)

// Attestations: the manual evidence of a control — a signed rule, a
// vendor's MDS/SDS sheet, an asset register — as a file stored in the
// database with the SHA-256 computed when it is uploaded, the date it
// takes effect (which may be before the upload), the date it expires
// (from the evidence spec's valid_days unless given), and a second
// person's approval: the uploader can never approve or reject their own.
// Every upload, decision and download is recorded in the audit log. The
// size of a file is limited by the server's body limit.

// NewAttestation is what an upload says of its file.
type NewAttestation struct {
	ControlID   string     `json:"control_id"`
	EvidenceID  string     `json:"evidence_id,omitempty"`
	Title       string     `json:"title"`
	Note        string     `json:"note,omitempty"`
	FileName    string     `json:"file_name"`
	EffectiveOn time.Time  `json:"effective_on"`
	ExpiresOn   *time.Time `json:"expires_on,omitempty"`
}

const attestationColumns = `id, facility, control_id, evidence_id, title, note, file_name, content_type, size, sha256,
	effective_on, expires_on, uploaded_by, uploaded_at, state, decided_by, decided_at, reason`

func scanAttestation(row scanner) (Attestation, error) {
	var (
		a                      Attestation
		eff, exp, upl, decided int64
	)
	err := row.Scan(&a.ID, &a.Facility, &a.ControlID, &a.EvidenceID, &a.Title, &a.Note, &a.FileName, &a.ContentType,
		&a.Size, &a.SHA256, &eff, &exp, &a.UploadedBy, &upl, &a.State, &a.DecidedBy, &decided, &a.Reason)
	a.EffectiveOn, a.UploadedAt = db.Time(eff), db.Time(upl)
	if exp != 0 {
		t := db.Time(exp)
		a.ExpiresOn = &t
	}
	if decided != 0 {
		t := db.Time(decided)
		a.DecidedAt = &t
	}
	return a, err
}

// cleanFileName keeps the base name of a file, without control characters.
func cleanFileName(s string) (string, error) {
	s = strings.TrimSpace(path.Base(strings.ReplaceAll(s, "\\", "/")))
	if s == "" || s == "." || s == "/" || len(s) > 255 || !utf8.ValidString(s) ||
		strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' }) {
		return "", invalid("file", "compliance.error.file_name")
	}
	return s, nil
}

// asDate keeps the calendar date of t as midnight UTC.
func asDate(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// validAttestation checks n against the library and fills its defaults.
func (s *Service) validAttestation(n *NewAttestation, content []byte, today time.Time) error {
	c := s.lib.Control(n.ControlID)
	if c == nil {
		return invalid("control_id", "compliance.error.control")
	}
	var spec *EvidenceSpec
	if n.EvidenceID != "" {
		for i := range c.Evidence {
			if c.Evidence[i].ID == n.EvidenceID {
				spec = &c.Evidence[i]
			}
		}
		if spec == nil {
			return invalid("evidence_id", "compliance.error.evidence_id")
		}
	}
	var err error
	if n.FileName, err = cleanFileName(n.FileName); err != nil {
		return err
	}
	if len(content) == 0 {
		return invalid("file", "compliance.error.file_empty")
	}
	if n.Title == "" {
		n.Title = n.FileName
		if spec != nil {
			n.Title = spec.Title.JA
		}
	}
	if err := text(&n.Title, "title", maxTitle, true); err != nil {
		return err
	}
	if err := text(&n.Note, "note", maxNote, false); err != nil {
		return err
	}
	if n.EffectiveOn.IsZero() {
		return invalid("effective_on", "compliance.error.effective_on_required")
	}
	n.EffectiveOn = asDate(n.EffectiveOn)
	if n.EffectiveOn.After(today) || n.EffectiveOn.Year() < 2000 {
		return invalid("effective_on", "compliance.error.effective_on")
	}
	if n.ExpiresOn == nil && spec != nil && spec.ValidFor > 0 {
		t := n.EffectiveOn.AddDate(0, 0, spec.ValidFor)
		n.ExpiresOn = &t
	}
	if n.ExpiresOn != nil {
		t := asDate(*n.ExpiresOn)
		if !t.After(n.EffectiveOn) || t.Year() > 2200 {
			return invalid("expires_on", "compliance.error.expires_on")
		}
		n.ExpiresOn = &t
	}
	return nil
}

// Attest stores content as evidence of a control for the facility,
// awaiting a second person's approval, with its SHA-256.
func (s *Service) Attest(ctx context.Context, a Actor, facility int64, n NewAttestation, content []byte) (Attestation, error) {
	now := s.cfg.Clock.Now()
	if err := s.validAttestation(&n, content, s.Today(now)); err != nil {
		return Attestation{}, err
	}
	sum := sha256.Sum256(content)
	at := Attestation{Facility: facility, ControlID: n.ControlID, EvidenceID: n.EvidenceID, Title: n.Title, Note: n.Note,
		FileName: n.FileName, ContentType: http.DetectContentType(content), Size: int64(len(content)),
		SHA256: hex.EncodeToString(sum[:]), EffectiveOn: n.EffectiveOn, ExpiresOn: n.ExpiresOn, UploadedBy: a.Login,
		UploadedAt: now.UTC().Truncate(time.Millisecond), State: AttestPending}
	var exp int64
	if at.ExpiresOn != nil {
		exp = db.Millis(*at.ExpiresOn)
	}
	err := s.cfg.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO compliance_attestations (facility, control_id, evidence_id, title, note,
			file_name, content_type, size, sha256, effective_on, expires_on, uploaded_by, uploaded_at, state)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, facility, at.ControlID, at.EvidenceID, at.Title,
			at.Note, at.FileName, at.ContentType, at.Size, at.SHA256, db.Millis(at.EffectiveOn), exp, at.UploadedBy,
			db.Millis(at.UploadedAt), at.State).Scan(&at.ID); err != nil {
			return fmt.Errorf("store the attestation: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO compliance_attestation_files (attestation_id, content) VALUES (?, ?)`,
			at.ID, content); err != nil {
			return fmt.Errorf("store the attestation's file: %w", err)
		}
		d := map[string]string{"control": at.ControlID, "attestation": strconv.FormatInt(at.ID, 10), "sha256": at.SHA256,
			"size": strconv.FormatInt(at.Size, 10), "effective_on": at.EffectiveOn.Format(time.DateOnly)}
		if at.EvidenceID != "" {
			d["evidence"] = at.EvidenceID
		}
		if at.ExpiresOn != nil {
			d["expires_on"] = at.ExpiresOn.Format(time.DateOnly)
		}
		return s.record(ctx, tx, a, facility, "compliance.attestation.upload", "control:"+at.ControlID, d, now)
	})
	return at, err
}

// Attestation returns the attestation id of the facility, without its
// content.
func (s *Service) Attestation(ctx context.Context, facility, id int64) (Attestation, error) {
	return getAttestation(ctx, s.cfg.DB, facility, id)
}

func getAttestation(ctx context.Context, q db.Querier, facility, id int64) (Attestation, error) {
	a, err := scanAttestation(q.QueryRowContext(ctx, `SELECT `+attestationColumns+` FROM compliance_attestations
		WHERE id = ? AND facility = ?`, id, facility))
	return a, db.NotFound(err)
}

// Attestations returns the facility's attestations of a control (every
// control when controlID is ""), newest first.
func (s *Service) Attestations(ctx context.Context, facility int64, controlID string) ([]Attestation, error) {
	cond, args := "facility = ?", []any{facility}
	if controlID != "" {
		cond += " AND control_id = ?"
		args = append(args, controlID)
	}
	return listAttestations(ctx, s.cfg.DB, cond, args)
}

func listAttestations(ctx context.Context, q db.Querier, cond string, args []any) ([]Attestation, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+attestationColumns+` FROM compliance_attestations WHERE `+cond+
		` ORDER BY id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("read the attestations: %w", err)
	}
	defer rows.Close()
	out := []Attestation{}
	for rows.Next() {
		a, err := scanAttestation(rows)
		if err != nil {
			return nil, fmt.Errorf("read the attestations: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Decide approves or rejects the pending attestation id of the facility.
// The uploader may not decide their own; a rejection needs a reason.
func (s *Service) Decide(ctx context.Context, a Actor, facility, id int64, approve bool, reason string) (Attestation, error) {
	if err := text(&reason, "reason", maxNote, !approve); err != nil {
		return Attestation{}, err
	}
	now := s.cfg.Clock.Now()
	var at Attestation
	err := s.cfg.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if at, err = getAttestation(ctx, tx, facility, id); err != nil {
			return err
		}
		switch {
		case at.State != AttestPending:
			return conflict("state", "compliance.error.decided")
		case a.Login == "" || strings.EqualFold(a.Login, at.UploadedBy):
			return conflict("decided_by", "compliance.error.own_attestation")
		}
		at.State, at.DecidedBy, at.Reason = AttestRejected, a.Login, reason
		if approve {
			at.State = AttestApproved
		}
		t := now.UTC().Truncate(time.Millisecond)
		at.DecidedAt = &t
		res, err := tx.ExecContext(ctx, `UPDATE compliance_attestations SET state = ?, decided_by = ?, decided_at = ?, reason = ?
			WHERE id = ? AND state = ?`, at.State, at.DecidedBy, db.Millis(t), at.Reason, id, AttestPending)
		if err != nil {
			return fmt.Errorf("decide attestation %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return conflict("state", "compliance.error.decided")
		}
		action := "compliance.attestation.reject"
		if approve {
			action = "compliance.attestation.approve"
		}
		return s.record(ctx, tx, a, facility, action, "control:"+at.ControlID, map[string]string{
			"attestation": strconv.FormatInt(id, 10), "sha256": at.SHA256, "uploaded_by": at.UploadedBy}, now)
	})
	return at, err
}

// DownloadAttestation returns the attestation id of the facility with its
// file, and records the download in the audit log.
func (s *Service) DownloadAttestation(ctx context.Context, a Actor, facility, id int64) (Attestation, []byte, error) {
	var (
		at      Attestation
		content []byte
	)
	now := s.cfg.Clock.Now()
	err := s.cfg.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if at, err = getAttestation(ctx, tx, facility, id); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT content FROM compliance_attestation_files WHERE attestation_id = ?`, id).Scan(&content); err != nil {
			return fmt.Errorf("read attestation %d: %w", id, err)
		}
		return s.record(ctx, tx, a, facility, "compliance.attestation.download", "control:"+at.ControlID,
			map[string]string{"attestation": strconv.FormatInt(id, 10), "sha256": at.SHA256}, now)
	})
	return at, content, err
}

// SetControl writes the facility's owner, implementation state and note
// of a control, and records old → new in the audit log.
func (s *Service) SetControl(ctx context.Context, a Actor, facility int64, controlID string, set ControlSetting) (ControlSetting, error) {
	if s.lib.Control(controlID) == nil {
		return ControlSetting{}, invalid("control_id", "compliance.error.control")
	}
	if err := text(&set.Owner, "owner", maxLogin, false); err != nil {
		return ControlSetting{}, err
	}
	if strings.ContainsAny(set.Owner, " \n\t") {
		return ControlSetting{}, invalid("owner", "compliance.error.owner")
	}
	switch set.Impl {
	case ImplNotStarted, ImplInProgress, ImplImplemented, ImplNotApplicable:
	default:
		return ControlSetting{}, invalid("implementation", "compliance.error.implementation")
	}
	if err := text(&set.Note, "note", maxNote, false); err != nil {
		return ControlSetting{}, err
	}
	now := s.cfg.Clock.Now()
	set.Updated, set.UpdatedBy = now.UTC().Truncate(time.Millisecond), a.Login
	err := s.cfg.DB.InTx(ctx, func(tx *db.Tx) error {
		all, err := controlSettings(ctx, tx, facility)
		if err != nil {
			return err
		}
		old, ok := all[controlID]
		if !ok {
			old.Impl = ImplNotStarted
		}
		if err := putControlSetting(ctx, tx, facility, controlID, set); err != nil {
			return err
		}
		return s.record(ctx, tx, a, facility, "compliance.control.set", "control:"+controlID, map[string]string{
			"owner_old": old.Owner, "owner_new": set.Owner, "implementation_old": old.Impl, "implementation_new": set.Impl,
			"note_changed": strconv.FormatBool(old.Note != set.Note)}, now)
	})
	return set, err
}
