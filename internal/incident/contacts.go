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

// External contacts: whom the hospital calls outside itself in an
// incident — each system's vendor, MHLW's office for medical
// information, the prefectural police's cyber-crime desk, the prefecture
// and the health centre, the Personal Information Protection Commission,
// IPA and NISC, the cyber insurer. Each has at least one phone number,
// since mail may be down when they are needed. "Add the standard
// authorities" creates the national ones under their public names but
// without numbers (anzen makes none up): the list then warns of every
// contact still without a phone until the hospital fills it in.

// Actions of the audit log for external contacts.
const (
	ActionContactCreate   = "incident.contact.create"
	ActionContactUpdate   = "incident.contact.update"
	ActionContactDelete   = "incident.contact.delete"
	ActionContactStandard = "incident.contact.standard"
)

// ContactKind is what sort of party an external contact is.
type ContactKind string

// The kinds of external contact.
const (
	ContactVendor       ContactKind = "vendor"        // システムの保守ベンダー
	ContactMHLW         ContactKind = "mhlw"          // 厚生労働省
	ContactPolice       ContactKind = "police"        // 都道府県警察
	ContactPrefecture   ContactKind = "prefecture"    // 都道府県
	ContactHealthCentre ContactKind = "health_centre" // 保健所
	ContactPPC          ContactKind = "ppc"           // 個人情報保護委員会
	ContactIPA          ContactKind = "ipa"           // IPA
	ContactNISC         ContactKind = "nisc"          // NISC
	ContactInsurer      ContactKind = "insurer"       // サイバー保険の保険会社
	ContactOther        ContactKind = "other"
)

// ContactKinds lists the kinds in the order forms show them.
var ContactKinds = []ContactKind{ContactVendor, ContactMHLW, ContactPolice, ContactPrefecture, ContactHealthCentre,
	ContactPPC, ContactIPA, ContactNISC, ContactInsurer, ContactOther}

// authorityKinds are the kinds the diagram draws as authorities.
var authorityKinds = []ContactKind{ContactMHLW, ContactPolice, ContactPrefecture, ContactHealthCentre, ContactPPC,
	ContactIPA, ContactNISC}

// Contact is one external contact of a facility.
type Contact struct {
	ID           int64
	Facility     int64
	Kind         ContactKind
	Standard     string // the key of a standard authority; "" for the hospital's own
	Organisation string
	System       string // a vendor's system
	Person       string
	Phone        string
	Phone2       string
	Mail         string
	WhenToCall   string
	Notes        string
	Updated      time.Time
	UpdatedBy    string
}

// Phones returns the contact's phone numbers that are set.
func (c *Contact) Phones() []string { return nonEmpty(c.Phone, c.Phone2) }

// NoPhone reports whether the contact still lacks a phone number.
func (c *Contact) NoPhone() bool { return c.Phone == "" && c.Phone2 == "" }

// ContactInput is an external contact as a form or the API gives it.
type ContactInput struct {
	Facility     int64  `json:"facility"`
	Kind         string `json:"kind"`
	Organisation string `json:"organisation"`
	System       string `json:"system,omitempty"`
	Person       string `json:"person,omitempty"`
	Phone        string `json:"phone"`
	Phone2       string `json:"phone2,omitempty"`
	Mail         string `json:"mail,omitempty"`
	WhenToCall   string `json:"when_to_call,omitempty"`
	Notes        string `json:"notes,omitempty"`
}

// check trims and checks in; standard contacts may lack a phone.
func (in *ContactInput) check(standard bool) (Contact, error) {
	c := Contact{Facility: in.Facility, Kind: ContactKind(strings.TrimSpace(in.Kind))}
	if !slices.Contains(ContactKinds, c.Kind) {
		return c, &OrgError{"kind", "incident.org.error.kind"}
	}
	texts := []struct {
		field string
		in    string
		out   *string
		max   int
	}{
		{"organisation", in.Organisation, &c.Organisation, MaxOrgName}, {"system", in.System, &c.System, MaxOrgName},
		{"person", in.Person, &c.Person, MaxOrgName}, {"when_to_call", in.WhenToCall, &c.WhenToCall, MaxOrgText},
		{"notes", in.Notes, &c.Notes, MaxOrgText},
	}
	for _, t := range texts {
		*t.out = strings.TrimSpace(t.in)
		if !orgText(*t.out, t.max) {
			return c, &OrgError{t.field, "incident.org.error.text"}
		}
	}
	if c.Organisation == "" {
		return c, &OrgError{"organisation", "incident.org.error.organisation"}
	}
	var err error
	if c.Phone, err = checkPhone("phone", in.Phone); err != nil {
		return c, err
	}
	if c.Phone2, err = checkPhone("phone2", in.Phone2); err != nil {
		return c, err
	}
	if c.Mail, err = checkMail("mail", in.Mail); err != nil {
		return c, err
	}
	if c.NoPhone() && !standard {
		return c, &OrgError{"phone", "incident.org.error.phone_required"}
	}
	return c, nil
}

