package incident

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// The emergency organisation of a facility (guideline 6.10 B (4)): the
// two officers it names (the CISO, 最高情報セキュリティ責任者, and the
// medical-information-system security manager, 医療情報システム安全管理責任者,
// the first item of MHLW's checklist) and the CSIRT's members with their
// roles, phones and deputies. Who is on call is in oncall.go, whom to
// call outside in contacts.go; the contact diagram draws all of them
// (contacts_diagram.go). Every change is recorded in the audit log in the
// same transaction.

// Actions of the audit log for the organisation.
const (
	ActionOfficerSet   = "incident.org.officer.set"
	ActionMemberCreate = "incident.org.member.create"
	ActionMemberUpdate = "incident.org.member.update"
	ActionMemberDelete = "incident.org.member.delete"
)

// OfficerRole is which officer: the CISO or the security manager.
type OfficerRole string

// The officers every facility names.
const (
	CISO            OfficerRole = "ciso"
	SecurityManager OfficerRole = "security_manager"
)

// OfficerRoles lists the officers, in the order pages show them.
var OfficerRoles = []OfficerRole{CISO, SecurityManager}

// CSIRTRole is a role a member holds in the CSIRT; a member may hold
// several.
type CSIRTRole string

// The CSIRT's roles.
const (
	RoleCommander   CSIRTRole = "commander"  // 統括責任者
	RoleManager     CSIRTRole = "manager"    // インシデントマネージャー
	RoleHandler     CSIRTRole = "handler"    // ハンドラー
	RolePoC         CSIRTRole = "poc"        // 窓口（PoC）
	RoleLegal       CSIRTRole = "legal"      // 法務
	RolePR          CSIRTRole = "pr"         // 広報
	RoleIT          CSIRTRole = "it"         // 情報システム・ベンダー連絡
	RoleMedical     CSIRTRole = "medical"    // 医療現場との連絡
	RoleRecordsDept CSIRTRole = "records"    // 診療情報管理
	RoleOther       CSIRTRole = "other_role" // その他
)

// CSIRTRoles lists the roles in the order forms show them.
var CSIRTRoles = []CSIRTRole{RoleCommander, RoleManager, RoleHandler, RolePoC, RoleLegal, RolePR, RoleIT,
	RoleMedical, RoleRecordsDept, RoleOther}

// OrgError is a change of the organisation that cannot be made: Field
// names the field at fault, MsgID the message.
type OrgError struct {
	Field, MsgID string
}

func (e *OrgError) Error() string { return "incident organisation: " + e.Field + ": " + e.MsgID }

// Limits of the organisation's fields, in characters.
const (
	MaxOrgName  = 200
	MaxOrgPhone = 40
	MaxOrgMail  = 254
	MaxOrgText  = 4000
)

// Person is what the organisation knows of someone to call.
type Person struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Department  string `json:"department,omitempty"`
	PhoneOffice string `json:"phone_office,omitempty"`
	PhoneMobile string `json:"phone_mobile,omitempty"`
	Mail        string `json:"mail,omitempty"`
}

// Phones returns the person's phone numbers that are set.
func (p *Person) Phones() []string { return nonEmpty(p.PhoneOffice, p.PhoneMobile) }

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// check trims and checks p's fields; name says whether a name is needed.
func (p *Person) check() error {
	p.Name, p.Title, p.Department = strings.TrimSpace(p.Name), strings.TrimSpace(p.Title), strings.TrimSpace(p.Department)
	if p.Name == "" || !orgText(p.Name, MaxOrgName) {
		return &OrgError{"name", "incident.org.error.name"}
	}
	if !orgText(p.Title, MaxOrgName) {
		return &OrgError{"title", "incident.org.error.text"}
	}
	if !orgText(p.Department, MaxOrgName) {
		return &OrgError{"department", "incident.org.error.text"}
	}
	var err error
	if p.PhoneOffice, err = checkPhone("phone_office", p.PhoneOffice); err != nil {
		return err
	}
	if p.PhoneMobile, err = checkPhone("phone_mobile", p.PhoneMobile); err != nil {
		return err
	}
	p.Mail, err = checkMail("mail", p.Mail)
	return err
}

// orgText reports whether s is valid UTF-8 text of at most max
// characters without control characters other than line breaks and tabs.
func orgText(s string, max int) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

