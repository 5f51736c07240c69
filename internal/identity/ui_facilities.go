package identity

import (
	"errors"
	"net/http"
	"strings"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// registerFacilitiesAdmin adds the facilities page and API. Anyone signed
// in may list facilities through the API (pages and programs need their
// names); the page is for administrators, and adding a facility, which
// concerns the whole organisation, is for administrators of every
// facility.
func (h *Handlers) registerFacilitiesAdmin() {
	h.srv.Handle("GET", "/facilities", web.Perm(PermFacilitiesManage), h.facilitiesPage)
	h.srv.Handle("POST", "/facilities", web.Perm(PermFacilitiesManage), h.facilityCreate)
	h.srv.Handle("GET", "/api/v1/facilities", web.Perm(PermFacilitiesRead), h.apiFacilities)
	h.srv.Handle("POST", "/api/v1/facilities", web.Perm(PermFacilitiesManage), h.apiCreateFacility)
}

// facilitiesView is what templates/facilities.html sees as .Data.
type facilitiesView struct {
	Facilities []Facility
	CanAdd     bool
	Form       Facility
	Fields     map[string]string
}

// mayAddFacility reports whether the caller manages facilities everywhere.
func mayAddFacility(r *http.Request) bool {
	return FacilityScopeOf(web.PrincipalOf(r), PermFacilitiesManage).All
}

func (h *Handlers) renderFacilities(w http.ResponseWriter, r *http.Request, status int, v facilitiesView) {
	list, err := h.svc.Facilities(r.Context())
	if err != nil {
		h.internal(w, r, err)
		return
	}
	v.Facilities, v.CanAdd = list, mayAddFacility(r)
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	h.srv.Render(w, r, status, "identity/facilities", v)
}

func (h *Handlers) facilitiesPage(w http.ResponseWriter, r *http.Request) {
	h.renderFacilities(w, r, http.StatusOK, facilitiesView{})
}

func (h *Handlers) facilityCreate(w http.ResponseWriter, r *http.Request) {
	if !mayAddFacility(r) {
		h.srv.ErrorPage(w, r, http.StatusForbidden, "facilities.error.all_required")
		return
	}
	f := Facility{Code: strings.TrimSpace(r.PostFormValue("code")), NameJA: strings.TrimSpace(r.PostFormValue("name_ja")),
		NameEN: strings.TrimSpace(r.PostFormValue("name_en"))}
	_, err := h.svc.CreateFacility(r.Context(), actor(r), f)
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		h.renderFacilities(w, r, http.StatusUnprocessableEntity, facilitiesView{Form: f, Fields: ve.Fields})
		return
	case err != nil:
		h.internal(w, r, err)
		return
	}
	h.srv.Flash(w, "facilities.flash.created")
	http.Redirect(w, r, "/facilities", http.StatusSeeOther)
}

// FacilitiesResponse is the body of GET /api/v1/facilities.
type FacilitiesResponse struct {
	Facilities []Facility `json:"facilities"`
}

// CreateFacilityRequest is the body of POST /api/v1/facilities.
type CreateFacilityRequest struct {
	Code   string `json:"code"`
	NameJA string `json:"name_ja"`
	NameEN string `json:"name_en"`
}

func (h *Handlers) apiFacilities(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.Facilities(r.Context())
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	if list == nil {
		list = []Facility{}
	}
	web.JSON(w, http.StatusOK, FacilitiesResponse{Facilities: list})
}

func (h *Handlers) apiCreateFacility(w http.ResponseWriter, r *http.Request) {
	var req CreateFacilityRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	if !mayAddFacility(r) {
		h.srv.Problem(w, r, http.StatusForbidden, "out-of-scope", "facilities.error.all_required", nil)
		return
	}
	f, err := h.svc.CreateFacility(r.Context(), actor(r), Facility{Code: strings.TrimSpace(req.Code),
		NameJA: strings.TrimSpace(req.NameJA), NameEN: strings.TrimSpace(req.NameEN)})
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		if ve.Fields["code"] == "validation.duplicate" {
			h.srv.Problem(w, r, http.StatusConflict, "duplicate-facility", "validation.duplicate", nil)
			return
		}
		h.validationProblem(w, r, ve.Fields, nil)
		return
	case err != nil:
		h.apiInternal(w, r, err)
		return
	}
	web.JSON(w, http.StatusCreated, f)
}
