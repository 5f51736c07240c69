package keys

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The key actions page: a form for each operation the key's algorithm
// supports (encrypt, decrypt, rewrap, datakey, sign, verify, HMAC), like
// Vault's transit pages, so that every operation of the CLI and the API
// also works through the pages. The forms run as the person signed in
// (keys.use at the route, then the key's grants); nothing is stored, the
// use is counted by the service's usage audit like any other. A refused
// or failed operation shows its translated reason beside its form (403
// for a missing grant, 422 otherwise) with what was typed.

func init() { registrations = append(registrations, (*handlers).registerActions) }

func (h *handlers) registerActions() error {
	use := web.Perm(PermUse)
	h.srv.Handle("GET", "/keys/{name}/actions", use, h.actionsPage)
	h.srv.Handle("POST", "/keys/{name}/actions", use, h.actionsRun)
	return nil
}

// actionField is one input of an operation's form.
type actionField struct {
	Name    string // form name, unique within the form
	LabelID string
	HintID  string
	Kind    string // "text" (one line), "textarea", "readonly-blob" or "checkbox"
	Value   string
	Checked bool
	Error   string // message id
}

// actionResult is one value an operation gave back.
type actionResult struct {
	LabelID string
	Value   string
	Blob    bool // shown in a read-only textarea
	Base64  bool // binary value shown as base64
}

// actionForm is one operation's form with its outcome.
type actionForm struct {
	Op      string
	Label   string // translated operation name
	LeadID  string
	Fields  []actionField
	Error   string // message id of a refused or failed operation
	Results []actionResult
	Verdict string // verify only: "valid" or "invalid"
}

// actionsView is what templates/key_actions.html sees as .Data.
type actionsView struct {
	Key    *Key
	Row    keyRow
	Sealed bool
	Forms  []actionForm
}

// actionFields lists the inputs of op's form.
func actionFields(op Operation) []actionField {
	ctx := actionField{Name: "context", LabelID: "keys.actions.field.context", HintID: "keys.actions.hint.context", Kind: "textarea"}
	blob := actionField{Name: "ciphertext", LabelID: "keys.actions.field.ciphertext", HintID: "keys.actions.hint.ciphertext", Kind: "textarea"}
	msg := actionField{Name: "message", LabelID: "keys.actions.field.message", HintID: "keys.actions.hint.message", Kind: "textarea"}
	switch op {
	case OpEncrypt:
		return []actionField{{Name: "plaintext", LabelID: "keys.actions.field.plaintext", HintID: "keys.actions.hint.plaintext", Kind: "textarea"}, ctx}
	case OpDecrypt, OpRewrap:
		return []actionField{blob, ctx}
	case OpDataKey:
		return []actionField{ctx, {Name: "with_plaintext", LabelID: "keys.actions.field.with_plaintext", HintID: "keys.actions.hint.with_plaintext", Kind: "checkbox", Checked: true}}
	case OpSign, OpHMAC:
		return []actionField{msg}
	case OpVerify:
		return []actionField{msg, {Name: "signature", LabelID: "keys.actions.field.signature", HintID: "keys.actions.hint.signature", Kind: "textarea"}}
	}
	return nil
}

func (h *handlers) actionsPage(w http.ResponseWriter, r *http.Request) {
	k, err := h.svc.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	h.renderActions(w, r, http.StatusOK, k, nil)
}

// renderActions shows the key's forms; done, when not nil, replaces the
// blank form of its operation.
func (h *handlers) renderActions(w http.ResponseWriter, r *http.Request, status int, k *Key, done *actionForm) {
	v := actionsView{Key: k, Row: h.keyRow(r, k, h.svc.clock.Now())}
	_, err := h.svc.Root()
	v.Sealed = err != nil
	for _, op := range OperationsFor(k.Algorithm) {
		f := actionForm{Op: string(op), Fields: actionFields(op)}
		if done != nil && done.Op == string(op) {
			f = *done
		}
		f.Label = h.srv.T(r, msgID("keys.op.", string(op)), nil)
		f.LeadID = msgID("keys.actions.lead.", string(op))
		v.Forms = append(v.Forms, f)
	}
	h.srv.Render(w, r, status, "keys/key_actions", v)
}

