package keys

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/db"
)

// Crypto-shredding: destroying a key version wipes its material (or, for a
// key held by the HSM, destroys the HSM object), so that every ciphertext
// of that version becomes unrecoverable for good. It takes two people: one
// administrator asks (RequestDestroy), a different one approves within
// DestroyRequestTTL (ApproveDestroy), and both steps are recorded.
//
// Both must be people anzen has authenticated (an Actor with a user id):
// anzen itself and a bare command line, which anzen cannot tell apart from
// anyone with a shell on the server, can neither ask nor approve. The
// version that encrypts and signs (the active one) cannot be destroyed:
// rotate the key first so that it keeps working with a new version, or
// disable the version first to retire the whole key on purpose.

// DestroyRequestTTL is how long a destroy request waits for its approval.
const DestroyRequestTTL = 7 * 24 * time.Hour

// MaxReasonLen is the longest reason or note, in characters.
const MaxReasonLen = 500

// States of a destroy request.
const (
	RequestPending  = "pending"
	RequestApproved = "approved"
	RequestRejected = "rejected"
	RequestExpired  = "expired"
)

// Errors of crypto-shredding. A request approved by the person who made it
// gives ErrApprovalNeeded.
var (
	ErrPersonRequired = errors.New("only a person signed in to anzen may request, approve or reject destroying a key version")
	ErrNoRequest      = errors.New("no such destroy request")
	ErrRequestClosed  = errors.New("the destroy request was approved, rejected or has expired already")
)

// DestroyRequest is a request to destroy one key version.
type DestroyRequest struct {
	ID          int64     `json:"id"`
	Key         string    `json:"key"`
	Version     int       `json:"version"`
	Reason      string    `json:"reason"`
	State       string    `json:"state"`
	RequestedBy string    `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	DecidedBy   string    `json:"decided_by,omitempty"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
	Note        string    `json:"note,omitempty"`

	keyID         int64
	requestedByID int64
}

