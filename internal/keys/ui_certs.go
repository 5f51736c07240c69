package keys

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// The certificates of signing keys on the pages: on a signing key's detail
// page the imported certificates with their expiry badges, the form that
// makes a certificate signing request (answered as a PEM file to download)
// and the form that imports the certificate chain the CA issued (pasted or
// uploaded); the page /keys/certificates lists every certificate, soonest
// ending first. Crypto-shredding (ui_destroy.go) adds its part of the
// detail page through the same lifecycleView.

func init() { registrations = append(registrations, (*handlers).registerCertPages) }

func (h *handlers) registerCertPages() error {
	read, manage := web.Perm(PermRead), web.Perm(PermManage)
	s := h.srv
	s.Handle("GET", "/keys/certificates", read, h.certificatesPage)
	s.Handle("POST", "/keys/{name}/csr", manage, h.csrDownload)
	s.Handle("POST", "/keys/{name}/certificates", manage, h.certificateImport)
	return nil
}

// maxImportBody is the most a certificate import form may send: the chain
// (pasted or uploaded) and the rest of the form.
const maxImportBody = MaxChainPEM + 64<<10

// lifecycleForm is what was posted to a certificate or destroy form, shown
// again with its errors.
type lifecycleForm struct {
	CN, O, OU, C, DNSNames string
	PEM                    string
	DestroyVersion         int
	Reason                 string
}

type lifecycleFormKey struct{}

// withPosted keeps the posted form in the request for the key page to show.
func withPosted(r *http.Request, f lifecycleForm) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), lifecycleFormKey{}, f))
}

// certRow is a certificate as the pages list it.
type certRow struct {
	*Certificate
	Badge, Level string // message id of the expiry badge and its level; "" when far from its end
	Roles        string
}

// destroyRow is a version of the key with its destroy form or request.
type destroyRow struct {
	Version int
	Active  bool            // the version in use cannot be destroyed
	Pending *DestroyRequest // an open request for the version
}

// lifecycleView is the certificates and crypto-shredding part of the key
// detail page (keyView.Lifecycle).
type lifecycleView struct {
	Signing      bool
	Certificates []certRow
	Form         lifecycleForm
	Destroy      []destroyRow
}

// lifecycleView reads the certificates and open destroy requests of k.
func (h *handlers) lifecycleView(r *http.Request, k *Key) (lifecycleView, error) {
	v := lifecycleView{Signing: k.Algorithm.Signing(), Form: lifecycleForm{C: "JP"}}
	if f, ok := r.Context().Value(lifecycleFormKey{}).(lifecycleForm); ok {
		v.Form = f
	}
	ctx := r.Context()
	if v.Signing {
		list, err := h.svc.Certificates(ctx, k.Name)
		if err != nil {
			return v, err
		}
		v.Certificates = h.certRows(r, list)
	}
	pending, err := h.svc.DestroyRequests(ctx, RequestPending)
	if err != nil {
		return v, err
	}
	for _, ver := range k.Versions {
		if ver.State == Destroyed {
			continue
		}
		row := destroyRow{Version: ver.Version, Active: ver.State == Active}
		for _, p := range pending {
			if p.Key == k.Name && p.Version == ver.Version {
				row.Pending = p
			}
		}
		v.Destroy = append(v.Destroy, row)
	}
	return v, nil
}

// certBadge names the expiry badge of a certificate ending at notAfter.
func certBadge(notAfter, now time.Time) (msg, level string) {
	days, lvl := threshold(notAfter, now)
	switch {
	case lvl == 0:
		return "", ""
	case lvl > len(ExpiryThresholds):
		return "keys.certpage.badge.expired", "bad"
	case days <= 7:
		return "keys.certpage.badge.within_7", "bad"
	case days <= 30:
		return "keys.certpage.badge.within_30", "warn"
	}
	return "keys.certpage.badge.within_90", "warn"
}

func (h *handlers) certRows(r *http.Request, list []*Certificate) []certRow {
	now := h.svc.clock.Now()
	out := make([]certRow, 0, len(list))
	for _, c := range list {
		row := certRow{Certificate: c}
		row.Badge, row.Level = certBadge(c.NotAfter, now)
		roles := make([]string, len(c.HPKIRoles))
		for i, ro := range c.HPKIRoles {
			roles[i] = ro.Text
			if ro.Code != "" {
				roles[i] += " (" + ro.Code + ")"
			}
		}
		row.Roles = strings.Join(roles, ", ")
		out = append(out, row)
	}
	return out
}

// certificatesView is what templates/certificates.html sees as .Data.
type certificatesView struct {
	Rows []certRow
}