// actionsRun runs the posted operation and shows the page with its result
// or the reason it failed.
func (h *handlers) actionsRun(w http.ResponseWriter, r *http.Request) {
	k, err := h.svc.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		h.srv.ErrorPage(w, r, http.StatusBadRequest, "error.invalid_input")
		return
	}
	op := Operation(r.PostFormValue("op"))
	if !slices.Contains(OperationsFor(k.Algorithm), op) {
		h.srv.ErrorPage(w, r, http.StatusUnprocessableEntity, "keys.error.operation")
		return
	}
	f := actionForm{Op: string(op), Fields: actionFields(op)}
	in := map[string]string{}
	for i := range f.Fields {
		fd := &f.Fields[i]
		if fd.Kind == "checkbox" {
			fd.Checked = r.PostFormValue(fd.Name) != ""
			continue
		}
		fd.Value = r.PostFormValue(fd.Name)
		in[fd.Name] = fd.Value
	}
	fieldErr := func(name, msg string) {
		for i := range f.Fields {
			if f.Fields[i].Name == name && f.Fields[i].Error == "" {
				f.Fields[i].Error = msg
			}
		}
	}
	ec, cerr := formContext(in["context"])
	if cerr != nil {
		fieldErr("context", "keys.actions.validation.context")
	}
	blob := func(field string) []byte {
		s := strings.TrimSpace(in[field])
		if s == "" {
			fieldErr(field, "keys.validation.required")
			return nil
		}
		b, err := DecodeText(s)
		if err != nil {
			fieldErr(field, "keys.error.malformed")
			return nil
		}
		if hd, _, err := parseHeader(b); err != nil {
			fieldErr(field, "keys.error.malformed")
			return nil
		} else if hd.KeyID != k.ID {
			fieldErr(field, "keys.actions.validation.other_key")
			return nil
		}
		return b
	}
	var blobIn []byte
	switch op {
	case OpDecrypt, OpRewrap:
		blobIn = blob("ciphertext")
	case OpVerify:
		blobIn = blob("signature")
	case OpEncrypt:
		if in["plaintext"] == "" {
			fieldErr("plaintext", "keys.validation.required")
		} else if len(in["plaintext"]) > MaxPlaintext {
			fieldErr("plaintext", "keys.validation.plaintext_size")
		}
	}
	for _, fd := range f.Fields {
		if fd.Error != "" {
			h.renderActions(w, r, http.StatusUnprocessableEntity, k, &f)
			return
		}
	}
	err = h.runAction(r, k, op, &f, in, ec, blobIn)
	if err != nil {
		status := http.StatusUnprocessableEntity
		switch {
		case errors.Is(err, ErrDenied):
			status, f.Error = http.StatusForbidden, "keys.error.denied"
		case errors.Is(err, ErrContext):
			f.Error = "keys.error.context"
		case errors.Is(err, ErrMalformed):
			f.Error = "keys.error.malformed"
		case errors.Is(err, ErrVersion):
			f.Error = "keys.error.version"
		case errors.Is(err, ErrOperation):
			f.Error = "keys.error.operation"
		case errors.Is(err, ErrSealed):
			status, f.Error = http.StatusServiceUnavailable, "keys.error.sealed"
		case errors.Is(err, ErrNotFound):
			h.pageError(w, r, err)
			return
		default:
			h.srv.Log().Error("keys actions", "path", r.URL.Path, "op", string(op), "err", err)
			h.srv.ErrorPage(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		h.renderActions(w, r, status, k, &f)
		return
	}
	h.renderActions(w, r, http.StatusOK, k, &f)
}

// runAction calls the service for op with the form's input and fills the
// form's results.
func (h *handlers) runAction(r *http.Request, k *Key, op Operation, f *actionForm, in map[string]string, ec Context, blob []byte) error {
	ctx, c := r.Context(), callerOf(r)
	switch op {
	case OpEncrypt:
		ct, err := h.svc.Encrypt(ctx, c, k.Name, []byte(in["plaintext"]), ec)
		if err != nil {
			return err
		}
		f.Results = []actionResult{{LabelID: "keys.actions.result.ciphertext", Value: EncodeText(ct), Blob: true}}
	case OpDecrypt:
		hd, _, err := parseHeader(blob)
		if err != nil {
			return err
		}
		var plain []byte
		label := "keys.actions.result.plaintext"
		if hd.Kind == kindDataKey {
			plain, err = h.svc.DecryptDataKey(ctx, c, blob, ec)
			label = "keys.actions.result.data_key"
		} else {
			plain, err = h.svc.Decrypt(ctx, c, blob, ec)
		}
		if err != nil {
			return err
		}
		res := actionResult{LabelID: label, Value: string(plain)}
		if hd.Kind == kindDataKey || !utf8.Valid(plain) {
			res.Value, res.Base64, res.Blob = base64.StdEncoding.EncodeToString(plain), true, true
		}
		clear(plain)
		f.Results = []actionResult{res}
	case OpRewrap:
		out, err := h.svc.Rewrap(ctx, c, blob, ec)
		if err != nil {
			return err
		}
		f.Results = []actionResult{{LabelID: "keys.actions.result.ciphertext", Value: EncodeText(out), Blob: true}}
	case OpDataKey:
		withPlain := f.Fields[1].Checked
		dek, wrapped, err := h.svc.DataKey(ctx, c, k.Name, ec, withPlain)
		if err != nil {
			return err
		}
		f.Results = []actionResult{{LabelID: "keys.actions.result.wrapped", Value: EncodeText(wrapped), Blob: true}}
		if withPlain {
			f.Results = append(f.Results, actionResult{LabelID: "keys.actions.result.data_key",
				Value: base64.StdEncoding.EncodeToString(dek), Blob: true, Base64: true})
			clear(dek)
		}
	case OpSign:
		sig, err := h.svc.Sign(ctx, c, k.Name, []byte(in["message"]))
		if err != nil {
			return err
		}
		f.Results = []actionResult{{LabelID: "keys.actions.result.signature", Value: EncodeText(sig), Blob: true}}
	case OpHMAC:
		mac, err := h.svc.HMAC(ctx, c, k.Name, []byte(in["message"]))
		if err != nil {
			return err
		}
		f.Results = []actionResult{{LabelID: "keys.actions.result.mac", Value: EncodeText(mac), Blob: true}}
	case OpVerify:
		err := h.svc.Verify(ctx, c, []byte(in["message"]), blob)
		if err != nil && !errors.Is(err, ErrBadSignature) {
			return err
		}
		f.Verdict = "valid"
		if err != nil {
			f.Verdict = "invalid"
		}
	default:
		return ErrOperation
	}
	return nil
}

// formContext reads an encryption context typed as lines of key=value;
// blank lines are skipped.
func formContext(s string) (Context, error) {
	var pairs []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimRight(line, "\r"); strings.TrimSpace(line) != "" {
			pairs = append(pairs, line)
		}
	}
	return ParseContext(pairs)
}
