package identity

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// registerAdmin adds the administrators' pages and API for users, tokens
// and facilities, their navigation entries and the users card of the
// dashboard.
//
// Every listing and action is limited to the facilities where the caller
// holds the permission the route requires (authz.Principal.Facilities). A
// user whose home facility lies outside the caller's read scope does not
// exist for the caller (404). Changing a user, resetting their password or
// factors, needs a manage scope that covers the user's home facility and
// every facility where the user holds a role (FacilityScope.Covers), else
// 403: an administrator of one hospital cannot take over an account that
// acts in another. Roles can be granted only in facilities of the caller's
// manage scope, and a role in every facility only by an administrator of
// every facility.
func (h *Handlers) registerAdmin() {
	h.registerUsersAdmin()
	h.registerTokensAdmin()
	h.registerFacilitiesAdmin()
	h.registerUsersAPI()
	h.registerTokensAPI()
	h.srv.AddNav(
		web.NavItem{Path: "/users", LabelID: "nav.users", Access: web.Perm(PermUsersRead), Order: 70},
		web.NavItem{Path: "/tokens", LabelID: "nav.tokens", Access: web.Perm(PermTokensRead), Order: 75},
		web.NavItem{Path: "/facilities", LabelID: "nav.facilities", Access: web.Perm(PermFacilitiesManage), Order: 76},
	)
	h.srv.AddCard(web.Card{ID: "users", TitleID: "users.card.title", Access: web.Perm(PermUsersRead), Order: 10,
		Stats: h.usersCard})
}

// usersCard fills the dashboard card with the user figures of the
// caller's facilities.
func (h *Handlers) usersCard(r *http.Request) ([]web.Stat, error) {
	st, err := h.svc.UserStats(r.Context(), FacilityScopeOf(web.PrincipalOf(r), PermUsersRead))
	if err != nil {
		return nil, err
	}
	level := func(n int, bad string) string {
		if n > 0 {
			return bad
		}
		return "ok"
	}
	return []web.Stat{
		{LabelID: "users.card.active", Value: strconv.Itoa(st.Active), Link: "/users?status=active"},
		{LabelID: "users.card.without_factor", Value: strconv.Itoa(st.WithoutFactor), Level: level(st.WithoutFactor, "warn")},
		{LabelID: "users.card.locked", Value: strconv.Itoa(st.Locked), Level: level(st.Locked, "bad"), Link: "/users?locked=1"},
		{LabelID: "users.card.expired_active", Value: strconv.Itoa(st.ExpiredActive), Level: level(st.ExpiredActive, "warn")},
		{LabelID: "users.card.vendors_active", Value: strconv.Itoa(st.VendorsActive), Link: "/users?profession=vendor&status=active"},
	}, nil
}

// errOutOfScope refuses an action on a user the caller may see but whose
// home facility or roles reach beyond the caller's manage scope.
var errOutOfScope = errors.New("the user has roles outside the facilities the caller manages")

// actor returns who performs the request, for the audit record.
func actor(r *http.Request) Actor { return ActorOf(web.PrincipalOf(r), web.ClientAddr(r)) }

// pathID reads the {id} of the route; a malformed id is unknown.
func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

// userFor returns the user named by the route's {id} when the caller may
// see them; with manage, also only when the caller's manage scope covers
// them. It returns ErrNotFound for a user the caller may not see, and
// errOutOfScope for one the caller sees but may not change.
func (h *Handlers) userFor(r *http.Request, manage bool) (*User, error) {
	id, ok := pathID(r)
	if !ok {
		return nil, ErrNotFound
	}
	u, err := h.svc.UserByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	p := web.PrincipalOf(r)
	read, write := FacilityScopeOf(p, PermUsersRead), FacilityScopeOf(p, PermUsersManage)
	if !read.Has(u.Facility) && !(manage && write.Has(u.Facility)) {
		return nil, ErrNotFound
	}
	if manage && !write.Covers(u) {
		return nil, errOutOfScope
	}
	return u, nil
}

// checkGrantScope refuses a home facility or a role outside the caller's
// manage scope; a role in every facility needs a scope of every facility.
func checkGrantScope(ve *ValidationError, sc FacilityScope, home int64, grants []authz.Grant) {
	if home != 0 && !sc.Has(home) {
		ve.add("facility", "admin.validation.facility_scope")
	}
	for _, g := range grants {
		if !sc.Has(g.Facility) {
			if g.Facility == authz.AllFacilities {
				ve.add("roles", "admin.validation.all_facilities_scope")
			} else {
				ve.add("roles", "admin.validation.facility_scope")
			}
		}
	}
}

// maxGrants is the most role grants one request may carry.
const maxGrants = 20

// option is one choice of a <select> or a checkbox.
type option struct {
	Value, Label string
	Selected     bool
}

// facilityLabel is a facility's name in lang.
func facilityLabel(f Facility, lang string) string {
	if lang == "en" && f.NameEN != "" {
		return f.NameEN
	}
	return f.NameJA
}

// facilityNames returns every facility and their names in lang by id.
func (h *Handlers) facilityNames(ctx context.Context, lang string) ([]Facility, map[int64]string, error) {
	list, err := h.svc.Facilities(ctx)
	if err != nil {
		return nil, nil, err
	}
	names := make(map[int64]string, len(list)+1)
	for _, f := range list {
		names[f.ID] = facilityLabel(f, lang)
	}
	return list, names, nil
}

