package identity

import (
	"errors"
	"net/http"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

func (h *Handlers) registerAPI() {
	h.srv.Handle("POST", "/api/v1/session", web.Public, h.apiLogin)
	h.srv.Handle("DELETE", "/api/v1/session", web.Pending, h.apiLogout)
	h.srv.Handle("GET", "/api/v1/me", web.SignedIn, h.apiMe)
}

// LoginRequest is the body of POST /api/v1/session.
type LoginRequest struct {
	Login    string `json:"login"`
	Password string `json:"password"`
	OTP      string `json:"otp"`
}

// MeResponse describes the caller.
type MeResponse struct {
	ID       int64         `json:"id,omitempty"`
	Login    string        `json:"login"`
	Name     string        `json:"name"`
	Facility int64         `json:"facility"`
	Grants   []authz.Grant `json:"grants,omitempty"`
	Scopes   []string      `json:"scopes,omitempty"`
	Lang     string        `json:"lang,omitempty"`
}

func meOf(p *authz.Principal) MeResponse {
	return MeResponse{ID: p.UserID, Login: p.Login, Name: p.Name, Facility: p.Facility, Grants: p.Grants,
		Scopes: p.Scopes, Lang: p.Lang}
}

// apiLogin signs a program in with login, password and a TOTP code, and
// sets the session cookie. Each way of failing has its own problem type.
func (h *Handlers) apiLogin(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	if !h.allow(r) {
		h.srv.Problem(w, r, http.StatusTooManyRequests, "rate-limited", "error.rate_limited", nil)
		return
	}
	client := web.ClientAddr(r)
	u, err := h.svc.CheckPassword(r.Context(), req.Login, req.Password, client)
	if err != nil {
		h.svc.sleepFailure(r.Context())
		switch {
		case errors.Is(err, ErrLocked):
			h.srv.Problem(w, r, http.StatusLocked, "account-locked", "login.error.locked", nil)
		case errors.Is(err, ErrInvalidCredentials):
			h.srv.Problem(w, r, http.StatusUnauthorized, "invalid-credentials", "login.error.invalid", nil)
		default:
			h.srv.Log().Error("api login", "err", err)
			h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		}
		return
	}
	step, err := h.svc.NextStep(r.Context(), u)
	if err != nil {
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		return
	}
	method := "password"
	switch step {
	case StepChangePassword:
		h.srv.Problem(w, r, http.StatusForbidden, "password-change-required", "login.error.password_change_required", nil)
		return
	case StepEnrol:
		h.srv.Problem(w, r, http.StatusForbidden, "second-factor-enrolment-required", "login.error.enrol_required", nil)
		return
	case StepSecondFactor:
		if req.OTP == "" {
			h.srv.Problem(w, r, http.StatusUnauthorized, "second-factor-required", "login.error.second_factor_required", nil)
			return
		}
		if err := h.svc.VerifyTOTP(r.Context(), u, req.OTP); err != nil {
			if !errors.Is(err, ErrSecondFactor) {
				h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
				return
			}
			locked, err := h.svc.SecondFactorFailed(r.Context(), u, client, "wrong_totp")
			if err != nil {
				h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
				return
			}
			h.svc.sleepFailure(r.Context())
			if locked {
				h.srv.Problem(w, r, http.StatusLocked, "account-locked", "login.error.locked", nil)
				return
			}
			h.srv.Problem(w, r, http.StatusUnauthorized, "second-factor-invalid", "login.error.second_factor", nil)
			return
		}
		method = "totp"
	}
	var secret string
	err = h.svc.db.InTx(r.Context(), func(tx *db.Tx) error {
		var err error
		if secret, err = h.svc.StartSession(r.Context(), tx, u, web.StageFull, client, r.UserAgent()); err != nil {
			return err
		}
		return h.svc.recordLogin(r.Context(), tx, u, client, method)
	})
	if err != nil {
		h.srv.Log().Error("api login", "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		return
	}
	h.svc.SetSessionCookie(w, secret)
	web.JSON(w, http.StatusOK, meOf(u.Principal()))
}

func (h *Handlers) apiLogout(w http.ResponseWriter, r *http.Request) {
	p := web.PrincipalOf(r)
	if p.TokenID != 0 {
		h.srv.Problem(w, r, http.StatusBadRequest, "not-a-session", "error.not_a_session", nil)
		return
	}
	if err := h.svc.EndSession(r.Context(), p, web.ClientAddr(r)); err != nil {
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
		return
	}
	h.svc.ClearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handlers) apiMe(w http.ResponseWriter, r *http.Request) {
	web.JSON(w, http.StatusOK, meOf(web.PrincipalOf(r)))
}
