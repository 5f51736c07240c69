package identity

import (
	"embed"
	"errors"
	"io/fs"
	"net/http"

	"github.com/anzen-health/anzen/internal/platform/web"
)

//go:embed templates/*.html
var templates embed.FS

func templatesFS() fs.FS {
	sub, _ := fs.Sub(templates, "templates")
	return sub
}

func (h *Handlers) registerSettings() {
	h.srv.Handle("GET", "/settings", web.SignedIn, h.settingsPage)
	h.srv.Handle("POST", "/settings/password", web.SignedIn, h.settingsPassword)
	h.srv.Handle("POST", "/settings/totp/begin", web.SignedIn, h.settingsTOTPBegin)
	h.srv.Handle("POST", "/settings/totp/confirm", web.SignedIn, h.settingsTOTPConfirm)
	h.srv.Handle("POST", "/settings/totp/remove", web.SignedIn, h.settingsTOTPRemove)
	h.srv.Handle("POST", "/settings/recovery-codes", web.SignedIn, h.settingsRecoveryCodes)
}

type settingsView struct {
	User    *User
	Factors Factors
	Rules   passwordRulesView
	Fields  map[string]string
	Error   string
	TOTP    *TOTPEnrolment
	Codes   []string
	Keys    []WebAuthnKey
}

func (h *Handlers) me(w http.ResponseWriter, r *http.Request) (*User, bool) {
	u, err := h.svc.UserByID(r.Context(), web.PrincipalOf(r).UserID)
	if err != nil {
		h.internal(w, r, err)
		return nil, false
	}
	return u, true
}

func (h *Handlers) renderSettings(w http.ResponseWriter, r *http.Request, status int, u *User, v settingsView) {
	f, err := h.svc.FactorsOf(r.Context(), u.ID)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	keys, err := h.svc.WebAuthnKeys(r.Context(), u.ID)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	v.User, v.Factors, v.Rules, v.Keys = u, f, h.rules(r.Context(), u), keys
	h.srv.Render(w, r, status, "identity/settings", v)
}

func (h *Handlers) settingsPage(w http.ResponseWriter, r *http.Request) {
	if u, ok := h.me(w, r); ok {
		h.renderSettings(w, r, http.StatusOK, u, settingsView{})
	}
}

func (h *Handlers) settingsPassword(w http.ResponseWriter, r *http.Request) {
	u, ok := h.me(w, r)
	if !ok {
		return
	}
	current, next, confirm := r.PostFormValue("current"), r.PostFormValue("password"), r.PostFormValue("confirm")
	if next != confirm {
		h.renderSettings(w, r, http.StatusUnprocessableEntity, u,
			settingsView{Fields: map[string]string{"confirm": "password.rule.confirm"}})
		return
	}
	p := web.PrincipalOf(r)
	err := h.svc.ChangePassword(r.Context(), ActorOf(p, web.ClientAddr(r)), u.ID, current, next)
	var ve *ValidationError
	if errors.As(err, &ve) {
		h.renderSettings(w, r, http.StatusUnprocessableEntity, u, settingsView{Fields: ve.Fields})
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	// Other sessions of the person end; this one continues under a new id.
	secret, err := h.svc.PromoteSession(r.Context(), h.svc.db, p.SessionID, web.StageFull)
	if err == nil {
		err = h.svc.EndSessionsOf(r.Context(), h.svc.db, u.ID, hashSecret(secret))
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.svc.SetSessionCookie(w, secret)
	h.srv.Flash(w, "settings.password_changed")
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
}

func (h *Handlers) settingsTOTPBegin(w http.ResponseWriter, r *http.Request) {
	u, ok := h.me(w, r)
	if !ok {
		return
	}
	enr, err := h.svc.BeginTOTP(r.Context(), u)
	if err != nil {
		h.renderSettings(w, r, http.StatusConflict, u, settingsView{Error: "settings.totp_already"})
		return
	}
	h.renderSettings(w, r, http.StatusOK, u, settingsView{TOTP: enr})
}

func (h *Handlers) settingsTOTPConfirm(w http.ResponseWriter, r *http.Request) {
	u, ok := h.me(w, r)
	if !ok {
		return
	}
	codes, err := h.svc.ConfirmTOTP(r.Context(), ActorOf(web.PrincipalOf(r), web.ClientAddr(r)), u, r.PostFormValue("code"))
	if errors.Is(err, ErrSecondFactor) {
		h.renderSettings(w, r, http.StatusUnprocessableEntity, u, settingsView{Error: "login.error.totp"})
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.renderSettings(w, r, http.StatusOK, u, settingsView{Codes: codes})
}

func (h *Handlers) settingsTOTPRemove(w http.ResponseWriter, r *http.Request) {
	u, ok := h.me(w, r)
	if !ok {
		return
	}
	err := h.svc.RemoveTOTP(r.Context(), ActorOf(web.PrincipalOf(r), web.ClientAddr(r)), u)
	if errors.Is(err, ErrLastFactor) {
		h.renderSettings(w, r, http.StatusConflict, u, settingsView{Error: "settings.last_factor"})
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.srv.Flash(w, "settings.totp_removed")
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
}

func (h *Handlers) settingsRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	u, ok := h.me(w, r)
	if !ok {
		return
	}
	codes, err := h.svc.NewRecoveryCodes(r.Context(), ActorOf(web.PrincipalOf(r), web.ClientAddr(r)), u)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.renderSettings(w, r, http.StatusOK, u, settingsView{Codes: codes})
}
