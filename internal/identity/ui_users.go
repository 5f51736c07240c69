package identity

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/web"
)

func (h *Handlers) registerUsersAdmin() {
	read, manage := web.Perm(PermUsersRead), web.Perm(PermUsersManage)
	h.srv.Handle("GET", "/users", read, h.usersPage)
	h.srv.Handle("GET", "/users/new", manage, h.userNewPage)
	h.srv.Handle("POST", "/users", manage, h.userCreate)
	h.srv.Handle("GET", "/users/{id}", read, h.userPage)
	h.srv.Handle("GET", "/users/{id}/edit", manage, h.userEditPage)
	h.srv.Handle("POST", "/users/{id}/edit", manage, h.userEdit)
	h.srv.Handle("POST", "/users/{id}/status", manage, h.userStatus)
	h.srv.Handle("POST", "/users/{id}/unlock", manage, h.userUnlock)
	h.srv.Handle("POST", "/users/{id}/reset-password", manage, h.userResetPassword)
	h.srv.Handle("POST", "/users/{id}/reset-factors", manage, h.userResetFactors)
}

// usersPageSize is how many users one page of the list shows.
const usersPageSize = 50

// maxQueryLen is the longest search text, in characters.
const maxQueryLen = 100

// parseUserFilter reads the filters shared by the page and the API:
// q, status, profession, role and locked.
func parseUserFilter(q url.Values) (UserFilter, *ValidationError) {
	var f UserFilter
	var ve ValidationError
	f.Query = strings.TrimSpace(q.Get("q"))
	switch {
	case !utf8.ValidString(f.Query):
		ve.add("q", "validation.utf8")
	case utf8.RuneCountInString(f.Query) > maxQueryLen:
		ve.add("q", "validation.too_long")
	case strings.ContainsFunc(f.Query, unicode.IsControl):
		ve.add("q", "validation.control_chars")
	}
	if s := q.Get("status"); s != "" {
		if f.Status = Status(s); !slices.Contains(Statuses, f.Status) {
			ve.add("status", "validation.status")
		}
	}
	if s := q.Get("profession"); s != "" {
		if f.Profession = Profession(s); !slices.Contains(Professions, f.Profession) {
			ve.add("profession", "validation.profession")
		}
	}
	if s := q.Get("role"); s != "" {
		role, err := authz.ParseRole(s)
		if err != nil {
			ve.add("role", "validation.role")
		}
		f.Role = role
	}
	switch q.Get("locked") {
	case "", "0", "false":
	case "1", "true", "on":
		f.LockedOnly = true
	default:
		ve.add("locked", "admin.validation.boolean")
	}
	if len(ve.Fields) > 0 {
		return f, &ve
	}
	return f, nil
}

// userRow is one user of the list, with its badges.
type userRow struct {
	*User
	FacilityName string
	Grants       []string
	Locked       bool
	NoFactor     bool
	Expired      bool
}

// usersView is what templates/users.html sees as .Data.
type usersView struct {
	Q, Status, Profession, Role string
	Locked                      bool
	Statuses, Professions       []option
	Roles                       []option
	Fields                      map[string]string
	Rows                        []userRow
	Total, Page, Pages          int
	PrevURL, NextURL            string
}

