package identity

import (
	"errors"
	"net/http"
	"time"

	"github.com/anzen-health/anzen/internal/platform/web"
)

func (h *Handlers) registerTokensAPI() {
	h.srv.Handle("GET", "/api/v1/tokens", web.Perm(PermTokensRead), h.apiTokens)
	h.srv.Handle("POST", "/api/v1/tokens", web.Perm(PermTokensManage), h.apiCreateToken)
	h.srv.Handle("DELETE", "/api/v1/tokens/{id}", web.Perm(PermTokensManage), h.apiRevokeToken)
}

// maxTokenDays is the longest validity of a token, in days (the service
// allows five years).
const maxTokenDays = 5 * 365

// TokensResponse is the body of GET /api/v1/tokens.
type TokensResponse struct {
	Tokens []*Token `json:"tokens"`
}

// CreateTokenRequest is the body of POST /api/v1/tokens. Facility 0 is
// every facility; expires_in_days 0 is a token that does not expire.
type CreateTokenRequest struct {
	Name          string   `json:"name"`
	Scopes        []string `json:"scopes"`
	Facility      int64    `json:"facility"`
	ExpiresInDays int      `json:"expires_in_days"`
}

// CreateTokenResponse carries the new token and its secret, shown once.
type CreateTokenResponse struct {
	Token  *Token `json:"token"`
	Secret string `json:"secret"`
}

// apiTokenFields renames the service's field names to the API's.
var apiTokenFields = map[string]string{"expires": "expires_in_days"}

func (h *Handlers) apiTokens(w http.ResponseWriter, r *http.Request) {
	tokens, err := h.svc.TokensIn(r.Context(), FacilityScopeOf(web.PrincipalOf(r), PermTokensRead))
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	if tokens == nil {
		tokens = []*Token{}
	}
	web.JSON(w, http.StatusOK, TokensResponse{Tokens: tokens})
}

func (h *Handlers) apiCreateToken(w http.ResponseWriter, r *http.Request) {
	var req CreateTokenRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	var ve ValidationError
	if req.ExpiresInDays < 0 || req.ExpiresInDays > maxTokenDays {
		ve.add("expires", "validation.token_ttl")
	}
	if len(req.Scopes) > 20 {
		ve.add("scopes", "validation.scope")
	} else {
		checkTokenReach(&ve, web.PrincipalOf(r), req.Scopes, req.Facility)
	}
	if len(ve.Fields) > 0 {
		h.validationProblem(w, r, ve.Fields, apiTokenFields)
		return
	}
	t, secret, err := h.svc.CreateToken(r.Context(), actor(r), NewToken{Name: req.Name, Scopes: req.Scopes,
		Facility: req.Facility, TTL: time.Duration(req.ExpiresInDays) * 24 * time.Hour})
	var sve *ValidationError
	switch {
	case errors.As(err, &sve):
		h.validationProblem(w, r, sve.Fields, apiTokenFields)
		return
	case err != nil:
		h.apiInternal(w, r, err)
		return
	}
	web.JSON(w, http.StatusCreated, CreateTokenResponse{Token: t, Secret: secret})
}

func (h *Handlers) apiRevokeToken(w http.ResponseWriter, r *http.Request) {
	t, err := h.tokenFor(r, true)
	if err != nil {
		h.apiUserError(w, r, err)
		return
	}
	switch err := h.revokeToken(r, t); {
	case errors.Is(err, errTokenRevoked):
		h.srv.Problem(w, r, http.StatusConflict, "token-revoked", "tokens.flash.already_revoked", nil)
	case err != nil:
		h.apiInternal(w, r, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
