package identity

import (
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"strconv"

	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// The WebAuthn routes speak JSON to static/webauthn.js: a begin answers
// the options for navigator.credentials.create or get, a finish takes the
// credential the browser returned. Errors are problem+json with a
// translated detail that the script shows as it is.

//go:embed static
var staticFiles embed.FS

// staticFS holds identity's browser assets, served under /static/identity/.
func staticFS() fs.FS {
	sub, _ := fs.Sub(staticFiles, "static")
	return sub
}

func (h *Handlers) registerWebAuthn() {
	h.srv.Handle("POST", "/login/webauthn/begin", web.Pending, h.loginWebAuthnBegin)
	h.srv.Handle("POST", "/login/webauthn/finish", web.Pending, h.loginWebAuthnFinish)
	h.srv.Handle("POST", "/login/enrol/webauthn/begin", web.Pending, h.enrolWebAuthnBegin)
	h.srv.Handle("POST", "/login/enrol/webauthn/finish", web.Pending, h.enrolWebAuthnFinish)
	h.srv.Handle("POST", "/settings/webauthn/begin", web.SignedIn, h.settingsWebAuthnBegin)
	h.srv.Handle("POST", "/settings/webauthn/finish", web.SignedIn, h.settingsWebAuthnFinish)
	h.srv.Handle("POST", "/settings/webauthn/{id}/remove", web.SignedIn, h.settingsWebAuthnRemove)
}

// WebAuthnBeginRequest is the body of every begin route: an empty object.
type WebAuthnBeginRequest struct{}

// WebAuthnLoginFinishRequest is the body of POST /login/webauthn/finish:
// the PublicKeyCredential from navigator.credentials.get, its binary
// members base64url-encoded.
type WebAuthnLoginFinishRequest struct {
	Credential json.RawMessage `json:"credential"`
}

// WebAuthnRegisterFinishRequest is the body of the registration finish
// routes: the name the person gives the key and the PublicKeyCredential
// from navigator.credentials.create, binary members base64url-encoded.
type WebAuthnRegisterFinishRequest struct {
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

// WebAuthnFinishResponse answers a successful finish: where to go next,
// and recovery codes to show once when the registration made them.
type WebAuthnFinishResponse struct {
	Redirect      string   `json:"redirect"`
	RecoveryCodes []string `json:"recovery_codes,omitempty"`
}

// decode reads a JSON body. Unlike web.DecodeJSON alone it requires the
// application/json content type, which no HTML form can send.
func (h *Handlers) decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.srv.Problem(w, r, http.StatusUnsupportedMediaType, "unsupported-media-type", "error.json_content_type", nil)
		return false
	}
	if err := web.DecodeJSON(r, dst); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return false
	}
	return true
}

func (h *Handlers) problemInternal(w http.ResponseWriter, r *http.Request, err error) {
	h.srv.Log().Error("identity webauthn", "path", r.URL.Path, "err", err)
	h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
}

// webauthnProblem answers a ceremony error.
func (h *Handlers) webauthnProblem(w http.ResponseWriter, r *http.Request, err error) {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		p := web.Problem{Type: web.ProblemTypePrefix + "validation", Title: http.StatusText(http.StatusUnprocessableEntity),
			Status: http.StatusUnprocessableEntity, Detail: h.srv.T(r, "webauthn.error.name", nil)}
		for f, m := range ve.Fields {
			p.Errors = append(p.Errors, web.FieldError{Field: f, Message: h.srv.T(r, m, nil)})
		}
		h.srv.WriteProblem(w, p)
	case errors.Is(err, ErrNoCeremony):
		h.srv.Problem(w, r, http.StatusBadRequest, "webauthn-no-ceremony", "webauthn.error.no_ceremony", nil)
	case errors.Is(err, ErrWebAuthnDuplicate):
		h.srv.Problem(w, r, http.StatusConflict, "webauthn-duplicate", "webauthn.error.duplicate", nil)
	case errors.Is(err, ErrWebAuthnInvalid):
		h.srv.Log().Info("security key registration refused", "path", r.URL.Path, "err", err)
		h.srv.Problem(w, r, http.StatusBadRequest, "webauthn-invalid", "webauthn.error.invalid", nil)
	case errors.Is(err, ErrCloneWarning):
		h.srv.Problem(w, r, http.StatusUnauthorized, "webauthn-clone-warning", "webauthn.error.clone", nil)
	case errors.Is(err, ErrSecondFactor):
		h.srv.Problem(w, r, http.StatusUnauthorized, "webauthn-failed", "webauthn.error.failed", nil)
	case errors.Is(err, ErrNoWebAuthnKeys):
		h.srv.Problem(w, r, http.StatusConflict, "webauthn-no-keys", "webauthn.error.no_keys", nil)
	case errors.Is(err, ErrWebAuthnUnavailable):
		h.srv.Log().Error("webauthn unavailable", "err", err)
		h.srv.Problem(w, r, http.StatusServiceUnavailable, "webauthn-unavailable", "webauthn.error.unavailable", nil)
	default:
		h.problemInternal(w, r, err)
	}
}

