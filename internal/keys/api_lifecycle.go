package keys

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The API of crypto-shredding (destroy requests, approved by a second
// person), certificates of signing keys (CSR, import, list) and the
// dashboard card that warns of certificates near their end and of signing
// keys kept outside an HSM.

func init() { registrations = append(registrations, (*handlers).registerLifecycle) }

func (h *handlers) registerLifecycle() error {
	read, manage, approve := web.Perm(PermRead), web.Perm(PermManage), web.Perm(PermApprove)
	s := h.srv
	s.Handle("POST", "/api/v1/keys/{name}/versions/{version}/destroy-requests", manage, h.apiRequestDestroy)
	s.Handle("GET", "/api/v1/keys/destroy-requests", read, h.apiDestroyRequests)
	s.Handle("POST", "/api/v1/keys/destroy-requests/{id}/approve", approve, h.apiApproveDestroy)
	s.Handle("POST", "/api/v1/keys/destroy-requests/{id}/reject", approve, h.apiRejectDestroy)
	s.Handle("POST", "/api/v1/keys/{name}/csr", manage, h.apiCSR)
	s.Handle("POST", "/api/v1/keys/{name}/certificates", manage, h.apiImportCertificate)
	s.Handle("GET", "/api/v1/keys/{name}/certificates", read, h.apiCertificates)
	s.AddCard(web.Card{ID: "key-certificates", TitleID: "keys.certcard.title", Access: read, Order: 41,
		Stats: h.certificatesCard})
	return nil
}

// DestroyRequestBody is the body of a request to destroy a key version.
type DestroyRequestBody struct {
	Reason string `json:"reason"`
}

// RejectDestroyBody is the body of a rejection.
type RejectDestroyBody struct {
	Note string `json:"note"`
}

// DestroyRequestList is the answer of GET /api/v1/keys/destroy-requests.
type DestroyRequestList struct {
	Requests []*DestroyRequest `json:"requests"`
}

// CSRBody asks for a certificate signing request.
type CSRBody struct {
	Subject  string   `json:"subject"`
	DNSNames []string `json:"dns_names"`
}

// CSRResponse holds a PEM certificate signing request.
type CSRResponse struct {
	CSR string `json:"csr"`
}

// ImportCertificateBody holds a PEM certificate chain, leaf first.
type ImportCertificateBody struct {
	PEM string `json:"pem"`
}

// CertificateList is the answer of GET /api/v1/keys/{name}/certificates.
type CertificateList struct {
	Certificates []*Certificate `json:"certificates"`
}

// MaxDNSNames is how many DNS names a CSR may ask for.
const MaxDNSNames = 20

// PEMMediaType is the content type of a certificate chain sent as PEM.
const PEMMediaType = "application/x-pem-file"

// lifecycleError answers the errors of crypto-shredding, and the others as
// the rest of the key API does.
func (h *handlers) lifecycleError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrApprovalNeeded):
		h.srv.Problem(w, r, http.StatusForbidden, "approval-needed", "keys.destroy.same_person", nil)
	case errors.Is(err, ErrPersonRequired):
		h.srv.Problem(w, r, http.StatusForbidden, "person-required", "keys.destroy.person_required", nil)
	case errors.Is(err, ErrNoRequest):
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "keys.destroy.no_request", nil)
	case errors.Is(err, ErrRequestClosed):
		h.srv.Problem(w, r, http.StatusConflict, "request-closed", "keys.destroy.closed", nil)
	default:
		h.apiError(w, r, err)
	}
}

func (h *handlers) apiRequestDestroy(w http.ResponseWriter, r *http.Request) {
	var body DestroyRequestBody
	if err := web.DecodeJSON(r, &body); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		h.srv.Problem(w, r, http.StatusNotFound, "not-found", "error.not_found", nil)
		return
	}
	req, err := h.svc.RequestDestroy(r.Context(), actorOf(r), r.PathValue("name"), v, body.Reason)
	if err != nil {
		h.lifecycleError(w, r, err)
		return
	}
	web.JSON(w, http.StatusCreated, req)
}

func (h *handlers) apiDestroyRequests(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	list, err := h.svc.DestroyRequests(r.Context(), state)
	var ve *ValidationError
	if errors.As(err, &ve) {
		h.srv.Problem(w, r, http.StatusBadRequest, "invalid-parameter", "keys.destroy.state", nil)
		return
	}
	if err != nil {
		h.lifecycleError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, DestroyRequestList{Requests: list})
}

