package incident

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// Emergency (break-glass) accounts (guideline 6.10 C-4): the register of
// the accounts kept sealed for when the normal ones cannot be used —
// which system, which account, where the sealed credential is kept and
// who keeps it. Their life: sealed → used (any use found in the audit
// log by the background check, CheckEmergencyAccounts) → to be changed
// after recovery (overdue once ChangeGrace has passed since the first
// use) → changed and sealed again (someone records the date the
// credential was changed and re-sealed; uses after it count again).

// Actions of the audit log for emergency accounts.
const (
	ActionAccountCreate  = "incident.emergency_account.create"
	ActionAccountUsed    = "incident.emergency_account.used"
	ActionAccountChanged = "incident.emergency_account.changed"
)

// AccountState is where an emergency account stands.
type AccountState string

// The states.
const (
	AccountSealed AccountState = "sealed"
	AccountUsed   AccountState = "used" // must be changed after recovery
)

// ChangeGrace is how long after its first use a used account may stay
// unchanged before it shows as overdue.
const ChangeGrace = 72 * time.Hour

// EmergencyAccount is one account of the register.
type EmergencyAccount struct {
	ID        int64
	Facility  int64
	System    string
	Source    string // the system's source name in the audit log; "" for any source
	Account   string
	Location  string // where the sealed credential is kept
	Custodian string
	State     AccountState
	SealedAt  time.Time
	FirstUse  time.Time
	LastUse   time.Time
	Uses      int64
	ChangedAt time.Time
	ChangedBy string
	Created   time.Time
	CreatedBy string
}

// Overdue reports whether the account was used and has not been changed
// within ChangeGrace of its first use, at now.
func (a *EmergencyAccount) Overdue(now time.Time) bool {
	return a.State == AccountUsed && now.Sub(a.FirstUse) > ChangeGrace
}

// AccountUse is one use of an emergency account found in the audit log.
type AccountUse struct {
	Seq    int64
	Time   time.Time
	Source string
	Action string
}

// AccountUseQuery asks for the uses of an account of a facility's system
// at or after Since.
type AccountUseQuery struct {
	Facility int64
	Source   string // "" for any source
	Account  string
	Since    time.Time
	Limit    int
}

// AccountUses finds the uses of an account in the audit log;
// internal/app implements it with the log's search.
type AccountUses interface {
	AccountUses(ctx context.Context, q AccountUseQuery) ([]AccountUse, error)
}

// AccountInput is a new account of the register.
type AccountInput struct {
	Facility  int64  `json:"facility"`
	System    string `json:"system"`
	Source    string `json:"source,omitempty"`
	Account   string `json:"account"`
	Location  string `json:"location"`
	Custodian string `json:"custodian"`
}

func (in *AccountInput) check() (EmergencyAccount, error) {
	a := EmergencyAccount{Facility: in.Facility}
	fields := []struct {
		name     string
		in       string
		out      *string
		required bool
	}{
		{"system", in.System, &a.System, true}, {"source", in.Source, &a.Source, false},
		{"account", in.Account, &a.Account, true}, {"location", in.Location, &a.Location, true},
		{"custodian", in.Custodian, &a.Custodian, true},
	}
	for _, f := range fields {
		*f.out = strings.TrimSpace(f.in)
		if !orgText(*f.out, MaxOrgName) || strings.ContainsAny(*f.out, "\r\n") {
			return a, &OrgError{f.name, "incident.org.error.text"}
		}
		if f.required && *f.out == "" {
			return a, &OrgError{f.name, "incident.org.error.required"}
		}
	}
	return a, nil
}

func accountTarget(id int64) string { return "incident.emergency_account:" + strconv.FormatInt(id, 10) }

// CreateAccount adds an account to the register, sealed from now.
func CreateAccount(ctx context.Context, d *db.DB, rec selfaudit.Recorder, sc Scope, by Actor, in AccountInput, now time.Time) (EmergencyAccount, error) {
	if err := sc.check(in.Facility); err != nil {
		return EmergencyAccount{}, err
	}
	a, err := in.check()
	if err != nil {
		return a, err
	}
	a.State, a.SealedAt, a.Created, a.CreatedBy = AccountSealed, now, now, by.Login
	err = d.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO incident_emergency_accounts (facility, system, source, account, location, custodian,
			state, sealed_at, created, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, a.Facility, a.System, a.Source,
			a.Account, a.Location, a.Custodian, string(a.State), now.UnixMilli(), now.UnixMilli(), by.Login).Scan(&a.ID); err != nil {
			if db.IsUniqueViolation(err) {
				return &OrgError{"account", "incident.org.error.account_exists"}
			}
			return fmt.Errorf("write an emergency account: %w", err)
		}
		return orgRecord(ctx, tx, rec, by, now, a.Facility, ActionAccountCreate, accountTarget(a.ID),
			map[string]string{"system": a.System, "account": a.Account})
	})
	return a, err
}