// facilityOptions lists the facilities of scope sc as choices, with "every
// facility" first when withAll and the scope is all; selected is the
// chosen value ("all" or an id).
func (h *Handlers) facilityOptions(r *http.Request, list []Facility, sc FacilityScope, withAll bool, selected string) []option {
	var out []option
	if withAll && sc.All {
		out = append(out, option{Value: "all", Label: h.srv.T(r, "admin.all_facilities", nil), Selected: selected == "all"})
	}
	lang := h.srv.Lang(r)
	for _, f := range list {
		if !sc.Has(f.ID) {
			continue
		}
		v := strconv.FormatInt(f.ID, 10)
		out = append(out, option{Value: v, Label: facilityLabel(f, lang), Selected: v == selected})
	}
	return out
}

// facilityValue is how a facility id travels in a form: "all" for every
// facility.
func facilityValue(id int64) string {
	if id == authz.AllFacilities {
		return "all"
	}
	return strconv.FormatInt(id, 10)
}

// parseFacility reads a facility chosen in a form ("all" or an id).
func parseFacility(s string) (int64, bool) {
	if s == "all" {
		return authz.AllFacilities, true
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// grantLabel describes a grant for a page: "Administrator (Main hospital)".
func (h *Handlers) grantLabel(r *http.Request, g authz.Grant, names map[int64]string) string {
	where := h.srv.T(r, "admin.all_facilities", nil)
	if g.Facility != authz.AllFacilities {
		where = names[g.Facility]
		if where == "" {
			where = "#" + strconv.FormatInt(g.Facility, 10)
		}
	}
	return h.srv.T(r, "role."+string(g.Role), nil) + " (" + where + ")"
}

// enumOptions lists values as choices labelled by prefix+value, with an
// empty first choice labelled by emptyID when emptyID is not "".
func enumOptions[T ~string](h *Handlers, r *http.Request, values []T, prefix, emptyID, selected string) []option {
	var out []option
	if emptyID != "" {
		out = append(out, option{Value: "", Label: h.srv.T(r, emptyID, nil), Selected: selected == ""})
	}
	for _, v := range values {
		out = append(out, option{Value: string(v), Label: h.srv.T(r, prefix+string(v), nil), Selected: string(v) == selected})
	}
	return out
}

// fieldErrors translates the messages of a validation error, renaming
// fields with rename (service name -> API name), sorted by field.
func (h *Handlers) fieldErrors(r *http.Request, fields map[string]string, rename map[string]string) []web.FieldError {
	out := make([]web.FieldError, 0, len(fields))
	for f, msg := range fields {
		if n, ok := rename[f]; ok {
			f = n
		}
		out = append(out, web.FieldError{Field: f, Message: h.srv.T(r, msg, nil)})
	}
	slices.SortFunc(out, func(a, b web.FieldError) int {
		switch {
		case a.Field < b.Field:
			return -1
		case a.Field > b.Field:
			return 1
		}
		return 0
	})
	return out
}

// validationProblem answers 422 with the invalid fields of a request.
func (h *Handlers) validationProblem(w http.ResponseWriter, r *http.Request, fields map[string]string, rename map[string]string) {
	h.srv.WriteProblem(w, web.Problem{Type: web.ProblemTypePrefix + "validation",
		Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity,
		Detail: h.srv.T(r, "error.invalid_input", nil), Errors: h.fieldErrors(r, fields, rename)})
}

// apiInternal logs err and answers 500.
func (h *Handlers) apiInternal(w http.ResponseWriter, r *http.Request, err error) {
	h.srv.Log().Error("identity api", "path", r.URL.Path, "err", err)
	h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
}

// apiUserError answers a failed look-up of userFor.
func (h *Handlers) apiUserError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
	case errors.Is(err, errOutOfScope):
		h.srv.Problem(w, r, http.StatusForbidden, "out-of-scope", "admin.error.out_of_scope", nil)
	default:
		h.apiInternal(w, r, err)
	}
}

// pageUserError answers a failed look-up of userFor on a page.
func (h *Handlers) pageUserError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		h.srv.ErrorPage(w, r, http.StatusNotFound, "error.not_found")
	case errors.Is(err, errOutOfScope):
		h.srv.ErrorPage(w, r, http.StatusForbidden, "admin.error.out_of_scope")
	default:
		h.internal(w, r, err)
	}
}

// Dates on pages are days in anzen's time zone. The last day of validity
// is inclusive: "until 2027-03-31" ends at the start of 2027-04-01.
const dateLayout = "2006-01-02"

// parseDate reads a date typed into a form; "" is no date. With end it
// returns the start of the following day.
func (h *Handlers) parseDate(s string, end bool) (time.Time, bool) {
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.ParseInLocation(dateLayout, s, h.srv.Location())
	if err != nil || t.Year() < 2000 || t.Year() > 2199 {
		return time.Time{}, false
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t.UTC(), true
}

// dateValue is the form value of a time parseDate made.
func (h *Handlers) dateValue(t time.Time, end bool) string {
	if t.IsZero() {
		return ""
	}
	if end {
		t = t.Add(-time.Millisecond)
	}
	return t.In(h.srv.Location()).Format(dateLayout)
}

// parseAPITime reads an RFC 3339 time of the API; "" is no time.
func parseAPITime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.Year() < 2000 || t.Year() > 2199 {
		return time.Time{}, false
	}
	return t.UTC(), true
}