func (h *Handlers) usersPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := usersView{Q: clip(q.Get("q"), maxQueryLen), Status: q.Get("status"), Profession: q.Get("profession"),
		Role: q.Get("role"), Page: 1, Fields: map[string]string{}}
	f, ve := parseUserFilter(q)
	if ve != nil {
		v.Fields = ve.Fields
	}
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100000 {
			v.Fields["page"] = "admin.validation.page"
		} else {
			v.Page = n
		}
	}
	v.Locked = f.LockedOnly
	v.Statuses = enumOptions(h, r, Statuses, "status.", "admin.any", v.Status)
	v.Professions = enumOptions(h, r, Professions, "profession.", "admin.any", v.Profession)
	v.Roles = enumOptions(h, r, authz.Roles, "role.", "admin.any", v.Role)
	if len(v.Fields) > 0 {
		h.srv.Render(w, r, http.StatusBadRequest, "identity/users", v)
		return
	}
	sc := FacilityScopeOf(web.PrincipalOf(r), PermUsersRead)
	f.AllFacilities, f.Facilities = sc.All, sc.Facilities
	f.Limit, f.Offset = usersPageSize, (v.Page-1)*usersPageSize
	users, total, err := h.svc.ListUsers(r.Context(), f)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	rows, err := h.userRows(r, users)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	v.Rows, v.Total = rows, total
	v.Pages = max(1, (total+usersPageSize-1)/usersPageSize)
	if v.Page > 1 {
		v.PrevURL = pageLink(q, v.Page-1)
	}
	if v.Page < v.Pages {
		v.NextURL = pageLink(q, v.Page+1)
	}
	h.srv.Render(w, r, http.StatusOK, "identity/users", v)
}

func pageLink(q url.Values, page int) string {
	c := url.Values{}
	for _, k := range []string{"q", "status", "profession", "role", "locked"} {
		if s := q.Get(k); s != "" {
			c.Set(k, s)
		}
	}
	c.Set("page", strconv.Itoa(page))
	return "/users?" + c.Encode()
}

