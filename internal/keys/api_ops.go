package keys

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The key operations of the JSON API. Each needs keys.use at the route and
// a grant of the key for the operation (the ciphertext or signature names
// its key, whose grants decide as well). Bad input is refused before the
// key is used; every use, refused or not, is counted for the usage audit.

// base64Field decodes the standard base64 of a field, or answers 422.
func (h *handlers) base64Field(w http.ResponseWriter, r *http.Request, field, s string) ([]byte, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		h.validationProblem(w, r, map[string]string{field: "keys.validation.base64"})
		return nil, false
	}
	return b, true
}

// contextOK checks an encryption context, or answers 422.
func (h *handlers) contextOK(w http.ResponseWriter, r *http.Request, ec Context) bool {
	if err := ec.validate(); err != nil {
		h.validationProblem(w, r, map[string]string{"context": "keys.validation.context"})
		return false
	}
	return true
}

// blobField reads the text form of a ciphertext, wrapped data key or
// signature; an empty field is a missing value (422), anything else that
// is not such a text is malformed (400).
func (h *handlers) blobField(w http.ResponseWriter, r *http.Request, field, s string) ([]byte, bool) {
	if s == "" {
		h.validationProblem(w, r, map[string]string{field: "keys.validation.required"})
		return nil, false
	}
	b, err := DecodeText(s)
	if err != nil {
		h.apiError(w, r, err)
		return nil, false
	}
	return b, true
}

func (h *handlers) apiEncrypt(w http.ResponseWriter, r *http.Request) {
	var req EncryptRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	plain, ok := h.base64Field(w, r, "plaintext", req.Plaintext)
	if !ok || !h.contextOK(w, r, req.Context) {
		return
	}
	defer clear(plain)
	if len(plain) > MaxPlaintext {
		h.validationProblem(w, r, map[string]string{"plaintext": "keys.validation.plaintext_size"})
		return
	}
	ct, err := h.svc.Encrypt(r.Context(), callerOf(r), r.PathValue("name"), plain, req.Context)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, CiphertextResponse{Ciphertext: EncodeText(ct)})
}

// apiDecrypt opens a ciphertext, or a wrapped data key made by datakey
// (which gives the data key itself).
func (h *handlers) apiDecrypt(w http.ResponseWriter, r *http.Request) {
	var req CiphertextRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	blob, ok := h.blobField(w, r, "ciphertext", req.Ciphertext)
	if !ok || !h.contextOK(w, r, req.Context) {
		return
	}
	hd, _, err := parseHeader(blob)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	var plain []byte
	if hd.Kind == kindDataKey {
		plain, err = h.svc.DecryptDataKey(r.Context(), callerOf(r), blob, req.Context)
	} else {
		plain, err = h.svc.Decrypt(r.Context(), callerOf(r), blob, req.Context)
	}
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	resp := PlaintextResponse{Plaintext: base64.StdEncoding.EncodeToString(plain)}
	clear(plain)
	web.JSON(w, http.StatusOK, resp)
}

// apiRewrap moves a ciphertext or wrapped data key to the key's active
// version without revealing what it protects.
func (h *handlers) apiRewrap(w http.ResponseWriter, r *http.Request) {
	var req CiphertextRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	blob, ok := h.blobField(w, r, "ciphertext", req.Ciphertext)
	if !ok || !h.contextOK(w, r, req.Context) {
		return
	}
	out, err := h.svc.Rewrap(r.Context(), callerOf(r), blob, req.Context)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, CiphertextResponse{Ciphertext: EncodeText(out)})
}

func (h *handlers) apiDataKey(w http.ResponseWriter, r *http.Request) {
	var req DataKeyRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	if !h.contextOK(w, r, req.Context) {
		return
	}
	withPlain := req.Plaintext == nil || *req.Plaintext
	dek, wrapped, err := h.svc.DataKey(r.Context(), callerOf(r), r.PathValue("name"), req.Context, withPlain)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	resp := DataKeyResponse{Wrapped: EncodeText(wrapped)}
	if withPlain {
		resp.Plaintext = base64.StdEncoding.EncodeToString(dek)
		clear(dek)
	}
	web.JSON(w, http.StatusOK, resp)
}

func (h *handlers) apiSign(w http.ResponseWriter, r *http.Request) {
	h.messageOp(w, r, h.svc.Sign, func(b []byte) any { return SignatureResponse{Signature: EncodeText(b)} })
}

func (h *handlers) apiHMAC(w http.ResponseWriter, r *http.Request) {
	h.messageOp(w, r, h.svc.HMAC, func(b []byte) any { return MACResponse{MAC: EncodeText(b)} })
}

// messageOp runs an operation over a base64 message with the key named in
// the path (sign, HMAC) and answers with what answer makes of its result.
func (h *handlers) messageOp(w http.ResponseWriter, r *http.Request,
	op func(ctx context.Context, c Caller, name string, message []byte) ([]byte, error), answer func([]byte) any) {
	var req MessageRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	msg, ok := h.base64Field(w, r, "message", req.Message)
	if !ok {
		return
	}
	out, err := op(r.Context(), callerOf(r), r.PathValue("name"), msg)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, answer(out))
}

// apiVerify checks a signature or MAC. A well-formed one that does not
// hold over the message is an answer, not an error: 200 with valid false,
// as Vault's verify does, so that callers tell "forged or altered" apart
// from "could not check" (a malformed signature, a disabled or unknown
// version, no grant), which are problems.
func (h *handlers) apiVerify(w http.ResponseWriter, r *http.Request) {
	var req VerifyRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	msg, ok := h.base64Field(w, r, "message", req.Message)
	if !ok {
		return
	}
	sig, ok := h.blobField(w, r, "signature", req.Signature)
	if !ok {
		return
	}
	err := h.svc.Verify(r.Context(), callerOf(r), msg, sig)
	if err != nil && !errors.Is(err, ErrBadSignature) {
		h.apiError(w, r, err)
		return
	}
	// Verify has found the key the signature names and checked the grant.
	name, version, serr := h.svc.Signer(r.Context(), sig)
	if serr != nil {
		h.apiError(w, r, serr)
		return
	}
	web.JSON(w, http.StatusOK, VerifyResponse{Valid: err == nil, Key: name, Version: version})
}

// Signer names the key and version that a signature or MAC (binary form)
// says made it, without checking the signature: Verify does that.
func (s *Service) Signer(ctx context.Context, signature []byte) (name string, version int, err error) {
	hd, _, err := parseHeader(signature)
	if err != nil {
		return "", 0, err
	}
	if hd.Kind != kindSignature && hd.Kind != kindMAC {
		return "", 0, ErrMalformed
	}
	ck, err := s.key(ctx, hd.KeyID)
	if errors.Is(err, ErrNotFound) {
		return "", 0, ErrVersion
	}
	if err != nil {
		return "", 0, err
	}
	return ck.key.Name, hd.Version, nil
}