// pendingAt returns the user of a part-way session when it is at step
// want, and answers problem+json otherwise.
func (h *Handlers) pendingAt(w http.ResponseWriter, r *http.Request, want Step) (*User, bool) {
	p := web.PrincipalOf(r)
	ss, err := h.svc.SessionByHash(r.Context(), p.SessionID)
	if errors.Is(err, ErrNotFound) || (err == nil && ss.Stage == web.StageFull) {
		h.srv.Problem(w, r, http.StatusConflict, "login-step", "webauthn.error.step", nil)
		return nil, false
	}
	if err != nil {
		h.problemInternal(w, r, err)
		return nil, false
	}
	u, err := h.svc.UserByID(r.Context(), p.UserID)
	if err != nil {
		h.problemInternal(w, r, err)
		return nil, false
	}
	step, err := h.svc.NextStep(r.Context(), u)
	if err != nil {
		h.problemInternal(w, r, err)
		return nil, false
	}
	if step != want {
		h.srv.Problem(w, r, http.StatusConflict, "login-step", "webauthn.error.step", nil)
		return nil, false
	}
	return u, true
}

// sessionUser returns the signed-in person of a browser session; an API
// token, which has no session to keep a ceremony in, is refused.
func (h *Handlers) sessionUser(w http.ResponseWriter, r *http.Request) (*User, bool) {
	p := web.PrincipalOf(r)
	if p.SessionID == "" || p.TokenID != 0 {
		h.srv.Problem(w, r, http.StatusBadRequest, "not-a-session", "webauthn.error.not_a_session", nil)
		return nil, false
	}
	u, err := h.svc.UserByID(r.Context(), p.UserID)
	if err != nil {
		h.problemInternal(w, r, err)
		return nil, false
	}
	return u, true
}

func actorOfUser(u *User, r *http.Request) Actor {
	return Actor{UserID: u.ID, Login: u.Login, Client: web.ClientAddr(r)}
}

func (h *Handlers) loginWebAuthnBegin(w http.ResponseWriter, r *http.Request) {
	var req WebAuthnBeginRequest
	if !h.decode(w, r, &req) {
		return
	}
	u, ok := h.pendingAt(w, r, StepSecondFactor)
	if !ok {
		return
	}
	assertion, err := h.svc.BeginWebAuthnLogin(r.Context(), u, web.PrincipalOf(r).SessionID)
	if err != nil {
		h.webauthnProblem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, assertion)
}

func (h *Handlers) loginWebAuthnFinish(w http.ResponseWriter, r *http.Request) {
	var req WebAuthnLoginFinishRequest
	if !h.decode(w, r, &req) {
		return
	}
	u, ok := h.pendingAt(w, r, StepSecondFactor)
	if !ok {
		return
	}
	if !h.allow(r) {
		h.srv.Problem(w, r, http.StatusTooManyRequests, "rate-limited", "error.rate_limited", nil)
		return
	}
	ctx, client := r.Context(), web.ClientAddr(r)
	var secret string
	err := h.svc.FinishWebAuthnLogin(ctx, u, web.PrincipalOf(r).SessionID, req.Credential, func(tx *db.Tx) error {
		var err error
		if secret, err = h.svc.PromoteSession(ctx, tx, web.PrincipalOf(r).SessionID, web.StageFull); err != nil {
			return err
		}
		return h.svc.recordLogin(ctx, tx, u, client, "webauthn")
	})
	if err != nil {
		if errors.Is(err, ErrSecondFactor) || errors.Is(err, ErrNoCeremony) {
			reason := "wrong_webauthn"
			switch {
			case errors.Is(err, ErrCloneWarning):
				reason = "webauthn_clone_warning"
			case errors.Is(err, ErrNoCeremony):
				reason = "webauthn_no_ceremony"
			}
			if _, err := h.svc.SecondFactorFailed(ctx, u, client, reason); err != nil {
				h.srv.Log().Error("record second-factor failure", "err", err)
			}
			h.svc.sleepFailure(ctx)
		}
		h.webauthnProblem(w, r, err)
		return
	}
	h.svc.SetSessionCookie(w, secret)
	web.JSON(w, http.StatusOK, WebAuthnFinishResponse{Redirect: "/"})
}