// checkPhone checks a phone number as people write it: digits, spaces,
// + - ( ) and an extension (内線 or ext.); "" is allowed.
func checkPhone(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	bad := &OrgError{field, "incident.org.error.phone"}
	if !orgText(s, MaxOrgPhone) {
		return "", bad
	}
	digits := 0
	rest := strings.NewReplacer("内線", "", "ext.", "", "ext", "", "x", "").Replace(s)
	for _, r := range rest {
		switch {
		case r >= '0' && r <= '9', r >= '０' && r <= '９':
			digits++
		case strings.ContainsRune(" +-()（）－‐ー　", r):
		default:
			return "", bad
		}
	}
	if digits < 3 {
		return "", bad
	}
	return s, nil
}

// checkMail checks a mail address; "" is allowed.
func checkMail(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > MaxOrgMail || !utf8.ValidString(s) {
		return "", &OrgError{field, "incident.org.error.mail"}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return "", &OrgError{field, "incident.org.error.mail"}
	}
	return s, nil
}

// Officer is one of the two officers of a facility.
type Officer struct {
	Facility int64
	Role     OfficerRole
	Person
	Updated   time.Time
	UpdatedBy string
}

// Member is a member of the facility's CSIRT.
type Member struct {
	ID       int64
	Facility int64
	Login    string // the member's anzen login; "" for none
	Person
	Roles     []CSIRTRole
	Deputy    int64 // the member who stands in; 0 for none
	Updated   time.Time
	UpdatedBy string
}

// Has reports whether m holds role r.
func (m *Member) Has(r CSIRTRole) bool { return slices.Contains(m.Roles, r) }

// MemberInput is a member as a form or the API gives it.
type MemberInput struct {
	Facility int64    `json:"facility"`
	Login    string   `json:"login,omitempty"`
	Roles    []string `json:"roles"`
	Deputy   int64    `json:"deputy,omitempty"`
	Person
}

// OfficerInput is an officer as a form or the API gives it.
type OfficerInput struct {
	Facility int64 `json:"facility"`
	Person
}

// ParseOfficerRole checks that s names an officer.
func ParseOfficerRole(s string) (OfficerRole, bool) {
	r := OfficerRole(s)
	return r, slices.Contains(OfficerRoles, r)
}

// checkFacility checks that f is one of the facilities the actor may
// change (all: every one).
func checkFacility(f int64, all bool, ids []int64) error {
	if f <= 0 || (!all && !slices.Contains(ids, f)) {
		return &OrgError{"facility", "incident.org.error.facility"}
	}
	return nil
}

func (s Scope) check(f int64) error { return checkFacility(f, s.All, s.Facilities) }

