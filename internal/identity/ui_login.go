package identity

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/i18n"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// Handlers serves identity's pages and API.
type Handlers struct {
	svc     *Service
	srv     *web.Server
	limiter *web.RateLimiter
}

// Register adds identity's pages, API routes and navigation to srv and
// installs the service as the authenticator.
func Register(srv *web.Server, svc *Service, loginRatePerMin int) error {
	if err := srv.AddPages("identity", templatesFS()); err != nil {
		return err
	}
	srv.SetAuthenticator(svc)
	h := &Handlers{svc: svc, srv: srv, limiter: web.NewRateLimiter(loginRatePerMin)}
	h.registerLogin()
	h.registerSettings()
	h.registerAPI()
	h.registerAdmin()
	srv.AddStatic("identity", staticFS())
	h.registerWebAuthn()
	return nil
}

func (h *Handlers) registerLogin() {
	h.srv.Handle("GET", "/login", web.Public, h.loginPage)
	h.srv.Handle("POST", "/login", web.Public, h.loginSubmit)
	h.srv.Handle("GET", "/login/continue", web.Pending, h.continuePage)
	h.srv.Handle("POST", "/login/password", web.Pending, h.loginChangePassword)
	h.srv.Handle("POST", "/login/enrol/totp", web.Pending, h.loginEnrolTOTP)
	h.srv.Handle("POST", "/login/second-factor", web.Pending, h.loginSecondFactor)
	h.srv.Handle("POST", "/logout", web.Pending, h.logout)
	h.srv.Handle("POST", "/language", web.Public, h.setLanguage)
}

type loginView struct {
	Login  string
	Next   string
	Error  string
	Fields map[string]string
}

func (h *Handlers) loginPage(w http.ResponseWriter, r *http.Request) {
	if web.PrincipalOf(r) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	h.srv.Render(w, r, http.StatusOK, "identity/login", loginView{Next: web.SafeNext(r.URL.Query().Get("next"))})
}

// allow applies the per-address rate limit of sign-in attempts.
func (h *Handlers) allow(r *http.Request) bool { return h.limiter.Allow(web.ClientAddr(r)) }

