package identity

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/web"
)

func (h *Handlers) registerTokensAdmin() {
	h.srv.Handle("GET", "/tokens", web.Perm(PermTokensRead), h.tokensPage)
	h.srv.Handle("POST", "/tokens", web.Perm(PermTokensManage), h.tokenCreate)
	h.srv.Handle("POST", "/tokens/{id}/revoke", web.Perm(PermTokensManage), h.tokenRevoke)
}

// tokenExpiries are the validities the token form offers, in days; 0 is
// "never expires".
var tokenExpiries = []int{30, 90, 365, 0}

// errTokenRevoked answers a second revocation of the same token.
var errTokenRevoked = errors.New("token already revoked")

// checkTokenReach refuses a token wider than its creator: its facility
// must lie in the caller's tokens.manage scope (every facility only for a
// caller of every facility), and each permission its scopes carry that
// people hold by role must be held by the caller where the token applies.
// Permissions held by no role (for programs only, such as log ingestion)
// are the reason tokens exist and pass.
func checkTokenReach(ve *ValidationError, p *authz.Principal, scopes []string, facility int64) {
	sc := FacilityScopeOf(p, PermTokensManage)
	if !sc.Has(facility) {
		if facility == authz.AllFacilities {
			ve.add("facility", "admin.validation.all_facilities_scope")
		} else {
			ve.add("facility", "admin.validation.facility_scope")
		}
	}
	for _, perm := range authz.Permissions() {
		spec, _ := authz.Lookup(perm)
		if len(spec.Roles) == 0 {
			continue
		}
		for _, s := range scopes {
			if authz.ScopeHas(s, perm) && !p.CanIn(perm, facility) {
				ve.add("scopes", "admin.validation.scope_not_held")
			}
		}
	}
}

// tokenFor returns the token named by the route's {id} when the caller
// may see it (ErrNotFound otherwise), and with manage only when its
// facility lies in the caller's manage scope (errOutOfScope otherwise).
func (h *Handlers) tokenFor(r *http.Request, manage bool) (*Token, error) {
	id, ok := pathID(r)
	if !ok {
		return nil, ErrNotFound
	}
	t, err := h.svc.TokenByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	p := web.PrincipalOf(r)
	if !FacilityScopeOf(p, PermTokensRead).Has(t.Facility) && !(manage && FacilityScopeOf(p, PermTokensManage).Has(t.Facility)) {
		return nil, ErrNotFound
	}
	if manage && !FacilityScopeOf(p, PermTokensManage).Has(t.Facility) {
		return nil, errOutOfScope
	}
	return t, nil
}

// revokeToken revokes t unless it already is.
func (h *Handlers) revokeToken(r *http.Request, t *Token) error {
	if !t.RevokedAt.IsZero() {
		return errTokenRevoked
	}
	return h.svc.RevokeToken(r.Context(), actor(r), t.ID)
}

// tokenRow is one token of the list.
type tokenRow struct {
	*Token
	FacilityName string
	State        string // active, expired or revoked
	CanRevoke    bool
}

// tokensView is what templates/tokens.html sees as .Data.
type tokensView struct {
	Rows      []tokenRow
	CanManage bool
	// The form, as typed.
	Name       string
	Scopes     []option
	Facilities []option
	Expiries   []option
	Fields     map[string]string
	// Created is the token just made, and Secret its secret, shown once.
	Created *Token
	Secret  string
}

func (h *Handlers) tokensPage(w http.ResponseWriter, r *http.Request) {
	h.renderTokens(w, r, http.StatusOK, tokenForm{Expiry: "90"}, tokensView{})
}

// tokenForm is the create form as typed.
type tokenForm struct {
	Name, Facility, Expiry string
	Scopes                 []string
}