// SetOfficer writes the officer role of in.Facility.
func SetOfficer(ctx context.Context, d *db.DB, rec selfaudit.Recorder, sc Scope, by Actor, role OfficerRole, in OfficerInput, now time.Time) (Officer, error) {
	if _, ok := ParseOfficerRole(string(role)); !ok {
		return Officer{}, db.ErrNotFound
	}
	if err := sc.check(in.Facility); err != nil {
		return Officer{}, err
	}
	if err := in.Person.check(); err != nil {
		return Officer{}, err
	}
	o := Officer{Facility: in.Facility, Role: role, Person: in.Person, Updated: now, UpdatedBy: by.Login}
	err := d.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_officers (facility, role, name, title, phone_office, phone_mobile, mail, updated, updated_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (facility, role) DO UPDATE SET name = excluded.name, title = excluded.title,
			phone_office = excluded.phone_office, phone_mobile = excluded.phone_mobile, mail = excluded.mail,
			updated = excluded.updated, updated_by = excluded.updated_by`,
			o.Facility, string(role), o.Name, o.Title, o.PhoneOffice, o.PhoneMobile, o.Mail, now.UnixMilli(), by.Login); err != nil {
			return fmt.Errorf("write officer %s: %w", role, err)
		}
		return orgRecord(ctx, tx, rec, by, now, o.Facility, ActionOfficerSet, "officer:"+string(role), map[string]string{"role": string(role)})
	})
	return o, err
}

// orgRecord records a change of the organisation in the audit log.
func orgRecord(ctx context.Context, q db.Querier, rec selfaudit.Recorder, by Actor, now time.Time, facility int64, action, target string, detail map[string]string) error {
	return rec.Record(ctx, q, selfaudit.Event{Time: now, Facility: facility, ActorID: by.UserID, ActorLogin: by.Login,
		Action: action, Target: target, Outcome: selfaudit.Success, ClientAddr: by.Client, Detail: detail})
}

// Officers returns the officers of facility f that are named.
func Officers(ctx context.Context, d db.Querier, f int64) ([]Officer, error) {
	rows, err := d.QueryContext(ctx, `SELECT facility, role, name, title, phone_office, phone_mobile, mail, updated, updated_by
		FROM incident_officers WHERE facility = ?`, f)
	if err != nil {
		return nil, fmt.Errorf("read officers: %w", err)
	}
	defer rows.Close()
	var out []Officer
	for rows.Next() {
		var o Officer
		var role string
		var updated int64
		if err := rows.Scan(&o.Facility, &role, &o.Name, &o.Title, &o.PhoneOffice, &o.PhoneMobile, &o.Mail, &updated, &o.UpdatedBy); err != nil {
			return nil, err
		}
		o.Role, o.Updated = OfficerRole(role), db.Time(updated)
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b Officer) int { return slices.Index(OfficerRoles, a.Role) - slices.Index(OfficerRoles, b.Role) })
	return out, rows.Err()
}

// check trims and checks a member's fields.
func (in *MemberInput) check(sc Scope) ([]CSIRTRole, error) {
	if err := sc.check(in.Facility); err != nil {
		return nil, err
	}
	in.Login = strings.TrimSpace(in.Login)
	if !orgText(in.Login, 100) || strings.ContainsAny(in.Login, " \n\t") {
		return nil, &OrgError{"login", "incident.org.error.login"}
	}
	if err := in.Person.check(); err != nil {
		return nil, err
	}
	var roles []CSIRTRole
	for _, s := range in.Roles {
		r := CSIRTRole(strings.TrimSpace(s))
		if !slices.Contains(CSIRTRoles, r) {
			return nil, &OrgError{"roles", "incident.org.error.role"}
		}
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	if len(roles) == 0 {
		return nil, &OrgError{"roles", "incident.org.error.role"}
	}
	slices.SortFunc(roles, func(a, b CSIRTRole) int { return slices.Index(CSIRTRoles, a) - slices.Index(CSIRTRoles, b) })
	if in.Deputy < 0 {
		return nil, &OrgError{"deputy", "incident.org.error.deputy"}
	}
	return roles, nil
}

func joinRoles(roles []CSIRTRole) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

// checkDeputy checks that the deputy is another member of the facility.
func checkDeputy(ctx context.Context, q db.Querier, facility, self, deputy int64) error {
	if deputy == 0 {
		return nil
	}
	if deputy == self {
		return &OrgError{"deputy", "incident.org.error.deputy"}
	}
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM incident_members WHERE id = ? AND facility = ?`, deputy, facility).Scan(&n); err != nil {
		return fmt.Errorf("read the deputy: %w", err)
	}
	if n == 0 {
		return &OrgError{"deputy", "incident.org.error.deputy"}
	}
	return nil
}

// CreateMember adds a member to the CSIRT of in.Facility.
func CreateMember(ctx context.Context, d *db.DB, rec selfaudit.Recorder, sc Scope, by Actor, in MemberInput, now time.Time) (Member, error) {
	roles, err := in.check(sc)
	if err != nil {
		return Member{}, err
	}
	m := Member{Facility: in.Facility, Login: in.Login, Person: in.Person, Roles: roles, Deputy: in.Deputy, Updated: now, UpdatedBy: by.Login}
	err = d.InTx(ctx, func(tx *db.Tx) error {
		if err := checkDeputy(ctx, tx, m.Facility, 0, m.Deputy); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO incident_members (facility, login, name, department, roles, phone_office, phone_mobile, mail, deputy, updated, updated_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, m.Facility, m.Login, m.Name, m.Department, joinRoles(roles),
			m.PhoneOffice, m.PhoneMobile, m.Mail, m.Deputy, now.UnixMilli(), by.Login).Scan(&m.ID); err != nil {
			return fmt.Errorf("write a member: %w", err)
		}
		return orgRecord(ctx, tx, rec, by, now, m.Facility, ActionMemberCreate, memberTarget(m.ID), map[string]string{"roles": joinRoles(roles)})
	})
	return m, err
}

