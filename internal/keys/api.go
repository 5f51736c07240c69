package keys

import (
	_ "embed"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The JSON API of the key service, under /api/v1/keys: management (list,
// create, rotate, version states, minimum decryption version, grants) for
// those who hold keys.read or keys.manage, and the operations (encrypt,
// decrypt, rewrap, datakey, sign, verify, HMAC) for holders of keys.use
// whom the key's own grants then let through. Payload types are in
// api_types.go, the operations' handlers in api_ops.go.

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the key service's piece of the OpenAPI 3.1 document: the
// paths of /api/v1/keys, their schemas and problem types. internal/app
// merges it with the other parts' pieces; it refers to the shared
// responses and the Problem schema defined there.
func OpenAPI() []byte { return openAPI }

func init() { registrations = append(registrations, (*handlers).registerAPI) }

func (h *handlers) registerAPI() error {
	read, manage, use := web.Perm(PermRead), web.Perm(PermManage), web.Perm(PermUse)
	s := h.srv
	s.Handle("GET", "/api/v1/keys", read, h.apiList)
	s.Handle("POST", "/api/v1/keys", manage, h.apiCreate)
	s.Handle("GET", "/api/v1/keys/{name}", read, h.apiKey)
	s.Handle("POST", "/api/v1/keys/{name}/rotate", manage, h.apiRotate)
	s.Handle("POST", "/api/v1/keys/{name}/versions/{version}/disable", manage, h.apiVersionState(false))
	s.Handle("POST", "/api/v1/keys/{name}/versions/{version}/enable", manage, h.apiVersionState(true))
	s.Handle("PUT", "/api/v1/keys/{name}/min-decrypt-version", manage, h.apiMinDecryptVersion)
	s.Handle("GET", "/api/v1/keys/{name}/grants", read, h.apiGrants)
	s.Handle("PUT", "/api/v1/keys/{name}/grants", manage, h.apiSetGrants)
	s.Handle("POST", "/api/v1/keys/{name}/encrypt", use, h.apiEncrypt)
	s.Handle("POST", "/api/v1/keys/decrypt", use, h.apiDecrypt)
	s.Handle("POST", "/api/v1/keys/rewrap", use, h.apiRewrap)
	s.Handle("POST", "/api/v1/keys/{name}/datakey", use, h.apiDataKey)
	s.Handle("POST", "/api/v1/keys/{name}/sign", use, h.apiSign)
	s.Handle("POST", "/api/v1/keys/verify", use, h.apiVerify)
	s.Handle("POST", "/api/v1/keys/{name}/hmac", use, h.apiHMAC)
	return nil
}

// callerOf is who a request uses a key as.
func callerOf(r *http.Request) Caller {
	return Caller{Principal: web.PrincipalOf(r), Client: web.ClientAddr(r)}
}

// actorOf is who a request manages keys as.
func actorOf(r *http.Request) Actor {
	a := Actor{Client: web.ClientAddr(r)}
	if p := web.PrincipalOf(r); p != nil {
		a.UserID, a.Login = p.UserID, p.Login
	}
	return a
}

// apiFields renames the service's field names to the API's.
var apiFields = map[string]string{"rotation": "rotation_days"}

// apiError answers an error of the key service with its problem type.
func (h *handlers) apiError(w http.ResponseWriter, r *http.Request, err error) {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		h.validationProblem(w, r, ve.Fields)
	case errors.Is(err, ErrNotFound):
		h.srv.Problem(w, r, http.StatusNotFound, "key-not-found", "keys.error.not_found", nil)
	case errors.Is(err, ErrVersion):
		h.srv.Problem(w, r, http.StatusConflict, "key-version", "keys.error.version", nil)
	case errors.Is(err, ErrContext):
		h.srv.Problem(w, r, http.StatusUnprocessableEntity, "context-mismatch", "keys.error.context", nil)
	case errors.Is(err, ErrMalformed):
		h.srv.Problem(w, r, http.StatusBadRequest, "malformed-ciphertext", "keys.error.malformed", nil)
	case errors.Is(err, ErrOperation):
		h.srv.Problem(w, r, http.StatusConflict, "unsupported-operation", "keys.error.operation", nil)
	case errors.Is(err, ErrDenied):
		h.srv.Problem(w, r, http.StatusForbidden, "key-denied", "keys.error.denied", nil)
	case errors.Is(err, ErrSealed):
		h.srv.Problem(w, r, http.StatusServiceUnavailable, "sealed", "keys.error.sealed", nil)
	default:
		h.srv.Log().Error("keys api", "path", r.URL.Path, "err", err)
		h.srv.Problem(w, r, http.StatusInternalServerError, "internal", "error.internal", nil)
	}
}

// validationProblem answers 422 with each invalid field and its message in
// the caller's language.
func (h *handlers) validationProblem(w http.ResponseWriter, r *http.Request, fields map[string]string) {
	out := make([]web.FieldError, 0, len(fields))
	for f, msg := range fields {
		if n, ok := apiFields[f]; ok {
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
	h.srv.WriteProblem(w, web.Problem{Type: web.ProblemTypePrefix + "validation",
		Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity,
		Detail: h.srv.T(r, "error.invalid_input", nil), Errors: out})
}

// InfoOf describes k as the API and the CLI show it.
func InfoOf(k *Key) KeyInfo {
	info := KeyInfo{Key: k, RotationDays: k.RotationPeriod.Hours() / 24, NextRotation: k.NextRotation(),
		Operations: OperationsFor(k.Algorithm)}
	if v, err := activeVersion(k); err == nil {
		info.ActiveVersion = v
	}
	if k.Versions == nil {
		k.Versions = []Version{}
	}
	return info
}

func (h *handlers) apiList(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.List(r.Context())
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	resp := KeyList{Keys: make([]KeyInfo, 0, len(list))}
	for _, k := range list {
		resp.Keys = append(resp.Keys, InfoOf(k))
	}
	web.JSON(w, http.StatusOK, resp)
}

// writeKey answers with the key called name as it is now, with its grants.
func (h *handlers) writeKey(w http.ResponseWriter, r *http.Request, status int, name string) {
	ck, err := h.svc.keyByName(r.Context(), name)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	grants := ck.grants
	if grants == nil {
		grants = []Grant{}
	}
	web.JSON(w, status, KeyDetail{KeyInfo: InfoOf(ck.key), Grants: grants})
}

func (h *handlers) apiKey(w http.ResponseWriter, r *http.Request) {
	h.writeKey(w, r, http.StatusOK, r.PathValue("name"))
}

// maxRotationDays is the longest rotation period the API takes (ten
// years, as the service allows).
const maxRotationDays = 3650

func (h *handlers) apiCreate(w http.ResponseWriter, r *http.Request) {
	var req CreateKeyRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	nk := NewKey{Name: req.Name, Purpose: Purpose(req.Purpose), Algorithm: Algorithm(req.Algorithm), Owner: req.Owner}
	if req.RotationDays < 0 || req.RotationDays > maxRotationDays {
		// Checked here, before the days can overflow a duration; the other
		// fields are checked too, so that every mistake is named at once.
		fields := map[string]string{"rotation": "keys.validation.rotation_days"}
		var ve *ValidationError
		if errors.As(nk.validate(), &ve) {
			for f, msg := range ve.Fields {
				fields[f] = msg
			}
		}
		h.validationProblem(w, r, fields)
		return
	}
	nk.RotationPeriod = time.Duration(req.RotationDays) * 24 * time.Hour
	k, err := h.svc.Create(r.Context(), actorOf(r), nk)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/keys/"+url.PathEscape(k.Name))
	h.writeKey(w, r, http.StatusCreated, k.Name)
}

func (h *handlers) apiRotate(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := h.svc.Rotate(r.Context(), actorOf(r), name); err != nil {
		h.apiError(w, r, err)
		return
	}
	h.writeKey(w, r, http.StatusOK, name)
}

// apiVersionState disables a version, or enables it again.
func (h *handlers) apiVersionState(enable bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		v, err := strconv.Atoi(r.PathValue("version"))
		if err != nil || v < 1 {
			h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
			return
		}
		if err := h.svc.SetVersionState(r.Context(), actorOf(r), name, v, enable); err != nil {
			h.apiError(w, r, err)
			return
		}
		h.writeKey(w, r, http.StatusOK, name)
	}
}

func (h *handlers) apiMinDecryptVersion(w http.ResponseWriter, r *http.Request) {
	var req MinDecryptVersionRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	name := r.PathValue("name")
	if err := h.svc.SetMinDecryptVersion(r.Context(), actorOf(r), name, req.MinDecryptVersion); err != nil {
		h.apiError(w, r, err)
		return
	}
	h.writeKey(w, r, http.StatusOK, name)
}

func (h *handlers) apiGrants(w http.ResponseWriter, r *http.Request) {
	grants, err := h.svc.Grants(r.Context(), r.PathValue("name"))
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	if grants == nil {
		grants = []Grant{}
	}
	web.JSON(w, http.StatusOK, GrantList{Grants: grants})
}

// maxGrants is how many grants a key may have.
const maxGrants = 100

func (h *handlers) apiSetGrants(w http.ResponseWriter, r *http.Request) {
	var req GrantList
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	// The store keeps one grant per role or token: a second one for the
	// same subject is a mistake to point out, not to merge silently.
	seen := map[[2]string]bool{}
	for i, g := range req.Grants {
		if n, err := strconv.ParseInt(g.Subject, 10, 64); err == nil && g.Kind == "token" {
			req.Grants[i].Subject = strconv.FormatInt(n, 10) // "07" is token 7
		}
		id := [2]string{g.Kind, req.Grants[i].Subject}
		if seen[id] {
			h.validationProblem(w, r, map[string]string{"grants": "keys.validation.grant_duplicate"})
			return
		}
		seen[id] = true
	}
	if len(req.Grants) > maxGrants {
		h.validationProblem(w, r, map[string]string{"grants": "keys.validation.grant_count"})
		return
	}
	if req.Grants == nil {
		req.Grants = []Grant{}
	}
	name := r.PathValue("name")
	if err := h.svc.SetGrants(r.Context(), actorOf(r), name, req.Grants); err != nil {
		h.apiError(w, r, err)
		return
	}
	grants, err := h.svc.Grants(r.Context(), name)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	if grants == nil {
		grants = []Grant{}
	}
	web.JSON(w, http.StatusOK, GrantList{Grants: grants})
}
