package identity

import (
	_ "embed"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/web"
)

//go:embed openapi_admin.json
var openAPIAdmin []byte

// OpenAPIAdmin returns the piece of the OpenAPI document that describes the
// administrators' API (users, tokens, facilities), in the form of
// OpenAPI's; internal/app merges it with the other parts' pieces.
func OpenAPIAdmin() []byte { return openAPIAdmin }

func (h *Handlers) registerUsersAPI() {
	read, manage := web.Perm(PermUsersRead), web.Perm(PermUsersManage)
	h.srv.Handle("GET", "/api/v1/users", read, h.apiUsers)
	h.srv.Handle("POST", "/api/v1/users", manage, h.apiCreateUser)
	h.srv.Handle("GET", "/api/v1/users/{id}", read, h.apiUser)
	h.srv.Handle("PATCH", "/api/v1/users/{id}", manage, h.apiUpdateUser)
	h.srv.Handle("POST", "/api/v1/users/{id}/unlock", manage, h.apiUnlock)
	h.srv.Handle("POST", "/api/v1/users/{id}/reset-password", manage, h.apiResetPassword)
	h.srv.Handle("POST", "/api/v1/users/{id}/reset-second-factors", manage, h.apiResetFactors)
}

// apiUserFields renames the service's field names to the API's.
var apiUserFields = map[string]string{"roles": "grants"}

// UserInfo is a user as the administrators' API shows it.
type UserInfo struct {
	*User
	Locked        bool `json:"locked"`
	ValidityEnded bool `json:"validity_ended"`
	SecondFactor  bool `json:"second_factor"`
}

// UserDetail is the body of GET /api/v1/users/{id}.
type UserDetail struct {
	UserInfo
	Factors        Factors         `json:"factors"`
	PasswordResets []PasswordReset `json:"password_resets"`
}

// UsersResponse is the body of GET /api/v1/users.
type UsersResponse struct {
	Users  []UserInfo `json:"users"`
	Total  int        `json:"total"`
	Limit  int        `json:"limit"`
	Offset int        `json:"offset"`
}

// CreateUserRequest is the body of POST /api/v1/users. Times are RFC 3339;
// valid_until is the first instant the account is no longer valid.
type CreateUserRequest struct {
	Login      string        `json:"login"`
	Name       string        `json:"name"`
	NameKana   string        `json:"name_kana"`
	Department string        `json:"department"`
	Profession string        `json:"profession"`
	Facility   int64         `json:"facility"`
	Grants     []authz.Grant `json:"grants"`
	ValidFrom  string        `json:"valid_from"`
	ValidUntil string        `json:"valid_until"`
}

// CreateUserResponse is the body of a created user: the initial password
// is shown this once and must be handed to the person securely.
type CreateUserResponse struct {
	User            UserInfo `json:"user"`
	InitialPassword string   `json:"initial_password"`
}

// UpdateUserRequest is the body of PATCH /api/v1/users/{id}; absent
// fields stay as they are, and grants, when present, replace all roles.
type UpdateUserRequest struct {
	Name       *string        `json:"name"`
	NameKana   *string        `json:"name_kana"`
	Department *string        `json:"department"`
	Profession *string        `json:"profession"`
	Status     *string        `json:"status"`
	Facility   *int64         `json:"facility"`
	Grants     *[]authz.Grant `json:"grants"`
	ValidFrom  *string        `json:"valid_from"`
	ValidUntil *string        `json:"valid_until"`
}

// ResetPasswordRequest is the body of POST /api/v1/users/{id}/reset-password:
// how the person's identity was verified (one of VerificationMethods) and
// a note for the ledger.
type ResetPasswordRequest struct {
	VerifiedBy string `json:"verified_by"`
	Note       string `json:"note"`
}

// ResetPasswordResponse carries the new one-time password, shown once.
type ResetPasswordResponse struct {
	Password string `json:"password"`
}