func (h *Handlers) enrolWebAuthnBegin(w http.ResponseWriter, r *http.Request) {
	var req WebAuthnBeginRequest
	if !h.decode(w, r, &req) {
		return
	}
	u, ok := h.pendingAt(w, r, StepEnrol)
	if !ok {
		return
	}
	creation, err := h.svc.BeginWebAuthnRegistration(r.Context(), u, web.PrincipalOf(r).SessionID)
	if err != nil {
		h.webauthnProblem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, creation)
}

// enrolWebAuthnFinish registers the first second factor during sign-in and
// finishes the sign-in with it. The recovery codes made with it come back
// in the answer; the page shows them once before going on.
func (h *Handlers) enrolWebAuthnFinish(w http.ResponseWriter, r *http.Request) {
	var req WebAuthnRegisterFinishRequest
	if !h.decode(w, r, &req) {
		return
	}
	u, ok := h.pendingAt(w, r, StepEnrol)
	if !ok {
		return
	}
	ctx, client := r.Context(), web.ClientAddr(r)
	var secret string
	_, codes, err := h.svc.FinishWebAuthnRegistration(ctx, actorOfUser(u, r), u, web.PrincipalOf(r).SessionID,
		req.Name, req.Credential, func(tx *db.Tx) error {
			var err error
			if secret, err = h.svc.PromoteSession(ctx, tx, web.PrincipalOf(r).SessionID, web.StageFull); err != nil {
				return err
			}
			return h.svc.recordLogin(ctx, tx, u, client, "webauthn")
		})
	if err != nil {
		h.webauthnProblem(w, r, err)
		return
	}
	h.svc.SetSessionCookie(w, secret)
	web.JSON(w, http.StatusOK, WebAuthnFinishResponse{Redirect: "/", RecoveryCodes: codes})
}

func (h *Handlers) settingsWebAuthnBegin(w http.ResponseWriter, r *http.Request) {
	var req WebAuthnBeginRequest
	if !h.decode(w, r, &req) {
		return
	}
	u, ok := h.sessionUser(w, r)
	if !ok {
		return
	}
	creation, err := h.svc.BeginWebAuthnRegistration(r.Context(), u, web.PrincipalOf(r).SessionID)
	if err != nil {
		h.webauthnProblem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, creation)
}

func (h *Handlers) settingsWebAuthnFinish(w http.ResponseWriter, r *http.Request) {
	var req WebAuthnRegisterFinishRequest
	if !h.decode(w, r, &req) {
		return
	}
	p := web.PrincipalOf(r)
	u, ok := h.sessionUser(w, r)
	if !ok {
		return
	}
	_, codes, err := h.svc.FinishWebAuthnRegistration(r.Context(), ActorOf(p, web.ClientAddr(r)), u, p.SessionID,
		req.Name, req.Credential, nil)
	if err != nil {
		h.webauthnProblem(w, r, err)
		return
	}
	h.srv.Flash(w, "webauthn.added")
	web.JSON(w, http.StatusOK, WebAuthnFinishResponse{Redirect: "/settings", RecoveryCodes: codes})
}

func (h *Handlers) settingsWebAuthnRemove(w http.ResponseWriter, r *http.Request) {
	if p := web.PrincipalOf(r); p.SessionID == "" || p.TokenID != 0 {
		h.srv.ErrorPage(w, r, http.StatusBadRequest, "webauthn.error.not_a_session")
		return
	}
	u, ok := h.me(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.renderSettings(w, r, http.StatusNotFound, u, settingsView{Error: "webauthn.error.not_found"})
		return
	}
	err = h.svc.RemoveWebAuthnKey(r.Context(), ActorOf(web.PrincipalOf(r), web.ClientAddr(r)), u, id)
	switch {
	case errors.Is(err, ErrLastFactor):
		h.renderSettings(w, r, http.StatusConflict, u, settingsView{Error: "settings.last_factor"})
	case errors.Is(err, ErrNotFound):
		h.renderSettings(w, r, http.StatusNotFound, u, settingsView{Error: "webauthn.error.not_found"})
	case err != nil:
		h.internal(w, r, err)
	default:
		h.srv.Flash(w, "webauthn.removed")
		http.Redirect(w, r, "/settings", http.StatusSeeOther)
	}
}
