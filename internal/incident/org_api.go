package incident

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The organisation's JSON API (openapi_org.json): /api/v1/incident/org
// (officers and members), /api/v1/incident/oncall and
// /api/v1/incident/contacts. Reads need PermContactsRead, changes
// PermOrgManage, each in the facility concerned.

func (h *handlers) registerOrgAPI() {
	read, manage := web.Perm(PermContactsRead), web.Perm(PermOrgManage)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/org", read, h.apiOrg)
	h.srv.Handle(http.MethodPut, "/api/v1/incident/org/officers/{role}", manage, h.apiSetOfficer)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/org/members", manage, h.apiCreateMember)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/org/members/{id}", read, h.apiMember)
	h.srv.Handle(http.MethodPut, "/api/v1/incident/org/members/{id}", manage, h.apiUpdateMember)
	h.srv.Handle(http.MethodDelete, "/api/v1/incident/org/members/{id}", manage, h.apiDeleteMember)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/oncall", read, h.apiOnCall)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/oncall", manage, h.apiCreateShift)
	h.srv.Handle(http.MethodDelete, "/api/v1/incident/oncall/{id}", manage, h.apiDeleteShift)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/contacts", read, h.apiContacts)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/contacts", manage, h.apiCreateContact)
	h.srv.Handle(http.MethodPost, "/api/v1/incident/contacts/standard", manage, h.apiStandardContacts)
	h.srv.Handle(http.MethodGet, "/api/v1/incident/contacts/{id}", read, h.apiContact)
	h.srv.Handle(http.MethodPut, "/api/v1/incident/contacts/{id}", manage, h.apiUpdateContact)
	h.srv.Handle(http.MethodDelete, "/api/v1/incident/contacts/{id}", manage, h.apiDeleteContact)
}

// OfficerJSON is an officer in the API.
type OfficerJSON struct {
	Facility int64  `json:"facility"`
	Role     string `json:"role"`
	Person
	Updated   time.Time `json:"updated"`
	UpdatedBy string    `json:"updated_by"`
}

// MemberJSON is a CSIRT member in the API.
type MemberJSON struct {
	ID       int64    `json:"id"`
	Facility int64    `json:"facility"`
	Login    string   `json:"login"`
	Roles    []string `json:"roles"`
	Deputy   int64    `json:"deputy"`
	Person
	Updated   time.Time `json:"updated"`
	UpdatedBy string    `json:"updated_by"`
}

// OrgJSON is the answer of GET /api/v1/incident/org.
type OrgJSON struct {
	Facility int64         `json:"facility"`
	Officers []OfficerJSON `json:"officers"`
	Members  []MemberJSON  `json:"members"`
}

// ShiftJSON is an on-call shift in the API.
type ShiftJSON struct {
	ID         int64     `json:"id"`
	Facility   int64     `json:"facility"`
	MemberID   int64     `json:"member_id"`
	MemberName string    `json:"member_name"`
	Phones     []string  `json:"phones"`
	Mail       string    `json:"mail,omitempty"`
	Tier       string    `json:"tier"`
	Starts     time.Time `json:"starts"`
	Ends       time.Time `json:"ends"`
	CreatedBy  string    `json:"created_by"`
}

// OnCallJSON is the answer of GET /api/v1/incident/oncall.
type OnCallJSON struct {
	Facility int64       `json:"facility"`
	At       time.Time   `json:"at"`
	OnCall   []ShiftJSON `json:"on_call"`
	Shifts   []ShiftJSON `json:"shifts"`
}

// ContactJSON is an external contact in the API.
type ContactJSON struct {
	ID           int64     `json:"id"`
	Facility     int64     `json:"facility"`
	Kind         string    `json:"kind"`
	Standard     string    `json:"standard,omitempty"`
	Organisation string    `json:"organisation"`
	System       string    `json:"system,omitempty"`
	Person       string    `json:"person,omitempty"`
	Phone        string    `json:"phone"`
	Phone2       string    `json:"phone2,omitempty"`
	Mail         string    `json:"mail,omitempty"`
	WhenToCall   string    `json:"when_to_call,omitempty"`
	Notes        string    `json:"notes,omitempty"`
	NoPhone      bool      `json:"no_phone"`
	Updated      time.Time `json:"updated"`
	UpdatedBy    string    `json:"updated_by"`
}

// ContactsJSON is the answer of GET /api/v1/incident/contacts and of
// POST /api/v1/incident/contacts/standard (the contacts added).
type ContactsJSON struct {
	Facility     int64         `json:"facility"`
	Contacts     []ContactJSON `json:"contacts"`
	MissingPhone int           `json:"missing_phone"`
}

// FacilityJSON is a body that names only a facility.
type FacilityJSON struct {
	Facility int64 `json:"facility"`
}

func officerJSON(o Officer) OfficerJSON {
	return OfficerJSON{Facility: o.Facility, Role: string(o.Role), Person: o.Person, Updated: o.Updated, UpdatedBy: o.UpdatedBy}
}