func (h *handlers) certificatesPage(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.queryCertificates(r.Context(), `ORDER BY c.not_after, k.name, c.id`)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	h.srv.Render(w, r, http.StatusOK, "keys/certificates", certificatesView{Rows: h.certRows(r, list)})
}

// lifecyclePageError shows a failure of a certificate or destroy form of the
// key page: the errors the service gives for these, and the others as the
// rest of the pages do.
func (h *handlers) lifecyclePageError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrOperation):
		h.srv.ErrorPage(w, r, http.StatusConflict, "keys.certpage.error.not_signing")
	case errors.Is(err, ErrPersonRequired):
		h.srv.ErrorPage(w, r, http.StatusForbidden, "keys.destroy.person_required")
	default:
		h.pageError(w, r, err)
	}
}

// splitNames reads DNS names separated by spaces, commas or line breaks.
func splitNames(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func (h *handlers) csrDownload(w http.ResponseWriter, r *http.Request) {
	f := lifecycleForm{CN: strings.TrimSpace(r.PostFormValue("cn")), O: strings.TrimSpace(r.PostFormValue("o")),
		OU: strings.TrimSpace(r.PostFormValue("ou")), C: strings.ToUpper(strings.TrimSpace(r.PostFormValue("c"))),
		DNSNames: r.PostFormValue("dns_names")}
	fields := map[string]string{}
	subject := pkix.Name{CommonName: f.CN}
	if f.O != "" {
		subject.Organization = []string{f.O}
	}
	if f.OU != "" {
		subject.OrganizationalUnit = []string{f.OU}
	}
	if f.C != "" {
		if len(f.C) != 2 || strings.Trim(f.C, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			fields["c"] = "keys.certpage.validation.country"
		}
		subject.Country = []string{f.C}
	}
	for _, s := range []string{f.CN, f.O, f.OU} {
		if len(s) > 256 {
			fields["subject"] = "keys.certpage.validation.subject_length"
		}
	}
	names := splitNames(f.DNSNames)
	if len(names) > MaxDNSNames {
		fields["dns_names"] = "keys.cert.dns_count"
	}
	if len(fields) == 0 {
		csr, err := h.svc.CSR(r.Context(), actorOf(r), r.PathValue("name"), subject, names...)
		if err == nil {
			w.Header().Set("Content-Type", "application/pkcs10")
			w.Header().Set("Content-Disposition", `attachment; filename="`+r.PathValue("name")+`.csr.pem"`)
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(csr)
			return
		}
		if !addFields(fields, err) {
			h.lifecyclePageError(w, r, err)
			return
		}
	}
	h.renderKey(w, withPosted(r, f), http.StatusUnprocessableEntity, fields, nil)
}

// readChain reads the chain of the import form: the uploaded file, or else
// the pasted text. tooLarge reports a body past the limit.
func readChain(w http.ResponseWriter, r *http.Request) (pasted string, chain []byte, tooLarge bool) {
	if r.ContentLength > maxImportBody {
		return "", nil, true
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxImportBody)
	err := r.ParseMultipartForm(maxImportBody)
	if errors.Is(err, http.ErrNotMultipart) {
		err = r.ParseForm()
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return "", nil, true
	}
	pasted = r.PostFormValue("pem")
	if file, _, err := r.FormFile("file"); err == nil {
		defer file.Close()
		b, err := io.ReadAll(io.LimitReader(file, MaxChainPEM+1))
		if err == nil && len(b) > 0 {
			return pasted, b, len(b) > MaxChainPEM
		}
	}
	return pasted, []byte(pasted), false
}

func (h *handlers) certificateImport(w http.ResponseWriter, r *http.Request) {
	pasted, chain, tooLarge := readChain(w, r)
	f := lifecycleForm{C: "JP"}
	if len(pasted) <= MaxChainPEM {
		f.PEM = pasted
	}
	fields := map[string]string{}
	status := http.StatusUnprocessableEntity
	if tooLarge {
		fields["certificate"], status = "keys.cert.too_large", http.StatusRequestEntityTooLarge
	} else {
		_, err := h.svc.ImportCertificate(r.Context(), actorOf(r), r.PathValue("name"), chain)
		if err == nil {
			h.srv.Flash(w, "keys.certpage.flash.imported")
			http.Redirect(w, r, keyURL(r)+"#certificates", http.StatusSeeOther)
			return
		}
		if !addFields(fields, err) {
			h.lifecyclePageError(w, r, err)
			return
		}
	}
	h.renderKey(w, withPosted(r, f), status, fields, nil)
}
