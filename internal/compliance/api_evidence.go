package compliance

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The API of evidence: attestations listed, uploaded (multipart, the file
// in the "file" part), approved or rejected by a second person, and
// downloaded (each download recorded in the audit log).

// AttestationsJSON is the answer of GET /api/v1/compliance/attestations.
type AttestationsJSON struct {
	Attestations []Attestation `json:"attestations"`
}

// DecisionJSON is the body of a rejection.
type DecisionJSON struct {
	Reason string `json:"reason"`
}

func (h *handlers) registerEvidenceAPI() {
	read, attest, approve := web.Perm(PermRead), web.Perm(PermAttest), web.Perm(PermApprove)
	h.srv.Handle(http.MethodGet, apiBase+"/attestations", read, h.apiAttestations)
	h.srv.Handle(http.MethodPost, apiBase+"/attestations", attest, h.apiAttest)
	h.srv.Handle(http.MethodGet, apiBase+"/attestations/{id}", read, h.apiAttestation)
	h.srv.Handle(http.MethodGet, apiBase+"/attestations/{id}/content", read, h.apiAttestationContent)
	h.srv.Handle(http.MethodPost, apiBase+"/attestations/{id}/approve", approve, h.apiApprove)
	h.srv.Handle(http.MethodPost, apiBase+"/attestations/{id}/reject", approve, h.apiReject)
}

func (h *handlers) apiAttestations(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	ctl := r.URL.Query().Get("control")
	if ctl != "" && h.s.lib.Control(ctl) == nil {
		h.badParameter(w, r, "compliance.error.control")
		return
	}
	list, err := h.s.Attestations(r.Context(), f, ctl)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, AttestationsJSON{Attestations: list})
}

// readUpload reads the multipart upload of r: its fields and its file.
// It answers the problem itself and reports false when there is none.
func (h *handlers) readUpload(w http.ResponseWriter, r *http.Request) (url.Values, string, []byte, bool) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		h.srv.Problem(w, r, http.StatusUnsupportedMediaType, "unsupported-media-type", "compliance.error.multipart", nil)
		return nil, "", nil, false
	}
	file, fh, err := r.FormFile("file")
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.srv.Problem(w, r, http.StatusRequestEntityTooLarge, "body-too-large", "error.body_too_large", nil)
			return nil, "", nil, false
		}
		h.apiProblem(w, r, invalid("file", "compliance.error.file_empty"))
		return nil, "", nil, false
	}
	defer file.Close()
	content, err := io.ReadAll(file)
	if err != nil {
		h.srv.Problem(w, r, http.StatusRequestEntityTooLarge, "body-too-large", "error.body_too_large", nil)
		return nil, "", nil, false
	}
	return r.MultipartForm.Value, fh.Filename, content, true
}

func (h *handlers) apiAttest(w http.ResponseWriter, r *http.Request) {
	fields, name, content, ok := h.readUpload(w, r)
	if !ok {
		return
	}
	f, ok := apiFacility(h.srv, w, r, PermAttest)
	if !ok {
		return
	}
	n, err := attestationFromForm(fields, name)
	if h.apiProblem(w, r, err) {
		return
	}
	a, err := h.s.Attest(r.Context(), actorOf(r), f, n, content)
	if h.apiProblem(w, r, err) {
		return
	}
	w.Header().Set("Location", apiBase+"/attestations/"+strconv.FormatInt(a.ID, 10))
	web.JSON(w, http.StatusCreated, a)
}

func (h *handlers) apiAttestation(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.notFound(w, r)
		return
	}
	a, err := h.s.Attestation(r.Context(), f, id)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, a)
}

func (h *handlers) apiAttestationContent(w http.ResponseWriter, r *http.Request) {
	f, ok := apiFacility(h.srv, w, r, PermRead)
	if !ok {
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.notFound(w, r)
		return
	}
	a, content, err := h.s.DownloadAttestation(r.Context(), actorOf(r), f, id)
	if h.apiProblem(w, r, err) {
		return
	}
	writeAttestation(w, a, content)
}

// writeAttestation sends an attestation's file as a download, never to be
// shown inline.
func writeAttestation(w http.ResponseWriter, a Attestation, content []byte) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="attestation-`+strconv.FormatInt(a.ID, 10)+
		`"; filename*=UTF-8''`+url.PathEscape(a.FileName))
	w.Header().Set("X-Content-SHA256", a.SHA256)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	_, _ = w.Write(content)
}

func (h *handlers) apiApprove(w http.ResponseWriter, r *http.Request) { h.apiDecide(w, r, true) }
func (h *handlers) apiReject(w http.ResponseWriter, r *http.Request)  { h.apiDecide(w, r, false) }

func (h *handlers) apiDecide(w http.ResponseWriter, r *http.Request, approve bool) {
	f, ok := apiFacility(h.srv, w, r, PermApprove)
	if !ok {
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		h.notFound(w, r)
		return
	}
	var in DecisionJSON
	if !approve || r.ContentLength != 0 {
		if err := web.DecodeJSON(r, &in); err != nil {
			h.srv.DecodeProblem(w, r, err)
			return
		}
	}
	a, err := h.s.Decide(r.Context(), actorOf(r), f, id, approve, in.Reason)
	if h.apiProblem(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, a)
}