// RecordChange records that account id's credential was changed and
// sealed again at changedAt (not after now): it is sealed from then, and
// any later use flags it again.
func RecordChange(ctx context.Context, d *db.DB, rec selfaudit.Recorder, sc Scope, by Actor, id int64, changedAt, now time.Time) (EmergencyAccount, error) {
	if changedAt.IsZero() {
		changedAt = now
	}
	if changedAt.After(now) || now.Sub(changedAt) > 366*24*time.Hour {
		return EmergencyAccount{}, &OrgError{"changed_at", "incident.org.error.changed_at"}
	}
	var a EmergencyAccount
	err := d.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if a, err = AccountByID(ctx, tx, sc, id); err != nil {
			return err
		}
		if !a.FirstUse.IsZero() && changedAt.Before(a.LastUse) {
			// A change before the last use does not make that use harmless.
			return &OrgError{"changed_at", "incident.org.error.changed_before_use"}
		}
		a.State, a.SealedAt, a.ChangedAt, a.ChangedBy = AccountSealed, changedAt.UTC(), changedAt.UTC(), by.Login
		a.FirstUse, a.LastUse, a.Uses = time.Time{}, time.Time{}, 0
		if _, err := tx.ExecContext(ctx, `UPDATE incident_emergency_accounts SET state = ?, sealed_at = ?, changed_at = ?, changed_by = ?,
			first_use = 0, last_use = 0, uses = 0 WHERE id = ?`, string(a.State), changedAt.UnixMilli(), changedAt.UnixMilli(), by.Login, id); err != nil {
			return fmt.Errorf("record the change of emergency account %d: %w", id, err)
		}
		return orgRecord(ctx, tx, rec, by, now, a.Facility, ActionAccountChanged, accountTarget(id),
			map[string]string{"system": a.System, "account": a.Account, "changed_at": changedAt.UTC().Format(time.RFC3339)})
	})
	return a, err
}

const accountColumns = `id, facility, system, source, account, location, custodian, state, sealed_at, first_use, last_use, uses,
	changed_at, changed_by, created, created_by`

func scanAccount(row orgScanner) (EmergencyAccount, error) {
	var a EmergencyAccount
	var state string
	var sealed, first, last, changed, created int64
	err := row.Scan(&a.ID, &a.Facility, &a.System, &a.Source, &a.Account, &a.Location, &a.Custodian, &state, &sealed, &first, &last,
		&a.Uses, &changed, &a.ChangedBy, &created, &a.CreatedBy)
	a.State = AccountState(state)
	a.SealedAt, a.FirstUse, a.LastUse, a.ChangedAt, a.Created = db.Time(sealed), db.Time(first), db.Time(last), db.Time(changed), db.Time(created)
	return a, err
}

// AccountByID returns account id if it is within sc; db.ErrNotFound if not.
func AccountByID(ctx context.Context, q db.Querier, sc Scope, id int64) (EmergencyAccount, error) {
	a, err := scanAccount(q.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM incident_emergency_accounts WHERE id = ?`, id))
	if err = db.NotFound(err); err != nil {
		return EmergencyAccount{}, err
	}
	if !sc.Has(a.Facility) {
		return EmergencyAccount{}, db.ErrNotFound
	}
	return a, nil
}

// Accounts returns the emergency accounts within sc (of facility f when
// f > 0), used ones first.
func Accounts(ctx context.Context, q db.Querier, sc Scope, f int64) ([]EmergencyAccount, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+accountColumns+` FROM incident_emergency_accounts ORDER BY state DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("read emergency accounts: %w", err)
	}
	defer rows.Close()
	var out []EmergencyAccount
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		if sc.Has(a.Facility) && (f <= 0 || a.Facility == f) {
			out = append(out, a)
		}
	}
	return out, rows.Err()
}

// maxUsesRead is how many uses one check reads of one account.
const maxUsesRead = 100

// CheckEmergencyAccounts looks in the audit log (through uses) for uses
// of every emergency account since it was sealed or last seen used: a
// sealed account that was used becomes used, which is recorded in the
// audit log; a used one counts its further uses. It returns how many
// accounts it found newly used.
func CheckEmergencyAccounts(ctx context.Context, d *db.DB, rec selfaudit.Recorder, uses AccountUses, now time.Time) (int, error) {
	list, err := Accounts(ctx, d, Scope{All: true}, 0)
	if err != nil {
		return 0, err
	}
	flagged := 0
	for _, a := range list {
		since := a.SealedAt
		if a.State == AccountUsed {
			since = a.LastUse.Add(time.Millisecond)
		}
		found, err := uses.AccountUses(ctx, AccountUseQuery{Facility: a.Facility, Source: a.Source, Account: a.Account, Since: since, Limit: maxUsesRead})
		if err != nil {
			return flagged, fmt.Errorf("uses of emergency account %d: %w", a.ID, err)
		}
		if len(found) == 0 {
			continue
		}
		first, last := found[0].Time, found[0].Time
		for _, u := range found {
			first, last = minTime(first, u.Time), maxTime(last, u.Time)
		}
		err = d.InTx(ctx, func(tx *db.Tx) error {
			if a.State == AccountUsed {
				_, err := tx.ExecContext(ctx, `UPDATE incident_emergency_accounts SET last_use = ?, uses = uses + ? WHERE id = ? AND state = ?`,
					last.UnixMilli(), len(found), a.ID, string(AccountUsed))
				return err
			}
			res, err := tx.ExecContext(ctx, `UPDATE incident_emergency_accounts SET state = ?, first_use = ?, last_use = ?, uses = ?
				WHERE id = ? AND state = ? AND sealed_at = ?`, string(AccountUsed), first.UnixMilli(), last.UnixMilli(), len(found), a.ID,
				string(AccountSealed), a.SealedAt.UnixMilli())
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return nil // changed meanwhile: the next check sees it
			}
			flagged++
			return rec.Record(ctx, tx, selfaudit.Event{Time: now, Facility: a.Facility, ActorLogin: "system", Action: ActionAccountUsed,
				Target: accountTarget(a.ID), Outcome: selfaudit.Success, Detail: map[string]string{"system": a.System, "account": a.Account,
					"first_use": first.Format(time.RFC3339), "first_seq": strconv.FormatInt(found[len(found)-1].Seq, 10),
					"uses": strconv.Itoa(len(found))}})
		})
		if err != nil {
			return flagged, fmt.Errorf("flag emergency account %d: %w", a.ID, err)
		}
	}
	return flagged, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