func memberJSON(m Member) MemberJSON {
	j := MemberJSON{ID: m.ID, Facility: m.Facility, Login: m.Login, Roles: []string{}, Deputy: m.Deputy, Person: m.Person,
		Updated: m.Updated, UpdatedBy: m.UpdatedBy}
	for _, r := range m.Roles {
		j.Roles = append(j.Roles, string(r))
	}
	return j
}

func shiftJSON(s Shift) ShiftJSON {
	phones := s.Member.Phones()
	if phones == nil {
		phones = []string{}
	}
	return ShiftJSON{ID: s.ID, Facility: s.Facility, MemberID: s.MemberID, MemberName: s.Member.Name, Phones: phones, Mail: s.Member.Mail,
		Tier: string(s.Tier), Starts: s.Starts, Ends: s.Ends, CreatedBy: s.CreatedBy}
}

func contactJSON(c Contact) ContactJSON {
	return ContactJSON{ID: c.ID, Facility: c.Facility, Kind: string(c.Kind), Standard: c.Standard, Organisation: c.Organisation,
		System: c.System, Person: c.Person, Phone: c.Phone, Phone2: c.Phone2, Mail: c.Mail, WhenToCall: c.WhenToCall, Notes: c.Notes,
		NoPhone: c.NoPhone(), Updated: c.Updated, UpdatedBy: c.UpdatedBy}
}

// orgProblem answers err, if any, as a problem and reports whether it did.
func (h *handlers) orgProblem(w http.ResponseWriter, r *http.Request, err error) bool {
	oe, isOrg := IsOrgError(err)
	switch {
	case err == nil:
		return false
	case isOrg && oe.Field == "":
		h.srv.Problem(w, r, http.StatusConflict, "org-conflict", oe.MsgID, nil)
	case isOrg:
		p := web.Problem{Type: web.ProblemTypePrefix + "validation", Title: "Unprocessable Entity",
			Status: http.StatusUnprocessableEntity, Detail: h.srv.T(r, oe.MsgID, map[string]any{"Max": MaxCriteria})}
		p.Errors = []web.FieldError{{Field: oe.Field, Message: p.Detail}}
		h.srv.WriteProblem(w, p)
	case errors.Is(err, errBadFacility):
		h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "incident.org.error.facility", nil)
	case errors.Is(err, db.ErrNotFound):
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
	default:
		h.srv.Log().Error("incident organisation", "path", r.URL.Path, "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
	}
	return true
}

// apiID reads the {id} of the path, answering 404 when it is no id.
func (h *handlers) apiID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id := orgPathID(r)
	if id == 0 {
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
	}
	return id, id != 0
}

// decode reads the JSON body into v, answering the problem when it cannot.
func (h *handlers) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := web.DecodeJSON(r, v); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return false
	}
	return true
}

func (h *handlers) apiOrg(w http.ResponseWriter, r *http.Request) {
	f, _, err := h.orgFacility(r, orgScope(r, PermContactsRead))
	if h.orgProblem(w, r, err) {
		return
	}
	out := OrgJSON{Facility: f.ID, Officers: []OfficerJSON{}, Members: []MemberJSON{}}
	officers, err := Officers(r.Context(), h.cfg.DB, f.ID)
	if h.orgProblem(w, r, err) {
		return
	}
	for _, o := range officers {
		out.Officers = append(out.Officers, officerJSON(o))
	}
	members, err := Members(r.Context(), h.cfg.DB, f.ID)
	if h.orgProblem(w, r, err) {
		return
	}
	for _, m := range members {
		out.Members = append(out.Members, memberJSON(m))
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiSetOfficer(w http.ResponseWriter, r *http.Request) {
	var in OfficerInput
	if !h.decode(w, r, &in) {
		return
	}
	role, ok := ParseOfficerRole(r.PathValue("role"))
	if !ok {
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return
	}
	o, err := SetOfficer(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), role, in, h.cfg.Clock.Now())
	if !h.orgProblem(w, r, err) {
		web.JSON(w, http.StatusOK, officerJSON(o))
	}
}

func (h *handlers) apiCreateMember(w http.ResponseWriter, r *http.Request) {
	var in MemberInput
	if !h.decode(w, r, &in) {
		return
	}
	m, err := CreateMember(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), in, h.cfg.Clock.Now())
	if !h.orgProblem(w, r, err) {
		w.Header().Set("Location", "/api/v1/incident/org/members/"+strconv.FormatInt(m.ID, 10))
		web.JSON(w, http.StatusCreated, memberJSON(m))
	}
}

func (h *handlers) apiMember(w http.ResponseWriter, r *http.Request) {
	id, ok := h.apiID(w, r)
	if !ok {
		return
	}
	m, err := MemberByID(r.Context(), h.cfg.DB, orgScope(r, PermContactsRead), id)
	if !h.orgProblem(w, r, err) {
		web.JSON(w, http.StatusOK, memberJSON(m))
	}
}

func (h *handlers) apiUpdateMember(w http.ResponseWriter, r *http.Request) {
	var in MemberInput
	if !h.decode(w, r, &in) {
		return
	}
	id, ok := h.apiID(w, r)
	if !ok {
		return
	}
	m, err := UpdateMember(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), id, in, h.cfg.Clock.Now())
	if !h.orgProblem(w, r, err) {
		web.JSON(w, http.StatusOK, memberJSON(m))
	}
}