func (h *Handlers) userRows(r *http.Request, users []*User) ([]userRow, error) {
	_, names, err := h.facilityNames(r.Context(), h.srv.Lang(r))
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	noFactor, err := h.svc.WithoutSecondFactor(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	now := h.svc.clock.Now()
	rows := make([]userRow, 0, len(users))
	for _, u := range users {
		row := userRow{User: u, FacilityName: names[u.Facility], Locked: u.Locked(now), NoFactor: noFactor[u.ID],
			Expired: !u.ValidUntil.IsZero() && !now.Before(u.ValidUntil)}
		for _, g := range u.Grants {
			row.Grants = append(row.Grants, h.grantLabel(r, g, names))
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// grantRow is one role-and-facility line of the user form.
type grantRow struct {
	N          int
	Roles      []option
	Facilities []option
}

// userFormView is what templates/user_form.html sees as .Data.
type userFormView struct {
	Edit                              bool
	ID                                int64
	Login, Name, NameKana, Department string
	ValidFrom, ValidUntil             string
	Facilities, Professions           []option
	Grants                            []grantRow
	Fields                            map[string]string
}

// userForm is the user form as typed.
type userForm struct {
	Login, Name, NameKana, Department, Profession, Facility, ValidFrom, ValidUntil string
	Grants                                                                         [][2]string // role, facility
}

func readUserForm(r *http.Request) userForm {
	f := userForm{Login: r.PostFormValue("login"), Name: r.PostFormValue("name"),
		NameKana: r.PostFormValue("name_kana"), Department: r.PostFormValue("department"),
		Profession: r.PostFormValue("profession"), Facility: r.PostFormValue("facility"),
		ValidFrom: r.PostFormValue("valid_from"), ValidUntil: r.PostFormValue("valid_until")}
	// A row without a role is an unused row: its facility select always
	// sends a value.
	for i := range maxGrants {
		role, fac := r.PostFormValue(fmt.Sprintf("grant_role_%d", i)), r.PostFormValue(fmt.Sprintf("grant_facility_%d", i))
		if role != "" {
			f.Grants = append(f.Grants, [2]string{role, fac})
		}
	}
	return f
}

// userFormOf is the form filled with a stored user.
func (h *Handlers) userFormOf(u *User) userForm {
	f := userForm{Login: u.Login, Name: u.Name, NameKana: u.NameKana, Department: u.Department,
		Profession: string(u.Profession), Facility: facilityValue(u.Facility),
		ValidFrom: h.dateValue(u.ValidFrom, false), ValidUntil: h.dateValue(u.ValidUntil, true)}
	for _, g := range u.Grants {
		f.Grants = append(f.Grants, [2]string{string(g.Role), facilityValue(g.Facility)})
	}
	return f
}

// parse turns the form into its parts, noting what cannot be read.
func (h *Handlers) parseUserForm(f userForm, ve *ValidationError) (home int64, ch UserChange) {
	home, ok := parseFacility(f.Facility)
	if !ok || home == authz.AllFacilities {
		ve.add("facility", "validation.facility")
	}
	ch = UserChange{Name: f.Name, NameKana: f.NameKana, Department: f.Department, Profession: Profession(f.Profession),
		Facility: home}
	if ch.ValidFrom, ok = h.parseDate(f.ValidFrom, false); !ok {
		ve.add("valid_from", "admin.validation.date")
	}
	if ch.ValidUntil, ok = h.parseDate(f.ValidUntil, true); !ok {
		ve.add("valid_until", "admin.validation.date")
	}
	for _, g := range f.Grants {
		fac, ok := parseFacility(g[1])
		if g[0] == "" || !ok {
			ve.add("roles", "admin.validation.grant_row")
			continue
		}
		ch.Grants = append(ch.Grants, authz.Grant{Role: authz.Role(g[0]), Facility: fac})
	}
	return home, ch
}

func (h *Handlers) renderUserForm(w http.ResponseWriter, r *http.Request, status int, id int64, f userForm, fields map[string]string) {
	list, err := h.svc.Facilities(r.Context())
	if err != nil {
		h.internal(w, r, err)
		return
	}
	sc := FacilityScopeOf(web.PrincipalOf(r), PermUsersManage)
	v := userFormView{Edit: id != 0, ID: id, Login: f.Login, Name: f.Name, NameKana: f.NameKana,
		Department: f.Department, ValidFrom: f.ValidFrom, ValidUntil: f.ValidUntil,
		Facilities:  h.facilityOptions(r, list, sc, false, f.Facility),
		Professions: enumOptions(h, r, Professions, "profession.", "admin.choose", f.Profession), Fields: fields}
	rows := min(maxGrants, max(3, len(f.Grants)+2))
	for i := range rows {
		var role, fac string
		if i < len(f.Grants) {
			role, fac = f.Grants[i][0], f.Grants[i][1]
		}
		v.Grants = append(v.Grants, grantRow{N: i, Roles: enumOptions(h, r, authz.Roles, "role.", "admin.none", role),
			Facilities: h.facilityOptions(r, list, sc, true, fac)})
	}
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	h.srv.Render(w, r, status, "identity/user_form", v)
}

func (h *Handlers) userNewPage(w http.ResponseWriter, r *http.Request) {
	f := userForm{}
	if ids := FacilityScopeOf(web.PrincipalOf(r), PermUsersManage).Facilities; len(ids) == 1 {
		f.Facility = strconv.FormatInt(ids[0], 10)
		f.Grants = [][2]string{{string(authz.Staff), f.Facility}}
	}
	h.renderUserForm(w, r, http.StatusOK, 0, f, nil)
}

// userCreatedView is what templates/user_created.html sees as .Data.
type userCreatedView struct {
	User     *User
	Password string
}

func (h *Handlers) userCreate(w http.ResponseWriter, r *http.Request) {
	f := readUserForm(r)
	var ve ValidationError
	home, ch := h.parseUserForm(f, &ve)
	checkGrantScope(&ve, FacilityScopeOf(web.PrincipalOf(r), PermUsersManage), home, ch.Grants)
	if len(ve.Fields) > 0 {
		h.renderUserForm(w, r, http.StatusUnprocessableEntity, 0, f, ve.Fields)
		return
	}
	u, password, err := h.svc.CreateUser(r.Context(), actor(r), NewUser{Facility: home, Login: f.Login, Name: ch.Name,
		NameKana: ch.NameKana, Department: ch.Department, Profession: ch.Profession, ValidFrom: ch.ValidFrom,
		ValidUntil: ch.ValidUntil, Grants: ch.Grants})
	var sve *ValidationError
	switch {
	case errors.As(err, &sve):
		h.renderUserForm(w, r, http.StatusUnprocessableEntity, 0, f, sve.Fields)
		return
	case errors.Is(err, ErrDuplicateLogin):
		h.renderUserForm(w, r, http.StatusConflict, 0, f, map[string]string{"login": "validation.duplicate"})
		return
	case err != nil:
		h.internal(w, r, err)
		return
	}
	h.srv.Render(w, r, http.StatusCreated, "identity/user_created", userCreatedView{User: u, Password: password})
}

func (h *Handlers) userEditPage(w http.ResponseWriter, r *http.Request) {
	u, err := h.userFor(r, true)
	if err != nil {
		h.pageUserError(w, r, err)
		return
	}
	h.renderUserForm(w, r, http.StatusOK, u.ID, h.userFormOf(u), nil)
}

func (h *Handlers) userEdit(w http.ResponseWriter, r *http.Request) {
	u, err := h.userFor(r, true)
	if err != nil {
		h.pageUserError(w, r, err)
		return
	}
	f := readUserForm(r)
	f.Login = u.Login
	var ve ValidationError
	home, ch := h.parseUserForm(f, &ve)
	checkGrantScope(&ve, FacilityScopeOf(web.PrincipalOf(r), PermUsersManage), home, ch.Grants)
	if len(ve.Fields) > 0 {
		h.renderUserForm(w, r, http.StatusUnprocessableEntity, u.ID, f, ve.Fields)
		return
	}
	ch.Status, ch.Lang = u.Status, u.Lang
	_, err = h.svc.UpdateUser(r.Context(), actor(r), u.ID, ch)
	var sve *ValidationError
	switch {
	case errors.As(err, &sve):
		h.renderUserForm(w, r, http.StatusUnprocessableEntity, u.ID, f, sve.Fields)
		return
	case err != nil:
		h.internal(w, r, err)
		return
	}
	h.userDone(w, r, u.ID, "users.flash.saved")
}

// userDone shows the user's page again with a message.
func (h *Handlers) userDone(w http.ResponseWriter, r *http.Request, id int64, msgID string) {
	h.srv.Flash(w, msgID)
	http.Redirect(w, r, "/users/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

func (h *Handlers) userStatus(w http.ResponseWriter, r *http.Request) {
	u, err := h.userFor(r, true)
	if err != nil {
		h.pageUserError(w, r, err)
		return
	}
	st := Status(r.PostFormValue("status"))
	fields := map[string]string{}
	if u.ID == web.PrincipalOf(r).UserID && st != u.Status {
		fields["status"] = "admin.validation.own_status"
	} else if !slices.Contains(Statuses, st) {
		fields["status"] = "validation.status"
	}
	if len(fields) == 0 {
		_, err = h.svc.UpdateUser(r.Context(), actor(r), u.ID, changeOf(u, st))
		var ve *ValidationError
		if errors.As(err, &ve) {
			fields = ve.Fields
		} else if err != nil {
			h.internal(w, r, err)
			return
		}
	}
	if len(fields) > 0 {
		h.renderUser(w, r, http.StatusUnprocessableEntity, u, userView{Fields: fields, Status: string(st)})
		return
	}
	h.userDone(w, r, u.ID, "users.flash.status_changed")
}

// changeOf is a change of u that keeps everything but the status.
func changeOf(u *User, st Status) UserChange {
	return UserChange{Name: u.Name, NameKana: u.NameKana, Department: u.Department, Profession: u.Profession,
		Status: st, ValidFrom: u.ValidFrom, ValidUntil: u.ValidUntil, Facility: u.Facility, Grants: u.Grants,
		Lang: u.Lang}
}

func (h *Handlers) userUnlock(w http.ResponseWriter, r *http.Request) {
	u, err := h.userFor(r, true)
	if err != nil {
		h.pageUserError(w, r, err)
		return
	}
	if err := h.svc.Unlock(r.Context(), actor(r), u.Login); err != nil {
		h.internal(w, r, err)
		return
	}
	h.userDone(w, r, u.ID, "users.flash.unlocked")
}

func (h *Handlers) userResetPassword(w http.ResponseWriter, r *http.Request) {
	u, err := h.userFor(r, true)
	if err != nil {
		h.pageUserError(w, r, err)
		return
	}
	method, note := r.PostFormValue("method"), r.PostFormValue("note")
	password, err := h.svc.ResetPassword(r.Context(), actor(r), u.Login, method, note)
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		h.renderUser(w, r, http.StatusUnprocessableEntity, u, userView{Fields: ve.Fields, Method: method,
			Note: clip(note, 500)})
		return
	case err != nil:
		h.internal(w, r, err)
		return
	}
	if u, err = h.svc.UserByID(r.Context(), u.ID); err != nil {
		h.internal(w, r, err)
		return
	}
	h.renderUser(w, r, http.StatusOK, u, userView{NewPassword: password})
}

func (h *Handlers) userResetFactors(w http.ResponseWriter, r *http.Request) {
	u, err := h.userFor(r, true)
	if err != nil {
		h.pageUserError(w, r, err)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		h.renderUser(w, r, http.StatusUnprocessableEntity, u,
			userView{Fields: map[string]string{"confirm": "admin.validation.confirm"}})
		return
	}
	if err := h.svc.ResetFactors(r.Context(), actor(r), u.Login); err != nil {
		h.internal(w, r, err)
		return
	}
	h.userDone(w, r, u.ID, "users.flash.factors_reset")
}

// resetRow is one entry of the password-reset ledger on the user's page.
type resetRow struct {
	PasswordReset
	MethodLabel string
}

// userView is what templates/user.html sees as .Data.
type userView struct {
	User                 *User
	FacilityName         string
	Grants               []string
	Factors              Factors
	Locked, Expired      bool
	ValidFrom, ValidTill string
	Resets               []resetRow
	// CanManage: the caller may change this user; OutOfScope: the caller
	// manages users, but not all the facilities this user reaches.
	CanManage, OutOfScope bool
	Self                  bool
	Methods, Statuses     []option
	Fields                map[string]string
	Method, Note, Status  string // values typed, kept after an error
	NewPassword           string // shown once after a reset
}

func (h *Handlers) userPage(w http.ResponseWriter, r *http.Request) {
	u, err := h.userFor(r, false)
	if err != nil {
		h.pageUserError(w, r, err)
		return
	}
	h.renderUser(w, r, http.StatusOK, u, userView{})
}

func (h *Handlers) renderUser(w http.ResponseWriter, r *http.Request, status int, u *User, v userView) {
	ctx := r.Context()
	_, names, err := h.facilityNames(ctx, h.srv.Lang(r))
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if v.Factors, err = h.svc.FactorsOf(ctx, u.ID); err != nil {
		h.internal(w, r, err)
		return
	}
	resets, err := h.svc.PasswordResets(ctx, u.ID)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	for _, rs := range resets {
		label := rs.Method
		if slices.Contains(VerificationMethods, rs.Method) {
			label = h.srv.T(r, "users.verification."+rs.Method, nil)
		}
		v.Resets = append(v.Resets, resetRow{PasswordReset: rs, MethodLabel: label})
	}
	p := web.PrincipalOf(r)
	now := h.svc.clock.Now()
	v.User, v.FacilityName, v.Locked = u, names[u.Facility], u.Locked(now)
	v.Expired = !u.ValidUntil.IsZero() && !now.Before(u.ValidUntil)
	v.ValidFrom, v.ValidTill = h.dateValue(u.ValidFrom, false), h.dateValue(u.ValidUntil, true)
	for _, g := range u.Grants {
		v.Grants = append(v.Grants, h.grantLabel(r, g, names))
	}
	if p.Can(PermUsersManage) {
		v.CanManage = FacilityScopeOf(p, PermUsersManage).Covers(u)
		v.OutOfScope = !v.CanManage
	}
	v.Self = p.UserID == u.ID
	if v.Status == "" {
		v.Status = string(u.Status)
	}
	v.Statuses = enumOptions(h, r, Statuses, "status.", "", v.Status)
	v.Methods = enumOptions(h, r, VerificationMethods, "users.verification.", "admin.choose", v.Method)
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	h.srv.Render(w, r, status, "identity/user", v)
}