func (h *Handlers) userInfo(r *http.Request, u *User, noFactor bool) UserInfo {
	now := h.svc.clock.Now()
	if u.Grants == nil {
		u.Grants = []authz.Grant{}
	}
	return UserInfo{User: u, Locked: u.Locked(now), ValidityEnded: !u.ValidUntil.IsZero() && !now.Before(u.ValidUntil),
		SecondFactor: !noFactor}
}

func (h *Handlers) apiUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, ve := parseUserFilter(q)
	if ve == nil {
		ve = &ValidationError{}
	}
	f.Limit, f.Offset = 100, 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			ve.add("limit", "admin.validation.limit")
		}
		f.Limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 10_000_000 {
			ve.add("offset", "admin.validation.offset")
		}
		f.Offset = n
	}
	if len(ve.Fields) > 0 {
		h.srv.WriteProblem(w, web.Problem{Type: web.ProblemTypePrefix + "invalid-parameter",
			Title: http.StatusText(http.StatusBadRequest), Status: http.StatusBadRequest,
			Detail: h.srv.T(r, "error.invalid_input", nil), Errors: h.fieldErrors(r, ve.Fields, nil)})
		return
	}
	sc := FacilityScopeOf(web.PrincipalOf(r), PermUsersRead)
	f.AllFacilities, f.Facilities = sc.All, sc.Facilities
	users, total, err := h.svc.ListUsers(r.Context(), f)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	noFactor, err := h.svc.WithoutSecondFactor(r.Context(), ids)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	resp := UsersResponse{Users: []UserInfo{}, Total: total, Limit: f.Limit, Offset: f.Offset}
	for _, u := range users {
		resp.Users = append(resp.Users, h.userInfo(r, u, noFactor[u.ID]))
	}
	web.JSON(w, http.StatusOK, resp)
}

func (h *Handlers) apiUser(w http.ResponseWriter, r *http.Request) {
	u, err := h.userFor(r, false)
	if err != nil {
		h.apiUserError(w, r, err)
		return
	}
	h.writeUserDetail(w, r, http.StatusOK, u)
}

func (h *Handlers) writeUserDetail(w http.ResponseWriter, r *http.Request, status int, u *User) {
	f, err := h.svc.FactorsOf(r.Context(), u.ID)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	resets, err := h.svc.PasswordResets(r.Context(), u.ID)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	if resets == nil {
		resets = []PasswordReset{}
	}
	web.JSON(w, status, UserDetail{UserInfo: h.userInfo(r, u, !f.TOTP && f.WebAuthnKeys == 0), Factors: f,
		PasswordResets: resets})
}

// apiTime reads the RFC 3339 time of field, noting a malformed one.
func apiTime(ve *ValidationError, field, s string) time.Time {
	t, ok := parseAPITime(s)
	if !ok {
		ve.add(field, "admin.validation.time")
	}
	return t
}

func (h *Handlers) apiCreateUser(w http.ResponseWriter, r *http.Request) {
	var req CreateUserRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	var ve ValidationError
	from, until := apiTime(&ve, "valid_from", req.ValidFrom), apiTime(&ve, "valid_until", req.ValidUntil)
	if len(req.Grants) > maxGrants {
		ve.add("roles", "admin.validation.too_many_grants")
	}
	checkGrantScope(&ve, FacilityScopeOf(web.PrincipalOf(r), PermUsersManage), req.Facility, req.Grants)
	if len(ve.Fields) > 0 {
		h.validationProblem(w, r, ve.Fields, apiUserFields)
		return
	}
	u, password, err := h.svc.CreateUser(r.Context(), actor(r), NewUser{Facility: req.Facility, Login: req.Login,
		Name: req.Name, NameKana: req.NameKana, Department: req.Department, Profession: Profession(req.Profession),
		ValidFrom: from, ValidUntil: until, Grants: req.Grants})
	var sve *ValidationError
	switch {
	case errors.As(err, &sve):
		h.validationProblem(w, r, sve.Fields, apiUserFields)
		return
	case errors.Is(err, ErrDuplicateLogin):
		h.srv.Problem(w, r, http.StatusConflict, "duplicate-login", "validation.duplicate", nil)
		return
	case err != nil:
		h.apiInternal(w, r, err)
		return
	}
	web.JSON(w, http.StatusCreated, CreateUserResponse{User: h.userInfo(r, u, true), InitialPassword: password})
}

