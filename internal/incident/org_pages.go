package incident

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The forms that keep the organisation (/incident/org, for those who
// hold PermOrgManage): the two officers, the CSIRT's members, the
// on-call shifts and the external contacts, with "add the standard
// authorities". A refused form shows the page again with the message and
// what was typed, status 422.

func (h *handlers) registerOrgPages() {
	manage := web.Perm(PermOrgManage)
	h.srv.Handle(http.MethodGet, "/incident/org", manage, h.orgPage)
	h.srv.Handle(http.MethodPost, "/incident/org/officers/{role}", manage, h.officerPost)
	h.srv.Handle(http.MethodPost, "/incident/org/members", manage, h.memberPost)
	h.srv.Handle(http.MethodGet, "/incident/org/members/{id}", manage, h.memberEdit)
	h.srv.Handle(http.MethodPost, "/incident/org/members/{id}", manage, h.memberPost)
	h.srv.Handle(http.MethodPost, "/incident/org/members/{id}/delete", manage, h.memberDeletePost)
	h.srv.Handle(http.MethodPost, "/incident/org/oncall", manage, h.shiftPost)
	h.srv.Handle(http.MethodPost, "/incident/org/oncall/{id}/delete", manage, h.shiftDeletePost)
	h.srv.Handle(http.MethodPost, "/incident/org/contacts", manage, h.contactPost)
	h.srv.Handle(http.MethodPost, "/incident/org/contacts/standard", manage, h.standardPost)
	h.srv.Handle(http.MethodGet, "/incident/org/contacts/{id}", manage, h.contactEdit)
	h.srv.Handle(http.MethodPost, "/incident/org/contacts/{id}", manage, h.contactPost)
	h.srv.Handle(http.MethodPost, "/incident/org/contacts/{id}/delete", manage, h.contactDeletePost)
}

// option is a choice of a form.
type option struct {
	Value, Label string
	Selected     bool
}

// orgView is what templates/org.html sees.
type orgView struct {
	contactsView
	Shifts    []Shift
	Roles     []option
	Kinds     []option
	Officer   map[string]Officer
	Offices   []string   // the officer roles, in order
	Form      url.Values // what a refused form held
	FormName  string     // which form was refused
	Error     string
	ErrField  string
	ShiftFrom string // the default start of a new shift (datetime-local)
	ShiftTo   string
}

// F returns a field of the refused form when name is the form refused.
func (v *orgView) F(form, field string) string {
	if v.FormName != form {
		return ""
	}
	return v.Form.Get(field)
}

func (h *handlers) renderOrg(w http.ResponseWriter, r *http.Request, status int, form string, err error) {
	sc := orgScope(r, PermOrgManage)
	f, list, ok := h.orgPageFacility(w, r, sc)
	if !ok {
		return
	}
	now := h.cfg.Clock.Now()
	o, lerr := LoadOrg(r.Context(), h.cfg.DB, f, now)
	if lerr != nil {
		h.orgFail(w, r, lerr)
		return
	}
	shifts, lerr := Shifts(r.Context(), h.cfg.DB, f.ID, now)
	if lerr != nil {
		h.orgFail(w, r, lerr)
		return
	}
	v := &orgView{contactsView: contactsView{Facility: f, Name: f.Name(h.srv.Lang(r)), Facilities: list, Officers: o.Officers,
		Members: h.memberViews(r, &o), OnCall: o.OnCall, Contacts: o.Contacts, NoPhone: o.MissingPhones(), CanManage: true},
		Shifts: shifts, Officer: map[string]Officer{}, Offices: []string{string(CISO), string(SecurityManager)}, Form: r.PostForm, FormName: form}
	for _, of := range o.Officers {
		v.Officer[string(of.Role)] = of
	}
	for _, role := range CSIRTRoles {
		v.Roles = append(v.Roles, option{Value: string(role), Label: h.srv.T(r, "incident.org.role."+string(role), nil)})
	}
	for _, k := range ContactKinds {
		v.Kinds = append(v.Kinds, option{Value: string(k), Label: h.srv.T(r, "incident.org.kind."+string(k), nil)})
	}
	loc := h.srv.Location()
	start := now.In(loc).Truncate(time.Hour).Add(time.Hour)
	v.ShiftFrom, v.ShiftTo = start.Format("2006-01-02T15:04"), start.Add(24*time.Hour).Format("2006-01-02T15:04")
	if oe, ok := IsOrgError(err); ok {
		v.Error, v.ErrField = h.srv.T(r, oe.MsgID, map[string]any{"Max": MaxCriteria}), oe.Field
	}
	h.srv.Render(w, r, status, "incident/org", v)
}

func (h *handlers) orgPage(w http.ResponseWriter, r *http.Request) {
	h.renderOrg(w, r, http.StatusOK, "", nil)
}

// formFacility reads the facility of a form; 0 when it is not a number.
func formFacility(r *http.Request) int64 {
	f, _ := strconv.ParseInt(strings.TrimSpace(r.PostFormValue("facility")), 10, 64)
	return f
}

// orgDone answers a form: back to the page with a flash when err is nil,
// the page again with the message (422) for an OrgError, 404 for a
// record not found.
func (h *handlers) orgDone(w http.ResponseWriter, r *http.Request, form string, err error, flash string) {
	f := formFacility(r)
	if f > 0 {
		// The page shows the form's facility again.
		q := r.URL.Query()
		q.Set("facility", strconv.FormatInt(f, 10))
		r.URL.RawQuery = q.Encode()
	}
	switch _, isOrg := IsOrgError(err); {
	case err == nil:
		h.srv.Flash(w, flash)
		to := "/incident/org"
		if f > 0 {
			to += "?facility=" + strconv.FormatInt(f, 10)
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	case isOrg:
		h.renderOrg(w, r, http.StatusUnprocessableEntity, form, err)
	case errors.Is(err, db.ErrNotFound):
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
	default:
		h.orgFail(w, r, err)
	}
}

// orgPathID reads the {id} of the path; 0 when it is not a positive number.
func orgPathID(r *http.Request) int64 {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

func personForm(r *http.Request) Person {
	return Person{Name: r.PostFormValue("name"), Title: r.PostFormValue("title"), Department: r.PostFormValue("department"),
		PhoneOffice: r.PostFormValue("phone_office"), PhoneMobile: r.PostFormValue("phone_mobile"), Mail: r.PostFormValue("mail")}
}

func (h *handlers) officerPost(w http.ResponseWriter, r *http.Request) {
	role, ok := ParseOfficerRole(r.PathValue("role"))
	if !ok {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	_, err := SetOfficer(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), role,
		OfficerInput{Facility: formFacility(r), Person: personForm(r)}, h.cfg.Clock.Now())
	h.orgDone(w, r, "officer_"+string(role), err, "incident.org.saved")
}

func memberForm(r *http.Request) MemberInput {
	deputy, _ := strconv.ParseInt(r.PostFormValue("deputy"), 10, 64)
	_ = r.ParseForm()
	return MemberInput{Facility: formFacility(r), Login: r.PostFormValue("login"), Roles: r.PostForm["roles"], Deputy: deputy,
		Person: personForm(r)}
}

// memberPost adds a member (POST /incident/org/members) or saves one
// (POST /incident/org/members/{id}).
func (h *handlers) memberPost(w http.ResponseWriter, r *http.Request) {
	in, sc, now := memberForm(r), orgScope(r, PermOrgManage), h.cfg.Clock.Now()
	var err error
	if r.PathValue("id") == "" {
		_, err = CreateMember(r.Context(), h.cfg.DB, h.cfg.Recorder, sc, orgActor(r), in, now)
		h.orgDone(w, r, "member", err, "incident.org.saved")
		return
	}
	id := orgPathID(r)
	if id == 0 {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	m, err := UpdateMember(r.Context(), h.cfg.DB, h.cfg.Recorder, sc, orgActor(r), id, in, now)
	if oe, ok := IsOrgError(err); ok {
		m.ID, m.Facility, m.Login, m.Person, m.Deputy = id, in.Facility, in.Login, in.Person, in.Deputy
		for _, s := range in.Roles {
			m.Roles = append(m.Roles, CSIRTRole(s))
		}
		h.renderMemberEdit(w, r, http.StatusUnprocessableEntity, m, oe)
		return
	}
	h.orgDone(w, r, "member", err, "incident.org.saved")
}

// memberEditView is what templates/org_member.html sees.
type memberEditView struct {
	Member   Member
	Roles    []option
	Others   []option
	Error    string
	ErrField string
}

func (h *handlers) memberEdit(w http.ResponseWriter, r *http.Request) {
	m, err := MemberByID(r.Context(), h.cfg.DB, orgScope(r, PermOrgManage), orgPathID(r))
	if err != nil {
		h.orgDone(w, r, "", err, "")
		return
	}
	h.renderMemberEdit(w, r, http.StatusOK, m, nil)
}

func (h *handlers) renderMemberEdit(w http.ResponseWriter, r *http.Request, status int, m Member, oe *OrgError) {
	v := &memberEditView{Member: m}
	for _, role := range CSIRTRoles {
		v.Roles = append(v.Roles, option{Value: string(role), Label: h.srv.T(r, "incident.org.role."+string(role), nil), Selected: m.Has(role)})
	}
	others, err := Members(r.Context(), h.cfg.DB, m.Facility)
	if err != nil {
		h.orgFail(w, r, err)
		return
	}
	for _, o := range others {
		if o.ID != m.ID {
			v.Others = append(v.Others, option{Value: strconv.FormatInt(o.ID, 10), Label: o.Name, Selected: o.ID == m.Deputy})
		}
	}
	if oe != nil {
		v.Error, v.ErrField = h.srv.T(r, oe.MsgID, nil), oe.Field
	}
	h.srv.Render(w, r, status, "incident/org_member", v)
}

func (h *handlers) memberDeletePost(w http.ResponseWriter, r *http.Request) {
	err := DeleteMember(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), orgPathID(r), h.cfg.Clock.Now())
	h.orgDone(w, r, "", err, "incident.org.deleted")
}

// localTime reads a datetime-local value where the hospital is; the zero
// time when it is not one.
func (h *handlers) localTime(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02T15:04", strings.TrimSpace(s), h.srv.Location())
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func (h *handlers) shiftPost(w http.ResponseWriter, r *http.Request) {
	member, _ := strconv.ParseInt(r.PostFormValue("member_id"), 10, 64)
	in := ShiftInput{Facility: formFacility(r), MemberID: member, Starts: h.localTime(r.PostFormValue("starts")),
		Ends: h.localTime(r.PostFormValue("ends")), Tier: r.PostFormValue("tier")}
	_, err := CreateShift(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), in, h.cfg.Clock.Now())
	h.orgDone(w, r, "shift", err, "incident.org.saved")
}

func (h *handlers) shiftDeletePost(w http.ResponseWriter, r *http.Request) {
	err := DeleteShift(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), orgPathID(r), h.cfg.Clock.Now())
	h.orgDone(w, r, "", err, "incident.org.deleted")
}

func contactForm(r *http.Request) ContactInput {
	return ContactInput{Facility: formFacility(r), Kind: r.PostFormValue("kind"), Organisation: r.PostFormValue("organisation"),
		System: r.PostFormValue("system"), Person: r.PostFormValue("person"), Phone: r.PostFormValue("phone"),
		Phone2: r.PostFormValue("phone2"), Mail: r.PostFormValue("mail"), WhenToCall: r.PostFormValue("when_to_call"),
		Notes: r.PostFormValue("notes")}
}

// contactPost adds an external contact (POST /incident/org/contacts) or
// saves one (POST /incident/org/contacts/{id}).
func (h *handlers) contactPost(w http.ResponseWriter, r *http.Request) {
	in, sc, now := contactForm(r), orgScope(r, PermOrgManage), h.cfg.Clock.Now()
	if r.PathValue("id") == "" {
		_, err := CreateContact(r.Context(), h.cfg.DB, h.cfg.Recorder, sc, orgActor(r), in, now)
		h.orgDone(w, r, "contact", err, "incident.org.saved")
		return
	}
	id := orgPathID(r)
	if id == 0 {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	_, err := UpdateContact(r.Context(), h.cfg.DB, h.cfg.Recorder, sc, orgActor(r), id, in, now)
	if oe, ok := IsOrgError(err); ok {
		c := Contact{ID: id, Facility: in.Facility, Kind: ContactKind(in.Kind), Organisation: in.Organisation, System: in.System,
			Person: in.Person, Phone: in.Phone, Phone2: in.Phone2, Mail: in.Mail, WhenToCall: in.WhenToCall, Notes: in.Notes}
		h.renderContactEdit(w, r, http.StatusUnprocessableEntity, c, oe)
		return
	}
	h.orgDone(w, r, "contact", err, "incident.org.saved")
}

// contactEditView is what templates/org_contact.html sees.
type contactEditView struct {
	Contact  Contact
	Kinds    []option
	Error    string
	ErrField string
}

func (h *handlers) contactEdit(w http.ResponseWriter, r *http.Request) {
	c, err := ContactByID(r.Context(), h.cfg.DB, orgScope(r, PermOrgManage), orgPathID(r))
	if err != nil {
		h.orgDone(w, r, "", err, "")
		return
	}
	h.renderContactEdit(w, r, http.StatusOK, c, nil)
}

func (h *handlers) renderContactEdit(w http.ResponseWriter, r *http.Request, status int, c Contact, oe *OrgError) {
	v := &contactEditView{Contact: c}
	for _, k := range ContactKinds {
		v.Kinds = append(v.Kinds, option{Value: string(k), Label: h.srv.T(r, "incident.org.kind."+string(k), nil), Selected: k == c.Kind})
	}
	if oe != nil {
		v.Error, v.ErrField = h.srv.T(r, oe.MsgID, nil), oe.Field
	}
	h.srv.Render(w, r, status, "incident/org_contact", v)
}

func (h *handlers) contactDeletePost(w http.ResponseWriter, r *http.Request) {
	err := DeleteContact(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), orgPathID(r), h.cfg.Clock.Now())
	h.orgDone(w, r, "", err, "incident.org.deleted")
}

func (h *handlers) standardPost(w http.ResponseWriter, r *http.Request) {
	_, err := AddStandardAuthorities(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), formFacility(r),
		h.cfg.Clock.Now())
	h.orgDone(w, r, "standard", err, "incident.org.standard_added")
}