func memberTarget(id int64) string { return "incident.member:" + strconv.FormatInt(id, 10) }

// UpdateMember rewrites member id (within sc) with in; in.Facility must
// be the member's.
func UpdateMember(ctx context.Context, d *db.DB, rec selfaudit.Recorder, sc Scope, by Actor, id int64, in MemberInput, now time.Time) (Member, error) {
	var m Member
	err := d.InTx(ctx, func(tx *db.Tx) error {
		old, err := MemberByID(ctx, tx, sc, id)
		if err != nil {
			return err
		}
		in.Facility = old.Facility
		roles, err := in.check(sc)
		if err != nil {
			return err
		}
		if err := checkDeputy(ctx, tx, old.Facility, id, in.Deputy); err != nil {
			return err
		}
		m = Member{ID: id, Facility: old.Facility, Login: in.Login, Person: in.Person, Roles: roles, Deputy: in.Deputy, Updated: now, UpdatedBy: by.Login}
		if _, err := tx.ExecContext(ctx, `UPDATE incident_members SET login = ?, name = ?, department = ?, roles = ?, phone_office = ?,
			phone_mobile = ?, mail = ?, deputy = ?, updated = ?, updated_by = ? WHERE id = ?`, m.Login, m.Name, m.Department,
			joinRoles(roles), m.PhoneOffice, m.PhoneMobile, m.Mail, m.Deputy, now.UnixMilli(), by.Login, id); err != nil {
			return fmt.Errorf("update member %d: %w", id, err)
		}
		return orgRecord(ctx, tx, rec, by, now, m.Facility, ActionMemberUpdate, memberTarget(id), map[string]string{"roles": joinRoles(roles)})
	})
	return m, err
}

// DeleteMember removes member id (within sc), its on-call shifts, and
// itself as anyone's deputy.
func DeleteMember(ctx context.Context, d *db.DB, rec selfaudit.Recorder, sc Scope, by Actor, id int64, now time.Time) error {
	return d.InTx(ctx, func(tx *db.Tx) error {
		m, err := MemberByID(ctx, tx, sc, id)
		if err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM incident_oncall WHERE member_id = ?`, `UPDATE incident_members SET deputy = 0 WHERE deputy = ?`,
			`DELETE FROM incident_members WHERE id = ?`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("delete member %d: %w", id, err)
			}
		}
		return orgRecord(ctx, tx, rec, by, now, m.Facility, ActionMemberDelete, memberTarget(id), nil)
	})
}

const memberColumns = `id, facility, login, name, department, roles, phone_office, phone_mobile, mail, deputy, updated, updated_by`

type orgScanner interface{ Scan(...any) error }

func scanMember(row orgScanner) (Member, error) {
	var m Member
	var roles string
	var updated int64
	if err := row.Scan(&m.ID, &m.Facility, &m.Login, &m.Name, &m.Department, &roles, &m.PhoneOffice, &m.PhoneMobile, &m.Mail,
		&m.Deputy, &updated, &m.UpdatedBy); err != nil {
		return m, err
	}
	for _, r := range strings.Split(roles, ",") {
		if r != "" {
			m.Roles = append(m.Roles, CSIRTRole(r))
		}
	}
	m.Updated = db.Time(updated)
	return m, nil
}

// MemberByID returns member id if it is within sc; db.ErrNotFound if not.
func MemberByID(ctx context.Context, q db.Querier, sc Scope, id int64) (Member, error) {
	m, err := scanMember(q.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM incident_members WHERE id = ?`, id))
	if err = db.NotFound(err); err != nil {
		return Member{}, err
	}
	if !sc.Has(m.Facility) {
		return Member{}, db.ErrNotFound
	}
	return m, nil
}

// Members returns the CSIRT members of facility f, in the order they were
// added.
func Members(ctx context.Context, q db.Querier, f int64) ([]Member, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+memberColumns+` FROM incident_members WHERE facility = ? ORDER BY id`, f)
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// IsOrgError reports whether err is an OrgError, and returns it.
func IsOrgError(err error) (*OrgError, bool) {
	var oe *OrgError
	ok := errors.As(err, &oe)
	return oe, ok
}