func (h *Handlers) renderTokens(w http.ResponseWriter, r *http.Request, status int, f tokenForm, v tokensView) {
	p := web.PrincipalOf(r)
	tokens, err := h.svc.TokensIn(r.Context(), FacilityScopeOf(p, PermTokensRead))
	if err != nil {
		h.internal(w, r, err)
		return
	}
	list, names, err := h.facilityNames(r.Context(), h.srv.Lang(r))
	if err != nil {
		h.internal(w, r, err)
		return
	}
	manage := FacilityScopeOf(p, PermTokensManage)
	now := h.svc.clock.Now()
	for _, t := range tokens {
		row := tokenRow{Token: t, FacilityName: names[t.Facility], State: "active"}
		if t.Facility == authz.AllFacilities {
			row.FacilityName = h.srv.T(r, "admin.all_facilities", nil)
		}
		switch {
		case !t.RevokedAt.IsZero():
			row.State = "revoked"
		case !t.Active(now):
			row.State = "expired"
		}
		row.CanRevoke = row.State != "revoked" && manage.Has(t.Facility)
		v.Rows = append(v.Rows, row)
	}
	v.CanManage = p.Can(PermTokensManage)
	v.Name = f.Name
	lang := h.srv.Lang(r)
	for _, s := range authz.Scopes() {
		label := s
		if id := "tokens.scope." + s; h.srv.Catalog().Has(lang, id) {
			label = s + " — " + h.srv.T(r, id, nil)
		}
		v.Scopes = append(v.Scopes, option{Value: s, Label: label, Selected: slices.Contains(f.Scopes, s)})
	}
	v.Facilities = h.facilityOptions(r, list, manage, true, f.Facility)
	for _, d := range tokenExpiries {
		o := option{Value: strconv.Itoa(d), Selected: strconv.Itoa(d) == f.Expiry}
		if d == 0 {
			o.Label = h.srv.T(r, "tokens.expiry.never", nil)
		} else {
			o.Label = h.srv.T(r, "tokens.expiry.days", map[string]any{"N": d})
		}
		v.Expiries = append(v.Expiries, o)
	}
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	h.srv.Render(w, r, status, "identity/tokens", v)
}

func (h *Handlers) tokenCreate(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.srv.ErrorPage(w, r, http.StatusBadRequest, "error.invalid_input")
		return
	}
	f := tokenForm{Name: r.PostForm.Get("name"), Facility: r.PostForm.Get("facility"),
		Expiry: r.PostForm.Get("expires"), Scopes: r.PostForm["scope"]}
	if len(f.Scopes) > 20 {
		f.Scopes = f.Scopes[:20]
	}
	var ve ValidationError
	facility, ok := parseFacility(f.Facility)
	if !ok {
		ve.add("facility", "validation.facility")
	}
	days, err := strconv.Atoi(f.Expiry)
	if err != nil || !slices.Contains(tokenExpiries, days) {
		ve.add("expires", "validation.token_ttl")
	}
	if ok {
		checkTokenReach(&ve, web.PrincipalOf(r), f.Scopes, facility)
	}
	if len(ve.Fields) > 0 {
		h.renderTokens(w, r, http.StatusUnprocessableEntity, f, tokensView{Fields: ve.Fields})
		return
	}
	t, secret, err := h.svc.CreateToken(r.Context(), actor(r), NewToken{Name: f.Name, Scopes: f.Scopes,
		Facility: facility, TTL: time.Duration(days) * 24 * time.Hour})
	var sve *ValidationError
	switch {
	case errors.As(err, &sve):
		h.renderTokens(w, r, http.StatusUnprocessableEntity, f, tokensView{Fields: sve.Fields})
		return
	case err != nil:
		h.internal(w, r, err)
		return
	}
	h.renderTokens(w, r, http.StatusCreated, tokenForm{Expiry: "90"}, tokensView{Created: t, Secret: secret})
}

func (h *Handlers) tokenRevoke(w http.ResponseWriter, r *http.Request) {
	t, err := h.tokenFor(r, true)
	if err != nil {
		h.pageUserError(w, r, err)
		return
	}
	switch err := h.revokeToken(r, t); {
	case errors.Is(err, errTokenRevoked):
		h.srv.Flash(w, "tokens.flash.already_revoked")
	case err != nil:
		h.internal(w, r, err)
		return
	default:
		h.srv.Flash(w, "tokens.flash.revoked")
	}
	http.Redirect(w, r, "/tokens", http.StatusSeeOther)
}