func (h *Handlers) apiUpdateUser(w http.ResponseWriter, r *http.Request) {
	var req UpdateUserRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	u, err := h.userFor(r, true)
	if err != nil {
		h.apiUserError(w, r, err)
		return
	}
	ch := changeOf(u, u.Status)
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&ch.Name, req.Name)
	set(&ch.NameKana, req.NameKana)
	set(&ch.Department, req.Department)
	if req.Profession != nil {
		ch.Profession = Profession(*req.Profession)
	}
	if req.Status != nil {
		ch.Status = Status(*req.Status)
	}
	if req.Facility != nil {
		ch.Facility = *req.Facility
	}
	var ve ValidationError
	if req.Grants != nil {
		if ch.Grants = *req.Grants; len(ch.Grants) > maxGrants {
			ve.add("roles", "admin.validation.too_many_grants")
		}
	}
	if req.ValidFrom != nil {
		ch.ValidFrom = apiTime(&ve, "valid_from", *req.ValidFrom)
	}
	if req.ValidUntil != nil {
		ch.ValidUntil = apiTime(&ve, "valid_until", *req.ValidUntil)
	}
	if u.ID == web.PrincipalOf(r).UserID && ch.Status != u.Status {
		ve.add("status", "admin.validation.own_status")
	}
	checkGrantScope(&ve, FacilityScopeOf(web.PrincipalOf(r), PermUsersManage), ch.Facility, ch.Grants)
	if len(ve.Fields) > 0 {
		h.validationProblem(w, r, ve.Fields, apiUserFields)
		return
	}
	u, err = h.svc.UpdateUser(r.Context(), actor(r), u.ID, ch)
	var sve *ValidationError
	switch {
	case errors.As(err, &sve):
		h.validationProblem(w, r, sve.Fields, apiUserFields)
		return
	case err != nil:
		h.apiInternal(w, r, err)
		return
	}
	h.writeUserDetail(w, r, http.StatusOK, u)
}

// decodeEmpty accepts no body, or a JSON object with no fields.
func decodeEmpty(r *http.Request) error {
	if r.ContentLength == 0 {
		return nil
	}
	var none struct{}
	return web.DecodeJSON(r, &none)
}

func (h *Handlers) apiUnlock(w http.ResponseWriter, r *http.Request) {
	if err := decodeEmpty(r); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	u, err := h.userFor(r, true)
	if err != nil {
		h.apiUserError(w, r, err)
		return
	}
	if err := h.svc.Unlock(r.Context(), actor(r), u.Login); err != nil {
		h.apiInternal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiResetFields renames the service's field names to the API's.
var apiResetFields = map[string]string{"method": "verified_by"}

func (h *Handlers) apiResetPassword(w http.ResponseWriter, r *http.Request) {
	var req ResetPasswordRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	u, err := h.userFor(r, true)
	if err != nil {
		h.apiUserError(w, r, err)
		return
	}
	password, err := h.svc.ResetPassword(r.Context(), actor(r), u.Login, req.VerifiedBy, req.Note)
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		h.validationProblem(w, r, ve.Fields, apiResetFields)
		return
	case err != nil:
		h.apiInternal(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, ResetPasswordResponse{Password: password})
}

func (h *Handlers) apiResetFactors(w http.ResponseWriter, r *http.Request) {
	if err := decodeEmpty(r); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	u, err := h.userFor(r, true)
	if err != nil {
		h.apiUserError(w, r, err)
		return
	}
	if err := h.svc.ResetFactors(r.Context(), actor(r), u.Login); err != nil {
		h.apiInternal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