// requestID reads the {id} of the route; 0 when it is not a number.
func requestID(r *http.Request) int64 {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0
	}
	return id
}

func (h *handlers) apiApproveDestroy(w http.ResponseWriter, r *http.Request) {
	req, err := h.svc.ApproveDestroy(r.Context(), actorOf(r), requestID(r))
	if err != nil {
		h.lifecycleError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, req)
}

func (h *handlers) apiRejectDestroy(w http.ResponseWriter, r *http.Request) {
	var body RejectDestroyBody
	if err := web.DecodeJSON(r, &body); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	req, err := h.svc.RejectDestroy(r.Context(), actorOf(r), requestID(r), body.Note)
	if err != nil {
		h.lifecycleError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, req)
}

func (h *handlers) apiCSR(w http.ResponseWriter, r *http.Request) {
	var body CSRBody
	if err := web.DecodeJSON(r, &body); err != nil {
		h.srv.DecodeProblem(w, r, err)
		return
	}
	if strings.TrimSpace(body.Subject) == "" {
		h.validationProblem(w, r, map[string]string{"subject": "keys.cert.subject"})
		return
	}
	subject, err := ParseSubject(body.Subject)
	if err != nil {
		h.validationProblem(w, r, map[string]string{"subject": "keys.cert.subject_syntax"})
		return
	}
	if len(body.DNSNames) > MaxDNSNames {
		h.validationProblem(w, r, map[string]string{"dns_names": "keys.cert.dns_count"})
		return
	}
	csr, err := h.svc.CSR(r.Context(), actorOf(r), r.PathValue("name"), subject, body.DNSNames...)
	if err != nil {
		h.lifecycleError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, CSRResponse{CSR: string(csr)})
}

// apiImportCertificate takes the chain as PEM (Content-Type
// application/x-pem-file) or as JSON {"pem": "..."}.
func (h *handlers) apiImportCertificate(w http.ResponseWriter, r *http.Request) {
	var chain []byte
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == PEMMediaType {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				h.srv.DecodeProblem(w, r, &web.DecodeError{Kind: "body-too-large", Status: http.StatusRequestEntityTooLarge,
					MsgID: "error.body_too_large", Err: err})
				return
			}
			h.srv.DecodeProblem(w, r, &web.DecodeError{Kind: "invalid-body", Status: http.StatusBadRequest,
				MsgID: "error.invalid_json", Err: err})
			return
		}
		chain = b
	} else {
		var body ImportCertificateBody
		if err := web.DecodeJSON(r, &body); err != nil {
			h.srv.DecodeProblem(w, r, err)
			return
		}
		chain = []byte(body.PEM)
	}
	c, err := h.svc.ImportCertificate(r.Context(), actorOf(r), r.PathValue("name"), chain)
	if err != nil {
		h.lifecycleError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/keys/"+url.PathEscape(c.Key)+"/certificates")
	web.JSON(w, http.StatusCreated, c)
}

func (h *handlers) apiCertificates(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.Certificates(r.Context(), r.PathValue("name"))
	if err != nil {
		h.lifecycleError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, CertificateList{Certificates: list})
}

// maxCardCertificates is how many certificates near their end the card
// lists; the certificates page has them all.
const maxCardCertificates = 10

var thresholdLabels = map[int]string{0: "keys.certcard.expired", 7: "keys.certcard.within_7",
	30: "keys.certcard.within_30", 90: "keys.certcard.within_90"}

// certificatesCard lists the signing keys whose certificate ends within 90
// days (or has ended), soonest first. Signing keys whose private key is
// not held in an HSM are counted on the keys card (ui.go).
func (h *handlers) certificatesCard(r *http.Request) ([]web.Stat, error) {
	ctx := r.Context()
	list, err := h.svc.ExpiringCertificates(ctx, h.svc.clock.Now())
	if err != nil {
		return nil, err
	}
	var stats []web.Stat
	if len(list) == 0 {
		stats = append(stats, web.Stat{LabelID: "keys.certcard.no_expiry", Value: "0", Level: "ok"})
	}
	for i, c := range list {
		if i == maxCardCertificates {
			break
		}
		level := "warn"
		if c.Threshold <= 7 {
			level = "bad"
		}
		stats = append(stats, web.Stat{LabelID: thresholdLabels[c.Threshold], Level: level,
			Value: c.Key + " (" + c.NotAfter.In(h.srv.Location()).Format("2006-01-02") + ")",
			Link:  "/keys/" + url.PathEscape(c.Key)})
	}
	return stats, nil
}