func contactTarget(id int64) string { return "incident.contact:" + strconv.FormatInt(id, 10) }

// CreateContact adds an external contact to in.Facility.
func CreateContact(ctx context.Context, d *db.DB, rec selfaudit.Recorder, sc Scope, by Actor, in ContactInput, now time.Time) (Contact, error) {
	if err := sc.check(in.Facility); err != nil {
		return Contact{}, err
	}
	c, err := in.check(false)
	if err != nil {
		return Contact{}, err
	}
	err = d.InTx(ctx, func(tx *db.Tx) error {
		return insertContact(ctx, tx, rec, by, &c, now)
	})
	return c, err
}

func insertContact(ctx context.Context, tx *db.Tx, rec selfaudit.Recorder, by Actor, c *Contact, now time.Time) error {
	c.Updated, c.UpdatedBy = now, by.Login
	if err := tx.QueryRowContext(ctx, `INSERT INTO incident_contacts (facility, kind, standard, organisation, system, person, phone, phone2,
		mail, when_to_call, notes, updated, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.Facility, string(c.Kind), c.Standard, c.Organisation, c.System, c.Person, c.Phone, c.Phone2, c.Mail, c.WhenToCall,
		c.Notes, now.UnixMilli(), by.Login).Scan(&c.ID); err != nil {
		return fmt.Errorf("write a contact: %w", err)
	}
	return orgRecord(ctx, tx, rec, by, now, c.Facility, ActionContactCreate, contactTarget(c.ID), map[string]string{"kind": string(c.Kind)})
}

// UpdateContact rewrites contact id (within sc) with in; the facility
// stays the contact's.
func UpdateContact(ctx context.Context, d *db.DB, rec selfaudit.Recorder, sc Scope, by Actor, id int64, in ContactInput, now time.Time) (Contact, error) {
	var c Contact
	err := d.InTx(ctx, func(tx *db.Tx) error {
		old, err := ContactByID(ctx, tx, sc, id)
		if err != nil {
			return err
		}
		in.Facility = old.Facility
		if c, err = in.check(old.Standard != ""); err != nil {
			return err
		}
		c.ID, c.Standard, c.Updated, c.UpdatedBy = id, old.Standard, now, by.Login
		if _, err := tx.ExecContext(ctx, `UPDATE incident_contacts SET kind = ?, organisation = ?, system = ?, person = ?, phone = ?,
			phone2 = ?, mail = ?, when_to_call = ?, notes = ?, updated = ?, updated_by = ? WHERE id = ?`, string(c.Kind), c.Organisation,
			c.System, c.Person, c.Phone, c.Phone2, c.Mail, c.WhenToCall, c.Notes, now.UnixMilli(), by.Login, id); err != nil {
			return fmt.Errorf("update contact %d: %w", id, err)
		}
		return orgRecord(ctx, tx, rec, by, now, c.Facility, ActionContactUpdate, contactTarget(id), map[string]string{"kind": string(c.Kind)})
	})
	return c, err
}

// DeleteContact removes contact id (within sc).
func DeleteContact(ctx context.Context, d *db.DB, rec selfaudit.Recorder, sc Scope, by Actor, id int64, now time.Time) error {
	return d.InTx(ctx, func(tx *db.Tx) error {
		c, err := ContactByID(ctx, tx, sc, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM incident_contacts WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete contact %d: %w", id, err)
		}
		return orgRecord(ctx, tx, rec, by, now, c.Facility, ActionContactDelete, contactTarget(id), map[string]string{"kind": string(c.Kind)})
	})
}

const contactColumns = `id, facility, kind, standard, organisation, system, person, phone, phone2, mail, when_to_call, notes, updated, updated_by`

func scanContact(row orgScanner) (Contact, error) {
	var c Contact
	var kind string
	var updated int64
	err := row.Scan(&c.ID, &c.Facility, &kind, &c.Standard, &c.Organisation, &c.System, &c.Person, &c.Phone, &c.Phone2, &c.Mail,
		&c.WhenToCall, &c.Notes, &updated, &c.UpdatedBy)
	c.Kind, c.Updated = ContactKind(kind), db.Time(updated)
	return c, err
}

// ContactByID returns contact id if it is within sc; db.ErrNotFound if not.
func ContactByID(ctx context.Context, q db.Querier, sc Scope, id int64) (Contact, error) {
	c, err := scanContact(q.QueryRowContext(ctx, `SELECT `+contactColumns+` FROM incident_contacts WHERE id = ?`, id))
	if err = db.NotFound(err); err != nil {
		return Contact{}, err
	}
	if !sc.Has(c.Facility) {
		return Contact{}, db.ErrNotFound
	}
	return c, nil
}

// Contacts returns the external contacts of facility f, by kind in the
// order of ContactKinds, then as added.
func Contacts(ctx context.Context, q db.Querier, f int64) ([]Contact, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+contactColumns+` FROM incident_contacts WHERE facility = ? ORDER BY id`, f)
	if err != nil {
		return nil, fmt.Errorf("read contacts: %w", err)
	}
	defer rows.Close()
	var out []Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b Contact) int {
		return slices.Index(ContactKinds, a.Kind) - slices.Index(ContactKinds, b.Kind)
	})
	return out, rows.Err()
}

// StandardAuthority is one of the national authorities a hospital may
// have to call, under its public name. It has no phone number: the
// hospital looks up the desk for its area and fills it in.
type StandardAuthority struct {
	Key          string
	Kind         ContactKind
	Organisation string
	WhenToCall   string
}

// StandardAuthorities are the authorities "add the standard authorities"
// creates. The names are those the authorities publish; where the desk
// depends on where the hospital is, the name says so.
var StandardAuthorities = []StandardAuthority{
	{"mhlw", ContactMHLW, "厚生労働省 医政局 特定医薬品開発支援・医療情報担当参事官室",
		"サイバー攻撃によりシステム障害が起き、個人情報の漏えいや診療への影響が生じた（おそれがある）とき、速やかに報告します（2018年10月29日付け通知。通知での宛先は医療情報技術推進室）。"},
	{"police", ContactPolice, "都道府県警察 サイバー犯罪相談窓口（所在地の都道府県警察）",
		"不正アクセスやランサムウェアなど、犯罪が疑われるとき。"},
	{"prefecture", ContactPrefecture, "都道府県 医療政策担当課（所在地の都道府県）",
		"診療への影響が生じたとき（立入検査の権限を持つ所管部署）。"},
	{"health_centre", ContactHealthCentre, "保健所（管轄の保健所）",
		"診療の制限や休止など、地域の医療に影響が出るとき。"},
	{"ppc", ContactPPC, "個人情報保護委員会",
		"要配慮個人情報（診療情報）の漏えい等が生じた（おそれがある）とき。1人分でも対象で、速報はおおむね3〜5日以内、確報は30日（不正目的なら60日）以内。"},
	{"ipa", ContactIPA, "独立行政法人 情報処理推進機構（IPA） 情報セキュリティ安心相談窓口",
		"対処の相談や届出をするとき。"},
	{"nisc", ContactNISC, "内閣サイバーセキュリティセンター（NISC）",
		"政府への情報共有が求められるとき。組織名と窓口は最新の公表情報で確かめてください。"},
}

// AddStandardAuthorities adds to facility f each standard authority it
// does not have yet, without phone numbers, and returns those added.
func AddStandardAuthorities(ctx context.Context, d *db.DB, rec selfaudit.Recorder, sc Scope, by Actor, f int64, now time.Time) ([]Contact, error) {
	if err := sc.check(f); err != nil {
		return nil, err
	}
	var added []Contact
	err := d.InTx(ctx, func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT standard FROM incident_contacts WHERE facility = ? AND standard <> ''`, f)
		if err != nil {
			return fmt.Errorf("read the standard contacts: %w", err)
		}
		have := map[string]bool{}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			have[k] = true
		}
		rows.Close()
		for _, a := range StandardAuthorities {
			if have[a.Key] {
				continue
			}
			c := Contact{Facility: f, Kind: a.Kind, Standard: a.Key, Organisation: a.Organisation, WhenToCall: a.WhenToCall}
			if err := insertContact(ctx, tx, rec, by, &c, now); err != nil {
				return err
			}
			added = append(added, c)
		}
		return orgRecord(ctx, tx, rec, by, now, f, ActionContactStandard, "incident.contacts", map[string]string{"added": strconv.Itoa(len(added))})
	})
	return added, err
}