// checkText validates a reason or note: at most MaxReasonLen characters of
// UTF-8 without control characters (line breaks allowed); required when
// need is true.
func checkText(s string, need bool) bool {
	if need && strings.TrimSpace(s) == "" {
		return false
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxReasonLen {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

const requestColumns = `r.id, r.key_id, k.name, r.version, r.reason, r.state, r.requested_by_id, r.requested_by,
	r.requested_at, r.expires_at, r.decided_by, r.decided_at, r.decision_note`

func scanRequest(sc interface{ Scan(...any) error }, now time.Time) (*DestroyRequest, error) {
	var r DestroyRequest
	var at, exp, decided int64
	if err := sc.Scan(&r.ID, &r.keyID, &r.Key, &r.Version, &r.Reason, &r.State, &r.requestedByID, &r.RequestedBy,
		&at, &exp, &r.DecidedBy, &decided, &r.Note); err != nil {
		return nil, err
	}
	r.RequestedAt, r.ExpiresAt, r.DecidedAt = db.Time(at), db.Time(exp), db.Time(decided)
	if r.State == RequestPending && !now.Before(r.ExpiresAt) {
		r.State = RequestExpired
	}
	return &r, nil
}

// expireRequests marks the pending requests whose time has run out as
// expired, each with its audit record.
func (s *Service) expireRequests(ctx context.Context, tx *db.Tx, now time.Time) error {
	rows, err := tx.QueryContext(ctx, `SELECT `+requestColumns+` FROM keys_destroy_requests r
		JOIN keys_keys k ON k.id = r.key_id WHERE r.state = ? AND r.expires_at <= ?`, RequestPending, db.Millis(now))
	if err != nil {
		return fmt.Errorf("find expired destroy requests: %w", err)
	}
	var expired []*DestroyRequest
	for rows.Next() {
		r, err := scanRequest(rows, now)
		if err != nil {
			rows.Close()
			return err
		}
		expired = append(expired, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range expired {
		if _, err := tx.ExecContext(ctx, `UPDATE keys_destroy_requests SET state = ? WHERE id = ? AND state = ?`,
			RequestExpired, r.ID, RequestPending); err != nil {
			return err
		}
		e := Actor{Login: "system"}.event("key.destroy.expire", "key:"+r.Key, map[string]string{
			"version": strconv.Itoa(r.Version), "request": strconv.FormatInt(r.ID, 10), "requested_by": r.RequestedBy})
		if err := s.audit.Record(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

// RequestDestroy asks for version of key name to be destroyed; another
// person must approve it within DestroyRequestTTL. The active version is
// refused (rotate or disable it first), and so is a second open request for
// the same version.
func (s *Service) RequestDestroy(ctx context.Context, by Actor, name string, version int, reason string) (*DestroyRequest, error) {
	if by.UserID == 0 {
		return nil, ErrPersonRequired
	}
	if !checkText(reason, true) {
		return nil, &ValidationError{Fields: map[string]string{"reason": "keys.destroy.reason"}}
	}
	k, err := s.load(ctx, "name = ?", name)
	if err != nil {
		return nil, err
	}
	v := k.Version(version)
	if v == nil || v.State == Destroyed {
		return nil, ErrVersion
	}
	if v.State == Active {
		return nil, &ValidationError{Fields: map[string]string{"version": "keys.destroy.active"}}
	}
	now := s.clock.Now()
	var id int64
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := s.expireRequests(ctx, tx, now); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO keys_destroy_requests (key_id, version, reason, state, requested_by_id,
			requested_by, requested_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, k.ID, version, reason,
			RequestPending, by.UserID, by.Login, db.Millis(now), db.Millis(now.Add(DestroyRequestTTL))).Scan(&id)
		if db.IsUniqueViolation(err) {
			return &ValidationError{Fields: map[string]string{"version": "keys.destroy.pending"}}
		}
		if err != nil {
			return fmt.Errorf("store destroy request: %w", err)
		}
		return s.audit.Record(ctx, tx, by.event("key.destroy.request", "key:"+k.Name, map[string]string{
			"version": strconv.Itoa(version), "request": strconv.FormatInt(id, 10), "reason": reason}))
	})
	if err != nil {
		return nil, err
	}
	return s.DestroyRequest(ctx, id)
}

// DestroyRequest returns one destroy request.
func (s *Service) DestroyRequest(ctx context.Context, id int64) (*DestroyRequest, error) {
	r, err := scanRequest(s.db.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM keys_destroy_requests r
		JOIN keys_keys k ON k.id = r.key_id WHERE r.id = ?`, id), s.clock.Now())
	if db.NotFound(err) == db.ErrNotFound {
		return nil, ErrNoRequest
	}
	return r, err
}

// MaxRequestsListed is how many destroy requests DestroyRequests returns
// at most, newest first.
const MaxRequestsListed = 500

// DestroyRequests lists destroy requests, newest first; state is one of
// the request states, or "" for all.
func (s *Service) DestroyRequests(ctx context.Context, state string) ([]*DestroyRequest, error) {
	now := s.clock.Now()
	where, args := "", []any{}
	switch state {
	case "":
	case RequestPending:
		where, args = " WHERE r.state = ? AND r.expires_at > ?", []any{RequestPending, db.Millis(now)}
	case RequestExpired:
		where, args = " WHERE r.state = ? OR (r.state = ? AND r.expires_at <= ?)",
			[]any{RequestExpired, RequestPending, db.Millis(now)}
	case RequestApproved, RequestRejected:
		where, args = " WHERE r.state = ?", []any{state}
	default:
		return nil, &ValidationError{Fields: map[string]string{"state": "keys.destroy.state"}}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+requestColumns+` FROM keys_destroy_requests r
		JOIN keys_keys k ON k.id = r.key_id`+where+` ORDER BY r.id DESC LIMIT `+strconv.Itoa(MaxRequestsListed), args...)
	if err != nil {
		return nil, fmt.Errorf("list destroy requests: %w", err)
	}
	defer rows.Close()
	out := []*DestroyRequest{}
	for rows.Next() {
		r, err := scanRequest(rows, now)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// openRequest reads request id in tx and checks that it is still open.
func openRequest(ctx context.Context, tx *db.Tx, id int64, now time.Time) (*DestroyRequest, error) {
	r, err := scanRequest(tx.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM keys_destroy_requests r
		JOIN keys_keys k ON k.id = r.key_id WHERE r.id = ?`, id), now)
	if db.NotFound(err) == db.ErrNotFound {
		return nil, ErrNoRequest
	}
	if err != nil {
		return nil, err
	}
	if r.State != RequestPending {
		return nil, ErrRequestClosed
	}
	return r, nil
}

// decide closes request r as state, unless another decision came first.
func decide(ctx context.Context, tx *db.Tx, r *DestroyRequest, by Actor, state, note string, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE keys_destroy_requests SET state = ?, decided_by_id = ?, decided_by = ?,
		decided_at = ?, decision_note = ? WHERE id = ? AND state = ? AND expires_at > ?`, state, by.UserID, by.Login,
		db.Millis(now), note, r.ID, RequestPending, db.Millis(now))
	if err != nil {
		return fmt.Errorf("decide destroy request: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrRequestClosed
	}
	return nil
}

// ApproveDestroy approves request id and destroys the version at once, in
// one transaction with its record: the state becomes destroyed, the wrapped
// material is wiped, and a key held by the HSM has its object destroyed
// there. The person who asked cannot approve (ErrApprovalNeeded), nor can
// anzen itself or an unauthenticated caller (ErrPersonRequired).
func (s *Service) ApproveDestroy(ctx context.Context, by Actor, id int64) (*DestroyRequest, error) {
	if by.UserID == 0 {
		return nil, ErrPersonRequired
	}
	now := s.clock.Now()
	var keyID int64
	var version int
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		r, err := openRequest(ctx, tx, id, now)
		if err != nil {
			return err
		}
		if by.UserID == r.requestedByID || strings.EqualFold(by.Login, r.RequestedBy) {
			return fmt.Errorf("%w: %s asked for it and cannot approve it too", ErrApprovalNeeded, r.RequestedBy)
		}
		var state, hsmID string
		if err := tx.QueryRowContext(ctx, `SELECT state, hsm_id FROM keys_versions WHERE key_id = ? AND version = ?`,
			r.keyID, r.Version).Scan(&state, &hsmID); err != nil {
			return fmt.Errorf("read key version: %w", err)
		}
		switch State(state) {
		case Destroyed:
			return ErrVersion
		case Active:
			return &ValidationError{Fields: map[string]string{"version": "keys.destroy.active"}}
		}
		if err := decide(ctx, tx, r, by, RequestApproved, "", now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE keys_versions SET state = ?, material = '', hsm_id = '', updated_at = ?
			WHERE key_id = ? AND version = ?`, string(Destroyed), db.Millis(now), r.keyID, r.Version); err != nil {
			return fmt.Errorf("destroy key version: %w", err)
		}
		detail := map[string]string{"version": strconv.Itoa(r.Version), "request": strconv.FormatInt(r.ID, 10),
			"requested_by": r.RequestedBy, "reason": r.Reason, "in_hsm": strconv.FormatBool(hsmID != "")}
		if err := s.audit.Record(ctx, tx, by.event("key.destroy.approve", "key:"+r.Key, detail)); err != nil {
			return err
		}
		keyID, version = r.keyID, r.Version
		if hsmID == "" {
			return nil
		}
		// Last, since it cannot be undone: if it fails, nothing above is kept.
		root, err := s.Root()
		if err != nil {
			return err
		}
		hsm, ok := root.(HSM)
		if !ok {
			return fmt.Errorf("key version %d of %s is held by an HSM, but the root is %s", r.Version, r.Key, root.Kind())
		}
		if err := hsm.DestroyObject(hsmID); err != nil {
			return fmt.Errorf("destroy the key in the HSM: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.forget(keyID)
	s.mu.Lock()
	delete(s.material, versionRef{keyID, version})
	s.mu.Unlock()
	return s.DestroyRequest(ctx, id)
}

// RejectDestroy turns request id down, with an optional note. The person
// who asked may withdraw their own request this way.
func (s *Service) RejectDestroy(ctx context.Context, by Actor, id int64, note string) (*DestroyRequest, error) {
	if by.UserID == 0 {
		return nil, ErrPersonRequired
	}
	if !checkText(note, false) {
		return nil, &ValidationError{Fields: map[string]string{"note": "keys.destroy.note"}}
	}
	now := s.clock.Now()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		r, err := openRequest(ctx, tx, id, now)
		if err != nil {
			return err
		}
		if err := decide(ctx, tx, r, by, RequestRejected, note, now); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, by.event("key.destroy.reject", "key:"+r.Key, map[string]string{
			"version": strconv.Itoa(r.Version), "request": strconv.FormatInt(r.ID, 10),
			"requested_by": r.RequestedBy, "note": note}))
	})
	if err != nil {
		return nil, err
	}
	return s.DestroyRequest(ctx, id)
}