func (h *Handlers) loginSubmit(w http.ResponseWriter, r *http.Request) {
	login, password := r.PostFormValue("login"), r.PostFormValue("password")
	v := loginView{Login: clip(login, 64), Next: web.SafeNext(r.PostFormValue("next"))}
	if !h.allow(r) {
		v.Error = "error.rate_limited"
		h.srv.Render(w, r, http.StatusTooManyRequests, "identity/login", v)
		return
	}
	u, err := h.svc.CheckPassword(r.Context(), login, password, web.ClientAddr(r))
	if err != nil {
		h.svc.sleepFailure(r.Context())
		switch {
		case errors.Is(err, ErrLocked):
			v.Error = "login.error.locked"
		case errors.Is(err, ErrInvalidCredentials):
			v.Error = "login.error.invalid"
		default:
			h.srv.Log().Error("login", "err", err)
			v.Error = "error.internal"
		}
		h.srv.Render(w, r, http.StatusUnauthorized, "identity/login", v)
		return
	}
	step, err := h.svc.NextStep(r.Context(), u)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	stage := web.StagePending
	if step == StepDone {
		stage = web.StageFull
	}
	var secret string
	err = h.svc.db.InTx(r.Context(), func(tx *db.Tx) error {
		var err error
		if secret, err = h.svc.StartSession(r.Context(), tx, u, stage, web.ClientAddr(r), r.UserAgent()); err != nil {
			return err
		}
		if stage == web.StageFull {
			return h.svc.recordLogin(r.Context(), tx, u, web.ClientAddr(r), "password")
		}
		return nil
	})
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.svc.SetSessionCookie(w, secret)
	if stage == web.StageFull {
		http.Redirect(w, r, v.Next, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login/continue", http.StatusSeeOther)
}

func (s *Service) sleepFailure(ctx context.Context) {
	if s.set.FailureDelay <= 0 {
		return
	}
	t := time.NewTimer(s.set.FailureDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (h *Handlers) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.srv.Log().Error("identity", "path", r.URL.Path, "err", err)
	h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
}

// pending returns the user of a part-way session and the step they are at;
// a full session is sent home.
func (h *Handlers) pending(w http.ResponseWriter, r *http.Request) (*User, Step, bool) {
	p := web.PrincipalOf(r)
	ss, err := h.svc.SessionByHash(r.Context(), p.SessionID)
	if err != nil {
		h.internal(w, r, err)
		return nil, "", false
	}
	if ss.Stage == web.StageFull {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil, "", false
	}
	u, err := h.svc.UserByID(r.Context(), p.UserID)
	if err != nil {
		h.internal(w, r, err)
		return nil, "", false
	}
	if u.Locked(h.svc.clock.Now()) {
		// Locked meanwhile (wrong second factors, or elsewhere): the
		// part-way session ends.
		h.lockedOut(w, r)
		return nil, "", false
	}
	step, err := h.svc.NextStep(r.Context(), u)
	if err != nil {
		h.internal(w, r, err)
		return nil, "", false
	}
	return u, step, true
}

// lockedOut ends the part-way session of a locked account and shows the
// sign-in page with the lockout message.
func (h *Handlers) lockedOut(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.EndSession(r.Context(), web.PrincipalOf(r), web.ClientAddr(r)); err != nil {
		h.internal(w, r, err)
		return
	}
	h.svc.ClearSessionCookie(w)
	h.srv.Render(w, r, http.StatusLocked, "identity/login", loginView{Next: "/", Error: "login.error.locked"})
}

type continueView struct {
	Step     Step
	User     *User
	Error    string
	Fields   map[string]string
	Rules    passwordRulesView
	TOTP     *TOTPEnrolment
	Factors  Factors
	Codes    []string
	WebAuthn bool
}

type passwordRulesView struct {
	MinLength  int
	MinClasses int
	Profile    string
}

func (h *Handlers) rules(ctx context.Context, u *User) passwordRulesView {
	minLen, minClasses, _, _ := h.svc.set.Policy.Rules(h.svc.MFARequired(u) || h.svc.hasSecondFactor(ctx, u.ID))
	return passwordRulesView{MinLength: minLen, MinClasses: minClasses, Profile: h.svc.set.Policy.Profile}
}

func (h *Handlers) continuePage(w http.ResponseWriter, r *http.Request) {
	u, step, ok := h.pending(w, r)
	if !ok {
		return
	}
	h.renderStep(w, r, http.StatusOK, u, step, continueView{})
}

func (h *Handlers) renderStep(w http.ResponseWriter, r *http.Request, status int, u *User, step Step, v continueView) {
	v.Step, v.User = step, u
	switch step {
	case StepDone:
		// Nothing left (an administrator may have changed the role meanwhile).
		h.promote(w, r, u, "password")
		return
	case StepChangePassword:
		v.Rules = h.rules(r.Context(), u)
	case StepEnrol:
		enr, err := h.svc.BeginTOTP(r.Context(), u)
		if err != nil {
			h.internal(w, r, err)
			return
		}
		v.TOTP = enr
	case StepSecondFactor:
		f, err := h.svc.FactorsOf(r.Context(), u.ID)
		if err != nil {
			h.internal(w, r, err)
			return
		}
		v.Factors = f
	}
	h.srv.Render(w, r, status, "identity/login_"+string(step), v)
}

// promote finishes sign-in: the session becomes full under a new id, and
// the sign-in is recorded.
func (h *Handlers) promote(w http.ResponseWriter, r *http.Request, u *User, method string) {
	if secret, ok := h.finishLogin(w, r, u, method); ok {
		h.svc.SetSessionCookie(w, secret)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
}

func (h *Handlers) finishLogin(w http.ResponseWriter, r *http.Request, u *User, method string) (string, bool) {
	var secret string
	err := h.svc.db.InTx(r.Context(), func(tx *db.Tx) error {
		var err error
		if secret, err = h.svc.PromoteSession(r.Context(), tx, web.PrincipalOf(r).SessionID, web.StageFull); err != nil {
			return err
		}
		return h.svc.recordLogin(r.Context(), tx, u, web.ClientAddr(r), method)
	})
	if err != nil {
		h.internal(w, r, err)
		return "", false
	}
	return secret, true
}

func (h *Handlers) loginChangePassword(w http.ResponseWriter, r *http.Request) {
	u, step, ok := h.pending(w, r)
	if !ok {
		return
	}
	if step != StepChangePassword {
		http.Redirect(w, r, "/login/continue", http.StatusSeeOther)
		return
	}
	current, next, confirm := r.PostFormValue("current"), r.PostFormValue("password"), r.PostFormValue("confirm")
	if next != confirm {
		h.renderStep(w, r, http.StatusUnprocessableEntity, u, step,
			continueView{Fields: map[string]string{"confirm": "password.rule.confirm"}})
		return
	}
	err := h.svc.ChangePassword(r.Context(), Actor{UserID: u.ID, Login: u.Login, Client: web.ClientAddr(r)}, u.ID, current, next)
	var ve *ValidationError
	if errors.As(err, &ve) {
		h.renderStep(w, r, http.StatusUnprocessableEntity, u, step, continueView{Fields: ve.Fields})
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.srv.Flash(w, "login.password_changed")
	http.Redirect(w, r, "/login/continue", http.StatusSeeOther)
}

func (h *Handlers) loginEnrolTOTP(w http.ResponseWriter, r *http.Request) {
	u, step, ok := h.pending(w, r)
	if !ok {
		return
	}
	if step != StepEnrol {
		http.Redirect(w, r, "/login/continue", http.StatusSeeOther)
		return
	}
	codes, err := h.svc.ConfirmTOTP(r.Context(), Actor{UserID: u.ID, Login: u.Login, Client: web.ClientAddr(r)}, u,
		r.PostFormValue("code"))
	if errors.Is(err, ErrSecondFactor) {
		h.renderStep(w, r, http.StatusUnprocessableEntity, u, step, continueView{Error: "login.error.totp"})
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	secret, ok := h.finishLogin(w, r, u, "totp")
	if !ok {
		return
	}
	h.svc.SetSessionCookie(w, secret)
	h.srv.Render(w, r, http.StatusOK, "identity/recovery_codes", continueView{User: u, Codes: codes})
}

func (h *Handlers) loginSecondFactor(w http.ResponseWriter, r *http.Request) {
	u, step, ok := h.pending(w, r)
	if !ok {
		return
	}
	if step != StepSecondFactor {
		http.Redirect(w, r, "/login/continue", http.StatusSeeOther)
		return
	}
	if !h.allow(r) {
		h.renderStep(w, r, http.StatusTooManyRequests, u, step, continueView{Error: "error.rate_limited"})
		return
	}
	method := "totp"
	var err error
	if code := r.PostFormValue("recovery_code"); code != "" {
		method = "recovery_code"
		err = h.svc.UseRecoveryCode(r.Context(), u, code)
	} else {
		err = h.svc.VerifyTOTP(r.Context(), u, r.PostFormValue("code"))
	}
	if err != nil {
		if !errors.Is(err, ErrSecondFactor) {
			h.internal(w, r, err)
			return
		}
		locked, err := h.svc.SecondFactorFailed(r.Context(), u, web.ClientAddr(r), "wrong_"+method)
		if err != nil {
			h.internal(w, r, err)
			return
		}
		h.svc.sleepFailure(r.Context())
		if locked {
			h.lockedOut(w, r)
			return
		}
		h.renderStep(w, r, http.StatusUnauthorized, u, step, continueView{Error: "login.error.second_factor"})
		return
	}
	h.promote(w, r, u, method)
}

func (h *Handlers) logout(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.EndSession(r.Context(), web.PrincipalOf(r), web.ClientAddr(r)); err != nil {
		h.internal(w, r, err)
		return
	}
	h.svc.ClearSessionCookie(w)
	h.srv.Flash(w, "login.logged_out")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// setLanguage remembers the chosen language: in a cookie for everyone, and
// on the account of a signed-in person.
func (h *Handlers) setLanguage(w http.ResponseWriter, r *http.Request) {
	lang := r.PostFormValue("lang")
	if !i18n.Supported(lang) {
		h.srv.ErrorPage(w, r, http.StatusBadRequest, "error.invalid_input")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: web.LangCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: h.svc.set.SecureCookies, SameSite: http.SameSiteStrictMode})
	if p := web.PrincipalOf(r); p != nil && p.UserID != 0 {
		if err := h.svc.SetLanguage(r.Context(), ActorOf(p, web.ClientAddr(r)), p.UserID, lang); err != nil {
			h.internal(w, r, err)
			return
		}
	}
	http.Redirect(w, r, web.SafeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// SetLanguage stores a person's language.
func (s *Service) SetLanguage(ctx context.Context, by Actor, userID int64, lang string) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE identity_users SET lang = ? WHERE id = ?`, lang, userID); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, by.event("user.language", "user:"+by.Login, "success", 0,
			map[string]string{"lang": lang}))
	})
}