func (h *handlers) apiDeleteMember(w http.ResponseWriter, r *http.Request) {
	id, ok := h.apiID(w, r)
	if !ok {
		return
	}
	err := DeleteMember(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), id, h.cfg.Clock.Now())
	if !h.orgProblem(w, r, err) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *handlers) apiOnCall(w http.ResponseWriter, r *http.Request) {
	at := h.cfg.Clock.Now()
	if s := r.URL.Query().Get("at"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "incident.org.error.at", nil)
			return
		}
		at = t.UTC()
	}
	f, _, err := h.orgFacility(r, orgScope(r, PermContactsRead))
	if h.orgProblem(w, r, err) {
		return
	}
	now, err := OnCallAt(r.Context(), h.cfg.DB, f.ID, at)
	if h.orgProblem(w, r, err) {
		return
	}
	shifts, err := Shifts(r.Context(), h.cfg.DB, f.ID, at)
	if h.orgProblem(w, r, err) {
		return
	}
	out := OnCallJSON{Facility: f.ID, At: at, OnCall: []ShiftJSON{}, Shifts: []ShiftJSON{}}
	for _, s := range now {
		out.OnCall = append(out.OnCall, shiftJSON(s))
	}
	for _, s := range shifts {
		out.Shifts = append(out.Shifts, shiftJSON(s))
	}
	web.JSON(w, http.StatusOK, out)
}

func (h *handlers) apiCreateShift(w http.ResponseWriter, r *http.Request) {
	var in ShiftInput
	if !h.decode(w, r, &in) {
		return
	}
	s, err := CreateShift(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), in, h.cfg.Clock.Now())
	if !h.orgProblem(w, r, err) {
		web.JSON(w, http.StatusCreated, shiftJSON(s))
	}
}

func (h *handlers) apiDeleteShift(w http.ResponseWriter, r *http.Request) {
	id, ok := h.apiID(w, r)
	if !ok {
		return
	}
	err := DeleteShift(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), id, h.cfg.Clock.Now())
	if !h.orgProblem(w, r, err) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *handlers) apiContacts(w http.ResponseWriter, r *http.Request) {
	f, _, err := h.orgFacility(r, orgScope(r, PermContactsRead))
	if h.orgProblem(w, r, err) {
		return
	}
	list, err := Contacts(r.Context(), h.cfg.DB, f.ID)
	if !h.orgProblem(w, r, err) {
		web.JSON(w, http.StatusOK, contactsJSON(f.ID, list))
	}
}

func contactsJSON(f int64, list []Contact) ContactsJSON {
	out := ContactsJSON{Facility: f, Contacts: []ContactJSON{}}
	for _, c := range list {
		out.Contacts = append(out.Contacts, contactJSON(c))
		if c.NoPhone() {
			out.MissingPhone++
		}
	}
	return out
}

func (h *handlers) apiContact(w http.ResponseWriter, r *http.Request) {
	id, ok := h.apiID(w, r)
	if !ok {
		return
	}
	c, err := ContactByID(r.Context(), h.cfg.DB, orgScope(r, PermContactsRead), id)
	if !h.orgProblem(w, r, err) {
		web.JSON(w, http.StatusOK, contactJSON(c))
	}
}

func (h *handlers) apiCreateContact(w http.ResponseWriter, r *http.Request) {
	var in ContactInput
	if !h.decode(w, r, &in) {
		return
	}
	c, err := CreateContact(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), in, h.cfg.Clock.Now())
	if !h.orgProblem(w, r, err) {
		w.Header().Set("Location", "/api/v1/incident/contacts/"+strconv.FormatInt(c.ID, 10))
		web.JSON(w, http.StatusCreated, contactJSON(c))
	}
}

func (h *handlers) apiUpdateContact(w http.ResponseWriter, r *http.Request) {
	var in ContactInput
	if !h.decode(w, r, &in) {
		return
	}
	id, ok := h.apiID(w, r)
	if !ok {
		return
	}
	c, err := UpdateContact(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), id, in, h.cfg.Clock.Now())
	if !h.orgProblem(w, r, err) {
		web.JSON(w, http.StatusOK, contactJSON(c))
	}
}

func (h *handlers) apiDeleteContact(w http.ResponseWriter, r *http.Request) {
	id, ok := h.apiID(w, r)
	if !ok {
		return
	}
	err := DeleteContact(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), id, h.cfg.Clock.Now())
	if !h.orgProblem(w, r, err) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *handlers) apiStandardContacts(w http.ResponseWriter, r *http.Request) {
	var in FacilityJSON
	if !h.decode(w, r, &in) {
		return
	}
	added, err := AddStandardAuthorities(r.Context(), h.cfg.DB, h.cfg.Recorder, orgScope(r, PermOrgManage), orgActor(r), in.Facility,
		h.cfg.Clock.Now())
	if !h.orgProblem(w, r, err) {
		web.JSON(w, http.StatusOK, contactsJSON(in.Facility, added))
	}
}
