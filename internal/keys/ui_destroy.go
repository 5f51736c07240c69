package keys

import (
	"errors"
	"net/http"

	"github.com/anzen-health/anzen/internal/platform/web"
)

// Crypto-shredding on the pages: the key detail page asks for a version to
// be destroyed (with its reason, under a warning that the version's
// ciphertexts become unrecoverable); /keys/destroy-requests lists the
// requests, and a second administrator approves or rejects them there. The
// approve and reject routes live under /keys-destroy-requests/ so that
// they cannot clash with the routes of a key (/keys/{name}/...).

func init() { registrations = append(registrations, (*handlers).registerDestroyPages) }

func (h *handlers) registerDestroyPages() error {
	read, manage, approve := web.Perm(PermRead), web.Perm(PermManage), web.Perm(PermApprove)
	s := h.srv
	s.Handle("POST", "/keys/{name}/versions/{version}/destroy-request", manage, h.destroyRequest)
	s.Handle("GET", "/keys/destroy-requests", read, h.destroyRequestsPage)
	s.Handle("POST", "/keys-destroy-requests/{id}/approve", approve, h.destroyApprove)
	s.Handle("POST", "/keys-destroy-requests/{id}/reject", approve, h.destroyReject)
	return nil
}

// destroyRequestsURL is the page of destroy requests.
const destroyRequestsURL = "/keys/destroy-requests"

func (h *handlers) destroyRequest(w http.ResponseWriter, r *http.Request) {
	v := versionOf(r)
	if v == 0 {
		h.srv.ErrorPage(w, r, http.StatusNotFound, "keys.error.version")
		return
	}
	f := lifecycleForm{C: "JP", DestroyVersion: v, Reason: r.PostFormValue("reason")}
	fields := map[string]string{}
	_, err := h.svc.RequestDestroy(r.Context(), actorOf(r), r.PathValue("name"), v, f.Reason)
	if err == nil {
		h.srv.Flash(w, "keys.destroypage.flash.requested")
		http.Redirect(w, r, destroyRequestsURL, http.StatusSeeOther)
		return
	}
	if !addFields(fields, err) {
		h.lifecyclePageError(w, r, err)
		return
	}
	// The form of the version shows the error beside the reason.
	if msg, ok := fields["version"]; ok {
		delete(fields, "version")
		fields["reason"] = msg
	}
	h.renderKey(w, withPosted(r, f), http.StatusUnprocessableEntity, fields, nil)
}

// requestRow is a destroy request as the page lists it.
type requestRow struct {
	*DestroyRequest
	StateLabel, Level string
	Open              bool
}

// destroyRequestsView is what templates/destroy_requests.html sees as .Data.
type destroyRequestsView struct {
	Rows       []requestRow
	States     []pageOption
	State      string
	CanApprove bool
	Error      string // message id of a refused approval or rejection
	ErrorID    int64  // the request it concerns
	Note       string
	NoteError  string
}

var requestStates = []string{RequestPending, RequestApproved, RequestRejected, RequestExpired}

func (h *handlers) destroyRequestsPage(w http.ResponseWriter, r *http.Request) {
	h.renderDestroyRequests(w, r, http.StatusOK, destroyRequestsView{})
}

func (h *handlers) renderDestroyRequests(w http.ResponseWriter, r *http.Request, status int, v destroyRequestsView) {
	state := r.URL.Query().Get("state")
	list, err := h.svc.DestroyRequests(r.Context(), state)
	var ve *ValidationError
	if errors.As(err, &ve) {
		state = ""
		list, err = h.svc.DestroyRequests(r.Context(), "")
	}
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	v.State, v.CanApprove = state, web.PrincipalOf(r).Can(PermApprove)
	v.States = append(v.States, pageOption{Value: "", Label: h.srv.T(r, "keys.destroypage.state_all", nil),
		Selected: state == ""})
	for _, s := range requestStates {
		v.States = append(v.States, pageOption{Value: s, Label: h.srv.T(r, "keys.destroypage.state."+s, nil),
			Selected: s == state})
	}
	for _, d := range list {
		row := requestRow{DestroyRequest: d, Open: d.State == RequestPending,
			StateLabel: h.srv.T(r, "keys.destroypage.state."+d.State, nil)}
		switch d.State {
		case RequestPending:
			row.Level = "warn"
		case RequestApproved:
			row.Level = "bad"
		}
		v.Rows = append(v.Rows, row)
	}
	h.srv.Render(w, r, status, "keys/destroy_requests", v)
}

// decisionError shows the destroy requests again with the translated reason
// an approval or rejection was refused.
func (h *handlers) decisionError(w http.ResponseWriter, r *http.Request, err error, v destroyRequestsView) {
	var ve *ValidationError
	status := http.StatusConflict
	switch {
	case errors.Is(err, ErrNoRequest):
		h.srv.ErrorPage(w, r, http.StatusNotFound, "keys.destroy.no_request")
		return
	case errors.Is(err, ErrApprovalNeeded):
		v.Error, status = "keys.destroy.same_person", http.StatusForbidden
	case errors.Is(err, ErrPersonRequired):
		v.Error, status = "keys.destroy.person_required", http.StatusForbidden
	case errors.Is(err, ErrRequestClosed):
		v.Error = "keys.destroy.closed"
	case errors.Is(err, ErrVersion):
		v.Error = "keys.error.version"
	case errors.As(err, &ve):
		for _, msg := range ve.Fields {
			v.Error = msg
		}
		if _, ok := ve.Fields["note"]; ok {
			v.Error, v.NoteError, status = "error.invalid_input", ve.Fields["note"], http.StatusUnprocessableEntity
		}
	default:
		h.pageError(w, r, err)
		return
	}
	v.ErrorID = requestID(r)
	h.renderDestroyRequests(w, r, status, v)
}

func (h *handlers) destroyApprove(w http.ResponseWriter, r *http.Request) {
	if _, err := h.svc.ApproveDestroy(r.Context(), actorOf(r), requestID(r)); err != nil {
		h.decisionError(w, r, err, destroyRequestsView{})
		return
	}
	h.srv.Flash(w, "keys.destroypage.flash.approved")
	http.Redirect(w, r, destroyRequestsURL, http.StatusSeeOther)
}

func (h *handlers) destroyReject(w http.ResponseWriter, r *http.Request) {
	note := r.PostFormValue("note")
	if _, err := h.svc.RejectDestroy(r.Context(), actorOf(r), requestID(r), note); err != nil {
		h.decisionError(w, r, err, destroyRequestsView{Note: note})
		return
	}
	h.srv.Flash(w, "keys.destroypage.flash.rejected")
	http.Redirect(w, r, destroyRequestsURL, http.StatusSeeOther)
}
